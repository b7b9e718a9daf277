"""The macOS branch of the tap re-apply program (roles/tap_bridge/templates/tap-reapply.sh.j2), executed.

The rendered program runs as launchd runs the LaunchDaemon (``/bin/sh <program>`` as root, launchd's PATH) under
each shell macOS's ``/bin/sh`` may be (bash in POSIX mode, dash; and this machine's ``/bin/sh``), in a private
mount namespace that is the Mac it sees:

- ``/usr/bin/{uname,id,stat}``, ``/usr/sbin/{chown,ifconfig}`` (``/sbin`` is ``/usr/sbin`` here) are the
  stand-ins of ``tests/system/fake_macos/device_commands.py`` (BSD options and messages, macOS's ifconfig),
  overlaid on this machine's; ``/usr/bin/chown`` is hidden (macOS has none);
- ``/dev`` is a directory of the test's with the tap device node as tuntaposx makes it at every boot (root:wheel,
  0660: ``devfs_make_node(..., 0, 0, 0660, ...)``, tuntap/src/tuntap.cc at saittam/tuntaposx) and ``/dev/null``;
- the interface exists while "hyperkit holds the device" (the ifconfig stand-in's state), in the recorded formats.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import ROOT, run_playbook, task_results

pytestmark = pytest.mark.root

FAKES = Path(ROOT) / "tests" / "system" / "fake_macos" / "device_commands.py"
FIXTURES = Path(ROOT) / "tests" / "fixtures" / "darwin"
ROLE = Path(ROOT) / "roles" / "tap_bridge"
# launchd's PATH for its jobs (launchd.plist(5), EnvironmentVariables; launchctl(1) `setenv`): _PATH_STDPATH.
LAUNCHD_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
SHELLS = (["/bin/sh"], ["bash", "--posix"], ["dash"])
USER = pwd.getpwnam("nobody").pw_uid
OTHER_USER = pwd.getpwnam("daemon").pw_uid
REMOVED_USER = next(uid for uid in range(4242, 9999) if not any(p.pw_uid == uid for p in pwd.getpwall()))
TAP_MAJOR = 42  # tuntaposx takes a free major (cdevsw_add(-1, ...)); nothing opens the node here
# The interface as hyperkit leaves it (ifconfig_tap1_open_unconfigured.txt) and as configured (ifconfig_tap1_open.txt).
FRESH = {"flags": 0x8842, "mtu": 1500, "ether": "da:b7:5a:67:46:81", "inet": [], "open_pid": 25606}
CONFIGURED = {**FRESH, "flags": 0x8943, "inet": [["10.0.75.1", 0xFFFFFF00]]}


class Mac:
    """What the program sees of the Mac: ``/dev``, the stand-ins and their state, the program's directory."""

    def __init__(self, top: Path, tap: str) -> None:
        self.top, self.tap = top, tap
        self.state, self.dev = top / "state", top / "dev"
        self.node = self.dev / tap
        for path in (self.state, self.dev, *(top / part / d for part in ("upper", "work") for d in ("bin", "sbin"))):
            path.mkdir(parents=True)
        (self.dev / "null").touch()  # a mount point for the real /dev/null
        script = "#!/usr/bin/python3\n" + FAKES.read_text(encoding="utf-8").replace("@STATE@", str(self.state))
        for directory, names in (("bin", ("uname", "id", "stat")), ("sbin", ("chown", "ifconfig"))):
            for name in names:
                (top / "upper" / directory / name).write_text(script, encoding="utf-8")
                (top / "upper" / directory / name).chmod(0o755)
        os.mknod(top / "upper" / "bin" / "chown", stat.S_IFCHR, os.makedev(0, 0))  # an overlay whiteout
        self.set_interface(None)

    # -- the Mac's state -----------------------------------------------------------------------------------
    def reboot(self) -> None:
        """tuntaposx makes the node again (root:wheel 0660); no process holds it, so no interface."""
        self.node.unlink(missing_ok=True)
        os.mknod(self.node, stat.S_IFCHR | 0o600, os.makedev(TAP_MAJOR, int(self.tap[3:])))
        os.chown(self.node, 0, 0)
        os.chmod(self.node, 0o660)
        self.set_interface(None)

    def give_device(self, uid: int) -> None:
        os.chown(self.node, uid, -1)

    def set_interface(self, interface: dict[str, t.Any] | None) -> None:
        state = {} if interface is None else {self.tap: interface}
        (self.state / "interfaces.json").write_text(json.dumps(state), encoding="utf-8")

    def interface(self) -> dict[str, t.Any] | None:
        return json.loads((self.state / "interfaces.json").read_text(encoding="utf-8")).get(self.tap)

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        path.unlink(missing_ok=True)
        return [json.loads(line)["argv"] for line in lines]

    # -- commands on the Mac -------------------------------------------------------------------------------
    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        top = str(self.top)
        setup = ('mount --bind /dev/null "$0/dev/null" && mount --bind "$0/dev" /dev && '
                 'for d in bin sbin; do mount -t overlay overlay '
                 '-o "lowerdir=/usr/$d,upperdir=$0/upper/$d,workdir=$0/work/$d" "/usr/$d" || exit 1; done && '
                 f'exec /usr/bin/env -i PATH={LAUNCHD_PATH} "$@"')
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", setup, top, *argv],
                              capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, t.Any]]:
    """The program rendered by Ansible with the role's defaults and derived vars: the default tap, and another
    tap and address; each under a directory of its own (where it keeps the owner it remembers)."""
    out = tmp_path_factory.mktemp("rendered")
    variants = [{"tap_bridge_device": "tap1", "tap_bridge_host_address": "10.0.75.1/24"},
                {"tap_bridge_device": "tap255", "tap_bridge_host_address": "192.168.255.254/30"}]
    for n, variant in enumerate(variants):
        variant["tap_bridge_reapply_path"] = str(out / f"v{n}" / "-x" / ".hidden_dir-less" / "tap-reapply")
    template = str(ROLE / "templates" / "tap-reapply.sh.j2")
    play = {"hosts": "localhost", "gather_facts": False,
            "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
            "tasks": [{"name": f"render {n}", "vars": variant, "ansible.builtin.set_fact": {
                "program": "{{ lookup('ansible.builtin.template', '" + template + "') }}"}}
                for n, variant in enumerate(variants)]}
    results = dict(task_results(run_playbook([play], str(out))))
    for n, variant in enumerate(variants):
        path = Path(variant["tap_bridge_reapply_path"])
        path.parent.mkdir(parents=True)
        path.write_text(results[f"render {n}"]["ansible_facts"]["program"], encoding="utf-8")
    return variants


