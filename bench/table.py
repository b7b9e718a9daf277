"""The SSH figures of a bench run (``run.py --json``) as Markdown tables, with the targets of issue 17.

    .venv/bin/python bench/table.py docs/performance/FILE.json           # print the tables
    .venv/bin/python bench/table.py --write                              # put them into docs/performance.md
    .venv/bin/python bench/table.py --check                              # fail when docs/performance.md differs

``--write``/``--check`` use the JSON file that docs/performance.md names in its marker line, so the committed
table is always the rendering of the committed figures (``make lint`` runs ``--check``). ``report.py`` prints the
same tables after a run.
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
BEGIN = re.compile(r"^<!-- bench/table\.py: generated from (\S+\.json); do not edit -->$", re.M)
END = "<!-- bench/table.py: end -->"
TARGETS = {"collection_vs_floor": 1.5, "fleet_cpu_growth": 1.2}


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


def doc_parts() -> tuple[str, str, str, str]:
    """docs/performance.md split around the generated part: before, the JSON path, the part, after."""
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    begin = BEGIN.search(text)
    if not begin or END not in text[begin.end():]:
        raise SystemExit(f"{DOC}: no generated-table markers ({BEGIN.pattern} ... {END})")
    end = text.index(END, begin.end())
    return text[:begin.end()], begin.group(1), text[begin.end():end], text[end:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", help="a run.py --json file (default: the one docs/performance.md names)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the tables into docs/performance.md")
    group.add_argument("--check", action="store_true", help="fail when docs/performance.md differs")
    options = parser.parse_args()
    before, source, current, after = doc_parts()
    path = options.json or os.path.join(os.path.dirname(DOC), source)
    with open(path, encoding="utf-8") as handle:
        table = "\n" + render(json.load(handle)) + "\n"
    if options.check:
        if current != table:
            sys.exit(f"{DOC}: the generated table does not match {source}; run: .venv/bin/python bench/table.py "
                     "--write")
    elif options.write:
        source = os.path.relpath(path, os.path.dirname(DOC))
        before = BEGIN.sub(lambda _m: f"<!-- bench/table.py: generated from {source}; do not edit -->", before)
        with open(DOC, "w", encoding="utf-8") as handle:
            handle.write(before + table + after)
    else:
        print(table.strip())


if __name__ == "__main__":
    main()
