"""Races: many real processes changing one hosts file, one loopback interface and one Docker.app at the same time.

Writers are released together by a barrier so their read-plan-write cycles overlap; at the end every entry,
address and binary must be where the sum of all runs puts it: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _files, _hosts
from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry, hyperkit_shim
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ansible_env
from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import (
    ANSIBLE_BIN,
    FIGURES,
    ROOT,
    STOCK,
    Netns,
    assert_real_binary_reachable,
    call_module,
    hide_systemd,
    quiet_stdio,
    sha,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    fake_binary,
)

MARKERS = ["dockermac.hostbridge", "team-a", "team_b:web", "project@c", "x/y+z"]
MODULE_WRITERS = 50
CLI_WRITERS = 6


def _ip(i: int) -> str:
    return f"198.18.{40 + i % 5}.{i + 1}"


def _worker_args(i: int, path: str) -> list[dict[str, t.Any]]:
    """Writer i: its marker; every third one removes a name seeded for it, the others add their own (twice:
    the second run must find it and change nothing)."""
    base = {"path": path, "marker": MARKERS[i % len(MARKERS)], "flush_cache": False}
    if i % 3 == 0:
        return [dict(base, ip=_ip(i), names=[f"drop{i}.test"], state="absent")]
    return [dict(base, ip=_ip(i), names=[f"new{i}.test"]), dict(base, ip=_ip(i), names=[f"new{i}.test"])]


def _hosts_writer(i: int, path: str, barrier: t.Any, times: str) -> None:
    with quiet_stdio():
        barrier.wait(60)
        for number, args in enumerate(_worker_args(i, path)):
            start = time.monotonic()
            result = call_module(etc_hosts_entry.main, args)
            with open(os.path.join(times, f"main.{i}.{number}"), "w", encoding="ascii") as handle:
                handle.write(f"{start} {time.monotonic()}")
            if result.get("failed") or result["changed"] != (number == 0):
                os._exit(3)
    os._exit(0)


# The Python interpreter of the command-line writers' module runs: it says it has arrived, waits for the gate,
# runs the real interpreter on AnsiballZ and records when that ran (CLOCK_MONOTONIC is one clock for all).
GATED_PYTHON = """#!{python}
import os, subprocess, sys, time
times = {times!r}
open(os.path.join(times, "arrived.%d" % os.getpid()), "w").close()
while not os.path.exists(os.path.join(times, "go")):
    time.sleep(0.002)
start = time.monotonic()
rc = subprocess.call([{python!r}] + sys.argv[1:])
with open(os.path.join(times, "cli.%d" % os.getpid()), "w") as handle:
    handle.write("%r %r" % (start, time.monotonic()))
sys.exit(rc)
"""


def _intervals(times: Path, prefix: str) -> list[tuple[float, float]]:
    found = []
    for entry in sorted(times.glob(f"{prefix}.*")):
        start, end = entry.read_text().split()
        found.append((float(start), float(end)))
    return found


def _seed(path: Path, writers: int) -> None:
    """The Mac's stock file with a block per marker: a name each remover takes out, and one that stays."""
    data = STOCK
    for m, marker in enumerate(MARKERS):
        entries = [_hosts.Entry(f"198.18.50.{m + 1}", (f"keep-{m}.test",))]
        entries += [_hosts.Entry(_ip(i), (f"drop{i}.test", f"stay{i}.test"))
                    for i in range(0, MODULE_WRITERS + CLI_WRITERS, 3) if i % len(MARKERS) == m]
        data = _hosts.plan(data, entries, marker=marker).after
    path.write_bytes(data)
    path.chmod(0o644)


