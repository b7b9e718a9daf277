"""The benchmark's cases: the floor, the collection and the naive playbook side by side, their variants
(pipelining, no become, Mitogen), the profile, fleets and the in-process hot paths. Each records into the
``Bench`` of ``harness``; ``report`` turns the figures into text."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from datetime import datetime

import hosts_file  # the etc_hosts_entry hot path: its functions are reused, not duplicated
from harness import HERE, SERVICES, TAP, TAP_ADDRESS, UID, Bench, team_vars

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

MITOGEN_VERSION = "0.3.54"
FLOOR_PLAY = """---
- name: Floor - one ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""
EMPTY_PLAY = """---
- name: Start-up only - no task
  hosts: all
  gather_facts: false
  tasks: []
"""
# Calibration: the cost of one more remote module task, with and without become.
PINGS_PLAY = """---
- name: Ten pings
  hosts: all
  gather_facts: false
  become: {become}
  tasks:
{tasks}
"""


def end_state(host: str) -> dict[str, t.Any]:
    """What matters on a host, seen from inside it: aliases on lo, names resolved, the TAP device."""
    names = [s["name"] for s in team_vars()["loopback_services"]] + ["api.team.internal"]
    script = (
        "import json, os, socket, subprocess\n"
        "def inet(dev):\n"
        "    info = json.loads(subprocess.check_output(['ip', '-j', 'addr', 'show', 'dev', dev]))[0]\n"
        "    return sorted(a['local'] + '/' + str(a['prefixlen'])\n"
        "                  for a in info['addr_info'] if a['family'] == 'inet')\n"
        f"flags = json.loads(subprocess.check_output(['ip', '-j', 'link', 'show', 'dev', {TAP!r}]))[0]['flags']\n"
        f"print(json.dumps({{'lo': inet('lo'), 'tap_addresses': inet({TAP!r}), 'tap_up': 'UP' in flags,\n"
        f"    'tap_owner': open('/sys/class/net/{TAP}/owner').read().strip(),\n"
        f"    'names': {{n: socket.gethostbyname(n) for n in {names!r}}},\n"
        "    'reapply': oct(os.stat('/usr/local/libexec/dockermac-hostbridge/tap-reapply').st_mode)}))\n"
    )
    out = subprocess.run(["docker", "exec", host, "python3", "-c", script], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


def main_cases(bench: Bench, coll_host: str, naive_host: str) -> None:
    o = bench.options
    floor = bench.write("floor.yml", FLOOR_PLAY)
    empty = bench.write("empty.yml", EMPTY_PLAY)
    naive = os.path.join(HERE, "naive.yml")
    inv_c = bench.inventory("collection.json", [coll_host])
    inv_n = bench.inventory("naive.json", [naive_host])
    # Pipelining without become: the connection is root already; stands for sudo, which can pipeline (su cannot).
    inv_c_nb = bench.inventory("collection-nobecome.json", [coll_host], ansible_become=False)
    inv_n_nb = bench.inventory("naive-nobecome.json", [naive_host], ansible_become=False)

    bench.log("converging the collection host and the naive host once (not measured) ...")
    bench.play("dockermac.hostbridge.bridge", inv_c, [coll_host], expect_changed=None)
    bench.play(naive, inv_n, [naive_host], expect_changed=None)
    a, b = end_state(coll_host), end_state(naive_host)
    a["lo"] = [x for x in a["lo"] if not x.startswith("127.")]
    b["lo"] = [x for x in b["lo"] if not x.startswith("127.")]
    if a != b:
        raise RuntimeError(f"naive.yml does not reach the collection's end state:\ncollection {a}\nnaive      {b}")
    if a["tap_owner"] != str(UID) or a["tap_addresses"] != [TAP_ADDRESS] or len(a["lo"]) != SERVICES:
        raise RuntimeError(f"unexpected end state {a}")
    bench.results["end_state"] = a
    bench.log("end state: same aliases, names, TAP owner/address/up, re-apply program on both hosts")

    pipe = {"ANSIBLE_PIPELINING": "1"}
    main = [("startup (empty play)", empty, inv_c, coll_host, {}),
            ("floor", floor, inv_c, coll_host, {}),
            ("collection", "dockermac.hostbridge.bridge", inv_c, coll_host, {}),
            ("naive", naive, inv_n, naive_host, {})]
    # The floor has no become: "floor, pipelining" is its no-become variant too. "naive, pipelining" with su is
    # left out by default (--naive-su-pipelining): su cannot pipeline, so every become task runs as without it
    # (the calibration in the profile shows it), and it is the longest run of all.
    variants = [("floor, pipelining", floor, inv_c, coll_host, pipe),
                ("collection, pipelining", "dockermac.hostbridge.bridge", inv_c, coll_host, pipe),
                ("collection, pipelining, no become", "dockermac.hostbridge.bridge", inv_c_nb, coll_host, pipe),
                ("naive, pipelining, no become", naive, inv_n_nb, naive_host, pipe)]
    if o.naive_su_pipelining:
        variants.insert(2, ("naive, pipelining", naive, inv_n, naive_host, pipe))
    for r in range(max(o.repeat, o.variant_repeat)):
        bench.log(f"round {r + 1}: floor, collection, naive (+ variants) ...")
        for case, playbook, inv, host, env in main if r < o.repeat else []:
            bench.record(case, bench.play(playbook, inv, [host], env=env))
        for case, playbook, inv, host, env in variants if r < o.variant_repeat else []:
            bench.record(case, bench.play(playbook, inv, [host], env=env))


def fleet(bench: Bench, hosts: list[str]) -> None:
    o = bench.options
    # The first converge is not measured: pipelined and without su to be quick (the connection is root).
    if len(hosts) > 1:
        inv_all = bench.inventory("fleet-all.json", hosts[1:], ansible_become=False)
        bench.log(f"converging the other {len(hosts) - 1} hosts of the fleet once (not measured) ...")
        bench.play("dockermac.hostbridge.bridge", inv_all, hosts[1:], expect_changed=None,
                   env={"ANSIBLE_PIPELINING": "1"})
    for size in o.fleet:
        subset = hosts[:size]
        inv = bench.inventory(f"fleet-{size}.json", subset)
        if size == 1 and o.fleet_one_from_case2:
            # The 1-host fleet is case 2 itself (same host, inventory and forks): its runs are reused.
            bench.results["fleet"]["1"] = dict(bench.results["cases"]["collection"], repeat=o.repeat, reused=True)
            continue
        repeat = o.fleet_repeat
        rows = bench.results["fleet"].setdefault(str(size), {"wall": [], "ctrl_cpu": [], "container_cpu": [],
                                                             "engine_cpu": [], "repeat": repeat})
        bench.log(f"fleet of {size}: {repeat} no-change re-runs (forks {size}) ...")
        for _run in range(repeat):
            res = bench.play("dockermac.hostbridge.bridge", inv, subset)
            for key in ("wall", "ctrl_cpu", "container_cpu", "engine_cpu"):
                if res[key] is not None:
                    rows[key].append(res[key])


def profile(bench: Bench, host: str) -> None:
    """Where the collection's re-run spends its time: per task, per remote exec, AnsiballZ sizes."""
    inv = bench.inventory("profile.json", [host])
    env = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"}
    res = bench.play("dockermac.hostbridge.bridge", inv, [host], env=env, expect_changed=None)
    tasks = task_times(json.loads(res["stdout"]), host)
    ran = [x for x in tasks if not x["skipped"]]
    remote = [x for x in ran if ansible_cli.ran_remotely(x)]
    bench.results["profile"] = {"tasks": tasks, "total": len(tasks), "ran": len(ran),
                                "skipped": len(tasks) - len(ran), "remote": len(remote),
                                "remote_seconds": sum(x["seconds"] for x in remote),
                                "local_seconds": sum(x["seconds"] for x in ran if x not in remote),
                                "skipped_seconds": sum(x["seconds"] for x in tasks if x["skipped"])}
    # AnsiballZ payloads: keep the remote files of one (non-pipelined) run and list them.
    subprocess.run(["docker", "exec", host, "rm", "-rf", "/root/.ansible/tmp"], check=True)
    bench.play("dockermac.hostbridge.bridge", inv, [host], env={"ANSIBLE_KEEP_REMOTE_FILES": "1"})
    out = subprocess.run(["docker", "exec", host, "find", "/root/.ansible/tmp", "-name", "AnsiballZ_*.py",
                          "-printf", "%s %f\\n"], check=True, capture_output=True, text=True).stdout
    subprocess.run(["docker", "exec", host, "rm", "-rf", "/root/.ansible/tmp"], check=True)
    sizes: dict[str, list[int]] = {}
    for line in out.splitlines():
        size, name = line.split(" ", 1)
        sizes.setdefault(name[len("AnsiballZ_"):-3], []).append(int(size))
    bench.results["profile"]["ansiballz"] = {k: {"count": len(v), "bytes": v[0]} for k, v in sorted(sizes.items())}
    # Calibration: what one more remote module task costs (10 pings minus 1 ping), become or not, pipelined or not.
    pings = "\n".join(f"    - name: Ping {n}\n      ansible.builtin.ping:" for n in range(10))
    calib = {}
    for become in (False, True):
        ten = bench.write(f"pings-{become}.yml", PINGS_PLAY.format(become=str(become).lower(), tasks=pings))
        first_ping = pings.split("\n    - ", maxsplit=1)[0]
        one = bench.write(f"ping-{become}.yml", PINGS_PLAY.format(become=str(become).lower(), tasks=first_ping))
        for pipelining in ("0", "1"):
            env = {"ANSIBLE_PIPELINING": pipelining}
            wall_one = bench.play(one, inv, [host], env=env)["wall"]
            wall_ten = bench.play(ten, inv, [host], env=env)["wall"]
            calib[f"become={become}, pipelining={pipelining}"] = (wall_ten - wall_one) / 9
    bench.results["profile"]["per_remote_task"] = calib


def task_times(output: dict[str, t.Any], host: str) -> list[dict[str, t.Any]]:
    """Each task of an ``ansible.posix.json`` output: name, action, skipped, seconds, items."""
    tasks = []
    for play in output["plays"]:
        for task in play["tasks"]:
            hr = task["hosts"].get(host, {})
            d = task["task"]["duration"]
            seconds = (parse_time(d["end"]) - parse_time(d["start"])) if d.get("end") else 0.0
            tasks.append({"name": task["task"]["name"], "action": hr.get("action", "?"),
                          "skipped": bool(hr.get("skipped")), "seconds": seconds,
                          "items": len(hr.get("results", [])) if isinstance(hr.get("results"), list) else 0})
    return tasks


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def mitogen(bench: Bench, coll_host: str, naive_host: str) -> None:
    venv = bench.options.mitogen_venv
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "bin", "ansible-playbook")):
        core = bench.results["machine"]["ansible_core"]
        bench.log(f"creating the throwaway Mitogen venv {venv} (ansible-core {core}, mitogen {MITOGEN_VERSION}) ...")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"ansible-core=={core}", f"mitogen=={MITOGEN_VERSION}"],
                       check=True)
    code = "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"
    site = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    env = {"ANSIBLE_STRATEGY_PLUGINS": os.path.join(site, "plugins", "strategy"), "ANSIBLE_STRATEGY": "mitogen_linear"}
    binary = os.path.join(venv, "bin", "ansible-playbook")
    # Mitogen replaces the connection plugins it knows by their short name: `docker` (its mitogen_docker).
    inv_c = bench.inventory("mitogen-collection.json", [coll_host], ansible_connection="docker")
    inv_n = bench.inventory("mitogen-naive.json", [naive_host], ansible_connection="docker")
    floor = os.path.join(bench.tmp, "floor.yml")
    cases = [("floor, mitogen", floor, inv_c, coll_host),
             ("collection, mitogen", "dockermac.hostbridge.bridge", inv_c, coll_host),
             ("naive, mitogen", os.path.join(HERE, "naive.yml"), inv_n, naive_host)]
    try:
        for _case, playbook, inv, host in cases:   # warm-up
            bench.play(playbook, inv, [host], env=env, binary=binary)
        for _run in range(bench.options.variant_repeat):
            for case, playbook, inv, host in cases:
                bench.record(case, bench.play(playbook, inv, [host], env=env, binary=binary))
    except RuntimeError as exc:
        bench.results["notes"].append(f"mitogen: failed - {str(exc)[:1500]}")


def hot_path(bench: Bench) -> None:
    o = bench.options
    rows = [hosts_file.measure(lines, o.repeat) for lines in hosts_file.SIZES]
    bench.results["hot_hosts"] = rows
    bench.netns = f"{bench.prefix}-lo"
    subprocess.run(["ip", "netns", "add", bench.netns], check=True)
    out = subprocess.run(["ip", "netns", "exec", bench.netns, sys.executable, os.path.join(HERE, "lo0_alias_hot.py"),
                          "--counts", "50,100,200", "--repeat", str(o.repeat)],
                         env=dict(os.environ, HOSTBRIDGE_BENCH_NETNS="1"), check=True, capture_output=True, text=True)
    bench.results["hot_lo0"] = json.loads(out.stdout)
    subprocess.run(["ip", "netns", "del", bench.netns], check=True)
    bench.netns = None
