"""Shared machinery of the reliability suite: kill-point injection in forked children, a module runner that
works in any process, network namespaces, and ansible-playbook runs.

Kill points: ``run_forked`` forks a real child process that replaces the file-changing primitives of ``os``
(``rename``, ``replace``, ``link``, ``unlink``, ``fsync``, ``chmod``, ``chown``, ``utime``), ``tempfile.mkstemp``
and the ``write`` of files opened with ``os.fdopen`` (split into ``chunk``-byte writes, each flushed) with
counting wrappers. The child sends itself SIGKILL just before its ``kill_at``-th operation, so every prefix of
the sequence of file operations is a crash point, including half-written temp files. ``kill_at=0`` only counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import traceback
import typing as t
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import parse_marker
from ansible_collections.dockermac.hostbridge.tests import ansible_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = ansible_cli.cli("ansible-playbook")
ANSIBLE_BIN = ansible_cli.cli("ansible")

# Figures measured by the runs (for docs/reliability.md): merged into .tmp/reliability-figures.json.
FIGURES: dict[str, t.Any] = {}
FIGURES_FILE = os.path.join(ROOT, ".tmp", "reliability-figures.json")

# macOS's stock /etc/hosts with Docker Desktop's section.
STOCK = (b"##\n# Host Database\n#\n# localhost is used to configure the loopback interface\n"
         b"# when the system is booting.  Do not change this entry.\n##\n127.0.0.1\tlocalhost\n"
         b"255.255.255.255\tbroadcasthost\n::1             localhost\n"
         b"# Added by Docker Desktop\n# To allow the same kube context to work on the host and the container:\n"
         b"127.0.0.1 kubernetes.docker.internal\n# End of section\n")

_HOOKED_OS = ("rename", "replace", "link", "unlink", "remove", "fsync", "chmod", "chown", "utime", "symlink")


# --- running a module's main() in whatever process we are -------------------------------------------------
class _Exit(Exception):
    def __init__(self, result: dict[str, t.Any]) -> None:
        super().__init__(result)
        self.result = result


def call_module(main: t.Callable[[], None], args: dict[str, t.Any]) -> dict[str, t.Any]:
    """The result dict of one run of a module's ``main()`` (``failed`` set on failure). Exceptions other than
    the module's own exit (a traceback, as Ansible would show "MODULE FAILURE") propagate."""

    def exit_json(self: basic.AnsibleModule, **kwargs: t.Any) -> None:
        raise _Exit(kwargs)

    def fail_json(self: basic.AnsibleModule, msg: str, **kwargs: t.Any) -> None:
        raise _Exit(dict(kwargs, msg=msg, failed=True))

    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json,
                                                      fail_json=fail_json):
        try:
            main()
        except _Exit as done:
            json.dumps(done.result)  # as Ansible would send it
            return done.result
    raise AssertionError("the module returned without exit_json/fail_json")


# --- kill points ------------------------------------------------------------------------------------------
class _Counter:
    def __init__(self, kill_at: int) -> None:
        self.n = 0
        self.kill_at = kill_at
        self.kinds: list[str] = []

    def tick(self, kind: str) -> None:
        self.n += 1
        if self.kill_at == 0:
            self.kinds.append(kind)
        if self.n == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


class _ChunkedWriter:
    """A file from ``os.fdopen`` whose writes go out in flushed chunks, one kill point each."""

    def __init__(self, handle: t.Any, chunk: int, counter: _Counter) -> None:
        self._handle = handle
        self._chunk = chunk
        self._counter = counter

    def write(self, data: t.Any) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, max(len(view), 1), self._chunk):
            self._counter.tick("write")
            self._handle.write(view[start:start + self._chunk])
            self._handle.flush()
        return len(view)

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _ChunkedWriter:
        return self

    def __exit__(self, *exc: t.Any) -> t.Any:
        return self._handle.__exit__(*exc)


def _install_hooks(counter: _Counter, chunk: int) -> None:
    for name in _HOOKED_OS:
        real = getattr(os, name)

        def hooked(*args: t.Any, _real: t.Any = real, _name: str = name, **kwargs: t.Any) -> t.Any:
            counter.tick(_name)
            return _real(*args, **kwargs)

        setattr(os, name, hooked)
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: t.Any, **kwargs: t.Any) -> t.Any:
        counter.tick("mkstemp")
        return real_mkstemp(*args, **kwargs)

    tempfile.mkstemp = mkstemp  # type: ignore[assignment]
    real_fdopen = os.fdopen

    def fdopen(fd: int, mode: str = "r", *args: t.Any, **kwargs: t.Any) -> t.Any:
        handle = real_fdopen(fd, mode, *args, **kwargs)
        return _ChunkedWriter(handle, chunk, counter) if "w" in mode or "a" in mode else handle

    os.fdopen = fdopen  # type: ignore[assignment]


class Outcome(t.NamedTuple):
    killed: bool
    ops: int  # operations counted (kill_at=0 runs only)
    step: int  # index of the step running when the child died (or the number of steps when it finished)
    error: str  # a step that failed or raised, with the reason
    kinds: tuple[str, ...] = ()  # kill_at=0 runs: the kind of each operation, in order (kill point N is kinds[N-1])