def test_standins_print_the_recorded_outputs(tmp_path: Path) -> None:
    """The ifconfig stand-in prints the recorded `ifconfig tap1` outputs byte for byte; stat and chown refuse the
    GNU forms as macOS does."""
    mac = Mac(tmp_path, "tap1")
    mac.reboot()
    for interface, fixture in ((CONFIGURED, "ifconfig_tap1_open.txt"), (FRESH, "ifconfig_tap1_open_unconfigured.txt")):
        mac.set_interface(interface)
        proc = mac.run("/sbin/ifconfig", "tap1")
        assert (proc.returncode, proc.stdout) == (0, (FIXTURES / fixture).read_text(encoding="utf-8")), fixture
    mac.set_interface(None)
    missing = mac.run("/sbin/ifconfig", "tap1")
    assert (missing.returncode, missing.stderr) == (1, (FIXTURES / "ifconfig_tap1_missing_stderr.txt").read_text())
    for argv, rc, out, err in (
        (["uname", "-s"], 0, "Darwin\n", ""),
        (["uname", "--kernel-name"], 1, "", "uname: illegal option -- -\nusage: uname [-amnoprsv]\n"),
        (["stat", "-f", "%u %Su %g %Sg %Lp %Sp %p %N", "/dev/tap1"], 0,
         "0 root 0 wheel 660 crw-rw---- 20660 /dev/tap1\n", ""),
        (["stat", "-c", "%u", "/dev/tap1"], 1, "", "stat: illegal option -- c\nusage: stat [-FLnq] "
                                                   "[-f format | -l | -r | -s | -x] [-t timefmt] [file ...]\n"),
        (["stat", "-f", "%Q", "/dev/tap1"], 1, "", "stat: %Q: bad format\n"),
        (["stat", "-f", "%u", "/dev/tap9"], 1, "", "stat: /dev/tap9: stat: No such file or directory\n"),
        (["id", "-u", str(REMOVED_USER)], 1, "", f"id: {REMOVED_USER}: no such user\n"),
        (["id", "-un", str(USER)], 0, "nobody\n", ""),
        (["chown", "nobody.wheel", "/dev/tap1"], 1, "", "chown: nobody.wheel: illegal user name\n"),
        (["chown", "nobody:nogroup", "/dev/tap1"], 1, "", "chown: nogroup: illegal group name\n"),
        (["chown", "nobody:staff", "/dev/tap1"], 0, "", ""),
        (["stat", "-f", "%Su:%Sg %Lp", "/dev/tap1"], 0, "nobody:staff 660\n", ""),
        (["chown", f"{REMOVED_USER}:0", "/dev/tap1"], 0, "", ""),
        (["stat", "-f", "%Su %u", "/dev/tap1"], 0, f"({REMOVED_USER}) {REMOVED_USER}\n", ""),
        (["/sbin/ifconfig", "tap1", "inet", "10.0.75.1/24", "up"], 1, "", "ifconfig: interface tap1 does not exist\n"),
    ):
        proc = mac.run(*argv)
        assert (proc.returncode, proc.stdout, proc.stderr) == (rc, out, err), argv
    assert mac.run("/usr/bin/chown", "0", "/dev/tap1").returncode == 127, "macOS has no /usr/bin/chown"
    mac.set_interface(FRESH)
    for argv, inet in ((["inet", "10.0.75.1/24", "up"], [["10.0.75.1", 0xFFFFFF00]]),
                       (["inet", "10.0.75.2", "netmask", "0xffff0000"], [["10.0.75.2", 0xFFFF0000]]),
                       (["10.0.75.3"], [["10.0.75.3", 0xFF000000]]),  # classful
                       (["inet", "10.0.75.4/30", "alias"], [["10.0.75.3", 0xFF000000], ["10.0.75.4", 0xFFFFFFFC]])):
        assert mac.run("/sbin/ifconfig", "tap1", *argv).returncode == 0, argv
        assert mac.interface()["inet"] == inet, argv
    assert mac.interface()["flags"] == 0x8843, "only `up` set UP"
    bad = mac.run("/sbin/ifconfig", "tap1", "inet", "10.0.75.1/33")
    assert (bad.returncode, bad.stderr) == (1, "ifconfig: 10.0.75.1/33: bad value\n")


