"""The rendered shim, executed by real shells (/bin/sh, dash, bash --posix and any other POSIX shell present)
with a fake "real" hyperkit that records the argv it receives. Fed with real hyperkit command lines
(tests/fixtures/darwin/hyperkit_argv_*.txt, see SOURCES.md) and with nasty arguments."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import (
    SHIM_VERSION,
    parse_marker,
    render_shim,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import fixture_text

SHA = "ab" * 32
NAME = "com.docker.hyperkit"


def _shells() -> list[tuple[str, list[str]]]:
    # Not yash: in the C locale it replaces non-ASCII arguments with empty strings before any script runs.
    found = [("sh", ["/bin/sh"])]
    for name, argv in [("dash", ["dash"]), ("bash-posix", ["bash", "--posix"]), ("busybox", ["busybox", "sh"]),
                       ("mksh", ["mksh"]), ("posh", ["posh"]), ("ksh", ["ksh"]),
                       ("zsh-sh", ["zsh", "--emulate", "sh"])]:
        path = shutil.which(argv[0])
        if path:
            found.append((name, [path, *argv[1:]]))
    return found


SHELLS = _shells()
# dash and bash --posix are required (the brief and macOS's /bin/sh, which is bash 3.2 in POSIX mode).
REQUIRED = {"sh", "dash", "bash-posix"}

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["ARGV_LOG"], "a", encoding="utf-8", errors="surrogateescape") as log:
    log.write(json.dumps({{"argv0": sys.argv[0], "args": sys.argv[1:], "pid": os.getpid()}}) + "\\n")
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


class Bundle:
    """A bin folder (with a space and a quote in its path) holding the shim and a recording "real" hyperkit."""

    def __init__(self, root: t.Any, *, tap: str = "tap1", slot: str = "after_vpnkit") -> None:
        self.dir = root / "Docker Desk'top $HOME.app" / "Contents" / "Resources" / "bin"
        self.dir.mkdir(parents=True)
        self.shim = self.dir / NAME
        self.real = self.dir / (NAME + ".real")
        self.log = root / "argv.jsonl"
        self.shim.write_text(render_shim(tap=tap, slot=slot, real_name=NAME + ".real", real_sha256=SHA))
        self.shim.chmod(0o755)
        self.real.write_text(RECORDER.format(python=sys.executable))
        self.real.chmod(0o755)

    def run(self, args: list[str], *, shell: list[str] | None = None, exit_code: int = 0,
            cwd: str | None = None, argv0: str | None = None, path: str | None = None) -> tuple[list[str], str, int]:
        """Start the shim (through ``shell``, or directly when None); returns the argv the real binary got
        (None when it was not run), stderr and the exit status."""
        if self.log.exists():
            self.log.unlink()
        env = {"ARGV_LOG": str(self.log), "EXIT_CODE": str(exit_code), "PATH": path or os.environ["PATH"]}
        target = argv0 or str(self.shim)
        argv = [*shell, target, *args] if shell else [target, *args]
        proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        records = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()] \
            if self.log.exists() else []
        assert len(records) <= 1
        self.last_pid = records[0]["pid"] if records else None
        return (records[0]["args"] if records else None), proc.stderr.decode(errors="replace"), proc.returncode


@pytest.fixture(params=[name for name, _argv in SHELLS])
def shell(request: pytest.FixtureRequest) -> list[str]:
    return dict(SHELLS)[request.param]


def test_required_shells_present() -> None:
    assert {name for name, _argv in SHELLS} >= REQUIRED


def argv_fixture(name: str) -> list[str]:
    return fixture_text("darwin", name).splitlines()


def tap_after(args: list[str], index: int, device: str) -> list[str]:
    return [*args[: index + 1], "-s", device, *args[index + 1:]]


# --- a reference model of the shim's rules (used by the property test) -------------------------------------
VALUE_FLAGS = {"-s", "-c", "-f", "-F", "-g", "-l", "-m", "-U", "-Y"}


def model(args: list[str], *, tap: str, slot: str) -> tuple[list[str], bool]:
    """(argv hyperkit should get, whether a warning is due)."""
    state = {"vpnkit": 0, "func0": False, "func1": False, "top": -1, "top_at": 0}

    def note(value: str, position: int) -> None:
        if "," not in value:
            return
        pci, rest = value.split(",", 1)
        emulation = rest.split(",", 1)[0]
        pci = re.sub(r"^0:2:([0-7])$", r"2:\1", pci)
        func = 0 if pci == "2" else int(pci[2]) if re.fullmatch(r"2:[0-7]", pci) else None
        if func is not None:
            state["func0"] = state["func0"] or func == 0
            state["func1"] = state["func1"] or func == 1
            if func > state["top"]:
                state["top"], state["top_at"] = func, position
        if emulation == "virtio-vpnkit" and not state["vpnkit"]:
            state["vpnkit"] = position

    has_tap, value_of, options = False, None, True
    for position, arg in enumerate(args, start=1):
        if value_of:
            if value_of == "-s":
                note(arg, position)
            value_of = None
        elif options:
            if arg in VALUE_FLAGS:
                value_of = arg
            elif arg.startswith("-s") and len(arg) > 2:
                note(arg[2:], position)
            elif arg == "--" or not (arg.startswith("-") and len(arg) > 1):
                options = False
        if arg.endswith(f"virtio-tap,{tap}") or f"virtio-tap,{tap}," in arg:
            has_tap = True
    if has_tap:
        return args, False
    return _place(args, state, tap=tap, slot=slot)


def _place(args: list[str], state: dict[str, t.Any], *, tap: str, slot: str) -> tuple[list[str], bool]:
    if not state["func0"]:  # the guest scans the functions of slot 2 only when 2:0 is there
        return args, True
    if slot == "next_function":
        if not state["top_at"] or state["top"] >= 7:
            return args, True
        return tap_after(args, state["top_at"] - 1, f"2:{state['top'] + 1},virtio-tap,{tap}"), False
    if not state["vpnkit"] or state["func1"]:
        return args, True
    return tap_after(args, state["vpnkit"] - 1, f"2:1,virtio-tap,{tap}"), False


# --- the text ---------------------------------------------------------------------------------------------
def test_marker_records_version_options_and_checksum() -> None:
    text = render_shim(tap="tap7", slot="next_function", real_name="hyperkit.real", real_sha256=SHA)
    assert text.startswith("#!/bin/sh\n")
    assert text.splitlines()[1] == (f"# dockermac.hostbridge-shim v{SHIM_VERSION} tap=tap7 slot=next_function "
                                    f"real=hyperkit.real real-sha256={SHA}")
    marker = parse_marker(text.encode())
    assert marker is not None
    assert marker.version == SHIM_VERSION
    assert marker.fields == {"tap": "tap7", "slot": "next_function", "real": "hyperkit.real", "real-sha256": SHA}
    assert marker.real_sha256 == SHA
    assert "mv -f hyperkit.real hyperkit" in text  # the undo line names this layout's files


@pytest.mark.parametrize(("field", "kwargs"), [
    ("tap", {"tap": "tap256"}), ("tap", {"tap": "tap1; rm -rf /"}), ("tap", {"tap": "tap01"}),
    ("slot", {"slot": "first"}), ("real binary name", {"real_name": "x y.real"}),
    ("real binary name", {"real_name": "$(id).real"}), ("sha256", {"real_sha256": "AB" * 32}),
])
def test_render_refuses_values_it_cannot_embed(field: str, kwargs: dict[str, str]) -> None:
    args = {"tap": "tap1", "slot": "after_vpnkit", "real_name": NAME + ".real", "real_sha256": SHA, **kwargs}
    with pytest.raises(ValueError, match=field):
        render_shim(**args)


@pytest.mark.parametrize("data", [b"\xcf\xfa\xed\xfe\x07\x00", b"#!/bin/bash\n# mal's shim\nexec x\n",
                                  b"#!/bin/sh\n# dockermac.hostbridge-shim v1 tap=tap1",  # cut before the newline
                                  b"#!/bin/sh\n# dockermac.hostbridge-shim vX tap=tap1\n", b""])
def test_parse_marker_rejects_everything_else(data: bytes) -> None:
    assert parse_marker(data) is None


def test_shellcheck_is_clean(tmp_path: t.Any) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed")
    script = tmp_path / "shim"
    script.write_text(render_shim(tap="tap1", slot="after_vpnkit", real_name=NAME + ".real", real_sha256=SHA))
    proc = subprocess.run([shellcheck, "-s", "sh", str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


# --- real command lines -------------------------------------------------------------------------------------
def test_2016_line_gets_the_tap_after_vpnkit(tmp_path: t.Any, shell: list[str]) -> None:
    args = argv_fixture("hyperkit_argv_2016_vpnkit_slot2.txt")
    bundle = Bundle(tmp_path)
    got, err, rc = bundle.run(args, shell=shell)
    vpnkit = args.index(next(a for a in args if ",virtio-vpnkit," in a))
    assert (rc, err) == (0, "")
    assert got == tap_after(args, vpnkit, "2:1,virtio-tap,tap1")
    assert got[vpnkit + 1: vpnkit + 3] == ["-s", "2:1,virtio-tap,tap1"]


@pytest.mark.parametrize(("slot", "anchor", "device"), [
    ("after_vpnkit", "1:0,virtio-vpnkit,", "2:1,virtio-tap,tap3"),
    ("next_function", "2:0,ahci-hd,", "2:1,virtio-tap,tap3"),
])
def test_2019_line_vpnkit_on_slot_1(tmp_path: t.Any, shell: list[str], slot: str, anchor: str, device: str) -> None:
    args = argv_fixture("hyperkit_argv_2019_vpnkit_slot1.txt")
    bundle = Bundle(tmp_path, tap="tap3", slot=slot)
    got, err, rc = bundle.run(args, shell=shell)
    index = args.index(next(a for a in args if a.startswith(anchor)))
    assert (rc, err) == (0, "")
    assert got == tap_after(args, index, device)


@pytest.mark.parametrize("slot", ["after_vpnkit", "next_function"])
def test_2019_line_without_slot_2_function_0(tmp_path: t.Any, shell: list[str], slot: str) -> None:
    """The 2019 line without its 2:0 (ahci-hd): hyperkit would accept a 2:1 device (pci_parse_slot checks only that
    slot:func is free) but the Linux guest never scans function 1 of a slot whose function 0 is absent
    (drivers/pci/probe.c pci_scan_slot), so the VM would have no eth1: pass through, with a warning."""
    args = argv_fixture("hyperkit_argv_2019_vpnkit_slot1.txt")
    ahci = args.index(next(a for a in args if a.startswith("2:0,ahci-hd,")))
    del args[ahci - 1: ahci + 1]
    got, err, rc = Bundle(tmp_path, slot=slot).run(args, shell=shell)
    assert (got, rc) == (args, 0)
    why = "PCI slot 2 has no function 0" if slot == "after_vpnkit" else "no -s 2:N device"
    assert why in err


@pytest.mark.parametrize("fixture", ["hyperkit_argv_2016_vpnkit_slot2.txt", "hyperkit_argv_2019_vpnkit_slot1.txt"])
@pytest.mark.parametrize("slot", ["after_vpnkit", "next_function"])
def test_line_already_carrying_the_tap_passes_through(tmp_path: t.Any, shell: list[str], fixture: str,
                                                      slot: str) -> None:
    once = Bundle(tmp_path / "a", slot=slot).run(argv_fixture(fixture), shell=shell)[0]
    assert once is not None
    assert sum("virtio-tap,tap1" in a for a in once) == 1
    got, err, rc = Bundle(tmp_path / "b", slot=slot).run(once, shell=shell)
    assert (got, err, rc) == (once, "", 0)


def test_background_line_with_tap_passes_through(tmp_path: t.Any, shell: list[str]) -> None:
    # background.md section 3: the real line from an issue, the tap already applied.
    args = ("-A -u -F hyperkit.pid -c 2 -m 2048M -s 0:0,hostbridge -s 31,lpc -s 2:0,virtio-vpnkit,uuid=x,"
            "path=/Data/s50,macfile=/Data/mac -s 2:1,virtio-tap,tap1 -s 3,virtio-blk,file:///Data/Docker.raw "
            "-l com1,autopty=/Data/tty -f kexec,/k,/i,console=ttyS0").split()
    assert Bundle(tmp_path).run(args, shell=shell) == (args, "", 0)


@pytest.mark.parametrize("slot", ["after_vpnkit", "next_function"])
def test_no_anchor_passes_through_with_a_warning(tmp_path: t.Any, shell: list[str], slot: str) -> None:
    args = argv_fixture("hyperkit_argv_2016_vpnkit_slot2.txt")
    vpnkit = args.index(next(a for a in args if ",virtio-vpnkit," in a))
    del args[vpnkit - 1: vpnkit + 1]
    got, err, rc = Bundle(tmp_path, slot=slot).run(args, shell=shell)
    assert (got, rc) == (args, 0)
    assert err.startswith("hostbridge-shim: ")
    assert "starting hyperkit without tap1" in err


def test_no_arguments_at_all(tmp_path: t.Any, shell: list[str]) -> None:
    got, err, rc = Bundle(tmp_path).run([], shell=shell)
    assert (got, rc) == ([], 0)
    assert "no virtio-vpnkit device" in err


@pytest.mark.parametrize(("args", "slot", "expect"), [
    # a different tap on 2:1: not ours, and 2:1 is taken
    (["-s", "2:0,virtio-vpnkit,p", "-s", "2:1,virtio-tap,tap10"], "after_vpnkit", (None, True)),
    (["-s", "2:0,virtio-vpnkit,p", "-s", "2:1,virtio-tap,tap10"], "next_function",
     (["-s", "2:0,virtio-vpnkit,p", "-s", "2:1,virtio-tap,tap10", "-s", "2:2,virtio-tap,tap1"], False)),
    # slot forms: <slot>, <slot>:<func>, <bus>:<slot>:<func>, joined -s<value>
    (["-s", "2,virtio-blk,d", "-s", "0:2:3,virtio-rnd", "-s", "2:1,ahci-cd,c"], "next_function",
     (["-s", "2,virtio-blk,d", "-s", "0:2:3,virtio-rnd", "-s", "2:4,virtio-tap,tap1", "-s", "2:1,ahci-cd,c"], False)),
    (["-s2:0,virtio-vpnkit,p", "-s", "3,virtio-blk"], "after_vpnkit",
     (["-s2:0,virtio-vpnkit,p", "-s", "2:1,virtio-tap,tap1", "-s", "3,virtio-blk"], False)),
    (["-s", "2:7,virtio-rnd"], "next_function", (None, True)),  # no function left on slot 2
    # no function 0 on slot 2: the guest would never see 2:N (see test_2019_line_without_slot_2_function_0)
    (["-s", "1:0,virtio-vpnkit,p", "-s", "3,virtio-blk"], "after_vpnkit", (None, True)),
    (["-s", "1:0,virtio-vpnkit,p", "-s", "2:3,virtio-rnd"], "after_vpnkit", (None, True)),
    (["-s", "1:0,virtio-vpnkit,p", "-s", "2:3,virtio-rnd"], "next_function", (None, True)),
    (["-s", "2:2,virtio-rnd", "-s", "0:2:0,virtio-vpnkit,p"], "next_function",
     (["-s", "2:2,virtio-rnd", "-s", "2:3,virtio-tap,tap1", "-s", "0:2:0,virtio-vpnkit,p"], False)),
    (["-s", "12:0,virtio-rnd", "-s", "22,lpc"], "next_function", (None, True)),  # 12 and 22 are not slot 2
    # -s as the value of another option is not an option; `--` and the first operand end the options
    (["-F", "-s", "2:0,virtio-vpnkit,p"], "after_vpnkit", (None, True)),
    (["--", "-s", "2:0,virtio-vpnkit,p"], "after_vpnkit", (None, True)),
    (["vm0", "-s", "2:0,virtio-vpnkit,p"], "after_vpnkit", (None, True)),
    # virtio-vpnkit in a config, not as the emulation
    (["-s", "3,virtio-blk,file=/x,virtio-vpnkit,", "-s", "4,virtio-9p,virtio-vpnkit"], "after_vpnkit", (None, True)),
    # the device already there in a config, with options after it
    (["-s", "2:0,virtio-vpnkit,p", "-s", "2:5,virtio-tap,tap1,mac=x"], "after_vpnkit", (None, False)),
])
def test_argument_rules(tmp_path: t.Any, shell: list[str], args: list[str], slot: str,
                        expect: tuple[list[str] | None, bool]) -> None:
    want, warns = expect
    want = args if want is None else want
    assert model(args, tap="tap1", slot=slot) == (want, warns)  # the reference model agrees with the cases
    got, err, rc = Bundle(tmp_path, slot=slot).run(args, shell=shell)
    assert (got, rc) == (want, 0)
    assert bool(err) == warns, err


NASTY = [
    "", " ", "  two  spaces  ", "tab\there", "new\nline", "\n", "trailing newline\n\n", "'", '"', "\\", "\\n",
    "$HOME", "${HOME}", "$(touch pwned)", "`touch pwned`", "*", "?", "[a-z]*", "~", "~root", "-e", "-n", "%s%n",
    "a;b&&c||d|e>f<g", "#not a comment", "=", "IFS=x", "ünïcødé ✓", "\x01\x7f", "-", "--x", "2:1,virtio-tap",
]


def test_nasty_arguments_pass_untouched(tmp_path: t.Any, shell: list[str]) -> None:
    args = ["-A", "-F", *NASTY[:1], "-s", "2:0,virtio-vpnkit,path=/a b/$x \\ 'q' \"d\" *,mac=\n", "-l", *NASTY[1:2],
            "-U", "-s", "-m", "*", *[item for value in NASTY for item in ("-f", value)]]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for name in ("a", "b", "abc", "-e"):
        (cwd / name).write_text("")  # files a glob would expand to
    bundle = Bundle(tmp_path)
    got, err, rc = bundle.run(args, shell=shell, cwd=str(cwd))
    assert (rc, err) == (0, "")
    assert got == tap_after(args, 4, "2:1,virtio-tap,tap1")
    assert not (cwd / "pwned").exists()
    assert sorted(os.listdir(cwd)) == sorted(["a", "b", "abc", "-e"])


def test_execs_the_real_binary(tmp_path: t.Any, shell: list[str]) -> None:
    """``exec``: same process (Docker Desktop tracks hyperkit's pid), exit status passed on, argv0 the real path."""
    bundle = Bundle(tmp_path)
    env = {"ARGV_LOG": str(bundle.log), "EXIT_CODE": "3", "PATH": os.environ["PATH"]}
    proc = subprocess.Popen([*shell, str(bundle.shim), "-s", "2:0,virtio-vpnkit,p"], env=env)
    assert proc.wait(30) == 3
    record = json.loads(bundle.log.read_text())
    assert record["pid"] == proc.pid
    assert record["argv0"] == str(bundle.real)


@pytest.mark.parametrize("how", ["direct", "relative", "path-lookup"])
def test_finds_the_real_binary_next_to_itself(tmp_path: t.Any, how: str) -> None:
    bundle = Bundle(tmp_path)
    args = ["-s", "2:0,virtio-vpnkit,p"]
    if how == "direct":  # the kernel runs the #! line, as when Docker Desktop starts it
        got, err, rc = bundle.run(args)
    elif how == "relative":
        got, err, rc = bundle.run(args, cwd=str(bundle.dir), argv0=f"./{NAME}")
    else:
        got, err, rc = bundle.run(args, argv0=NAME, path=f"{bundle.dir}:{os.environ['PATH']}")
    assert (got, err, rc) == ([*args, "-s", "2:1,virtio-tap,tap1"], "", 0)


def test_root_directory(tmp_path: t.Any) -> None:
    """$0 directly under / (dirname is "/", not ""): checked without writing to / by faking $0 via sh -c."""
    bundle = Bundle(tmp_path)
    script = bundle.shim.read_text()
    proc = subprocess.run(["/bin/sh", "-c", script, f"/{NAME}", "-s", "2:0,virtio-vpnkit,p"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 127
    assert f"the real hyperkit is missing: /{NAME}.real" in proc.stderr


def test_missing_real_binary_fails_loudly(tmp_path: t.Any, shell: list[str]) -> None:
    bundle = Bundle(tmp_path)
    bundle.real.unlink()
    got, err, rc = bundle.run(["-s", "2:0,virtio-vpnkit,p"], shell=shell)
    assert (got, rc) == (None, 127)
    assert f"the real hyperkit is missing: {bundle.real}" in err


# --- property: any arguments, the shim does what the model says ------------------------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_pci = st.sampled_from(["2", "2:0", "2:1", "2:3", "2:7", "0:2:2", "1:0", "3", "31", "2:8", "02:1", "x"])
_emulation = st.sampled_from(["virtio-vpnkit", "virtio-tap", "virtio-blk", "ahci-hd", "lpc", ""])
_device = st.builds(lambda pci, emu, cfg: f"{pci},{emu}{',' + cfg if cfg else ''}", _pci, _emulation, _text)
_option = st.one_of(
    st.tuples(st.just("-s"), _device),
    st.tuples(st.sampled_from(["-F", "-l", "-U", "-m", "-c", "-f"]), _text),
    st.tuples(st.sampled_from(["-A", "-u", "-H", "-P"])),
    st.tuples(_device.map(lambda d: "-s" + d)),
    st.tuples(st.just("-s"), st.sampled_from(["2:1,virtio-tap,tap1", "2:2,virtio-tap,tap1,x", "2:1,virtio-tap,tap12"])),
)
_argv = st.builds(lambda groups, tail: [a for g in groups for a in g] + tail,
                  st.lists(_option, max_size=10), st.lists(_text, max_size=2))


@pytest.mark.parametrize("shell_name", ["dash", "bash-posix"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=_argv, slot=st.sampled_from(["after_vpnkit", "next_function"]))
def test_property_matches_model(tmp_path_factory: pytest.TempPathFactory, shell_name: str, args: list[str],
                                slot: str) -> None:
    shell = dict(SHELLS)[shell_name]
    bundle = Bundle(tmp_path_factory.mktemp("prop"), slot=slot)
    want, warns = model(args, tap="tap1", slot=slot)
    got, err, rc = bundle.run(args, shell=shell)
    assert (got, rc) == (want, 0)
    assert bool(err) == warns, err


# --- started through a symlink (issue 13 item 4) -------------------------------------------------------------
# Docker's cask links /usr/local/bin/hyperkit to the bundle's com.docker.hyperkit on Intel (Homebrew/homebrew-cask
# Casks/d/docker-desktop.rb, `on_intel do binary ... target: "/usr/local/bin/hyperkit"`); minikube's hyperkit driver
# calls hyperkit.New("", ...) (kubernetes/minikube pkg/drivers/hyperkit/driver.go), whose defaultHyperKits start
# with "hyperkit" and "/usr/local/bin/hyperkit" (moby/hyperkit go/hyperkit.go), exec'd by that path: $0 is the link.
@pytest.mark.parametrize("how", ["absolute-link", "relative-link", "link-chain", "link-via-relative-path",
                                 "link-found-on-path", "linked-folder"])
def test_started_through_a_symlink(tmp_path: t.Any, shell: list[str], how: str) -> None:
    bundle = Bundle(tmp_path)
    links = tmp_path / "usr local" / "bin"  # a space in the link's folder too
    links.mkdir(parents=True)
    link = links / "hyperkit"
    cwd, argv0, path = None, str(link), None
    if how == "absolute-link":
        link.symlink_to(bundle.shim)
    elif how == "relative-link":
        link.symlink_to(os.path.relpath(bundle.shim, links))
    elif how == "link-chain":  # hyperkit -> ../opt/hk -> the bundle's file
        (tmp_path / "opt").mkdir()
        (tmp_path / "opt" / "hk").symlink_to(bundle.shim)
        link.symlink_to(os.path.join("..", "..", "opt", "hk"))
    elif how == "link-via-relative-path":
        link.symlink_to(bundle.shim)
        cwd, argv0 = str(links.parent), "bin/hyperkit"
    elif how == "link-found-on-path":  # execvp finds it on PATH (so no shell in front)
        link.symlink_to(bundle.shim)
        argv0, path, shell = "hyperkit", f"{links}:{os.environ['PATH']}", []
    else:  # the bundle's bin folder reached through a linked folder
        (tmp_path / "app-bin").symlink_to(bundle.dir)
        argv0 = str(tmp_path / "app-bin" / NAME)
    args = ["-s", "2:0,virtio-vpnkit,p"]
    got, err, rc = bundle.run(args, shell=shell or None, cwd=cwd, argv0=argv0, path=path)
    assert (got, err, rc) == ([*args, "-s", "2:1,virtio-tap,tap1"], "", 0)


def test_a_link_to_nowhere_fails_loudly(tmp_path: t.Any) -> None:
    bundle = Bundle(tmp_path)
    link = tmp_path / "hyperkit"
    link.symlink_to(bundle.shim)
    bundle.real.unlink()
    got, err, rc = bundle.run(["-s", "2:0,virtio-vpnkit,p"], argv0=str(link))
    assert (got, rc) == (None, 127)
    assert f"the real hyperkit is missing: {bundle.real}" in err
