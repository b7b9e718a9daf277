"""The benchmark over the connection teams really use: SSH with a key as an admin user, ``sudo`` with a vaulted
password, pipelining on (the hosts of ``tests/ssh_fleet.py``). Side by side in one run:

- the floor (one ``ping``), the collection's no-change re-run, the best hand-written playbook
  (``bench/handwritten.yml``: ``blockinfile`` + one script) and today's naive one (``bench/naive.yml``) on 1 host;
- the collection and the hand-written playbook on 20 hosts;
- the collection on the whole fleet (50 hosts by default), ``forks`` = ``--ssh-forks``: wall time, controller CPU
  per host against 1 host, the controller's peak memory.

Every measured run starts cold (a fresh ControlPath directory: new SSH connections, as a scheduled run a few
minutes after the last one would); the SSH multiplexing masters a run leaves behind are counted as controller
CPU and memory, then ended by their pid.
"""

from __future__ import annotations

import os
import typing as t

from cases import FLOOR_PLAY, end_state
from harness import HERE, SERVICES, TAP_ADDRESS, UID, USER, Bench, team_vars

from ansible_collections.dockermac.hostbridge.tests.ssh_fleet import IMAGE, SshFleet

FLOOR = "floor.yml"
COLLECTION = "dockermac.hostbridge.bridge"
HANDWRITTEN = os.path.join(HERE, "handwritten.yml")
NAIVE = os.path.join(HERE, "naive.yml")


def ssh_vars() -> dict[str, t.Any]:
    """The team configuration of the other cases, without their connection (docker exec, su)."""
    variables = team_vars()
    for name in ("ansible_connection", "ansible_become_method", "ansible_python_interpreter"):
        variables.pop(name)
    return variables


def check_same_end_state(reference: str, others: list[str]) -> dict[str, t.Any]:
    want = end_state(reference)
    want["lo"] = [x for x in want["lo"] if not x.startswith("127.")]
    if want["tap_owner"] != str(UID) or want["tap_addresses"] != [TAP_ADDRESS] or len(want["lo"]) != SERVICES:
        raise RuntimeError(f"unexpected end state on {reference}: {want}")
    for host in others:
        got = end_state(host)
        got["lo"] = [x for x in got["lo"] if not x.startswith("127.")]
        if got != want:
            raise RuntimeError(f"{host} does not reach the collection's end state:\n{reference} {want}\n{host} {got}")
    return want


def ssh_cases(bench: Bench) -> None:
    o = bench.options
    size = max(o.ssh_fleet, 2 * o.ssh_compare + 2)
    bench.log(f"starting {size} SSH hosts from {IMAGE} ...")
    fleet = SshFleet(os.path.join(bench.tmp, "ssh"), f"{bench.prefix}-ssh", size,
                     subnet=o.ssh_subnet, docker_args=["--cap-add", "NET_ADMIN", "--device", "/dev/net/tun"])
    bench.ssh_fleet = fleet
    fleet.exec_all("useradd", "-m", "-u", str(UID), USER)   # the developer who owns the TAP device
    names = fleet.names
    # Hosts 1..N run the collection, N+1..2N the hand-written playbook, the last one the naive playbook.
    coll, hand, naive = names[:o.ssh_compare], names[o.ssh_compare:2 * o.ssh_compare], names[-1]
    env = fleet.env()
    for name in ("ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_PYTHON_INTERPRETER"):
        env.pop(name)
    bench.ssh_env = env
    floor = bench.write(FLOOR, FLOOR_PLAY)
    inventory = fleet.write_inventory(ssh_vars())

    def run(playbook: str, hosts: list[str], **kwargs: t.Any) -> dict[str, t.Any]:
        return bench.play(playbook, inventory, hosts, env=env, limit=hosts, ssh=True, **kwargs)

    bench.log("converging every SSH host once (not measured): collection, hand-written, naive ...")
    run(COLLECTION, [h for h in names if h not in hand and h != naive], expect_changed=None)
    run(HANDWRITTEN, hand, expect_changed=None)
    run(NAIVE, [naive], expect_changed=None)
    bench.results["ssh_end_state"] = check_same_end_state(coll[0], [hand[0], hand[-1], naive, names[-2]])
    bench.log("end state over SSH: the collection, hand-written and naive hosts are equal")

    one = [("ssh: floor (ping)", floor, [coll[0]]),
           ("ssh: collection", COLLECTION, [coll[0]]),
           ("ssh: hand-written", HANDWRITTEN, [hand[0]]),
           ("ssh: naive", NAIVE, [naive])]
    many = [(f"ssh: collection, {len(coll)} hosts", COLLECTION, coll),
            (f"ssh: hand-written, {len(hand)} hosts", HANDWRITTEN, hand)]
    for r in range(o.repeat):
        bench.log(f"ssh round {r + 1}: floor, collection, hand-written, naive on 1 host"
                  f"{f'; collection and hand-written on {len(coll)} hosts' if r < o.fleet_repeat else ''} ...")
        for case, playbook, hosts in one + (many if r < o.fleet_repeat else []):
            bench.record(case, run(playbook, hosts))
    # The hand-written and naive hosts join the collection's fleet: converged by it once (not measured).
    run(COLLECTION, [*hand, naive], expect_changed=None)
    fleet_case = f"ssh: collection, {o.ssh_fleet} hosts, forks {o.ssh_forks}"
    bench.results["ssh_fleet"] = {"hosts": o.ssh_fleet, "forks": o.ssh_forks, "case": fleet_case}
    for r in range(o.fleet_repeat):
        bench.log(f"ssh fleet run {r + 1}: the collection on {o.ssh_fleet} hosts, forks {o.ssh_forks} ...")
        bench.record(fleet_case, run(COLLECTION, names[:o.ssh_fleet], forks=o.ssh_forks, memory=True))