def test_sixty_concurrent_writers_with_five_markers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    times = tmp_path / "times"
    times.mkdir()
    gated = tmp_path / "gated-python"
    gated.write_text(GATED_PYTHON.format(python=sys.executable, times=str(times)))
    gated.chmod(0o755)
    _seed(path, MODULE_WRITERS)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(MODULE_WRITERS + 1)  # + this process, which opens the gate of the command lines too
    procs = [ctx.Process(target=_hosts_writer, args=(i, str(path), barrier, str(times)))
             for i in range(MODULE_WRITERS)]
    # Writers through the real `ansible` command line (AnsiballZ, a module process per run), held at a gate in
    # their module interpreter until every one of them is there.
    cli = []
    for i in range(MODULE_WRITERS, MODULE_WRITERS + CLI_WRITERS):
        args = _worker_args(i, str(path))[0]
        cli.append(subprocess.Popen(hide_systemd([ANSIBLE_BIN, "localhost", "-c", "local", "-i", "localhost,", "-m",
                                                  "dockermac.hostbridge.etc_hosts_entry", "-a", json.dumps(args)]),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=ansible_env(ANSIBLE_STDOUT_CALLBACK="minimal",
                                                    ANSIBLE_PYTHON_INTERPRETER=str(gated))))
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 120
    while len(list(times.glob("arrived.*"))) < CLI_WRITERS:
        assert time.monotonic() < deadline, f"command lines at the gate: {len(list(times.glob('arrived.*')))}"
        assert all(proc.poll() is None for proc in cli), [proc.communicate() for proc in cli]
        time.sleep(0.01)
    (times / "go").touch()
    barrier.wait(60)  # releases the in-process writers at the moment the gate opens
    for proc in procs:
        proc.join(120)
    outputs = [proc.communicate(timeout=180) for proc in cli]
    assert [proc.exitcode for proc in procs] == [0] * MODULE_WRITERS
    assert [proc.returncode for proc in cli] == [0] * CLI_WRITERS, outputs
    # At the same time: every command-line module run overlapped some in-process run.
    main_runs = _intervals(times, "main")
    cli_runs = _intervals(times, "cli")
    assert len(main_runs) == len([a for i in range(MODULE_WRITERS) for a in _worker_args(i, "")])
    assert len(cli_runs) == CLI_WRITERS
    overlapping = [any(start < m_end and m_start < end for m_start, m_end in main_runs) for start, end in cli_runs]
    assert all(overlapping), (cli_runs, min(s for s, _e in main_runs), max(e for _s, e in main_runs))

    data = path.read_bytes()
    assert data.startswith(STOCK)
    for m, marker in enumerate(MARKERS):
        block = {(e.ip, n) for e in _hosts.HostsFile(data, marker=marker).entries for n in e.names}
        want = {(f"198.18.50.{m + 1}", f"keep-{m}.test")}
        for i in range(MODULE_WRITERS + CLI_WRITERS):
            if i % len(MARKERS) != m:
                continue
            if i % 3 == 0:
                want.add((_ip(i), f"stay{i}.test"))
            else:
                want.add((_ip(i), f"new{i}.test"))
        assert block == want, marker
    assert not [p for p in os.listdir(tmp_path) if p.endswith(_files.TEMP_SUFFIX)]
    # Removing every block gives back the stock file, byte for byte.
    with quiet_stdio():
        for marker in MARKERS:
            call_module(etc_hosts_entry.main, {"path": str(path), "entries": [], "state": "absent",
                                               "exclusive": True, "marker": marker})
    assert path.read_bytes() == STOCK
    runs = sum(len(_worker_args(i, "")) for i in range(MODULE_WRITERS)) + CLI_WRITERS
    FIGURES["concurrent hosts writers"] = {
        "module_main_processes": MODULE_WRITERS, "ansible_cli_processes": CLI_WRITERS, "markers": len(MARKERS),
        "runs": runs, "in_process_runs_overlapping_a_command_line_run": sum(
            any(start < c_end and c_start < end for c_start, c_end in cli_runs) for start, end in main_runs)}


# --- lo0_alias in one network namespace --------------------------------------------------------------------
LO_WORKERS = 40
LO_CHILD = textwrap.dedent("""
    import json, multiprocessing, os, sys
    sys.path[:0] = [{root!r} + "/.tmp/collections", {root!r} + "/.cache/collections"]
    from ansible_collections.dockermac.hostbridge.plugins.modules import lo0_alias
    from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import call_module, quiet_stdio

    def args(i):
        # persistent false: a host where systemd runs must never get a boot unit from a test
        if i % 4 == 0:
            return {{"addresses": ["198.18.1.%d/32" % (i + 1)], "state": "absent", "persistent": False}}
        if i % 4 == 1:
            return {{"addresses": ["fd00:db8:99::%x" % (i + 1), "198.18.2.%d/24" % (i + 1)], "persistent": False}}
        return {{"addresses": ["198.18.2.%d/24" % (i + 1)], "persistent": False}}

    def work(i, barrier, queue):
        with quiet_stdio():
            barrier.wait(60)
            first = call_module(lo0_alias.main, args(i))
            second = call_module(lo0_alias.main, args(i))
        queue.put((i, first, second))

    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier({n})
    queue = ctx.Queue()
    procs = [ctx.Process(target=work, args=(i, barrier, queue)) for i in range({n})]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _proc in procs]
    for p in procs:
        p.join(60)
    print(json.dumps(results))
""")


