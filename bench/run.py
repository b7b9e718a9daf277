"""Side-by-side benchmark of a no-change re-run: Ansible's floor, this collection, the naive playbook, fleets.

One command, on this machine, every case several times in the same run (interleaved, so that background load
hits every case alike), median and spread (min-max), and the ratios and targets computed from these figures:

1. floor       ``ansible-playbook`` of one ``ansible.builtin.ping`` (``gather_facts: false``), same host/connection
2. collection  a no-change re-run of ``dockermac.hostbridge.bridge``: 25 services (alias IP + hosts name each),
               bridge_strategy=tap with the Docker-Desktop-only parts disabled (as the Molecule fleet scenario)
3. naive       bench/naive.yml: the same end state with lineinfile/command loops (checked equal; changed=0 too)
4. fleet       the collection's no-change re-run against 1, 5 and 20 container hosts (forks = hosts)
5. hot path    etc_hosts_entry (bench/hosts_file.py's case) and lo0_alias with 50-200 addresses, in-process
6. ssh         first, on hosts of their own: SSH + sudo (vaulted password) + pipelining, the floor, the collection,
               the best hand-written playbook and the naive one on 1 host, 20 hosts each, a 50-host fleet
               (bench/ssh.py; ``--skip docker`` runs only this part)
7. restart     a simulated Docker Desktop restart to HTTP 200 by container IP, no playbook run (restart_to_http.py)
8. sim-tap     the tap strategy's no-change re-run against a simulated Docker Desktop host beside its floor (one
               ping, same connection): changed=0 and one remote call (bridge_facts) checked per run (sim_tap.py)

Plus variants of 1-3: ANSIBLE_PIPELINING=1, pipelining without become, Mitogen (``--mitogen``), a profile of
the collection's run (per task, AnsiballZ sizes, per-exec cost). Hosts are containers of
hostbridge-base:bookworm on the default docker bridge, connection community.docker.docker (``docker exec``),
become via su (as the Molecule fleet scenario); all are removed at
the end, also on failure.

    .venv/bin/python bench/run.py [--repeat 5] [--fleet-repeat 3] [--fleet 1,5,20] [--mitogen] [--json FILE]
    .venv/bin/python bench/run.py --skip ssh,docker --json FILE      # the sim-tap section alone
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import typing as t

from cases import fleet, hot_path, main_cases, mitogen, profile
from harness import IMAGE, Bench
from report import report
from restart_to_http import measure as restart_to_http
from restart_to_http import report as restart_report
from sim_tap import measure as sim_tap
from ssh import ssh_cases
from table import render_sim_tap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each main case (default 5)")
    parser.add_argument("--variant-repeat", type=int, default=2,
                        help="runs of the pipelining/no-become/Mitogen variants (default 3)")
    parser.add_argument("--fleet", default="1,5,20", help="fleet sizes (default 1,5,20)")
    parser.add_argument("--fleet-repeat", type=int, default=2,
                        help="runs of the 5- and 20-host fleets (default 2; 1 host: case 2's runs)")
    parser.add_argument("--naive-su-pipelining", action="store_true",
                        help="also run the naive case with pipelining and su (same as without: su cannot pipeline)")
    parser.add_argument("--fleet-one-separately", dest="fleet_one_from_case2", action="store_false",
                        help="measure the 1-host fleet on its own instead of reusing case 2's runs")
    parser.add_argument("--mitogen", action="store_true", help="also run cases 1-3 with Mitogen (throwaway venv)")
    parser.add_argument("--mitogen-venv", default=os.path.join(tempfile.gettempdir(), "hostbridge-bench-mitogen"))
    parser.add_argument("--ssh-fleet", type=int, default=50, help="hosts of the SSH fleet run (default 50)")
    parser.add_argument("--ssh-compare", type=int, default=20,
                        help="hosts of the SSH collection vs hand-written comparison (default 20)")
    parser.add_argument("--ssh-forks", type=int, default=25, help="forks of the SSH fleet run (default 25)")
    parser.add_argument("--ssh-subnet", default="198.18.0.0/24",
                        help="the SSH hosts' own Docker network (default 198.18.0.0/24, RFC 2544)")
    parser.add_argument("--sim-tap-rounds", type=int, default=7,
                        help="rounds of floor + collection against the simulated Docker Desktop host (default 7)")
    parser.add_argument("--skip", default="",
                        help="comma-separated parts to skip: ssh, sim-tap, docker (every docker exec case), fleet, "
                             "hot, profile, restart")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (inventories, playbooks)")
    options = parser.parse_args()
    options.fleet = [int(x) for x in options.fleet.split(",") if x]
    skip = set(options.skip.split(","))
    if os.geteuid() != 0:
        raise SystemExit("bench/run.py needs root (network namespace for the lo0_alias hot path)")
    bench = Bench(options)

    def stop(signum: int, frame: t.Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    started = time.perf_counter()
    try:
        # The SSH hosts first, removed before the docker exec ones start: never both fleets at once.
        if "ssh" not in skip:
            run_section(bench, "ssh", lambda: ssh_cases(bench))
            bench.cleanup(keep_tmp=True)
        if "sim-tap" not in skip:
            run_section(bench, "sim-tap", lambda: sim_tap(bench, options.sim_tap_rounds))
        if "docker" not in skip:
            docker_cases(bench, skip)
    finally:
        bench.cleanup()
    finish(bench, started, options)


def docker_cases(bench: Bench, skip: set[str]) -> None:
    """The cases over docker exec + su: main cases and variants, profile, fleets, hot paths."""
    options = bench.options
    fleet_size = max([*options.fleet, 1]) if "fleet" not in skip else 1
    names = [f"{bench.prefix}-{n}" for n in range(1, fleet_size + 1)]
    naive_host = f"{bench.prefix}-naive"
    bench.log(f"starting {len(names) + 1} containers from {IMAGE} (default bridge) ...")
    bench.start([*names, naive_host])
    main_cases(bench, names[0], naive_host)
    sections = [("mitogen", lambda: mitogen(bench, names[0], naive_host)),
                ("profile", lambda: profile(bench, names[0])),
                ("fleet", lambda: fleet(bench, names)),
                ("hot", lambda: hot_path(bench)),
                ("restart", lambda: bench.results.update(restart_to_http=restart_to_http(options.repeat)))]
    for name, section in sections:
        if name in skip or (name == "mitogen" and not options.mitogen):
            continue
        run_section(bench, name, section)


def run_section(bench: Bench, name: str, section: t.Callable[[], None]) -> None:
    """A failing part is noted in the report and the JSON; the others still run."""
    try:
        section()
    except (RuntimeError, subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
        bench.results["notes"].append(f"{name}: failed - {str(exc)[:2000]}")
        bench.log(f"{name}: failed - {exc}")


def finish(bench: Bench, started: float, options: argparse.Namespace) -> None:
    bench.results["seconds"] = time.perf_counter() - started
    bench.results["load_after"] = os.getloadavg()
    print(report(bench))
    if "restart_to_http" in bench.results:
        print(restart_report(bench.results["restart_to_http"]))
    if "sim_tap" in bench.results:
        print(render_sim_tap(bench.results))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(bench.results, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
