"""The benchmark's harness: the containers, one timed ansible-playbook run (wall time, controller, container and
engine CPU, the recap checked), the machine's description. ``run.py`` is the entry point."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import typing as t

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# tests/ssh_fleet.py is imported as the suite imports it (tools/bootstrap makes this symlink tree).
sys.path.insert(0, os.path.join(ROOT, ".tmp", "collections"))
BIN = os.path.join(ROOT, ".venv", "bin")
IMAGE = "hostbridge-base:bookworm"
SERVICES = 25
USER, UID = "hbdev", 1501
TAP, TAP_ADDRESS = "tap3", "10.0.75.1/24"
LABEL = "dockermac.hostbridge.bench"
MEASURES = ("wall", "ctrl_cpu", "container_cpu", "engine_cpu", "peak_pss_mib")
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def team_vars() -> dict[str, t.Any]:
    """The realistic team configuration: 25 services, the tap strategy without the Docker Desktop parts."""
    services = [{"name": f"svc{n}.team.test", "ip": f"198.51.100.{n}"} for n in range(1, SERVICES + 1)]
    services[1]["aliases"] = ["api.team.internal"]
    return {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
        # The containers have no sudo and the connection is root already (as in the Molecule fleet scenario).
        "ansible_become_method": "ansible.builtin.su",
        "bridge_strategy": "tap",
        "loopback_services": services,
        "loopback_exclusive_within": "198.51.100.0/24",
        "loopback_hosts_unsafe_writes": True,
        "tap_bridge_user": USER,
        "tap_bridge_device": TAP,
        "tap_bridge_host_address": TAP_ADDRESS,
        "tap_bridge_network_manage": False,
        "tap_bridge_vm_link_manage": False,
        "tap_bridge_restart_docker": False,
    }


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.tmp = tempfile.mkdtemp(prefix="hostbridge-bench-")
        self.prefix = f"hbb-{os.getpid()}"
        self.containers: list[str] = []
        self.cgroups: dict[str, str | None] = {}
        self.netns: str | None = None
        self.ssh_fleet: t.Any = None   # bench/ssh.py's SshFleet, removed by cleanup()
        self.ssh_env: dict[str, str] = {}
        self.runs = 0
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

    def cleanup(self, keep_tmp: bool = False) -> None:
        if self.ssh_fleet is not None:
            self.ssh_fleet.close()
            self.ssh_fleet = None
        if self.containers:
            subprocess.run(["docker", "rm", "-f", *self.containers], check=False, capture_output=True)
            self.containers = []
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True)
            self.netns = None
        if not self.options.keep and not keep_tmp:
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
             binary: str | None = None, expect_changed: int | None = 0, args: t.Sequence[str] = (),
             forks: int | None = None, limit: list[str] | None = None, ssh: bool = False,
             memory: bool = False, wrap: t.Sequence[str] = ()) -> dict[str, t.Any]:
        """Run ansible-playbook once; wall time, controller/container/engine CPU, the controller's peak memory;
        check the recap (changed=0). ``ssh``: a fresh ControlPath directory (a cold start), and the SSH masters
        the run leaves behind counted as controller CPU and memory, then ended. ``memory``: sample the controller's
        memory (it costs CPU on this machine too, so only where the figure is wanted). ``wrap``: a command that runs
        ``ansible-playbook`` (the simulated Mac's namespace), timed with it."""
        argv = [*wrap, binary or os.path.join(BIN, "ansible-playbook"), "-i", inventory, "-f", str(forks or len(hosts)),
                *(["--limit", ",".join(limit)] if limit else []), *args, playbook]
        run_env = dict(self.env, **(env or {}))
        self.runs += 1
        control_dir = os.path.join(self.tmp, f"cp-{self.runs}")
        if ssh:
            os.makedirs(control_dir, mode=0o700)
            run_env["ANSIBLE_SSH_CONTROL_PATH_DIR"] = control_dir
        before_ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        before_cg = self.container_cpu(hosts)
        before_eng = engine_cpu()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.tmp)
        sampler = MemorySampler(proc.pid, control_dir if ssh else None) if memory else None
        stdout, stderr = proc.communicate()
        wall = time.perf_counter() - start
        peak = sampler.stop() if sampler else None
        after_ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        after_cg = self.container_cpu(hosts)
        after_eng = engine_cpu()
        masters_cpu = end_ssh_masters(control_dir) if ssh else 0.0
        proc_rc = proc.returncode
        if proc_rc != 0:
            raise RuntimeError(f"{' '.join(argv)} failed (rc {proc_rc}):\n{stdout[-3000:]}\n{stderr[-2000:]}")
        if stdout.lstrip().startswith("{"):   # the ansible.posix.json stdout callback (profile run)
            recap = json.loads(stdout)["stats"]
        else:
            recap = {m[1]: {"ok": int(m[2]), "changed": int(m[3]), "unreachable": int(m[4]), "failed": int(m[5])}
                     for m in RECAP.finditer(stdout)}
        if set(recap) != set(hosts) and not playbook.endswith("empty.yml"):   # a play without tasks has no recap
            raise RuntimeError(f"recap has {sorted(recap)}, expected {sorted(hosts)}:\n{stdout[-2000:]}")
        if expect_changed is not None:
            bad = {h: r["changed"] for h, r in recap.items() if r["changed"] != expect_changed}
            if bad:
                raise RuntimeError(f"{playbook}: expected changed={expect_changed}, got {bad}:\n{stdout[-4000:]}")
        self.log(f"  {wall:6.2f} s  {os.path.basename(playbook)} on {len(hosts)} host(s) "
                 f"{' '.join(f'{k}={v}' for k, v in (env or {}).items() if k.startswith('ANSIBLE_PIPELINING'))}")
        ctrl = (after_ru.ru_utime - before_ru.ru_utime) + (after_ru.ru_stime - before_ru.ru_stime) + masters_cpu
        cont = None if before_cg is None or after_cg is None else after_cg - before_cg
        return {"wall": wall, "ctrl_cpu": ctrl, "container_cpu": cont, "engine_cpu": after_eng - before_eng,
                "peak_pss_mib": peak, "recap": recap, "stdout": stdout}

    def record(self, case: str, result: dict[str, t.Any]) -> None:
        row = self.results["cases"].setdefault(case, {key: [] for key in MEASURES})
        for key in MEASURES:
            row.setdefault(key, [])
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
    stats = (proc_stat(pid) for pid in filter(str.isdigit, os.listdir("/proc")))
    return sum(stat[2] for stat in stats if stat and stat[0] in ("dockerd", "containerd"))


