"""etc_hosts_entry hot path: a big hosts file, 1,000 managed entries added, then re-applied (no change).

Runs the real module ``main()`` in this process (argument parsing, lock, read, plan, atomic write), so the
figures are the module's own work without Ansible's per-task start-up. Each case runs REPEAT times in a
fresh temp directory; the median and the spread (min-max) are printed, then the growth with file size.

    .venv/bin/python bench/hosts_file.py [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import typing as t
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, ".tmp", "collections"), os.path.join(ROOT, ".cache", "collections")]

from ansible.module_utils import basic  # noqa: E402
from ansible.module_utils.testing import patch_module_args  # noqa: E402

from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry  # noqa: E402

ENTRIES = 1000
SIZES = (1_000, 5_000, 10_000, 20_000)


def unmanaged_lines(count: int) -> bytes:
    """A realistic big hosts file: an ad-block style list with comments and blank lines."""
    lines = ["##", "# Host Database", "##", "127.0.0.1\tlocalhost", "255.255.255.255\tbroadcasthost",
             "::1             localhost"]
    for n in range(count - len(lines)):
        if n % 50 == 0:
            lines.append(f"# block {n // 50}")
        elif n % 97 == 0:
            lines.append("")
        else:
            lines.append(f"0.0.0.0 ads{n}.tracker{n % 13}.example")
    return ("\n".join(lines) + "\n").encode()


def team_entries(count: int) -> list[dict[str, t.Any]]:
    return [{"ip": f"10.100.{n // 250}.{n % 250 + 1}",
             "names": [f"svc{n}.team.test", f"svc{n}.local"]} for n in range(count)]


class Done(Exception):
    pass


def run_module(args: dict[str, t.Any]) -> tuple[float, dict[str, t.Any]]:
    captured: dict[str, t.Any] = {}

    def exit_json(self: basic.AnsibleModule, **kwargs: t.Any) -> None:
        captured.update(kwargs)
        raise Done

    def fail_json(self: basic.AnsibleModule, **kwargs: t.Any) -> None:
        raise SystemExit(f"module failed: {kwargs}")

    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json, fail_json=fail_json):
        start = time.perf_counter()
        with contextlib.suppress(Done):
            etc_hosts_entry.main()
        return time.perf_counter() - start, captured


def measure(lines: int, repeat: int) -> dict[str, t.Any]:
    add, again = [], []
    entries = team_entries(ENTRIES)
    for _run in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "hosts")
            with open(path, "wb") as handle:
                handle.write(unmanaged_lines(lines))
            args = {"path": path, "entries": entries, "exclusive": True, "flush_cache": False}
            seconds, result = run_module(args)
            assert result["changed"], "the first run must add the entries"
            add.append(seconds)
            seconds, result = run_module(args)
            assert not result["changed"], "the re-run must change nothing"
            again.append(seconds)
    return {"lines": lines, "entries": ENTRIES, "add": add, "reapply": again}


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms ({min(values) * 1000:.1f}-{max(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the raw figures to this file")
    options = parser.parse_args()
    rows = [measure(lines, options.repeat) for lines in SIZES]
    print(f"etc_hosts_entry, {ENTRIES} managed entries, median (min-max) of {options.repeat} runs")
    print(f"{'file lines':>10}  {'add':>26}  {'re-apply (no change)':>26}  {'add ms per 1k lines':>20}")
    for row in rows:
        per_k = statistics.median(row["add"]) * 1000 / (row["lines"] / 1000)
        print(f"{row['lines']:>10}  {fmt(row['add']):>26}  {fmt(row['reapply']):>26}  {per_k:>20.2f}")
    ten_k = next(r for r in rows if r["lines"] == 10_000)
    worst = max(statistics.median(ten_k["add"]), statistics.median(ten_k["reapply"]))
    growth = statistics.median(rows[-1]["add"]) / statistics.median(rows[0]["add"])
    print(f"10,000-line case: worst median {worst * 1000:.1f} ms (target < 500 ms: "
          f"{'met' if worst < 0.5 else 'MISSED'}); add time x{growth:.1f} for x{SIZES[-1] // SIZES[0]} lines")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
