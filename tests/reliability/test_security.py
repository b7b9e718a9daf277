"""Security properties (see docs/security.md): no shell anywhere in the modules, every generated script and unit
quoted and syntactically sound with hostile-but-valid input, modes and owners, no writes through symlinks that
leave the expected place, and the TAP device given to exactly the named user.
"""

from __future__ import annotations

import ast
import grp
import json
import os
import plistlib
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _bootjob, _launchd, _loopback, _validation
from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandResult, CommandRunner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context
from ansible_collections.dockermac.hostbridge.plugins.module_utils._systemd import render_oneshot
from ansible_collections.dockermac.hostbridge.plugins.modules import boot_job, hyperkit_shim
from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired
from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import (
    ROOT,
    Netns,
    call_module,
    quiet_stdio,
    run_playbook,
    task_results,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import (
    FakeBundle,
    fake_binary,
)

PLUGINS = Path(ROOT) / "plugins"
SHELLS = [["sh"], ["dash"], ["bash", "--posix"]]
# Directory names a user may really have, each hostile to a careless script. ($VAR and a leading ~ are left out:
# options of type path expand them, as documented by Ansible, before the module sees the value.)
HOSTILE_DIR = "Docker $(touch PWNED) `id` 'q' \"dq\" \\ ;&|*? {a,b} \tt\nn"


def python_sources() -> list[Path]:
    return sorted(PLUGINS.rglob("*.py"))


# --- no shell ------------------------------------------------------------------------------------------------
def _is_text(node: ast.AST) -> bool:
    """A command given as one string: a literal, an f-string, a concatenation or %/format of strings."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_text(node.left) or _is_text(node.right)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def test_no_module_code_uses_a_shell() -> None:
    problems = []
    run_calls = 0
    for path in python_sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any(n and n.split(".")[0] in ("subprocess", "pty", "commands", "popen2") for n in names):
                    problems.append(f"{where}:{node.lineno}: imports {names}")
            if isinstance(node, ast.keyword) and node.arg in ("shell", "use_unsafe_shell"):
                problems.append(f"{where}: keyword {node.arg}=")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func = node.func
            owner = func.value.id if isinstance(func.value, ast.Name) else ""
            if owner == "os" and (func.attr in ("system", "popen") or func.attr.startswith(("exec", "spawn"))):
                problems.append(f"{where}:{node.lineno}: os.{func.attr}")
            if func.attr in ("run_command", "run") and node.args:
                run_calls += 1
                if _is_text(node.args[0]):
                    problems.append(f"{where}:{node.lineno}: {func.attr} gets one string, not an argv list")
    assert problems == []
    assert run_calls >= 10  # the check looked at the real calls


def test_the_command_runner_hands_run_command_a_list_and_no_shell() -> None:
    seen: list[tuple[t.Any, dict[str, t.Any]]] = []

    class Module:
        def get_bin_path(self, name: str, required: bool = False, opt_dirs: t.Any = None) -> str:
            return f"/usr/sbin/{name}"

        def run_command(self, args: t.Any, **kwargs: t.Any) -> tuple[int, str, str]:
            seen.append((args, kwargs))
            return 0, "", ""

    CommandRunner(Module()).run(["ifconfig", "lo0", "alias", "198.51.100.1/32"])
    args, kwargs = seen[0]
    assert args == ["/usr/sbin/ifconfig", "lo0", "alias", "198.51.100.1/32"]
    assert "use_unsafe_shell" not in kwargs


# --- the shim -----------------------------------------------------------------------------------------------
RECORDER = '#!/bin/sh\nfor a do printf "%s\\0" "$a"; done > "$HB_RECORD"\n'
VPNKIT = "2:0,virtio-vpnkit,uuid=1,path=/Users/a b/Library/Containers/com.docker.docker/Data/s50,macfile=x"


@pytest.fixture
def hostile_bundle(tmp_path: Path) -> FakeBundle:
    # Group-writable, setuid original: the shim must drop both.
    return FakeBundle(tmp_path / HOSTILE_DIR, name=f"{HOSTILE_DIR}.app", mode=0o4775)


def test_shim_in_a_hostile_path_is_sound_and_passes_arguments_intact(
        hostile_bundle: FakeBundle, tmp_path: Path) -> None:
    with quiet_stdio():
        result = call_module(hyperkit_shim.main, {"app_path": str(hostile_bundle.app)})
    assert result.get("changed") is True, result
    shim = hostile_bundle.hyperkit
    for shell in SHELLS:
        subprocess.run([*shell, "-n", str(shim)], check=True)
    subprocess.run(["shellcheck", "-s", "sh", str(shim)], check=True, capture_output=True)
    info = shim.stat()
    assert stat.S_IMODE(info.st_mode) & 0o7022 == 0, oct(info.st_mode)  # no set-id, no group/other write
    assert (info.st_uid, info.st_gid) == (os.stat(hostile_bundle.real).st_uid, os.stat(hostile_bundle.real).st_gid)
    # Stand a recorder in for the real hyperkit and run the shim with hostile arguments.
    hostile_bundle.real.unlink()
    hostile_bundle.real.write_text(RECORDER)
    hostile_bundle.real.chmod(0o755)
    args = ["-A", "-u", "-F", "/Users/a b/$(id)/pid", "-c", "2", "-m", "2048M", "-s", "0:0,hostbridge",
            "-s", VPNKIT, "-s", "3,virtio-blk,file:///Users/x y/`id`/Docker.raw?sync=os&buffer_io=on",
            "-l", "com1,autopty=/tmp/t ty,log=/tmp/$HOME", "", " ", "*", "\n", "'", '"', "\\", "-s"]
    record = tmp_path / "argv"
    for shell in SHELLS:
        subprocess.run([*shell, str(shim), *args], check=True, env=dict(os.environ, HB_RECORD=str(record)),
                       cwd=tmp_path)
        got = record.read_bytes().split(b"\0")[:-1]
        want = [*args[:12], "-s", "2:1,virtio-tap,tap1", *args[12:]]  # right after the vpnkit device
        assert [g.decode() for g in got] == want, shell
    assert not list(tmp_path.rglob("PWNED"))


def test_shim_refuses_a_hyperkit_symlink_leading_out_of_the_bundle(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path / "apps", name="Docker.app")
    outside = tmp_path / "elsewhere" / "hyperkit"
    outside.parent.mkdir()
    outside.write_bytes(fake_binary("outside"))
    bundle.hyperkit.unlink()
    bundle.hyperkit.symlink_to(outside)
    before = outside.read_bytes()
    with quiet_stdio():
        result = call_module(hyperkit_shim.main, {"app_path": str(bundle.app)})
    assert result["failed"] is True
    assert "outside" in result["msg"]
    assert "refusing to follow that symlink" in result["msg"]
    assert outside.read_bytes() == before
    assert sorted(p.name for p in outside.parent.iterdir()) == ["hyperkit"]
    assert sorted(p.name for p in bundle.bindir.iterdir()) == [bundle.hyperkit.name]


def test_shim_refuses_a_symlinked_real_binary(tmp_path: Path) -> None:
    bundle = FakeBundle(tmp_path / "apps", name="Docker.app")
    elsewhere = tmp_path / "attacker-binary"
    elsewhere.write_bytes(fake_binary("attacker"))
    bundle.real.symlink_to(elsewhere)
    before = bundle.files()
    with quiet_stdio():
        result = call_module(hyperkit_shim.main, {"app_path": str(bundle.app)})
    assert result["failed"] is True
    assert "is a symlink" in result["msg"]
    assert bundle.files() == before


# --- role templates: the re-apply program, its systemd units, its LaunchDaemon ---------------------------------
VARIANTS = [
    {},  # the role's defaults
    {"tap_bridge_device": "tap255", "tap_bridge_host_address": "192.168.255.254/30",
     "tap_bridge_reapply_path": "/opt/-x/.hidden dir-less/tap-reapply".replace(" ", "_"),
     "tap_bridge_reapply_label": "0.weird-label_x", "tap_bridge_reapply_interval": 11},
    {"tap_bridge_device": "tap0", "tap_bridge_host_address": "10.0.0.1/8",
     "tap_bridge_reapply_path": "/usr/local/libexec/-n", "tap_bridge_reapply_label": "-e"},
]


TEMPLATES = ("tap-reapply.sh",)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, t.Any]]:
    """The role's templates rendered by Ansible (template lookups) with the role's defaults and derived vars, and the
    options of its boot_job task - or the role's refusal of them (the desired state checks the input first)."""
    out = tmp_path_factory.mktemp("rendered")
    role = Path(ROOT) / "roles" / "tap_bridge"
    tasks: list[dict[str, t.Any]] = []
    for n, variant in enumerate(VARIANTS):
        tasks.append({"name": f"render {n}", "vars": variant, "ansible.builtin.set_fact": {
            f"hb_{n}_{k}": "{{ lookup('ansible.builtin.template', '" + str(role / "templates" / f"{name}.j2")
                           + "', template_vars=hb_variant_" + str(n) + ") }}" for k, name in enumerate(TEMPLATES)}})
        tasks.append({"name": f"job {n}", "vars": variant, "ignore_errors": True, "ansible.builtin.set_fact": {
            f"hb_{n}_job": "{{ tap_bridge__desired.boot_job.params }}"}})  # the options of the boot_job task
    play = {"hosts": "localhost", "gather_facts": False, "tasks": tasks,
            "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
            # role_path as inside the role: the desired state renders the re-apply program
            # (tap_bridge__reapply_template)
            "vars": {"role_path": str(role), **{f"hb_variant_{n}": variant for n, variant in enumerate(VARIANTS)}}}
    output = run_playbook([play], str(out))
    results = dict(task_results(output))
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    rendered = []
    for n, variant in enumerate(VARIANTS):
        facts, job = results[f"render {n}"]["ansible_facts"], results[f"job {n}"]
        rendered.append({"vars": {**defaults, **variant},
                         "job": job["ansible_facts"][f"hb_{n}_job"] if not job.get("failed") else None,
                         "job_refused": str(job.get("msg", "")) if job.get("failed") else None,
                         "files": {name: facts[f"hb_{n}_{k}"] for k, name in enumerate(TEMPLATES)}})
    return rendered


def test_reapply_program_parses_in_every_shell_and_shellcheck(rendered: list[dict[str, t.Any]],
                                                              tmp_path: Path) -> None:
    for n, variant in enumerate(rendered):
        script = tmp_path / f"{n}.sh"
        script.write_text(variant["files"]["tap-reapply.sh"])
        for shell in SHELLS:
            subprocess.run([*shell, "-n", str(script)], check=True)
        subprocess.run(["shellcheck", "-s", "sh", str(script)], check=True, capture_output=True)
        v = variant["vars"]
        assert f"TAP={shlex.quote(v['tap_bridge_device'])}\n" in variant["files"]["tap-reapply.sh"]
        assert f"ADDRESS={shlex.quote(v['tap_bridge_host_address'])}\n" in variant["files"]["tap-reapply.sh"]


def test_units_and_plist_carry_exactly_the_validated_values(rendered: list[dict[str, t.Any]]) -> None:
    """The boot_job options of the role give the plist and units these values, or boot_job refuses them."""
    for variant in rendered:
        v = variant["vars"]
        if not v["tap_bridge_reapply_label"][0].isalnum():
            # "-e": the role's desired state refuses it, and so does the module, were the options given to it
            assert variant["job"] is None
            assert "tap_bridge_reapply_label: '-e' is not a reverse-DNS label" in variant["job_refused"]
            get = {**v, "tap_bridge__gateway": "unused", "tap_bridge__vm_link_name": "unused"}.__getitem__
            with pytest.raises(HostbridgeError, match=r"^name: '-e' is not a reverse-DNS label"):
                _bootjob.validate(_desired.tap_bridge(get, lambda: "")["boot_job"]["params"])
            continue
        assert variant["job_refused"] is None
        job = _bootjob.validate(variant["job"])
        plist = plistlib.loads(_bootjob.render_plist(job))
        assert plist["Label"] == v["tap_bridge_reapply_label"]
        assert plist["ProgramArguments"] == ["/bin/sh", v["tap_bridge_reapply_path"]]
        assert plist["StartInterval"] == int(v["tap_bridge_reapply_interval"])
        service = _bootjob.render_service(job).decode().splitlines()
        assert [line for line in service if line.startswith("Exec")] == [f"ExecStart=/bin/sh "
                                                                         f"{v['tap_bridge_reapply_path']}"]
        assert sum(line.startswith("[") for line in service) == 2
        timer = _bootjob.render_timer(job).decode().splitlines()
        assert f"OnUnitActiveSec={int(v['tap_bridge_reapply_interval'])}s" in timer


FAKE_IP = '#!/bin/sh\n{ for a do printf "%s\\0" "$a"; done; printf "\\n"; } >> "$HB_RECORD"\n'


@pytest.mark.root
def test_reapply_program_runs_the_exact_commands(rendered: list[dict[str, t.Any]], tmp_path: Path) -> None:
    """Linux branch, in a namespace with the TAP device: a recording `ip` sees exactly the argv intended."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ip").write_text(FAKE_IP)
    (bindir / "ip").chmod(0o755)
    for n, variant in enumerate(rendered):
        v = variant["vars"]
        script = tmp_path / f"{n}.sh"
        script.write_text(variant["files"]["tap-reapply.sh"])
        record = tmp_path / f"{n}.record"
        with Netns("reapply") as ns:
            ns.ip("tuntap", "add", "dev", v["tap_bridge_device"], "mode", "tap")
            subprocess.run(ns.exec_argv("env", f"PATH={bindir}:/usr/bin:/bin", f"HB_RECORD={record}", "sh",
                                        str(script)), check=True)
        calls = [line.split("\0")[:-1] for line in record.read_text().splitlines()]
        tap, address = v["tap_bridge_device"], v["tap_bridge_host_address"]
        assert calls == [["-o", "-4", "addr", "show", "dev", tap], ["addr", "replace", address, "dev", tap],
                         ["link", "set", "dev", tap, "up"]]


# The values the tap_bridge role templates into sh, systemd units and XML, the rule its input check
# (tap_bridge__problems, the input_problems lookup: plugins/plugin_utils/_desired.py) applies to each before anything is
# rendered, and a good value.
ROLE_RULES = {"tap_bridge_device": ("tap_name", "tap1"), "tap_bridge_host_address": ("ipv4_cidr", "10.0.75.1/24"),
              "tap_bridge_reapply_label": ("launchd_label", "com.example.x"),
              "tap_bridge_reapply_path": ("safe_path", "/usr/local/x"),
              "tap_bridge_vm_interface": ("interface_name", "eth1")}


def _role_rules() -> dict[str, tuple[str, str]]:
    defaults = yaml.safe_load((Path(ROOT) / "roles" / "tap_bridge" / "defaults" / "main.yml").read_text())
    for field, (rule, _good) in ROLE_RULES.items():
        # the role's check refuses a bad value of the field with this rule
        found = [problem for problem in _desired.tap_bridge_problems({**defaults, field: "x;y"}.__getitem__)
                 if problem.startswith(f"{field}: ")]
        assert len(found) == 1, (field, found)
        assert found[0].endswith(f"(rule {rule})"), (field, rule, found)
    return ROLE_RULES


def _refused(field: str, rule: str, value: str) -> bool:
    return bool(_validation.invalid_fields({field: value}, {field: rule}))


def test_role_rules_refuse_every_character_that_could_break_out() -> None:
    for field, (rule, good) in _role_rules().items():
        assert not _refused(field, rule, good), field
        for bad in ";$`'\"\\ \t\n<>&|*?(){}[]%!#~=":
            for value in (good[:2] + bad + good[2:], bad + good):
                assert _refused(field, rule, value), (field, value)


def test_role_rules_refuse_a_trailing_newline() -> None:
    for field, (rule, good) in _role_rules().items():
        assert _refused(field, rule, good + "\n"), field


# --- systemd units and LaunchDaemons written by lo0_alias ----------------------------------------------------
class Which:
    def which(self, name: str, *, required: bool = True) -> str:
        return {"ip": "/usr/sbin/ip", "ifconfig": "/sbin/ifconfig"}[name]


def test_boot_commands_of_lo0_alias_are_quoted_and_parse() -> None:
    addresses = [_loopback.host_interface(a, field="a") for a in ("198.51.100.1/24", "fd00:db8::1", "10.0.0.1")]
    darwin = _loopback.DarwinLoopback(Which())
    script = "; ".join(shlex.join(darwin.boot_argv("lo0", a)) for a in addresses)
    subprocess.run(["sh", "-n", "-c", script], check=True)
    assert [shlex.split(part) for part in script.split("; ")] == [darwin.boot_argv("lo0", a) for a in addresses]
    linux = _loopback.LinuxLoopback(Which())
    unit = render_oneshot(description="x", commands=[linux.boot_argv("lo", a) for a in addresses]).decode()
    want = ("198.51.100.1/24", "fd00:db8::1/128", "10.0.0.1/32")
    assert [line for line in unit.splitlines() if line.startswith("ExecStart=")] == [
        f"ExecStart=/usr/sbin/ip addr replace {a} dev lo" for a in want]
    # Whatever reaches a unit line is escaped for systemd; a newline never does.
    hostile = render_oneshot(description="x", commands=[["/bin/echo", "a b", "$HOME", "%h", '"q"', "\\"]]).decode()
    assert 'ExecStart=/bin/echo "a b" "$$HOME" "%%h" "\\"q\\"" "\\\\"' in hostile.splitlines()


class Launchctl:
    def which(self, name: str, *, required: bool = True) -> str:
        return name

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None, what: str = "") -> CommandResult:
        return CommandResult(113 if argv[1] == "print" else 0, "", "")


@pytest.mark.root
def test_launchdaemon_plist_is_root_owned_0644_even_over_a_loose_file(tmp_path: Path) -> None:
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    label = "com.dockermac.hostbridge.loopback"
    plist = tmp_path / f"{label}.plist"
    plist.write_bytes(b"<plist>old</plist>")
    nobody = pwd.getpwnam("nobody")
    os.chown(plist, nobody.pw_uid, nobody.pw_gid)
    plist.chmod(0o666)
    # On a Mac the group is wheel; Linux has none, so gid 0 stands in for it.
    daemon = _launchd.LaunchDaemon(Launchctl(), module, directory=str(tmp_path), owner="root", group="0")
    assert daemon.ensure(label=label, program_arguments=["/bin/sh", "-c", "/sbin/ifconfig lo0 alias 1.2.3.4"])
    info = plist.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o644, 0, 0)
    assert grp.getgrgid(info.st_gid).gr_name == "root"
    assert _launchd.PLIST_MODE == 0o644
    assert (_launchd.PLIST_OWNER, _launchd.PLIST_GROUP) == ("root", "wheel")


def test_launchdaemon_refuses_a_symlink_out_of_its_directory(tmp_path: Path) -> None:
    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    daemons = tmp_path / "LaunchDaemons"
    daemons.mkdir()
    target = tmp_path / "victim"
    target.write_bytes(b"precious")
    label = "com.example.evil"
    (daemons / f"{label}.plist").symlink_to(target)
    daemon = _launchd.LaunchDaemon(Launchctl(), module, directory=str(daemons), owner="root", group="0")
    with pytest.raises(Exception, match="is a symlink; refusing"):
        daemon.ensure(label=label, program_arguments=["/bin/true"])
    assert target.read_bytes() == b"precious"


# --- the TAP device goes to exactly the named user ----------------------------------------------------------
@pytest.mark.root
def test_tap_device_belongs_to_exactly_the_named_user(tmp_path: Path) -> None:
    nobody, daemon_user = pwd.getpwnam("nobody"), pwd.getpwnam("daemon")
    child = (f"import sys, json; sys.path[:0] = [{ROOT!r} + '/.tmp/collections', {ROOT!r} + '/.cache/collections']\n"
             "from ansible_collections.dockermac.hostbridge.plugins.modules import tap_device\n"
             "from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import call_module, "
             "quiet_stdio\n"
             "out = []\n"
             "for owner in sys.argv[1:]:\n"
             "    with quiet_stdio():\n"
             "        out.append(call_module(tap_device.main, {'name': 'tap3', 'owner': owner}))\n"
             "    out.append(open('/sys/class/net/tap3/owner').read().strip() + ' ' + "
             "open('/sys/class/net/tap3/group').read().strip())\n"
             "print(json.dumps(out))\n")
    with Netns("tapowner") as ns:
        proc = subprocess.run(ns.exec_argv(sys.executable, "-c", child, "nobody", str(daemon_user.pw_uid)),
                              capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, first_owner, second, second_owner = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not first.get("failed"), first
    assert not second.get("failed"), second
    assert first_owner == f"{nobody.pw_uid} -1"  # the user, and no group: nobody else may attach
    assert second_owner == f"{daemon_user.pw_uid} -1"  # moved to the new user, the old one has no access left
    assert second["owner"] == daemon_user.pw_name


# --- trusted paths: what a root job runs is root's alone (docs/security.md) ---------------------------------
class _NoBackend:
    """Stands in for launchd/systemd: the trust check comes first, so reaching plan() means it passed."""

    name = "none"

    def __init__(self) -> None:
        self.planned = False

    def plan(self, job: _bootjob.Job) -> _bootjob.Outcome:
        self.planned = True
        return _bootjob.Outcome([], [], [], False)


def _as_nobody(script: str) -> subprocess.CompletedProcess[str]:
    """A shell as the unprivileged account nobody: the attacker, one of the user's own processes."""
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script],
                          capture_output=True, text=True, check=False)