def proc_stat(pid: str) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return stat[stat.index("(") + 1:stat.rindex(")")], int(fields[1]), \
        (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ssh_masters(control_dir: str) -> list[str]:
    """The SSH multiplexing masters (``ssh: <control path> [mux]``) of a ControlPath directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace")
        except OSError:
            continue
        if control_dir + "/" in cmdline and cmdline.startswith("ssh"):
            found.append(pid)
    return found


def end_ssh_masters(control_dir: str) -> float:
    """The CPU seconds of a run's SSH masters (they outlive ansible-playbook: ControlPersist); then end them."""
    total = 0.0
    for pid in ssh_masters(control_dir):
        stat = proc_stat(pid)
        if stat:
            total += stat[2]
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 15)
    return total


def pss_kib(pid: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """The controller's memory during a run: every 0.2 s, the PSS (proportional set size: pages shared by the
    forked workers counted once in total) of ansible-playbook, all its descendants and the run's SSH masters."""

    def __init__(self, pid: int, control_dir: str | None) -> None:
        self.root, self.control_dir, self.peak = str(pid), control_dir, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _tree(self) -> list[str]:
        children: dict[str, list[str]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            stat = proc_stat(pid)
            if stat:
                children.setdefault(str(stat[1]), []).append(pid)
        tree, frontier = {self.root}, [self.root]
        while frontier:
            found = [pid for pid in children.get(frontier.pop(), []) if pid not in tree]
            tree.update(found)
            frontier += found
        if self.control_dir:
            tree.update(ssh_masters(self.control_dir))
        return list(tree)

    def _loop(self) -> None:
        while not self.done.wait(0.2):
            self.peak = max(self.peak, sum(pss_kib(pid) for pid in self._tree()))

    def stop(self) -> float:
        """The peak in MiB."""
        self.done.set()
        self.thread.join()
        return round(self.peak / 1024, 1)
