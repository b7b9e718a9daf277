"""Crash safety: the real module code in real child processes, killed with SIGKILL at every file operation.

Each campaign runs a sequence of module runs (``steps``) in a forked child that kills itself just before its
N-th file operation (see ``_helpers.run_forked``), for N over the whole sequence. After every kill:

- the target is exactly its content before or after the step that was running (never empty, never partial);
- the real hyperkit is reachable (at ``<name>`` or, behind our shim, at ``<name>.real`` with the recorded sha256);
- running the interrupted step again converges to the state the uninterrupted step gives, and the run after
  that reports ``changed=False``.

A second design kills a separately exec'd interpreter after random delays. The full-disk tests run the modules
in a private mount namespace on a 64 KiB tmpfs filled up to the last byte.
"""

from __future__ import annotations

import json
import os
import plistlib
import random
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import typing as t
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _files, _launchd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandResult
from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry, hyperkit_shim
from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import (
    FIGURES,
    ROOT,
    STOCK,
    assert_real_binary_reachable,
    call_module,
    kill_points,
    quiet_stdio,
    run_forked,
    sha,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    fake_binary,
)

MAX_POINTS = 100


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(_files.TEMP_SUFFIX))


def hosts_module(args: dict[str, t.Any]) -> t.Callable[[], dict[str, t.Any]]:
    return lambda: call_module(etc_hosts_entry.main, {"flush_cache": False, **args})


# --- /etc/hosts -------------------------------------------------------------------------------------------
def big_hosts() -> bytes:
    """About 45 KB: the stock file, Docker Desktop's section and 1200 unmanaged lines of all sorts."""
    lines = []
    for i in range(1200):
        kind = i % 4
        if kind == 0:
            lines.append(f"10.{i // 250}.{i % 250}.1\thost{i}.corp.example host{i}\n")
        elif kind == 1:
            lines.append(f"# a comment line {i} with  spaces\t and tabs\n")
        elif kind == 2:
            lines.append(f"fd00:{i:x}::1 v6-{i}.corp.example # trailing comment\n")
        else:
            lines.append("\n")
    return STOCK + "".join(lines).encode()


def hosts_steps(path: Path) -> list[dict[str, t.Any]]:
    p = str(path)
    team = [{"ip": f"198.18.{0 + i // 250}.{i % 250 + 1}", "names": [f"svc{i}.test", f"svc{i}.team.internal"]}
            for i in range(120)]
    team2 = [{"ip": f"198.18.10.{i + 1}", "names": [f"new{i}.test"]} for i in range(60)]
    return [
        {"path": p, "entries": team, "marker": "team"},
        {"path": p, "ip": "fd00:db8::1", "names": ["v6.test", "api.test"], "marker": "project-b"},
        {"path": p, "entries": [{"ip": e["ip"], "names": e["names"][:1]} for e in team[::6]], "marker": "team",
         "state": "absent"},
        {"path": p, "entries": team2, "marker": "team", "exclusive": True},
        {"path": p, "entries": [], "marker": "project-b", "state": "absent", "exclusive": True},
        {"path": p, "entries": [], "marker": "team", "state": "absent", "exclusive": True},
    ]


