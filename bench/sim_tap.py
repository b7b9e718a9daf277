"""The tap strategy's no-change re-run against a simulated Docker Desktop host, beside the floor (issue 17, item 4).

The simulated Intel Mac of the end-to-end test (``tests/e2e/sim.py``: HyperKit stand-in, a VM with its own
dockerd, tap devices), bridged once by ``bridge.yml`` with the full tap strategy (``restart_to_http.bridged_mac``:
shim, Docker network, VM link container, ``tap_device``, re-apply program). Then, in interleaved rounds, over the
connection and inventory of that bridging run (``-i localhost, -c local`` inside the Mac's namespace, pipelining,
the VM's engine as ``DOCKER_HOST``) and with the same stdout callback (``ansible.posix.json``, which tells each
task's action and duration):

- the floor: one ``ansible.builtin.ping``;
- the collection: ``dockermac.hostbridge.bridge`` again, which must report changed=0 and run exactly one remote
  module (``bridge_facts``, whose plan compares every part, the Docker network and the VM link container through
  the engine's socket); anything else fails the section.

Then, to tell a module's own time from Ansible's around it, each module alone: one more (unmeasured) run of each
playbook keeps its AnsiballZ files (module and arguments in one file), and each file runs again as the task ran it
(the target Python, in the Mac's namespace, the same environment), beside the bare Python start-up.

Section ``sim-tap`` of ``run.py`` (``--skip sim-tap``, ``--sim-tap-rounds``); ``table.py`` renders its figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import typing as t
from pathlib import Path

from cases import FLOOR_PLAY, task_times
from harness import Bench
from restart_to_http import bridged_mac, sim
from table import FACTS, SIM_COLLECTION, SIM_FLOOR

INVENTORY, HOST = sim.CONNECTION[1], "localhost"  # the bridging run's inventory ("localhost,")


def check_run(output: dict[str, t.Any], stdout: str, *, remote: list[str] | None) -> list[str]:
    """The remote actions of one measured run's json output; RuntimeError when they are not ``remote`` (None: any)
    or the run printed a deprecation warning."""
    found = sim.ansible_cli.remote_actions(sim.ansible_cli.task_results(output, HOST))
    if remote is not None and found != remote:
        raise RuntimeError(f"a no-change re-run must make exactly the remote calls {remote}, it made {found}")
    warnings = sim.ansible_cli.deprecations(stdout)
    if warnings:
        raise RuntimeError(f"a measured run printed a deprecation warning: {warnings[0]}")
    return found


def measure(bench: Bench, rounds: int) -> None:
    floor = bench.write("sim-tap-floor.yml", FLOOR_PLAY)
    binary = sim.ansible_cli.cli("ansible-playbook")
    section: dict[str, t.Any] = {"rounds": rounds, "remote": [], "tasks": [], "floor_tasks": [],
                                 "load_before": os.getloadavg()}
    bench.results["sim_tap"] = section
    bench.log("sim-tap: a simulated Docker Desktop host, bridged once with the full tap strategy (not measured) ...")
    with bridged_mac("sim-tap") as (mac, extra, _reapply):
        env = mac.ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        connection = {"wrap": mac.ansible_prefix(), "env": env, "binary": binary,
                      "args": [*sim.CONNECTION[2:], "-e", f"@{extra}"]}
        for r in range(rounds):
            bench.log(f"sim-tap round {r + 1}: floor, collection ...")
            res = bench.play(floor, INVENTORY, [HOST], **connection)
            output = json.loads(res["stdout"])
            check_run(output, res["stdout"], remote=None)
            section["floor_tasks"].append(task_times(output, HOST))
            bench.record(SIM_FLOOR, res)
            res = bench.play("dockermac.hostbridge.bridge", INVENTORY, [HOST], **connection)
            output = json.loads(res["stdout"])
            section["remote"].append(check_run(output, res["stdout"], remote=[FACTS]))
            section["tasks"].append(task_times(output, HOST))
            bench.record(SIM_COLLECTION, res)
        section["load_after"] = os.getloadavg()
        section["module_alone"] = modules_alone(bench, floor, connection, mac.workdir, rounds)


def modules_alone(bench: Bench, floor: str, connection: dict[str, t.Any], workdir: Path,
                  runs: int) -> dict[str, list[float]]:
    """Seconds of ``python -c pass``, the ping module and bridge_facts, each run ``runs`` times from the AnsiballZ
    file a kept run left (interleaved), with the connection's prefix, interpreter and environment."""
    tmp = workdir / "ansible-tmp"
    env = dict(connection["env"], ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="0", ANSIBLE_REMOTE_TMP=str(tmp))
    bench.log("sim-tap: the modules alone, from their AnsiballZ files ...")
    for playbook in (floor, "dockermac.hostbridge.bridge"):
        bench.play(playbook, INVENTORY, [HOST], **dict(connection, env=env))
    python = env["ANSIBLE_PYTHON_INTERPRETER"]
    argv = {"python -c pass": [python, "-c", "pass"],
            **{name: [python, str(next(tmp.glob(f"*/AnsiballZ_{name}.py")))] for name in ("ping", "bridge_facts")}}
    times: dict[str, list[float]] = {name: [] for name in argv}
    for _run in range(runs):
        for name, command in argv.items():
            start = time.perf_counter()
            proc = subprocess.run([*connection["wrap"], *command], env=env, capture_output=True, text=True,
                                  check=False)
            times[name].append(time.perf_counter() - start)
            result = json.loads(proc.stdout) if proc.returncode == 0 and command[1] != "-c" else {}
            if proc.returncode != 0 or result.get("failed") or result.get("changed"):
                raise RuntimeError(f"{name} alone: rc {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return times
