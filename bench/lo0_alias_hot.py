"""lo0_alias hot path: N loopback aliases added, then re-applied (no change), in this process.

Runs the real module ``main()`` in-process (argument parsing, one ``ip -j addr show``, one ``ip addr add`` per
missing address), through bench/hosts_file.py's ``run_module``. Meant to run inside a network namespace that
bench/run.py creates (``ip netns exec NS python bench/lo0_alias_hot.py``): it changes the namespace's ``lo``.
Prints one JSON object: for each count, the add and re-apply seconds of every repeat.

    ip netns exec NS .venv/bin/python bench/lo0_alias_hot.py --counts 50,100,200 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import typing as t
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hosts_file  # (sets sys.path for the collection and reuses its in-process runner)

from ansible_collections.dockermac.hostbridge.plugins.modules import lo0_alias

NETWORK = "10.123.0.0/16"


def addresses(count: int) -> list[str]:
    return [f"10.123.{n // 250}.{n % 250 + 1}" for n in range(count)]


def run_lo0_alias(args: dict[str, t.Any]) -> tuple[float, dict[str, t.Any]]:
    # hosts_file.run_module calls its module global's main(): point it at lo0_alias for this call.
    with mock.patch.object(hosts_file, "etc_hosts_entry", lo0_alias):
        return hosts_file.run_module(args)


def reset() -> None:
    subprocess.run(["ip", "addr", "flush", "dev", "lo", "to", NETWORK], check=True)


def measure(count: int, repeat: int) -> dict[str, t.Any]:
    add, again = [], []
    args = {"addresses": addresses(count), "interface": "lo", "exclusive_within": NETWORK, "persistent": False}
    for _run in range(repeat):
        reset()
        seconds, result = run_lo0_alias(args)
        assert len(result["added"]) == count, "the first run must add every address"
        add.append(seconds)
        seconds, result = run_lo0_alias(args)
        assert not result["changed"], "the re-run must change nothing"
        again.append(seconds)
    reset()
    return {"addresses": count, "add": add, "reapply": again}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="50,100,200")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    if not os.environ.get("HOSTBRIDGE_BENCH_NETNS"):
        raise SystemExit("lo0_alias_hot.py changes lo: run it through bench/run.py (inside its network namespace)")
    counts = [int(c) for c in options.counts.split(",")]
    json.dump([measure(count, options.repeat) for count in counts], sys.stdout)


if __name__ == "__main__":
    main()