def _case_states(tap: str, address: str) -> dict[str, dict[str, t.Any]]:
    """The Mac before a run: the device's owner (None: no node, the kext is not loaded), the remembered owner
    (None: no file), the interface (None: nobody holds the device)."""
    ip, length = address.split("/")
    mask = (0xFFFFFFFF << (32 - int(length))) & 0xFFFFFFFF
    fresh = FRESH
    configured = {**CONFIGURED, "inet": [[ip, mask]]}
    other = ip + "0" if int(ip.split(".")[-1]) < 26 else ip[:-1] + "3"  # 10.0.75.10 for 10.0.75.1
    lookalike = {**CONFIGURED, "inet": [[other, mask]]}
    return {
        "after a reboot, before login": {"device": 0, "saved": f"{USER}\n", "interface": None},
        "Docker Desktop started: the interface without its address": {"device": USER, "saved": f"{USER}\n",
                                                                      "interface": fresh},
        "configured": {"device": USER, "saved": f"{USER}\n", "interface": configured},
        "address set, interface down": {"device": USER, "saved": f"{USER}\n",
                                        "interface": {**configured, "flags": 0x8942}},
        "another address that starts like ours": {"device": USER, "saved": f"{USER}\n", "interface": lookalike},
        "given by bridge.yml, nothing remembered yet": {"device": USER, "saved": None, "interface": fresh},
        "another user's now (a stale owner file)": {"device": OTHER_USER, "saved": f"{USER}\n", "interface": None},
        "owner file not a uid": {"device": 0, "saved": "alice\n", "interface": None},
        "owner file holds root": {"device": 0, "saved": "0\n", "interface": None},
        "remembered user removed": {"device": 0, "saved": f"{REMOVED_USER}\n", "interface": None},
        "never bridged: nothing remembered": {"device": 0, "saved": None, "interface": None},
        "tap kext not loaded: no node": {"device": None, "saved": f"{USER}\n", "interface": None},
    }