@pytest.mark.root
def test_forty_concurrent_lo0_alias_runs_in_one_namespace_lose_nothing() -> None:
    with Netns("races") as ns:
        for i in range(0, LO_WORKERS, 4):  # what the removers remove
            ns.ip("addr", "add", f"198.18.1.{i + 1}/32", "dev", "lo")
        ns.ip("addr", "add", "198.18.3.1/32", "dev", "lo")  # somebody else's, never touched
        proc = subprocess.run(hide_systemd(ns.exec_argv(sys.executable, "-c",
                                                        LO_CHILD.format(root=ROOT, n=LO_WORKERS))),
                              capture_output=True, text=True, check=False, timeout=240)
        assert proc.returncode == 0, proc.stderr
        results = json.loads(proc.stdout.strip().splitlines()[-1])
        assert len(results) == LO_WORKERS
        for i, first, second in results:
            assert not first.get("failed"), (i, first)
            assert first["changed"] is True, (i, first)
            assert second["changed"] is False, (i, second)
        links = json.loads(ns.ip("-j", "addr", "show", "dev", "lo"))
        have = {f"{a['local']}/{a['prefixlen']}" for link in links for a in link.get("addr_info", [])}
    want = {"127.0.0.1/8", "::1/128", "198.18.3.1/32"}
    for i in range(LO_WORKERS):
        if i % 4 == 1:
            want |= {f"fd00:db8:99::{i + 1:x}/128", f"198.18.2.{i + 1}/24"}
        elif i % 4 != 0:
            want.add(f"198.18.2.{i + 1}/24")
    assert have == want
    FIGURES["concurrent lo0_alias runs"] = {"processes": LO_WORKERS, "runs": 2 * LO_WORKERS,
                                            "addresses_at_end": len(want)}


# --- hyperkit_shim on one bundle ----------------------------------------------------------------------------
SHIM_WORKERS = 16


def _shim_worker(i: int, app: str, barrier: t.Any) -> None:
    variants = [{"state": "present"}, {"state": "absent"}, {"state": "present", "tap_device": "tap2"},
                {"state": "present", "slot": "next_function", "backup": True}]
    with quiet_stdio():
        barrier.wait(60)
        for n in range(3):
            result = call_module(hyperkit_shim.main, {"app_path": app, **variants[(i + n) % len(variants)]})
            if result.get("failed"):
                os._exit(3)
    os._exit(0)


def test_concurrent_hyperkit_shim_runs_never_lose_the_real_binary(tmp_path: Path) -> None:
    original = fake_binary("race", size=200_000)
    bundle = FakeBundle(tmp_path, binary=original)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(SHIM_WORKERS)
    procs = [ctx.Process(target=_shim_worker, args=(i, str(bundle.app), barrier)) for i in range(SHIM_WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0] * SHIM_WORKERS
    assert_real_binary_reachable(bundle, sha(original), "after the race")
    assert bundle.temps() == []
    with quiet_stdio():
        assert not call_module(hyperkit_shim.main, {"app_path": str(bundle.app)}).get("failed")
        assert call_module(hyperkit_shim.main, {"app_path": str(bundle.app)})["changed"] is False
        assert call_module(hyperkit_shim.main, {"app_path": str(bundle.app), "state": "absent"})["changed"] is True
    assert bundle.hyperkit.read_bytes() == original
    assert not bundle.real.exists()
    FIGURES["concurrent hyperkit_shim runs"] = {"processes": SHIM_WORKERS, "runs": 3 * SHIM_WORKERS}
