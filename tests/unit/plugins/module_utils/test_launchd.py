"""LaunchDaemon authoring: real plist files in a temp dir, launchctl argv checked exactly (FakeRunner)."""

from __future__ import annotations

import grp
import os
import plistlib
import pwd
import stat

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, fixture_text

LABEL = "com.dockermac.hostbridge.tap-reapply"
ARGS = ["/usr/local/libexec/hostbridge-tap", "--tap", "tap1"]
PRINT = ["launchctl", "print", f"system/{LABEL}"]
NOT_LOADED = (PRINT, 113, "", f'Could not find service "{LABEL}" in domain for system\n')
LOADED = (PRINT, 0, f"system/{LABEL} = {{\n\tactive count = 0\n}}\n", "")
ENABLE = (["launchctl", "enable", f"system/{LABEL}"], 0, "", "")
BOOTOUT = (["launchctl", "bootout", f"system/{LABEL}"], 0, "", "")
EIO = fixture_text("darwin", "launchctl_bootstrap_eio_stderr.txt")
PRINT_DISABLED = ["launchctl", "print-disabled", "system"]
NOT_DISABLED = (PRINT_DISABLED, 0, "disabled services = {\n\t\"com.openssh.sshd\" => enabled\n}\n", "")


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def bootstrap(plist, rc: int = 0, err: str = "") -> tuple[list[str], int, str, str]:
    return (["launchctl", "bootstrap", "system", str(plist)], rc, "", err)


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


@pytest.fixture
def daemons(tmp_path, monkeypatch):
    monkeypatch.setattr(_launchd, "LAUNCH_DAEMONS_DIR", str(tmp_path))
    # root:wheel on a Mac; here the test's own user and group (Linux has no wheel group; non-root cannot chown)
    monkeypatch.setattr(_launchd, "PLIST_OWNER", pwd.getpwuid(os.geteuid()).pw_name)
    monkeypatch.setattr(_launchd, "PLIST_GROUP", grp.getgrgid(os.getegid()).gr_name)
    return tmp_path


def test_render_is_deterministic_xml_with_the_launchd_keys() -> None:
    one = _launchd.LaunchDaemon.render(label=LABEL, program_arguments=ARGS, keep_alive={"SuccessfulExit": False},
                                       start_interval=300, watch_paths=["/dev/tap1"],
                                       standard_error_path="/var/log/hb.err", extra={"ProcessType": "Background"})
    assert one == _launchd.LaunchDaemon.render(label=LABEL, program_arguments=ARGS,
                                               keep_alive={"SuccessfulExit": False}, start_interval=300,
                                               watch_paths=["/dev/tap1"], standard_error_path="/var/log/hb.err",
                                               extra={"ProcessType": "Background"})
    assert one.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC')
    assert plistlib.loads(one) == {
        "Label": LABEL, "ProgramArguments": ARGS, "RunAtLoad": True, "KeepAlive": {"SuccessfulExit": False},
        "StartInterval": 300, "WatchPaths": ["/dev/tap1"], "StandardErrorPath": "/var/log/hb.err",
        "ProcessType": "Background",
    }


@pytest.mark.parametrize("label", ["", "../x", "a/b", "com.x..y", "com.x.", ".hidden", "a b", "x" * 201, 5])
def test_bad_labels_are_refused(label) -> None:
    with pytest.raises(HostbridgeError, match=r"persistent_label: .* is not a reverse-DNS label"):
        _launchd.validate_label(label, field="persistent_label")


@pytest.mark.parametrize(
    ("args", "why"),
    [([], "non-empty list"), (["sh", "-c", "x"], "absolute path"), (["/bin/sh", ""], "non-empty strings")],
)
def test_bad_program_arguments_are_refused(args, why) -> None:
    with pytest.raises(HostbridgeError, match=why):
        _launchd.LaunchDaemon.render(label=LABEL, program_arguments=args)


def test_ensure_writes_root_owned_0644_then_bootstraps(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist)])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is True
    runner.assert_done()
    st = plist.stat()
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == ARGS