def _expected(name: str, tap: str, address: str, owner_file: str) -> dict[str, t.Any]:
    """What one run must do: the commands (argv), the log lines, the device's owner, the file, the addresses."""
    node, query, setting = f"/dev/{tap}", ["ifconfig", tap], ["ifconfig", tap, "inet", address, "up"]
    head = [["uname", "-s"], ["stat", "-f", "%u", node]]
    given = [*head, ["chown", str(USER), node], ["id", "-u", str(USER)], query]
    bad_file = f"tap-reapply: {owner_file} holds no user's uid ('{{}}'): removed; {node} stays root's until " \
               "the playbook gives it to its user"
    ip, length = address.split("/")
    mask = (0xFFFFFFFF << (32 - int(length))) & 0xFFFFFFFF
    configured = [[ip, mask]]
    return {
        "after a reboot, before login": {
            "calls": given, "log": [f"tap-reapply: {node} given to uid {USER}"], "device": USER,
            "saved": f"{USER}\n", "inet": None},
        "Docker Desktop started: the interface without its address": {
            "calls": [*head, query, setting], "log": [], "device": USER, "saved": f"{USER}\n", "inet": configured},
        "configured": {"calls": [*head, query], "log": [], "device": USER, "saved": f"{USER}\n", "inet": configured},
        "address set, interface down": {
            "calls": [*head, query, setting], "log": [], "device": USER, "saved": f"{USER}\n", "inet": configured},
        "another address that starts like ours": {
            "calls": [*head, query, setting], "log": [], "device": USER, "saved": f"{USER}\n", "inet": configured},
        "given by bridge.yml, nothing remembered yet": {
            "calls": [*head, query, setting], "log": [], "device": USER, "saved": f"{USER}\n", "inet": configured},
        "another user's now (a stale owner file)": {
            "calls": [*head, query], "log": [], "device": OTHER_USER, "saved": f"{OTHER_USER}\n", "inet": None},
        "owner file not a uid": {
            "calls": [*head, query], "log": [bad_file.format("alice")], "device": 0, "saved": None, "inet": None},
        "owner file holds root": {
            "calls": [*head, query], "log": [bad_file.format("0")], "device": 0, "saved": None, "inet": None},
        "remembered user removed": {
            "calls": [*head, ["chown", str(REMOVED_USER), node], ["id", "-u", str(REMOVED_USER)], query],
            "log": [f"tap-reapply: {node} given to uid {REMOVED_USER}, which has no account (a removed user?): "
                    "run bridge.yml for the user who runs Docker Desktop"],
            "device": REMOVED_USER, "saved": f"{REMOVED_USER}\n", "inet": None},
        "never bridged: nothing remembered": {
            "calls": [*head, query], "log": [], "device": 0, "saved": None, "inet": None},
        "tap kext not loaded: no node": {
            "calls": [["uname", "-s"], query], "log": [], "device": None, "saved": f"{USER}\n", "inet": None},
    }[name]


@pytest.mark.parametrize("shell", SHELLS, ids=" ".join)
@pytest.mark.parametrize("variant", [0, 1], ids=["tap1", "tap255"])
def test_macos_branch(programs: list[dict[str, t.Any]], variant: int, shell: list[str], tmp_path: Path) -> None:
    """Every state the program meets on a Mac, run twice: the first run does what the state needs (commands,
    log lines, device owner and mode, remembered owner, addresses); the second changes nothing and logs nothing."""
    v = programs[variant]
    tap, address, program = v["tap_bridge_device"], v["tap_bridge_host_address"], v["tap_bridge_reapply_path"]
    owner_file = Path(program).parent / f"{tap}.owner"
    ran = 0
    for name, before in _case_states(tap, address).items():
        mac = Mac(tmp_path / str(ran), tap)
        owner_file.unlink(missing_ok=True)
        if before["device"] is not None:
            mac.reboot()
            mac.give_device(before["device"])
        if before["saved"] is not None:
            owner_file.write_text(before["saved"], encoding="ascii")
        mac.set_interface(before["interface"])
        want = _expected(name, tap, address, str(owner_file))
        for attempt in ("first run", "second run"):
            proc = mac.run(*shell, program)
            where = (name, attempt, proc.stderr)
            assert proc.returncode == 0, where
            assert proc.stdout == "", where
            assert proc.stderr.splitlines() == (want["log"] if attempt == "first run" else []), where
            calls = mac.calls()
            if attempt == "first run":
                assert calls == want["calls"], where
            else:
                assert all(c[0] != "chown" and c[1:3] != [tap, "inet"] for c in calls), where
            if want["device"] is None:
                assert not mac.node.exists(), where
            else:
                st = os.lstat(mac.node)
                assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (want["device"], 0, 0o660), where
                assert stat.S_ISCHR(st.st_mode), where
            saved = owner_file.read_text(encoding="ascii") if owner_file.exists() else None
            assert saved == want["saved"], where
            interface = mac.interface()
            if want["inet"] is None:
                assert interface == before["interface"], where
            else:
                assert interface["inet"] == want["inet"], where
                assert interface["flags"] & 0x1, where
        assert not list(owner_file.parent.glob("*.new")), name
        ran += 1
    assert ran == 12
