"""From a Docker Desktop restart to HTTP 200 by container IP, with no playbook run: the simulated Mac of the
end-to-end test (``tests/e2e/sim.py``), bridged once by ``bridge.yml``, then restarted again and again.

Each restart stops the VM (its engine and containers) and boots a fresh one whose ``eth1`` is down, with a new
engine that starts the containers whose restart policy says so: the web server under test and the tap_bridge
role's link container, which sets ``eth1`` up and follows ``ip monitor link`` (event-driven). The Mac's side, the
tap interface's address, is the re-apply program's job; it runs in two ways, one series each:

- ``launchd``: as the LaunchDaemon runs it today, every ``StartInterval`` seconds (the role's
  ``tap_bridge_reapply_interval``, 10 s, launchd's floor), from a phase set when the job "loaded";
- ``at once``: right after the restart returns, as an event-driven job would (what the VM's side costs alone).

Per restart: seconds to the old VM gone, to the new engine answering (Docker Desktop's own quit and boot), to
``eth1`` up, and to the first HTTP 200 from the Mac (a GET every 0.1 s); and HTTP 200 minus engine, the bridge's
own share. Needs root, a Docker engine and ``hostbridge-base:bookworm``.

    .venv/bin/python bench/restart_to_http.py [--restarts 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("hostbridge_e2e_sim", HERE.parent / "tests" / "e2e" / "sim.py")
sim = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sim
_spec.loader.exec_module(sim)

INTERVAL = 10.0  # tap_bridge_reapply_interval's default: launchd's ThrottleInterval floor
PROBE_EVERY = 0.1
GOAL_MEDIAN = 2.0
PARTS = {  # seconds from the start of the restart, except after_engine
    "stop": "Docker Desktop quit: engine shut down, VM gone",
    "engine": "the new VM's engine answers",
    "eth1_up": "eth1 seen up (the link container)",
    "http_200": "first HTTP 200 by container IP from the Mac",
    "after_engine": "http_200 - engine: the bridge's own share",
}


class Launchd:
    """A LaunchDaemon with StartInterval: the program every ``interval`` seconds, from the moment it loaded."""

    def __init__(self, mac: t.Any, program: Path, interval: float) -> None:
        self.mac, self.program, self.interval = mac, program, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.mac.in_mac("/bin/sh", str(self.program))

    def __enter__(self) -> Launchd:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def eth1_up(mac: t.Any) -> bool:
    out = sim.sh("ip", "-n", mac.vm_netns, "-o", "link", "show", "dev", mac.vm_nic, check=False).stdout
    return "<" in out and "UP" in out.split("<", 1)[1].split(">", 1)[0].split(",")


def one_restart(mac: t.Any, url: str, *, reapply: Path | None, deadline: float = 60) -> dict[str, float]:
    """Restart Docker Desktop and time it; ``reapply``: run the program right after (else launchd's job does)."""
    started = time.monotonic()
    mac.stop_docker_desktop()  # quit: the engine shuts down, the VM goes
    stop = time.monotonic() - started
    mac.start_docker_desktop()  # reopen: a fresh VM; returns when its engine answers
    engine = time.monotonic() - started
    if reapply is not None:
        proc = mac.in_mac("/bin/sh", str(reapply))
        if proc.returncode != 0:
            raise RuntimeError(f"the re-apply program failed: {proc.stderr}")
    up = None
    while time.monotonic() - started < deadline:
        if up is None and eth1_up(mac):
            up = time.monotonic() - started
        if mac.http_get(url, timeout=PROBE_EVERY * 5) == 200:
            http = time.monotonic() - started
            return {"stop": stop, "engine": engine, "eth1_up": up if up is not None else float("nan"),
                    "http_200": http, "after_engine": http - engine}
        time.sleep(PROBE_EVERY)
    raise RuntimeError(f"no HTTP 200 from {url} within {deadline} s of the restart")


def bridge_once(mac: t.Any, reapply: Path) -> Path:
    """Docker Desktop started, then ``bridge.yml`` once with the full tap strategy and one loopback service; the
    extra-vars file it ran with (the same file makes every later run the same configuration)."""
    extra = mac.workdir / "extra-vars.json"
    hosts = mac.workdir / "hosts"  # never the machine's /etc/hosts (the Mac's namespace shares its files)
    hosts.write_text("127.0.0.1\tlocalhost\n", encoding="utf-8")
    extra.write_text(json.dumps({**mac.bridge_vars(reapply=reapply), "loopback_hosts_path": str(hosts),
                                 "loopback_persistent": False,
                                 "loopback_services": [{"name": "web.bench.test", "ip": "198.51.100.78"}]}),
                     encoding="utf-8")
    mac.start_docker_desktop()
    proc = mac.playbook("bridge", extra)
    if proc.returncode != 0:
        raise RuntimeError(f"bridge.yml failed:\n{(proc.stdout + proc.stderr)[-4000:]}")
    return extra


@contextlib.contextmanager
def bridged_mac(prefix: str) -> t.Iterator[tuple[t.Any, Path, Path]]:
    """A simulated Mac (``tests/e2e/sim.py``) bridged once: (the Mac, the extra-vars file, the re-apply program);
    destroyed on leaving, also on failure."""
    reason = sim.have_tools()
    if reason:
        raise RuntimeError(f"{prefix}: {reason}")
    workdir = Path(tempfile.mkdtemp(prefix=f"hb-bench-{prefix}-"))
    mac = sim.SimulatedMac(workdir)
    reapply = workdir / "libexec" / "tap-reapply"
    try:
        mac.create()
        yield mac, bridge_once(mac, reapply), reapply
    finally:
        mac.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def serve_web(mac: t.Any) -> str:
    """A web server on the tap network that comes back with the VM; its URL once it answers the Mac."""
    mac.docker("run", "-d", "--name", f"hb-bench-web-{mac.id}", "--network", mac.network, "--restart",
               "unless-stopped", "--init", sim.ENGINE_IMAGE, "python3", "-m", "http.server", "8080")
    info = json.loads(mac.docker("inspect", f"hb-bench-web-{mac.id}").stdout)[0]
    url = f"http://{info['NetworkSettings']['Networks'][mac.network]['IPAddress']}:8080/"
    deadline = time.monotonic() + 30
    while mac.http_get(url, timeout=1) != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no HTTP 200 from {url} after bridge.yml")
        time.sleep(0.2)
    return url


def summary(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {key: {"median": statistics.median(r[key] for r in rows), "max": max(r[key] for r in rows)}
            for key in PARTS}


def measure(restarts: int = 5, interval: float = INTERVAL) -> dict[str, t.Any]:
    with bridged_mac("restart") as (mac, _extra, reapply):
        url = serve_web(mac)
        at_once = [one_restart(mac, url, reapply=reapply) for _n in range(restarts)]
        # launchd loaded the job at some moment unrelated to the restarts: a random phase before the first one.
        time.sleep(random.uniform(0, interval))  # noqa: S311 - a phase, not a secret
        with Launchd(mac, reapply, interval):
            launchd = []
            for _n in range(restarts):
                launchd.append(one_restart(mac, url, reapply=None))
                time.sleep(random.uniform(0, interval))  # noqa: S311 - restarts come at any moment
    return {"restarts": restarts, "reapply_interval": interval, "probe_every": PROBE_EVERY,
            "vm_link": "event-driven (engine start + ip monitor link), no polling interval",
            "at_once": {"runs": at_once, **summary(at_once)}, "launchd": {"runs": launchd, **summary(launchd)}}


def report(result: dict[str, t.Any]) -> str:
    lines = [f"Docker Desktop restart -> HTTP 200 by container IP, no playbook run ({result['restarts']} restarts "
             f"each; eth1: {result['vm_link']}; HTTP probe every {result['probe_every']} s)"]
    interval = result["reapply_interval"]
    for key, label in (("at_once", "tap address re-applied at once (event-driven Mac side)"),
                       ("launchd", f"tap address by the LaunchDaemon, StartInterval {interval:.0f} s")):
        row = result[key]
        lines.append(f"  {label}:")
        for part, meaning in PARTS.items():
            lines.append(f"    {part:<12} median {row[part]['median']:6.2f} s  max {row[part]['max']:6.2f} s  "
                         f"({meaning})")
        ok = row["http_200"]["median"] <= GOAL_MEDIAN
        lines.append(f"    goal: median <= {GOAL_MEDIAN:.0f} s: {'met' if ok else 'MISSED'}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=5, help="restarts per series (default 5)")
    parser.add_argument("--interval", type=float, default=INTERVAL, help="the LaunchDaemon's StartInterval")
    parser.add_argument("--json", help="also write the raw figures to this file")
    options = parser.parse_args()
    result = measure(options.restarts, options.interval)
    print(report(result))
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
