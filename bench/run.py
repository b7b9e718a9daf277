"""Side-by-side benchmark of a no-change re-run: Ansible's floor, this collection, the naive playbook, fleets.

One command, on this machine, every case several times in the same run (interleaved, so that background load
hits every case alike), median and spread (min-max), and the ratios and targets computed from these figures:

1. floor       ``ansible-playbook`` of one ``ansible.builtin.ping`` (``gather_facts: false``), same host/connection
2. collection  a no-change re-run of ``dockermac.hostbridge.bridge``: 25 services (alias IP + hosts name each),
               bridge_strategy=tap with the Docker-Desktop-only parts disabled (as the Molecule fleet scenario)
3. naive       bench/naive.yml: the same end state with lineinfile/command loops (checked equal; changed=0 too)
4. fleet       the collection's no-change re-run against 1, 5 and 20 container hosts (forks = hosts)
5. hot path    etc_hosts_entry (bench/hosts_file.py's case) and lo0_alias with 50-200 addresses, in-process

Plus variants of 1-3: ANSIBLE_PIPELINING=1, pipelining without become, Mitogen (``--mitogen``), a profile of
the collection's run (per task, AnsiballZ sizes, per-exec cost). Hosts are containers of
hostbridge-base:bookworm on the default docker bridge, connection community.docker.docker (``docker exec``),
become via su (as the Molecule fleet scenario); all are removed at
the end, also on failure.

    .venv/bin/python bench/run.py [--repeat 5] [--fleet-repeat 3] [--fleet 1,5,20] [--mitogen] [--json FILE]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, ".venv", "bin")
sys.path.insert(0, HERE)

import hosts_file  # noqa: E402  (module hot path: its functions are reused, not duplicated)

IMAGE = "hostbridge-base:bookworm"
SERVICES = 25
USER, UID = "hbdev", 1501
TAP, TAP_ADDRESS = "tap3", "10.0.75.1/24"
LABEL = "dockermac.hostbridge.bench"
MITOGEN_VERSION = "0.3.54"
TARGETS = {"collection_vs_floor": 2.0, "naive_vs_collection": 3.0, "fleet_cpu_growth": 1.5, "hot_path_s": 0.5}
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

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


def team_vars() -> dict[str, t.Any]:
    """The realistic team configuration: 25 services, the tap strategy without the Docker Desktop parts."""
    services = [{"name": f"svc{n}.team.test", "ip": f"192.100.200.{n}"} for n in range(1, SERVICES + 1)]
    services[1]["aliases"] = ["api.team.internal"]
    return {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
        # The containers have no sudo and the connection is root already (as in the Molecule fleet scenario).
        "ansible_become_method": "ansible.builtin.su",
        "bridge_strategy": "tap",
        "loopback_services": services,
        "loopback_exclusive_within": "192.100.200.0/24",
        "loopback_hosts_unsafe_writes": True,
        "tap_bridge_user": USER,
        "tap_bridge_device": TAP,
        "tap_bridge_host_address": TAP_ADDRESS,
        "tap_bridge_network_manage": False,
        "tap_bridge_vm_link_manage": False,
        "tap_bridge_restart_docker": False,
    }


def fmt(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    if not values:
        return "-"
    v = [x * scale for x in values]
    return f"{statistics.median(v):.2f} {unit} ({min(v):.2f}-{max(v):.2f})"


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.tmp = tempfile.mkdtemp(prefix="hostbridge-bench-")
        self.prefix = f"hbb-{os.getpid()}"
        self.containers: list[str] = []
        self.cgroups: dict[str, str | None] = {}
        self.netns: str | None = None
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": ":".join([os.path.join(ROOT, ".tmp", "collections"),
                                                  os.path.join(ROOT, ".cache", "collections"),
                                                  os.path.expanduser("~/.ansible/collections")]),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_FORCE_COLOR": "false",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_INJECT_FACT_VARS": "false",
            "ANSIBLE_PIPELINING": "0",
        })
        for name in ("ANSIBLE_CONFIG", "ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_STRATEGY"):
            self.env.pop(name, None)
        self.results: dict[str, t.Any] = {"machine": machine(), "cases": {}, "fleet": {}, "notes": []}

    # ---- containers -------------------------------------------------------------------------------------------
    def start(self, names: list[str]) -> None:
        def one(name: str) -> None:
            subprocess.run(["docker", "run", "-d", "--name", name, "--label", f"{LABEL}={self.prefix}",
                            "--network", "bridge", "--cap-add", "NET_ADMIN", "--device", "/dev/net/tun",
                            IMAGE, "sleep", "infinity"], check=True, capture_output=True)
            subprocess.run(["docker", "exec", name, "useradd", "-m", "-u", str(UID), USER], check=True,
                           capture_output=True)

        self.containers.extend(names)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(one, names))
        for name in names:
            cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], check=True, capture_output=True,
                                 text=True).stdout.strip()
            self.cgroups[name] = cgroup_cpu_file(cid)

    def cleanup(self) -> None:
        if self.containers:
            subprocess.run(["docker", "rm", "-f", *self.containers], check=False, capture_output=True)
            self.containers = []
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
            self.netns = None
        if not self.options.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def container_cpu(self, hosts: list[str]) -> float | None:
        total = 0.0
        for host in hosts:
            path = self.cgroups.get(host)
            if not path:
                return None
            with open(path, encoding="ascii") as handle:
                total += cgroup_seconds(path, handle.read())
        return total

    # ---- files ------------------------------------------------------------------------------------------------
    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def inventory(self, name: str, hosts: list[str], **extra: t.Any) -> str:
        variables = team_vars()
        variables.update(extra)
        return self.write(name, json.dumps({"all": {"hosts": {h: {} for h in hosts}, "vars": variables}}, indent=1))

    # ---- runs -------------------------------------------------------------------------------------------------
    def play(self, playbook: str, inventory: str, hosts: list[str], *, env: dict[str, str] | None = None,
             binary: str | None = None, expect_changed: int | None = 0, args: t.Sequence[str] = ()) -> dict[str, t.Any]:
        """Run ansible-playbook once; wall time, controller/container/engine CPU; check the recap (changed=0)."""
        argv = [binary or os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(len(hosts)), *args,
                playbook]
        run_env = dict(self.env, **(env or {}))
        before_ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_cg = self.container_cpu(hosts)
        before_eng = engine_cpu()
        start = time.perf_counter()
        proc = subprocess.run(argv, check=False, env=run_env, capture_output=True, text=True, cwd=self.tmp)
        wall = time.perf_counter() - start
        after_ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_cg = self.container_cpu(hosts)
        after_eng = engine_cpu()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                               f"{proc.stderr[-2000:]}")
        if proc.stdout.lstrip().startswith("{"):   # the ansible.posix.json stdout callback (profile run)
            recap = json.loads(proc.stdout)["stats"]
        else:
            recap = {m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
                     for m in RECAP.finditer(proc.stdout)}
        if set(recap) != set(hosts) and not playbook.endswith("empty.yml"):   # a play without tasks has no recap
            raise RuntimeError(f"recap has {sorted(recap)}, expected {sorted(hosts)}:\n{proc.stdout[-2000:]}")
        if expect_changed is not None:
            bad = {h: r["changed"] for h, r in recap.items() if r["changed"] != expect_changed}
            if bad:
                raise RuntimeError(f"{playbook}: expected changed={expect_changed}, got {bad}:\n{proc.stdout[-4000:]}")
        self.log(f"  {wall:6.2f} s  {os.path.basename(playbook)} on {len(hosts)} host(s) "
                 f"{' '.join(f'{k}={v}' for k, v in (env or {}).items() if 'PATH' not in k)}")
        ctrl = (after_ru.ru_utime - before_ru.ru_utime) + (after_ru.ru_stime - before_ru.ru_stime)
        cont = None if before_cg is None or after_cg is None else after_cg - before_cg
        return {"wall": wall, "ctrl_cpu": ctrl, "container_cpu": cont, "engine_cpu": after_eng - before_eng,
                "recap": recap, "stdout": proc.stdout}

    def record(self, case: str, result: dict[str, t.Any]) -> None:
        row = self.results["cases"].setdefault(case, {"wall": [], "ctrl_cpu": [], "container_cpu": [],
                                                      "engine_cpu": []})
        for key in ("wall", "ctrl_cpu", "container_cpu", "engine_cpu"):
            if result[key] is not None:
                row[key].append(result[key])

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def machine() -> dict[str, t.Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kb = int(handle.readline().split()[1])
    core = subprocess.run([os.path.join(BIN, "ansible"), "--version"], check=True, capture_output=True,
                          text=True).stdout
    docker = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"], check=False, capture_output=True,
                            text=True)
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "ansible_core": core.split("[core ", 1)[1].split("]")[0],
            "docker": docker.stdout.strip(), "kernel": platform.release(), "load_before": os.getloadavg()}


def cgroup_cpu_file(cid: str) -> str | None:
    for path in (f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",            # v1, cgroupfs
                 f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage",
                 f"/sys/fs/cgroup/docker/{cid}/cpu.stat",                           # v2, cgroupfs
                 f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"):      # v2, systemd
        if os.path.exists(path):
            return path
    return None


def cgroup_seconds(path: str, text: str) -> float:
    if path.endswith("cpuacct.usage"):
        return int(text) / 1e9
    for line in text.splitlines():
        if line.startswith("usage_usec"):
            return int(line.split()[1]) / 1e6
    return 0.0


def engine_cpu() -> float:
    """CPU seconds used so far by dockerd and containerd themselves (each docker exec goes through them)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name in ("dockerd", "containerd"):
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