def _boot_job(program: str, **params: t.Any) -> tuple[_NoBackend, HostbridgeError | None]:
    backend = _NoBackend()
    ctx = Context("Linux", t.cast(t.Any, None), t.cast(t.Any, None), check_mode=False, diff_mode=False)
    try:
        _bootjob.manage(ctx, {"name": "com.example.trust", "program_arguments": [program], **params},
                        backend=t.cast(t.Any, backend))
    except HostbridgeError as exc:
        return backend, exc
    return backend, None


def _refusal(program: str, **params: t.Any) -> str:
    """The message of a boot job refused by the trust check; the job was not installed."""
    backend, error = _boot_job(program, **params)
    assert error is not None, params
    assert not backend.planned, params
    return error.msg


def _nobodys_dir(path: Path) -> Path:
    """A directory the unprivileged user owns (mode 0755), as a formula or a person may leave one."""
    path.mkdir(mode=0o755)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return path


@pytest.fixture
def chain() -> t.Iterator[Path]:
    """A root-owned 0755 directory nobody can traverse (/var/tmp is sticky: accepted for a root-owned entry)."""
    base = Path(tempfile.mkdtemp(prefix="hb-trust-", dir="/var/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def _program(path: Path, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\necho root job\n")
    path.chmod(mode)
    return path


@pytest.mark.root
def test_root_owned_program_passes_the_trust_check(chain: Path) -> None:
    program = _program(chain / "job")
    backend, error = _boot_job(str(program))
    assert error is None
    assert backend.planned
    assert _as_nobody(f"echo evil > {program}").returncode != 0  # and nobody can change it


@pytest.mark.root
def test_user_owned_directory_in_the_chain_is_refused(chain: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    folder = _nobodys_dir(chain / "libexec")
    program = _program(folder / "job")
    # The attack is real: nobody cannot write the root-owned file, but swaps it through the directory it owns.
    swap = _as_nobody(f"mv {program} {folder}/old && printf '#!/bin/sh\\nid\\n' > {program}")
    assert swap.returncode == 0, swap.stderr
    _program(program)
    os.chown(program, 0, 0)
    msg = _refusal(str(program))
    assert f"{folder} (owner nobody (uid {nobody.pw_uid}), mode 0755) is not owned by root" in msg
    assert f"sudo chown root {folder}" in msg


@pytest.mark.root
def test_group_writable_program_is_refused(chain: Path) -> None:
    program = _program(chain / "job", 0o775)
    os.chown(program, 0, grp.getgrnam("nogroup").gr_gid)
    msg = _refusal(str(program))
    assert f"{program} (owner root (uid 0), mode 0775) is writable by group nogroup" in msg
    assert f"sudo chmod go-w {program}" in msg


@pytest.mark.root
def test_symlink_into_a_user_owned_place_is_refused(chain: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    home = _nobodys_dir(chain / "home")
    target = _program(home / "tool")
    os.chown(target, 0, 0)
    program = chain / "job"
    program.symlink_to(target)
    msg = _refusal(str(program))
    assert f"{home} (owner nobody (uid {nobody.pw_uid}), mode 0755) is not owned by root" in msg
    assert f"{program} (" not in msg  # the link itself is root's in a root-owned directory


@pytest.mark.root
def test_script_interpreter_path_and_trusted_paths_are_checked(chain: Path) -> None:
    mine = _nobodys_dir(chain / "mine")
    # The #! interpreter of the program, a PATH directory, a script given to /bin/sh: each the user's.
    program = chain / "job"
    program.write_text(f"#!{mine}/python3\n")
    program.chmod(0o755)
    for params in ({}, {"environment": {"PATH": f"/usr/bin:{mine}:/bin"}}, {"trusted_paths": [f"{mine}/reapply"]}):
        argv0 = str(program) if not params else "/bin/sh"
        msg = _refusal(argv0, **params)
        assert f"{mine} (owner nobody" in msg, (params, msg)


@pytest.mark.root
def test_boot_job_module_refuses_and_writes_nothing(chain: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    os.chown(chain, nobody.pw_uid, nobody.pw_gid)
    program = _program(chain / "job")
    before = sorted(os.listdir("/etc/systemd/system")) if os.path.isdir("/etc/systemd/system") else None
    result = call_module(boot_job.main, {"name": "com.example.trust", "program_arguments": [str(program)]})
    assert result.get("failed"), result
    assert f"{chain} (owner nobody" in result["msg"], result
    assert result["untrusted"][0]["path"] == str(chain)
    assert (sorted(os.listdir("/etc/systemd/system")) if before is not None else None) == before


@pytest.mark.root
def test_verify_reports_a_root_job_path_the_user_can_change(chain: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    os.chown(chain, nobody.pw_uid, nobody.pw_gid)
    play = [{"hosts": "localhost", "gather_facts": False, "roles": [{"role": "dockermac.hostbridge.verify", "vars": {
        "verify_loopback": False, "verify_probe": False, "verify_tap": False, "verify_fail": False,
        "pull_checkout_dir": str(chain / "checkout")}}]}]
    results = dict(task_results(run_playbook(play, str(chain.parent), extra_args=[
        "-e", "ansible_python_interpreter=/usr/bin/python3"])))
    failed = results["dockermac.hostbridge.verify : Every failed check, with what to look at"]["msg"]
    assert failed == [f"a root job runs {chain}/checkout, which another account can change: {chain} (owner nobody "
                      f"(uid {nobody.pw_uid}), mode 0755) is not owned by root: that account can replace what a root "
                      "job runs", f"look at: sudo chown root {chain}"]


@pytest.mark.root
def test_loopback_boot_job_refuses_an_ifconfig_the_user_can_change(chain: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    os.chown(chain, nobody.pw_uid, nobody.pw_gid)
    ifconfig = _program(chain / "ifconfig")

    class UserIfconfig:
        def which(self, name: str, *, required: bool = True) -> str:
            return str(ifconfig)

    with patch_module_args({}):
        module = AnsibleModule(argument_spec={})
    persistence = _loopback.LaunchdPersistence(runner=t.cast(t.Any, Launchctl()), module=module,
                                               label="com.dockermac.hostbridge.loopback")
    address = _loopback.host_interface("198.51.100.1", field="a")
    with pytest.raises(HostbridgeError, match=f"{chain} \\(owner nobody"):
        persistence.plan(backend=_loopback.DarwinLoopback(t.cast(t.Any, UserIfconfig())), interface="lo0",
                         addresses=[address])
