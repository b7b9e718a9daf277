"""The figures of a bench run (``run.py --json``) as Markdown tables, with the targets of issue 17: the SSH cases
(section ``ssh``) and the tap strategy against the simulated Docker Desktop host (section ``sim-tap``).

    .venv/bin/python bench/table.py docs/performance/FILE.json           # print the tables
    .venv/bin/python bench/table.py --write docs/performance/FILE.json   # its sections into docs/performance.md
    .venv/bin/python bench/table.py --write                              # re-render every section
    .venv/bin/python bench/table.py --check                              # fail when docs/performance.md differs

docs/performance.md holds one generated part per section, each between a marker line naming the section (none:
``ssh``) and its JSON file, and an end line; ``--write FILE`` replaces the parts of the sections FILE has figures
for and names FILE in their markers. ``--check`` renders every part from the JSON file its marker names, so the
committed tables are always the rendering of the committed figures (``make lint`` runs it). ``report.py`` and
``run.py`` print the same tables after a run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "docs", "performance.md")
BEGIN = re.compile(r"^<!-- bench/table\.py: (?:([\w-]+) )?generated from (\S+\.json); do not edit -->$", re.M)
END = "<!-- bench/table.py: end -->"
TARGETS = {"collection_vs_floor": 1.5, "fleet_cpu_growth": 1.2, "sim_tap_vs_floor": 1.5}
FACTS = "dockermac.hostbridge.bridge_facts"
SIM_FLOOR, SIM_COLLECTION = "sim-tap: floor (ping)", "sim-tap: collection (tap, no change)"


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float], unit: str = "s") -> str:
    return f"{med(values):.2f} {unit} ({min(values):.2f}-{max(values):.2f}, n={len(values)})" if values else "-"


VERDICTS: dict[bool | str | None, str] = {True: "met", False: "MISSED", None: "-", "noise": "within noise"}


def faster(ours: list[float], theirs: list[float]) -> bool | str:
    """Met when every run of ours beat every run of theirs; "noise" when only the medians say so."""
    if max(ours) < min(theirs):
        return True
    return "noise" if med(ours) < med(theirs) else False


def ssh_cases(results: dict[str, t.Any]) -> dict[str, dict[str, list[float]]]:
    return {case.removeprefix("ssh: "): row for case, row in results["cases"].items() if case.startswith("ssh: ")}


def render(results: dict[str, t.Any]) -> str:
    cases = ssh_cases(results)
    if not cases:
        return "(no SSH figures in this run)"
    m = results["machine"]
    fleet = results["ssh_fleet"]
    compare = next(int(c.split(", ")[1].split()[0]) for c in cases if c.startswith("hand-written, "))
    wall = {case: med(row["wall"]) for case, row in cases.items()}
    cpu = {case: med(row["ctrl_cpu"]) for case, row in cases.items()}
    many_c, many_h = f"collection, {compare} hosts", f"hand-written, {compare} hosts"
    lines = [f"Machine: {m['nproc']} x {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
             f"ansible-core {m['ansible_core']}, Docker {m['docker']}; load before {m['load_before'][0]:.2f}. "
             "SSH with a key as an admin user, `sudo` with a vaulted password, pipelining on; each run starts cold "
             "(new SSH connections). Median (min-max, runs).",
             "",
             "| case | hosts | wall | controller CPU | controller CPU per host | wall x floor |",
             "|---|---|---|---|---|---|"]
    for case, row in cases.items():
        hosts = int(case.split(", ")[1].split()[0]) if ", " in case and "hosts" in case else 1
        ratio = f"{wall[case] / wall['floor (ping)']:.2f}" if hosts == 1 else "-"
        lines.append(f"| {case} | {hosts} | {spread(row['wall'])} | {spread(row['ctrl_cpu'])} | "
                     f"{cpu[case] / hosts:.2f} s | {ratio} |")
    fleet_case = fleet["case"].removeprefix("ssh: ")
    per_host_1, per_host_n = cpu["collection"], cpu[fleet_case] / fleet["hosts"]
    growth = per_host_n / per_host_1
    peak = med(cases[fleet_case]["peak_pss_mib"])
    checks = [
        ("no-change re-run <= 1.5x the floor (one `ping`, same connection)",
         f"{wall['collection'] / wall['floor (ping)']:.2f}x",
         wall["collection"] / wall["floor (ping)"] <= TARGETS["collection_vs_floor"]),
        ("1 host: the collection no slower than the hand-written playbook",
         f"hand-written / collection = {wall['hand-written'] / wall['collection']:.2f}",
         wall["collection"] <= wall["hand-written"]),
        (f"{compare} hosts: the collection faster than the hand-written playbook (in every run; in the median only:"
         " within noise)",
         f"hand-written / collection = {wall[many_h] / wall[many_c]:.2f}",
         faster(cases[many_c]["wall"], cases[many_h]["wall"])),
        ("today's naive playbook (one task per item), for comparison",
         f"naive / collection = {wall['naive'] / wall['collection']:.2f}", None),
        (f"{fleet['hosts']} hosts, forks {fleet['forks']}: controller CPU per host <= 1.2x that at 1 host",
         f"{per_host_n:.2f} s vs {per_host_1:.2f} s = {growth:.2f}x", growth <= TARGETS["fleet_cpu_growth"]),
        (f"{fleet['hosts']} hosts: wall time; laptops per minute at this rate",
         f"{wall[fleet_case]:.1f} s; {60 * fleet['hosts'] / wall[fleet_case]:.0f} per minute", None),
        (f"{fleet['hosts']} hosts: the controller's peak memory (PSS of ansible-playbook, its workers and ssh)",
         f"{peak:.0f} MiB", None),
    ]
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {VERDICTS[ok]} |" for name, value, ok in checks]
    return "\n".join(lines)


def render_sim_tap(results: dict[str, t.Any]) -> str:
    """The tap strategy's no-change re-run against the simulated Docker Desktop host beside its floor, where the
    time goes (per task, from the json callback), and the verdicts."""
    m, section = results["machine"], results["sim_tap"]
    floor, coll = results["cases"][SIM_FLOOR], results["cases"][SIM_COLLECTION]
    wall, cpu = med(coll["wall"]) / med(floor["wall"]), med(coll["ctrl_cpu"]) / med(floor["ctrl_cpu"])
    lines = [f"Machine: {m['nproc']} x {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
             f"ansible-core {m['ansible_core']}, Docker {m['docker']}; load average (1 min) "
             f"{section['load_before'][0]:.2f} before and {section['load_after'][0]:.2f} after this section. "
             f"{section['rounds']} interleaved rounds; each run as the bridging run ran (`-i localhost, -c local` in "
             "the simulated Mac's namespace, pipelining), `ansible.posix.json` callback. Median (min-max, runs).",
             "",
             "| case | wall | controller CPU | wall x floor | controller CPU x floor |",
             "|---|---|---|---|---|",
             f"| floor (one `ping`) | {spread(floor['wall'])} | {spread(floor['ctrl_cpu'])} | 1.00 | 1.00 |",
             f"| collection: `bridge.yml` re-run, full tap strategy, no change | {spread(coll['wall'])} | "
             f"{spread(coll['ctrl_cpu'])} | {wall:.2f} | {cpu:.2f} |"]
    lines += ["", "| where the wall time goes (median of the runs, seconds) | re-run | floor |", "|---|---|---|"]
    lines += [f"| {name} | {mine} | {theirs} |" for name, mine, theirs in time_split(results)]
    one_call = sum(run == [FACTS] for run in section["remote"])
    checks = [("one remote module execution per no-change re-run (`bridge_facts`)",
               f"{one_call} of {len(section['remote'])} runs", bool(section["remote"]) and
               one_call == len(section["remote"])),
              ("no-change re-run <= 1.5x the floor (one `ping`, same connection)", f"{wall:.2f}x",
               wall <= TARGETS["sim_tap_vs_floor"])]
    lines += ["", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'met' if ok else 'MISSED'} |" for name, value, ok in checks]
    return "\n".join(lines)


def time_split(results: dict[str, t.Any]) -> list[tuple[str, str, str]]:
    """The re-run's and the floor's wall time in parts, each the median over the runs: outside any task (start-up:
    parsing, the collection's plugins and roles, inventory; and the end), the remote module's task and within it
    the module alone, the other tasks run (controller-only), the skipped tasks."""
    section = results["sim_tap"]
    runs, floor_runs = section["tasks"], section["floor_tasks"]
    walls = results["cases"][SIM_COLLECTION]["wall"]
    floor_walls = results["cases"][SIM_FLOOR]["wall"]
    total = len(runs[0]) if runs else 0
    skipped = sum(x["skipped"] for x in runs[0]) if runs else 0
    alone = {name: f"{med(values):.2f}" for name, values in section.get("module_alone", {}).items()}
    rows = [("outside the tasks (start-up, end)", outside(walls, runs), outside(floor_walls, floor_runs)),
            ("the remote module's task (`bridge_facts` / `ping`)",
             in_tasks(runs, lambda x: x["action"] == FACTS and not x["skipped"]),
             in_tasks(floor_runs, lambda x: not x["skipped"]))]
    lines = [(name, f"{mine:.2f}", f"{theirs:.2f}") for name, mine, theirs in rows]
    if alone:
        lines += [("of which the module alone (its AnsiballZ file run again, as the task ran it)",
                   alone["bridge_facts"], alone["ping"]),
                  ("of which the target Python's start-up (`python -c pass`, same prefix)", alone["python -c pass"],
                   alone["python -c pass"])]
    lines += [(f"the other {total - skipped - 1} tasks run (controller-only)",
               f"{in_tasks(runs, lambda x: x['action'] != FACTS and not x['skipped']):.2f}", "-"),
              (f"the {skipped} skipped tasks", f"{in_tasks(runs, lambda x: x['skipped']):.2f}", "-"),
              ("wall", f"{med(walls):.2f}", f"{med(floor_walls):.2f}")]
    return lines


def outside(walls: list[float], runs: list[list[dict[str, t.Any]]]) -> float:
    """Median seconds of the runs outside any task (wall minus the tasks' durations)."""
    return med([wall - sum(x["seconds"] for x in run) for wall, run in zip(walls, runs)])


def in_tasks(runs: list[list[dict[str, t.Any]]], keep: t.Callable[[dict[str, t.Any]], bool]) -> float:
    """Median seconds of the runs in the tasks ``keep`` selects."""
    return med([sum(x["seconds"] for x in run if keep(x)) for run in runs])


RENDERERS: dict[str, t.Callable[[dict[str, t.Any]], str]] = {"ssh": render, "sim-tap": render_sim_tap}


def sections(results: dict[str, t.Any]) -> list[str]:
    """The sections a run's figures hold."""
    return [name for name, present in (("ssh", bool(ssh_cases(results))), ("sim-tap", "sim_tap" in results))
            if present]


def marker(section: str, source: str) -> str:
    named = "" if section == "ssh" else f"{section} "
    return f"<!-- bench/table.py: {named}generated from {source}; do not edit -->"


def regenerate(text: str, load: t.Callable[[str], dict[str, t.Any]], sources: dict[str, str] | None = None) -> str:
    """``text`` with every generated part rendered again from the JSON its marker names, or for the sections in
    ``sources`` from the JSON given there (and named in the marker). SystemExit when a part has no end line, or
    a section in ``sources`` has no part."""
    sources = dict(sources or {})
    out, pos = [], 0
    for begin in BEGIN.finditer(text):
        section, source = begin.group(1) or "ssh", begin.group(2)
        end = text.find(END, begin.end())
        if section not in RENDERERS or end < 0:
            raise SystemExit(f"{DOC}: a generated part of an unknown section {section!r} or without {END}")
        source = sources.pop(section, source)
        out += [text[pos:begin.start()], marker(section, source), "\n", RENDERERS[section](load(source)), "\n"]
        pos = end
    if sources:
        raise SystemExit(f"{DOC}: no generated part for {sorted(sources)}; add its marker lines ({BEGIN.pattern} "
                         f"... {END})")
    return "".join([*out, text[pos:]])


def load_json(source: str) -> dict[str, t.Any]:
    """A JSON file named relative to docs/ (as the markers name them) or given as a path."""
    path = source if os.path.exists(source) else os.path.join(os.path.dirname(DOC), source)
    with open(path, encoding="utf-8") as handle:
        return t.cast(dict[str, t.Any], json.load(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", help="a run.py --json file (default: those docs/performance.md names)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the tables into docs/performance.md")
    group.add_argument("--check", action="store_true", help="fail when docs/performance.md differs")
    options = parser.parse_args()
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    sources = {}
    if options.json:
        results = load_json(options.json)
        if not (options.write or options.check):
            print("\n\n".join(RENDERERS[name](results) for name in sections(results)) or "(no figures in this run)")
            return
        relative = os.path.relpath(os.path.abspath(options.json), os.path.dirname(DOC))
        sources = dict.fromkeys(sections(results), relative)
    new = regenerate(text, load_json, sources)
    if options.check:
        if new != text:
            sys.exit(f"{DOC}: a generated table does not match the JSON its marker names; run: "
                     ".venv/bin/python bench/table.py --write")
    elif options.write:
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(new)
    else:
        print(new[BEGIN.search(new).start():] if BEGIN.search(new) else "(no generated part)")


if __name__ == "__main__":
    main()