def test_ensure_same_content_loaded_is_unchanged(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(_launchd.LaunchDaemon.render(label=LABEL, program_arguments=ARGS))
    plist.chmod(0o644)
    runner = FakeRunner([LOADED])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is False
    runner.assert_done()


def test_ensure_same_content_not_loaded_only_bootstraps(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(_launchd.LaunchDaemon.render(label=LABEL, program_arguments=ARGS))
    plist.chmod(0o644)
    inode = plist.stat().st_ino
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist)])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is True
    runner.assert_done()
    assert plist.stat().st_ino == inode  # not rewritten


def test_ensure_fixes_bad_permissions_without_reloading(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(_launchd.LaunchDaemon.render(label=LABEL, program_arguments=ARGS))
    plist.chmod(0o664)
    runner = FakeRunner([LOADED])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is True
    runner.assert_done()
    assert stat.S_IMODE(plist.stat().st_mode) == 0o644


def test_changed_content_of_a_loaded_job_boots_out_then_in(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(_launchd.LaunchDaemon.render(label=LABEL, program_arguments=["/bin/true"]))
    # bootout returns before launchd lets go of the label: print answers "still there" twice, then "gone";
    # enable comes before bootstrap.
    runner = FakeRunner([LOADED, BOOTOUT, LOADED, LOADED, NOT_LOADED, ENABLE, bootstrap(plist)])
    sleeps = Sleeps()
    daemon = _launchd.LaunchDaemon(runner, module, sleep=sleeps)
    plan = daemon.plan_ensure(label=LABEL, program_arguments=ARGS)
    assert (plan.write, plan.bootout, plan.bootstrap, plan.delete) == (True, True, True, False)
    daemon.apply(plan)
    runner.assert_done()
    assert sleeps == [_launchd.POLL_SECONDS] * 2
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == ARGS


def test_the_wait_after_bootout_is_bounded_and_explained(module, daemons, monkeypatch) -> None:
    monkeypatch.setattr(_launchd, "BOOTOUT_WAIT_SECONDS", 2.0)
    runner = FakeRunner([BOOTOUT] + [LOADED] * 5)
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError) as info:
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).bootout(LABEL)
    runner.assert_done()
    assert sleeps == [0.5] * 4
    assert f"launchd still has system/{LABEL} 2s after `launchctl bootout`" in info.value.msg
    assert f"sudo launchctl print system/{LABEL}" in info.value.msg


@pytest.mark.parametrize(("rc", "err"), [
    (36, fixture_text("darwin", "launchctl_bootout_in_progress_stderr.txt")),  # still going: wait as for rc 0
    (3, "Boot-out failed: 3: No such process\n"),  # gone already
])
def test_bootout_in_progress_or_already_gone_is_not_an_error(module, daemons, rc, err) -> None:
    runner = FakeRunner([(BOOTOUT[0], rc, "", err), LOADED, NOT_LOADED])
    _launchd.LaunchDaemon(runner, module, sleep=Sleeps()).bootout(LABEL)
    runner.assert_done()


def test_another_bootout_failure_is_an_error(module, daemons) -> None:
    runner = FakeRunner([(BOOTOUT[0], 1, "", "Boot-out failed: 1: Operation not permitted\n")])
    with pytest.raises(HostbridgeError, match=r"launchctl bootout system/.* failed \(rc=1\): Boot-out failed: 1"):
        _launchd.LaunchDaemon(runner, module).bootout(LABEL)


def test_input_output_error_is_retried_then_succeeds(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist, 5, EIO), NOT_DISABLED, bootstrap(plist)])
    sleeps = Sleeps()
    assert _launchd.LaunchDaemon(runner, module, sleep=sleeps).ensure(label=LABEL, program_arguments=ARGS) is True
    runner.assert_done()
    assert sleeps == [_launchd.RETRY_SECONDS]


