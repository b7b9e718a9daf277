"""The benchmark's report: medians, spreads, ratios and whether each target is met."""

from __future__ import annotations

import statistics

import hosts_file
import table
from harness import Bench

TARGETS = {"collection_vs_floor": 2.0, "naive_vs_collection": 3.0, "fleet_cpu_growth": 1.5, "hot_path_s": 0.5}


def fmt(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    if not values:
        return "-"
    v = [x * scale for x in values]
    return f"{statistics.median(v):.2f} {unit} ({min(v):.2f}-{max(v):.2f})"


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ssh_section(res: dict) -> str:
    try:
        return table.render(res)
    except (KeyError, StopIteration, ZeroDivisionError) as exc:
        return f"(incomplete: {exc!r})"


def report(bench: Bench) -> str:
    res = bench.results
    m = res["machine"]
    cases = res["cases"]
    lines = [f"machine: {m['nproc']} x {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
             f"ansible-core {m['ansible_core']}, Docker {m['docker']}",
             f"load average before {tuple(round(x, 2) for x in m['load_before'])}, after "
             f"{tuple(round(x, 2) for x in res.get('load_after', (0, 0, 0)))}; "
             f"bench took {res.get('seconds', 0):.0f} s",
             "", "Over SSH + sudo + pipelining (bench/ssh.py; the same tables as docs/performance.md):",
             ssh_section(res)]
    if "floor" not in cases:   # --skip docker
        return "\n".join([*lines, *(f"note: {n}" for n in res["notes"])])
    lines += ["", "Over docker exec + su. One host, no-change re-run; median (min-max); controller CPU = "
              "getrusage(RUSAGE_CHILDREN) delta around ansible-playbook; container CPU = the container's cgroup "
              "cpuacct delta",
              f"{'case':<44} {'n':>2}  {'wall':>22}  {'controller CPU':>22}  {'container CPU':>20}  {'x floor':>7}"]
    floor = med(cases.get("floor", {}).get("wall", []))
    for case, row in cases.items():
        if case.startswith("ssh: "):
            continue
        ratio = med(row["wall"]) / floor
        lines.append(f"{case:<44} {len(row['wall']):>2}  {fmt(row['wall']):>22}  {fmt(row['ctrl_cpu']):>22}  "
                     f"{fmt(row['container_cpu']):>20}  {ratio:>7.2f}")
    coll, naive = med(cases["collection"]["wall"]), med(cases["naive"]["wall"])
    targets = [("collection re-run <= 2x floor", coll / floor, coll / floor <= TARGETS["collection_vs_floor"])]
    targets.append(("naive/collection >= 3x", naive / coll, naive / coll >= TARGETS["naive_vs_collection"]))
    lines += ["", "Ratios (same run): " + "; ".join(
        f"{a}/{b} = {med(cases[a]['wall']) / med(cases[b]['wall']):.2f}"
        for a, b in (("collection", "floor"), ("naive", "collection"), ("naive", "floor"),
                     ("collection, pipelining", "floor, pipelining"),
                     ("naive, pipelining", "collection, pipelining"),
                     ("collection, pipelining, no become", "floor, pipelining, no become"),
                     ("naive, pipelining, no become", "collection, pipelining, no become"),
                     ("collection, mitogen", "floor, mitogen"), ("naive, mitogen", "collection, mitogen"))
        if a in cases and b in cases and cases[a]["wall"] and cases[b]["wall"])]
    if res["fleet"]:
        lines += ["", "Fleet: no-change re-run, forks = hosts; CPU seconds per host (median run / hosts)",
                  f"{'hosts':>5} {'n':>2}  {'wall':>22}  {'controller CPU/host':>20}  {'container CPU/host':>19}  "
                  f"{'dockerd+containerd CPU/host':>27}"]
        per_host = {}
        for size, row in res["fleet"].items():
            n = int(size)
            per_host[n] = med(row["ctrl_cpu"]) / n
            cont = f"{med(row['container_cpu']) / n:.2f} s" if row["container_cpu"] else "-"
            lines.append(f"{n:>5} {len(row['wall']):>2}  {fmt(row['wall']):>22}  {per_host[n]:>18.2f} s  {cont:>19}  "
                         f"{med(row['engine_cpu']) / n:>25.2f} s")
        lo, hi = min(per_host), max(per_host)
        growth = per_host[hi] / per_host[lo]
        targets.append((f"controller CPU/host at {hi} hosts within 1.5x of {lo}", growth,
                        growth <= TARGETS["fleet_cpu_growth"]))
    if "hot_hosts" in res:
        rows = res["hot_hosts"]
        lines += ["", "Module hot path, in-process main(); median (min-max)",
                  f"  etc_hosts_entry, {hosts_file.ENTRIES} managed entries:"]
        for row in rows:
            lines.append(f"    {row['lines']:>6} lines  add {fmt(row['add'], 'ms', 1000):>26}  "
                         f"re-apply {fmt(row['reapply'], 'ms', 1000):>26}")
        ten = next(r for r in rows if r["lines"] == 10_000)
        worst = max(med(ten["add"]), med(ten["reapply"]))
        a0, a1 = rows[0], rows[-1]
        slope = (med(a1["add"]) - med(a0["add"])) / (a1["lines"] - a0["lines"]) * 1e6
        lines.append(f"    growth: {slope:.2f} ms per 1,000 more lines (x{med(a1['add']) / med(a0['add']):.1f} "
                     f"time for x{a1['lines'] // a0['lines']} lines)")
        lines.append("  lo0_alias, network namespace lo:")
        for row in res["hot_lo0"]:
            lines.append(f"    {row['addresses']:>6} addresses  add {fmt(row['add'], 'ms', 1000):>28}  "
                         f"re-apply {fmt(row['reapply'], 'ms', 1000):>24}  "
                         f"({med(row['add']) * 1000 / row['addresses']:.1f} ms per added address)")
        targets.append(("hosts-file hot path (10,000 lines) < 0.5 s", worst, worst < TARGETS["hot_path_s"]))
        # Linear (or better): time grows no faster than the size (25% slack for noise), for both modules.
        l0, l1 = res["hot_lo0"][0], res["hot_lo0"][-1]
        growth_hosts = (med(a1["add"]) / med(a0["add"])) / (a1["lines"] / a0["lines"])
        growth_lo = (med(l1["add"]) / med(l0["add"])) / (l1["addresses"] / l0["addresses"])
        targets.append(("linear growth: add time ratio / size ratio <= 1.25 (hosts file, lo0_alias; worst shown)",
                        max(growth_hosts, growth_lo), max(growth_hosts, growth_lo) <= 1.25))
    prof = res.get("profile")
    if prof:
        lines += ["", "Profile of the collection's re-run (one run, ansible.posix.json callback): "
                      f"{prof['total']} tasks, {prof['ran']} ran ({prof['remote']} with a remote module, "
                      f"{prof['remote_seconds']:.2f} s; "
                      f"controller-only {prof['local_seconds']:.2f} s), {prof['skipped']} skipped "
                      f"({prof['skipped_seconds']:.2f} s)"]
        for task in prof["tasks"]:
            if not task["skipped"]:
                lines.append(f"    {task['seconds']:6.2f} s  {task['action']:<40} {task['name'][:70]}")
        lines.append("  AnsiballZ payloads (bytes): " + ", ".join(
            f"{k} {v['bytes']:,} x{v['count']}" for k, v in prof["ansiballz"].items()))
        lines.append("  one more remote module task costs: " + "; ".join(
            f"{k}: {v:.2f} s" for k, v in prof["per_remote_task"].items()))
    lines += ["", "Targets:"] + [f"  {verdict(ok):<6} {name} (measured {value:.2f})" for name, value, ok in targets]
    lines += [f"note: {n}" for n in res["notes"]]
    return "\n".join(lines)