class Campaign:
    """Bookkeeping shared by the campaigns: kills survived, distinct kill points, leftovers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kills = 0
        self.steps_hit: set[int] = set()
        self.crash_temps = 0
        self.points = 0  # kill points tried
        self.mid_write = 0  # kills just before a chunk of a temp file's content, proven by the temp file left

    def killed_at(self, kind: str, temps_left: int, where: str) -> None:
        """One kill survived, just before an operation of ``kind``, leaving ``temps_left`` temp files."""
        self.kills += 1
        self.crash_temps += temps_left
        if kind == "write":
            assert temps_left >= 1, f"{where}: killed while writing, but no temp file is left"
            self.mid_write += 1

    def record(self, total_ops: int) -> None:
        FIGURES[self.name] = {"file_operations": total_ops, "kills": self.kills,
                              "kills_mid_write": self.mid_write,
                              "steps_interrupted": sorted(self.steps_hit),
                              "temp_files_left_by_kills": self.crash_temps}
        # Every kill point was a kill, and kills landed in the middle of writes.
        assert self.kills == self.points, (self.kills, self.points)
        assert self.mid_write >= 1, FIGURES[self.name]
        assert self.crash_temps >= self.mid_write, FIGURES[self.name]


def _hosts_campaign(directory: Path, *, initial: bytes | None, steps_args: list[dict[str, t.Any]], name: str,
                    chunk: int, limit: int = 40) -> Campaign:
    """Each step is started from the state the steps before it leave, and killed at each of its file
    operations (up to ``limit`` per step, spread evenly)."""
    path = directory / "hosts"

    def reset(content: bytes | None) -> None:
        for leftover in directory.iterdir():
            leftover.unlink()
        if content is not None:
            path.write_bytes(content)
            path.chmod(0o644)

    # What every step gives when nothing interrupts it.
    reset(initial)
    snaps = [initial]
    with quiet_stdio():
        for args in steps_args:
            assert not hosts_module(args)().get("failed")
            snaps.append(read(path))
    steps = [hosts_module(args) for args in steps_args]

    campaign = Campaign(name)
    total = 0
    for k, step in enumerate(steps):
        reset(snaps[k])
        counted = run_forked([step], kill_at=0, chunk=chunk)
        assert counted.error == "", counted
        assert counted.step == 1, counted
        assert read(path) == snaps[k + 1]
        total += counted.ops
        for point in kill_points(counted.ops, limit):
            where = f"step {k}, kill point {point}/{counted.ops}"
            reset(snaps[k])
            campaign.points += 1
            outcome = run_forked([step], kill_at=point, chunk=chunk)
            assert outcome.killed, f"{where}: the child was not killed: {outcome}"
            campaign.steps_hit.add(k)
            now = read(path)
            assert now in (snaps[k], snaps[k + 1]), f"{where}: partial or foreign content"
            if now is not None:
                assert stat.S_IMODE(path.stat().st_mode) == 0o644, f"{where}: mode {path.stat().st_mode:o}"
            campaign.killed_at(counted.kinds[point - 1], len(temps(directory)), where)
            # The interrupted step again converges; the run after it changes nothing.
            with quiet_stdio():
                again = step()
                assert not again.get("failed"), again
                assert read(path) == snaps[k + 1], f"{where}: did not converge"
                assert step()["changed"] is False, f"{where}: second run changed something"
            if snaps[k + 1] is not None:
                assert stat.S_IMODE(path.stat().st_mode) == 0o644, where
            assert temps(directory) == [], f"{where}: temp files left after the re-run"
    campaign.record(total)
    return campaign


def test_hosts_file_survives_sigkill_at_every_file_operation(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    initial = big_hosts()
    campaign = _hosts_campaign(tmp_path / "etc", initial=initial, steps_args=hosts_steps(tmp_path / "etc" / "hosts"),
                               name="etc_hosts_entry (45 KB file, 6 runs, 2 markers)", chunk=4096)
    assert campaign.steps_hit == set(range(6))  # every run of the sequence was interrupted somewhere
    assert campaign.kills >= 50


def test_new_hosts_file_survives_sigkill(tmp_path: Path) -> None:
    """A hosts file the module creates: absent or whole, and 0644 once it exists."""
    (tmp_path / "etc").mkdir()
    path = str(tmp_path / "etc" / "hosts")
    entries = [{"ip": f"198.18.20.{i + 1}", "names": [f"n{i}.test"]} for i in range(40)]
    campaign = _hosts_campaign(tmp_path / "etc", initial=None, name="etc_hosts_entry (new file)", chunk=64,
                               steps_args=[{"path": path, "entries": entries},
                                           {"path": path, "entries": [], "state": "absent", "exclusive": True}])
    assert campaign.steps_hit == {0, 1}
    assert campaign.kills >= 20


# --- hyperkit shim ----------------------------------------------------------------------------------------
class BundleState(t.NamedTuple):
    binary: str | None  # sha256 at <name>
    real: str | None  # sha256 at <name>.real


def bundle_state(bundle: FakeBundle) -> BundleState:
    binary = read(bundle.hyperkit)
    real = read(bundle.real)
    return BundleState(sha(binary) if binary is not None else None, sha(real) if real is not None else None)


def test_hyperkit_shim_survives_sigkill_at_every_file_operation(tmp_path: Path) -> None:
    original = fake_binary("original", size=512_000)
    original_sha = sha(original)
    steps_args = [
        {"state": "present", "backup": True},
        {"state": "present", "tap_device": "tap2", "slot": "next_function"},
        {"state": "absent"},
        {"state": "present"},
        {"state": "absent"},
    ]
    counter = iter(range(10**6))

    def fresh() -> FakeBundle:
        root = tmp_path / f"b{next(counter)}"
        root.mkdir()
        return FakeBundle(root, binary=original)

    def steps_for(bundle: FakeBundle) -> list[t.Callable[[], dict[str, t.Any]]]:
        return [lambda args=args: call_module(hyperkit_shim.main, {"app_path": str(bundle.app), **args})
                for args in steps_args]

    reference = fresh()
    snaps = [bundle_state(reference)]
    with quiet_stdio():
        for step in steps_for(reference):
            assert not step().get("failed")
            snaps.append(bundle_state(reference))
    shutil.rmtree(reference.app.parent)

    counted_bundle = fresh()
    counted = run_forked(steps_for(counted_bundle), kill_at=0, chunk=8 * 1024)
    assert counted.error == "", counted
    assert counted.step == len(steps_args), counted
    assert bundle_state(counted_bundle) == snaps[-1]
    shutil.rmtree(counted_bundle.app.parent)

    campaign = Campaign("hyperkit_shim (512 KB binary, 5 runs: install+backup, update, remove, install, remove)")
    for point in kill_points(counted.ops, MAX_POINTS):
        bundle = fresh()
        steps = steps_for(bundle)
        campaign.points += 1
        outcome = run_forked(steps, kill_at=point, chunk=8 * 1024)
        assert outcome.killed, f"kill point {point}: {outcome}"
        k = outcome.step
        campaign.steps_hit.add(k)
        where = f"kill point {point} (step {k})"
        assert bundle_state(bundle).binary in (snaps[k].binary, snaps[k + 1].binary), where
        assert_real_binary_reachable(bundle, original_sha, where)
        campaign.killed_at(counted.kinds[point - 1], len(bundle.temps()), where)
        with quiet_stdio():
            again = steps[k]()
            assert not again.get("failed"), (where, again)
            assert bundle_state(bundle) == snaps[k + 1], where
            assert steps[k]()["changed"] is False, where
        assert bundle.temps() == [], where
        assert_real_binary_reachable(bundle, original_sha, where)
        shutil.rmtree(bundle.app.parent)
    campaign.record(counted.ops)
    assert campaign.kills >= 50
    assert campaign.steps_hit == set(range(len(steps_args)))


# --- LaunchDaemon plists ----------------------------------------------------------------------------------
class LaunchctlStub:
    """launchctl for _launchd: print answers from what was bootstrapped; bootstrap and bootout always work."""

    def __init__(self) -> None:
        self.loaded: set[str] = set()

    def which(self, name: str, *, required: bool = True) -> str:
        return name

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None, what: str = "") -> CommandResult:
        if argv[1] == "print":
            return CommandResult(0 if argv[2] in self.loaded else 113, "", "")
        if argv[1] == "bootstrap":
            self.loaded.add("system/" + os.path.basename(argv[3])[: -len(".plist")])
        elif argv[1] == "bootout":
            self.loaded.discard(argv[2])
        return CommandResult(0, "", "")


LABEL = "com.dockermac.hostbridge.loopback"
LABEL2 = "com.dockermac.hostbridge.tap-reapply"


def test_launchdaemon_plist_survives_sigkill_at_every_file_operation(tmp_path: Path) -> None:
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    directory = tmp_path / "LaunchDaemons"
    directory.mkdir()
    plists = [directory / f"{LABEL}.plist", directory / f"{LABEL2}.plist"]
    script = "; ".join(f"/sbin/ifconfig lo0 alias 198.51.100.{n}/32" for n in range(1, 40))

    def steps_for(runner: LaunchctlStub) -> list[t.Callable[[], t.Any]]:
        daemon = _launchd.LaunchDaemon(runner, module, directory=str(directory), owner="root", group="root")
        return [
            lambda: daemon.ensure(label=LABEL, program_arguments=["/bin/sh", "-c", "/sbin/ifconfig lo0 alias 1.2.3.4"]),
            lambda: daemon.ensure(label=LABEL, program_arguments=["/bin/sh", "-c", script], start_interval=30,
                                  watch_paths=["/dev/tap1"], standard_error_path="/var/log/hb.log"),
            lambda: daemon.ensure(label=LABEL2, program_arguments=["/bin/sh", "/usr/local/libexec/x"]),
            lambda: daemon.remove(LABEL),
            lambda: daemon.ensure(label=LABEL, program_arguments=["/bin/sh", "-c", "/sbin/ifconfig lo0 alias 1.2.3.4"]),
        ]

    def reset() -> None:
        for leftover in directory.iterdir():
            leftover.unlink()

    snaps = [tuple(read(p) for p in plists)]
    for step in steps_for(LaunchctlStub()):
        step()
        snaps.append(tuple(read(p) for p in plists))
    reset()
    counted = run_forked(steps_for(LaunchctlStub()), kill_at=0, chunk=64)
    assert counted.error == "", counted
    assert counted.step == 5, counted
    campaign = Campaign("LaunchDaemon plist via _launchd (5 changes, 2 labels)")
    for point in kill_points(counted.ops, MAX_POINTS):
        reset()
        campaign.points += 1
        outcome = run_forked(steps_for(LaunchctlStub()), kill_at=point, chunk=64)
        assert outcome.killed, f"kill point {point}: {outcome}"
        k = outcome.step
        campaign.steps_hit.add(k)
        for index, plist in enumerate(plists):
            now = read(plist)
            assert now in (snaps[k][index], snaps[k + 1][index]), f"kill point {point}: {plist.name} is partial"
            if now:
                plistlib.loads(now)
        campaign.killed_at(counted.kinds[point - 1], len(temps(directory)), f"kill point {point}")
        runner = LaunchctlStub()  # a launchd where nothing is loaded
        steps = steps_for(runner)
        # ensure (steps 0-2, 4) must load its job, so it changes something; remove (step 3) changes something
        # exactly when the plist is still there.
        expected = plists[0].exists() if k == 3 else True
        assert steps[k]() is expected, f"kill point {point}: the re-run should report changed={expected}"
        assert tuple(read(p) for p in plists) == snaps[k + 1], f"kill point {point}: did not converge"
        assert steps[k]() is False, f"kill point {point}: second run changed something"
        for plist in plists:
            if plist.exists():
                st = plist.stat()
                assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0), f"kill point {point}"
        assert temps(directory) == [], f"kill point {point}: temp files left after the re-run"
    campaign.record(counted.ops)
    assert campaign.kills >= 50


# --- random delays, a separately exec'd interpreter ---------------------------------------------------------
# The child's stdout goes to /dev/null once it is ready (each run's JSON result would otherwise fill a pipe that
# nobody reads, and the child would block there instead of writing the file); it logs "B n" before and "E n"
# after run n to a progress file, with unbuffered writes, so the test knows how far it got.
FLIP = textwrap.dedent("""
    import os, sys
    sys.path[:0] = [{root!r} + "/.tmp/collections", {root!r} + "/.cache/collections"]
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry
    entries = [{{"ip": "198.18.30.%d" % (i + 1), "names": ["flip%d.test" % i]}} for i in range(200)]
    progress = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    print("ready", flush=True)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    n = 0
    while True:
        args = {{"path": sys.argv[1], "entries": entries, "exclusive": True, "flush_cache": False,
                 "state": "present" if n % 2 == 0 else "absent"}}
        os.write(progress, b"B %d\\n" % n)
        with patch_module_args(args):
            try:
                etc_hosts_entry.main()
            except SystemExit:
                pass
        os.write(progress, b"E %d\\n" % n)
        n += 1