def test_input_output_error_every_time_is_explained(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    attempts = [bootstrap(plist, 5, EIO), NOT_DISABLED] * _launchd.BOOTSTRAP_ATTEMPTS
    runner = FakeRunner([NOT_LOADED, ENABLE, *attempts])
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError) as info:
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).ensure(label=LABEL, program_arguments=ARGS)
    runner.assert_done()
    assert sleeps == [_launchd.RETRY_SECONDS] * (_launchd.BOOTSTRAP_ATTEMPTS - 1)
    msg = info.value.msg
    assert "Bootstrap failed: 5: Input/output error" in msg
    assert f"refused it {_launchd.BOOTSTRAP_ATTEMPTS} times" in msg
    assert "Allow in the Background" in msg
    assert "root:wheel 0644" in msg
    assert f"plutil -lint {plist}" in msg
    assert info.value.details["rc"] == 5


@pytest.mark.parametrize("sample", ["launchctl_print_disabled_system_ventura.txt",
                                    "launchctl_print_disabled_system_old.txt"])
def test_a_label_disabled_in_login_items_names_the_switch(module, daemons, sample) -> None:
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist, 5, EIO),
                         (PRINT_DISABLED, 0, fixture_text("darwin", sample), "")])
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError) as info:
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).ensure(label=LABEL, program_arguments=ARGS)
    runner.assert_done()
    assert sleeps == []  # no retry: it cannot work until the user turns the switch on
    assert f"{LABEL} is disabled for launchd even after `launchctl enable system/{LABEL}`" in info.value.msg
    assert "System Settings > General > Login Items > Allow in the Background" in info.value.msg


@pytest.mark.parametrize(("sample", "label", "disabled"), [
    ("launchctl_print_disabled_system_ventura.txt", "com.apple.ftpd", True),
    ("launchctl_print_disabled_system_ventura.txt", "com.openssh.sshd", False),
    ("launchctl_print_disabled_system_old.txt", "com.openssh.sshd", False),
    ("launchctl_print_disabled_system_old.txt", "com.apple.ftpd", True),
    ("launchctl_print_disabled_system_old.txt", "com.apple.ftp", False),  # a prefix is not the label
])
def test_print_disabled_is_read_in_both_formats(module, sample, label, disabled) -> None:
    runner = FakeRunner([(PRINT_DISABLED, 0, fixture_text("darwin", sample), "")])
    assert _launchd.LaunchDaemon(runner, module).disabled(label) is disabled


def test_check_mode_plans_but_touches_nothing(module, daemons) -> None:
    runner = FakeRunner([NOT_LOADED])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS, check_mode=True)
    runner.assert_done()
    assert list(daemons.iterdir()) == []


def test_a_symlinked_plist_is_refused(module, daemons, tmp_path_factory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "x.plist"
    elsewhere.write_bytes(b"theirs")
    (daemons / f"{LABEL}.plist").symlink_to(elsewhere)
    runner = FakeRunner([])
    daemon = _launchd.LaunchDaemon(runner, module)
    with pytest.raises(HostbridgeError, match="is a symlink"):
        daemon.ensure(label=LABEL, program_arguments=ARGS)
    with pytest.raises(HostbridgeError, match="is a symlink"):
        daemon.remove(LABEL)
    assert elsewhere.read_bytes() == b"theirs"


def test_bootstrap_failure_says_what_to_check(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    bad_perms = "Bootstrap failed: 122: Path had bad ownership/permissions\n"
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist, 122, bad_perms)])
    with pytest.raises(HostbridgeError) as info:
        _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS)
    runner.assert_done()
    assert "Path had bad ownership/permissions" in info.value.msg
    assert "root:wheel 0644" in info.value.msg
    assert info.value.details["rc"] == 122


def test_remove_boots_out_and_deletes(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(b"x")
    runner = FakeRunner([LOADED, BOOTOUT, NOT_LOADED])
    assert _launchd.LaunchDaemon(runner, module).remove(LABEL) is True
    runner.assert_done()
    assert not plist.exists()
    runner = FakeRunner([NOT_LOADED])
    assert _launchd.LaunchDaemon(runner, module).remove(LABEL) is False
    runner.assert_done()


def test_missing_daemon_directory_is_a_clear_error(module, tmp_path) -> None:
    daemon = _launchd.LaunchDaemon(FakeRunner([]), module, directory=str(tmp_path / "nope"))
    with pytest.raises(HostbridgeError, match="does not exist"):
        daemon.ensure(label=LABEL, program_arguments=ARGS)