def run_forked(steps: t.Sequence[t.Callable[[], t.Any]], *, kill_at: int, chunk: int,
               prepare: t.Callable[[], t.Any] | None = None) -> Outcome:
    """Run ``steps`` in a forked child with the kill hooks installed; see the module docstring.

    Each step returns a result dict or None; a dict with ``failed`` stops the child with an error."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_fd)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            if prepare is not None:
                prepare()
            counter = _Counter(kill_at)
            _install_hooks(counter, chunk)
            for index, step in enumerate(steps):
                os.write(write_fd, f"S {index}\n".encode())
                result = step()
                if isinstance(result, dict) and result.get("failed"):
                    os.write(write_fd, f"E step {index} failed: {result.get('msg')!r}\n".encode())
                    code = 1
                    break
            else:
                os.write(write_fd, f"S {len(steps)}\nD {counter.n} {' '.join(counter.kinds)}\n".encode())
        except BaseException:  # report anything, then leave without running pytest's cleanup
            os.write(write_fd, ("E " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        lines = pipe.read().decode().splitlines()
    status = os.waitpid(pid, 0)[1]
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    step = max((int(line.split()[1]) for line in lines if line.startswith("S ")), default=-1)
    ops = next((int(line.split()[1]) for line in lines if line.startswith("D ")), 0)
    error = " ".join(line[2:] for line in lines if line.startswith("E "))
    kinds = next((tuple(line.split()[2:]) for line in lines if line.startswith("D ")), ())
    return Outcome(killed=killed, ops=ops, step=step, error=error, kinds=kinds)


def kill_points(total: int, limit: int) -> list[int]:
    """Every point 1..total when there are at most ``limit``, else ``limit`` points spread evenly (both ends
    included)."""
    if total <= limit:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (limit - 1)) for i in range(limit)})


# --- network namespaces and ansible-playbook --------------------------------------------------------------
def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


def hide_systemd(cmd: list[str]) -> list[str]:
    """Run ``cmd`` in a private mount namespace where /run/systemd is an empty tmpfs, so no module ever sees a
    running systemd and writes the host's /etc/systemd/system."""
    if not os.path.isdir("/run/systemd/system"):
        return cmd
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs /run/systemd && exec "$0" "$@"', *cmd]


def run_playbook(playbook: list[dict[str, t.Any]], workdir: str, *, netns: str | None = None,
                 extra_args: t.Sequence[str] = (), timeout: int = 240) -> dict[str, t.Any]:
    """Run ``playbook`` (a list of plays) on localhost with the json callback; returns the parsed output."""
    path = os.path.join(workdir, f"play-{os.getpid()}-{id(playbook)}.json")
    with open(path, "w", encoding="utf-8") as handle:  # JSON is YAML
        json.dump(playbook, handle)
    cmd = [PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", path, *extra_args]
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    proc = ansible_cli.run(hide_systemd(cmd), timeout=timeout, cwd=workdir)
    try:
        return json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"ansible-playbook gave no JSON (rc={proc.returncode}):\n{proc.stdout}\n"
                             f"{proc.stderr}") from None


def task_results(output: dict[str, t.Any]) -> list[tuple[str, dict[str, t.Any]]]:
    """(task name, localhost result) of every task of every play, in order."""
    found = []
    for play in output["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost")
            if result is not None:
                found.append((task["task"]["name"], result))
    return found


class Netns:
    """A network namespace of our own (loopback up), deleted with everything in it."""

    def __init__(self, prefix: str) -> None:
        self.name = f"hb-{prefix}-{os.urandom(3).hex()}"

    def __enter__(self) -> Netns:
        sh("ip", "netns", "add", self.name)
        self.ip("link", "set", "lo", "up")
        return self

    def __exit__(self, *exc: t.Any) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def ip(self, *args: str) -> str:
        return sh("ip", "-n", self.name, *args)

    def exec_argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


@contextlib.contextmanager
def quiet_stdio() -> t.Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_real_binary_reachable(bundle: t.Any, original_sha: str, where: str) -> None:
    """Docker Desktop can start: <name> is the real hyperkit, or our shim with the real one at <name>.real."""
    assert bundle.hyperkit.is_file(), f"{where}: {bundle.hyperkit} is gone"
    assert not bundle.hyperkit.is_symlink(), where
    data = bundle.hyperkit.read_bytes()
    if sha(data) == original_sha:
        return
    marker = parse_marker(data)
    assert marker is not None, f"{where}: {bundle.hyperkit} is neither the real binary nor a whole shim"
    assert marker.real_sha256 == original_sha
    assert bundle.real.is_file(), f"{where}: shim without {bundle.real}"
    assert sha(bundle.real.read_bytes()) == original_sha, f"{where}: {bundle.real} is not the real hyperkit"
    assert os.access(bundle.real, os.X_OK)


def save_figures() -> None:
    """Merge FIGURES into FIGURES_FILE (each test module calls it when it is done)."""
    old: dict[str, t.Any] = {}
    with contextlib.suppress(OSError, ValueError), open(FIGURES_FILE, encoding="utf-8") as handle:
        old = json.load(handle)
    old.update(FIGURES)
    os.makedirs(os.path.dirname(FIGURES_FILE), exist_ok=True)
    with open(FIGURES_FILE, "w", encoding="utf-8") as handle:
        json.dump(old, handle, indent=1, sort_keys=True)