# ---- the cases ----------------------------------------------------------------------------------------------------
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
    data = json.loads(res["stdout"])
    tasks = []
    for play in data["plays"]:
        for task in play["tasks"]:
            hr = task["hosts"].get(host, {})
            d = task["task"]["duration"]
            seconds = (parse_time(d["end"]) - parse_time(d["start"])) if d.get("end") else 0.0
            tasks.append({"name": task["task"]["name"], "action": hr.get("action", "?"),
                          "skipped": bool(hr.get("skipped")), "seconds": seconds,
                          "items": len(hr.get("results", [])) if isinstance(hr.get("results"), list) else 0})
    # Controller-only actions: no remote Python. Everything else runs at least one AnsiballZ module remotely.
    local = {"debug", "assert", "fail", "set_fact", "include_role", "include_tasks", "validate_argument_spec",
             "ansible.builtin.debug", "ansible.builtin.assert", "ansible.builtin.fail", "ansible.builtin.set_fact",
             "ansible.builtin.include_role", "ansible.builtin.include_tasks",
             "ansible.builtin.validate_argument_spec", "meta", "ansible.builtin.meta"}
    ran = [x for x in tasks if not x["skipped"]]
    remote = [x for x in ran if x["action"] not in local]
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


# ---- report -------------------------------------------------------------------------------------------------------
def report(bench: Bench) -> str:
    res = bench.results
    m = res["machine"]
    cases = res["cases"]
    lines = [f"machine: {m['nproc']} x {m['cpu']}, {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
             f"ansible-core {m['ansible_core']}, Docker {m['docker']}",
             f"load average before {tuple(round(x, 2) for x in m['load_before'])}, after "
             f"{tuple(round(x, 2) for x in res.get('load_after', (0, 0, 0)))}; "
             f"bench took {res.get('seconds', 0):.0f} s",
             "", "One host, no-change re-run; median (min-max); controller CPU = getrusage(RUSAGE_CHILDREN) delta "
             "around ansible-playbook; container CPU = the container's cgroup cpuacct delta",
             f"{'case':<44} {'n':>2}  {'wall':>22}  {'controller CPU':>22}  {'container CPU':>20}  {'x floor':>7}"]
    floor = med(cases.get("floor", {}).get("wall", []))
    for case, row in cases.items():
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
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: fleet,hot,profile")
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
        fleet_size = max([*options.fleet, 1]) if "fleet" not in skip else 1
        names = [f"{bench.prefix}-{n}" for n in range(1, fleet_size + 1)]
        naive_host = f"{bench.prefix}-naive"
        bench.log(f"starting {len(names) + 1} containers from {IMAGE} (default bridge) ...")
        bench.start([*names, naive_host])
        main_cases(bench, names[0], naive_host)
        sections = [("mitogen", lambda: mitogen(bench, names[0], naive_host)),
                    ("profile", lambda: profile(bench, names[0])),
                    ("fleet", lambda: fleet(bench, names)),
                    ("hot", lambda: hot_path(bench))]
        for name, section in sections:
            if name in skip or (name == "mitogen" and not options.mitogen):
                continue
            try:
                section()
            except (RuntimeError, subprocess.CalledProcessError, OSError, KeyError, ValueError) as exc:
                bench.results["notes"].append(f"{name}: failed - {str(exc)[:2000]}")
                bench.log(f"{name}: failed - {exc}")
    finally:
        bench.cleanup()
    bench.results["seconds"] = time.perf_counter() - started
    bench.results["load_after"] = os.getloadavg()
    print(report(bench))
    if options.json:
        with open(options.json, "w", encoding="utf-8") as handle:
            json.dump(bench.results, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