""")
FLIP_KILLS = 6  # kills proven to land mid-write
FLIP_ATTEMPTS = 30
FLIP_MAX_RUNS = 24  # each kill comes after a random number of completed runs below this


def _runs_done(progress: Path) -> int:
    return progress.read_text().split().count("E")


def _kill_during_a_write(path: Path, progress: Path, after_runs: int, delay: float) -> tuple[bool, int, str]:
    """Start the interpreter, wait until it has completed ``after_runs`` runs of the module, then ``delay``
    seconds, then SIGKILL it as soon as a temp file of a write exists. Returns (a temp file was left, so the kill
    landed between mkstemp and rename; runs completed; the last progress line)."""
    progress.write_bytes(b"")
    proc = subprocess.Popen([sys.executable, "-c", FLIP.format(root=ROOT), str(path), str(progress)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 30
        while _runs_done(progress) < after_runs:
            assert proc.poll() is None, "the interpreter died by itself"
            assert time.monotonic() < deadline, (
                f"the interpreter is stuck after {_runs_done(progress)} runs (waiting for {after_runs})")
            time.sleep(0.002)
        time.sleep(delay)
        while not temps(path.parent):
            assert proc.poll() is None, "the interpreter died by itself"
            assert time.monotonic() < deadline, "no write started: the interpreter is stuck"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
    log = progress.read_text().splitlines()
    return bool(temps(path.parent)), _runs_done(progress), log[-1] if log else ""


def test_hosts_file_survives_sigkill_at_random_moments_of_a_real_interpreter(tmp_path: Path) -> None:
    directory = tmp_path / "etc"
    directory.mkdir()
    path = directory / "hosts"
    progress = tmp_path / "progress"
    initial = big_hosts()
    path.write_bytes(initial)
    entries = [{"ip": f"198.18.30.{i + 1}", "names": [f"flip{i}.test"]} for i in range(200)]
    with quiet_stdio():
        hosts_module({"path": str(path), "entries": entries, "exclusive": True})()
    with_block = path.read_bytes()
    path.write_bytes(initial)
    rng = random.Random(8)  # noqa: S311 - reproducible delays, not cryptography
    mid_write = attempts = 0
    completed = []
    while mid_write < FLIP_KILLS and attempts < FLIP_ATTEMPTS:
        attempts += 1
        for leftover in temps(directory):  # the previous kill's; else the next poll would find it at once
            (directory / leftover).unlink()
        after_runs = rng.randrange(FLIP_MAX_RUNS)
        left_temp, runs_done, last = _kill_during_a_write(path, progress, after_runs, rng.uniform(0, 0.05))
        assert runs_done >= after_runs
        # The kill landed inside a run of the module, not between runs or in a blocked print.
        assert last.startswith("B "), f"attempt {attempts}: killed outside a run (last progress line {last!r})"
        assert path.read_bytes() in (initial, with_block), f"attempt {attempts}: partial content"
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        if left_temp:
            mid_write += 1
            completed.append(runs_done)
    assert mid_write == FLIP_KILLS, f"only {mid_write} of {attempts} kills landed during a write"
    # Each child got as far as asked; a child that blocks (a full stdout pipe, a lock) fails above.
    assert max(completed) >= FLIP_MAX_RUNS // 2, completed
    FIGURES["etc_hosts_entry, exec'd interpreter killed at random moments"] = {
        "kills_mid_write": mid_write, "attempts": attempts, "runs_completed_before_each": completed}
    assert temps(directory), "the last kill's temp file"
    # The next run that writes the file removes it (a run that changes nothing does not look: reported).
    state = "present" if path.read_bytes() == initial else "absent"
    with quiet_stdio():
        assert hosts_module({"path": str(path), "entries": entries, "exclusive": True, "state": state})()["changed"]
    assert temps(directory) == []
    with quiet_stdio():
        hosts_module({"path": str(path), "entries": [], "exclusive": True, "state": "absent"})()
    assert path.read_bytes() == initial


# --- full disk -------------------------------------------------------------------------------------------------
FULL_DISK = textwrap.dedent("""
    import errno, json, os, sys
    sys.path[:0] = [{root!r} + "/.tmp/collections", {root!r} + "/.cache/collections"]
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args
    from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd
    from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
    from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry, hyperkit_shim
    from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import call_module
    from ansible_collections.dockermac.hostbridge.tests.reliability._snapshot import files as snapshot_paths
    from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
        FakeBundle, fake_binary)
    from pathlib import Path

    top = Path(sys.argv[1])
    hosts = top / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\\n" + b"# padding line of an ordinary hosts file\\n" * 300)
    daemons = top / "LaunchDaemons"
    daemons.mkdir()
    bundle = FakeBundle(top, name="Docker.app", binary=fake_binary("full", size=8000))

    def fill():
        fd = os.open(top / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for size in (4096, 512, 64, 1):  # down to the last byte
            try:
                while True:
                    os.write(fd, b"x" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        os.close(fd)

    def outcome(run):
        before = snapshot_paths([str(top)])
        fill()
        try:
            result = run()
        except HostbridgeError as exc:
            result = {{"failed": True, "msg": exc.msg}}
        except Exception as exc:  # what Ansible would show as MODULE FAILURE with a traceback
            result = {{"failed": True, "msg": "unhandled %s: %s" % (type(exc).__name__, exc), "traceback": True}}
        os.unlink(top / "filler")
        after = snapshot_paths([str(top)])
        return {{"result": result, "unchanged": before == after,
                 "temps": [p for p in after if p.endswith(".hostbridge.tmp")]}}

    with patch_module_args({{}}):
        module = AnsibleModule(argument_spec={{}})

    class Runner:
        def which(self, name, required=True):
            return name
        def run(self, argv, check=True, data=None, what=""):
            from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandResult
            return CommandResult(113 if argv[1] == "print" else 0, "", "")

    report = {{
        "etc_hosts_entry": outcome(lambda: call_module(etc_hosts_entry.main, {{
            "path": str(hosts), "flush_cache": False,
            "entries": [{{"ip": "198.51.100.%d" % (i + 1), "names": ["svc%d.test" % i]}} for i in range(200)]}})),
        "launchdaemon": outcome(lambda: _launchd.LaunchDaemon(Runner(), module, directory=str(daemons),
                                owner="root", group="root").ensure(label="com.example.full",
                                program_arguments=["/bin/sh", "-c", "x" * 4000])),
        "hyperkit_shim": outcome(lambda: call_module(hyperkit_shim.main, {{"app_path": str(bundle.app)}})),
    }}
    print(json.dumps(report))
""")


@pytest.fixture(scope="module")
def full_disk_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    mountpoint = tmp_path_factory.mktemp("full")
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
           'mount -t tmpfs -o size=64k,mode=0755 tmpfs "$0" && exec "$@"', str(mountpoint),
           sys.executable, "-c", FULL_DISK.format(root=ROOT), str(mountpoint)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert os.listdir(mountpoint) == []  # the tmpfs lived only in the child's mount namespace
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    FIGURES["full disk (64 KiB tmpfs)"] = {name: r["result"].get("msg") for name, r in report.items()}
    return report


@pytest.mark.root
@pytest.mark.parametrize("target", ["etc_hosts_entry", "launchdaemon"])
def test_full_disk_is_a_clear_error_and_changes_nothing(full_disk_report: dict[str, t.Any], target: str) -> None:
    got = full_disk_report[target]
    assert got["result"]["failed"] is True
    assert "(disk full)" in got["result"]["msg"]
    assert "The original file is unchanged." in got["result"]["msg"]
    assert got["unchanged"] is True
    assert got["temps"] == []


@pytest.mark.root
def test_full_disk_hyperkit_shim_changes_nothing(full_disk_report: dict[str, t.Any]) -> None:
    got = full_disk_report["hyperkit_shim"]
    assert got["result"]["failed"] is True
    assert got["unchanged"] is True  # the real binary is where it was, no .real, no temp file
    assert got["temps"] == []


@pytest.mark.root
def test_full_disk_hyperkit_shim_says_disk_full(full_disk_report: dict[str, t.Any]) -> None:
    got = full_disk_report["hyperkit_shim"]
    assert not got["result"].get("traceback"), got["result"]["msg"]
    assert "disk full" in got["result"]["msg"]
