"""``_launchd.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
documented bounds as numbers (three bootstrap attempts 2 s apart, 15 s for a bootout), launchctl's "Could not
find service" (113) on bootout, plists whose mode or group drifted, an owner missing on the host, values a plist
cannot hold or that do not survive a round trip, and a failing ``print-disabled``. Real plist files in a temp
dir, launchctl argv exactly (FakeRunner)."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_launchd import (
    ARGS,
    BOOTOUT,
    EIO,
    ENABLE,
    LABEL,
    LOADED,
    NOT_DISABLED,
    NOT_LOADED,
    PRINT_DISABLED,
    Sleeps,
    bootstrap,
    module,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

__all__ = ["module"]  # fixture


def render(**options: object) -> bytes:
    return _launchd.LaunchDaemon.render(label=LABEL, program_arguments=options.pop("args", ARGS), **options)


def installed(daemons) -> object:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(render())
    plist.chmod(0o644)
    return plist


def test_bootstrap_is_tried_three_times_two_seconds_apart(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([NOT_LOADED, ENABLE, *[bootstrap(plist, 5, EIO), NOT_DISABLED] * 3])
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError, match="launchd refused it 3 times"):
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).ensure(label=LABEL, program_arguments=ARGS)
    runner.assert_done()
    assert sleeps == [2.0, 2.0]


def test_launchd_gets_fifteen_seconds_to_let_go_after_a_bootout(module, daemons) -> None:
    runner = FakeRunner([BOOTOUT] + [LOADED] * 31)
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError, match=f"launchd still has system/{LABEL} 15s after"):
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).bootout(LABEL)
    runner.assert_done()
    assert sum(sleeps) == 15.0


def test_bootout_of_a_service_launchd_cannot_find_is_not_an_error(module, daemons) -> None:
    gone = (BOOTOUT[0], 113, "", f'Boot-out failed: 113: Could not find service "{LABEL}" in domain for system\n')
    runner = FakeRunner([gone, NOT_LOADED])
    _launchd.LaunchDaemon(runner, module).bootout(LABEL)
    runner.assert_done()
    with pytest.raises(HostbridgeError, match=r"failed \(rc=112\)"):
        _launchd.LaunchDaemon(FakeRunner([(BOOTOUT[0], 112, "", "Boot-out failed: 112\n")]), module).bootout(LABEL)


@pytest.mark.parametrize("mode", [0o600, 0o645])
def test_any_plist_mode_but_0644_is_put_back(module, daemons, mode: int) -> None:
    plist = installed(daemons)
    plist.chmod(mode)
    runner = FakeRunner([LOADED])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is True
    runner.assert_done()
    assert stat.S_IMODE(plist.stat().st_mode) == 0o644


@pytest.mark.root
@pytest.mark.parametrize("who", ["group", "owner"])
def test_a_plist_of_another_owner_or_group_is_given_back(module, daemons, who: str) -> None:
    plist = installed(daemons)
    nobody = pwd.getpwnam("nobody")
    os.chown(plist, nobody.pw_uid if who == "owner" else os.geteuid(),
             grp.getgrnam("nogroup").gr_gid if who == "group" else os.getegid())
    runner = FakeRunner([LOADED])
    assert _launchd.LaunchDaemon(runner, module).ensure(label=LABEL, program_arguments=ARGS) is True
    assert (plist.stat().st_uid, plist.stat().st_gid) == (os.geteuid(), os.getegid())


@pytest.mark.parametrize(("owner", "group", "missing"), [
    ("hb-no-such-user", None, "No user 'hb-no-such-user' on this host"),
    (None, "hb-no-such-group", "No group 'hb-no-such-group' on this host"),
])
def test_an_owner_the_host_does_not_have_is_named(module, daemons, owner, group, missing) -> None:
    installed(daemons)
    with pytest.raises(HostbridgeError, match=missing):
        _launchd.LaunchDaemon(FakeRunner([LOADED]), module, owner=owner, group=group).ensure(
            label=LABEL, program_arguments=ARGS)


@pytest.mark.parametrize(("args", "why"), [
    (["/bin/x", "a\x01b"], "Cannot build the LaunchDaemon plist"),  # XML 1.0 holds no control characters
    (["/bin/x", "a\rb"], "did not survive a round trip"),  # XML reads a carriage return back as a newline
])
def test_arguments_a_plist_cannot_carry_exactly_are_refused(args, why) -> None:
    with pytest.raises(HostbridgeError, match=why):
        render(args=args)


def test_a_value_plist_has_no_type_for_is_refused() -> None:
    with pytest.raises(HostbridgeError, match="Cannot build the LaunchDaemon plist"):
        render(extra={"Sockets": object()})


def test_a_relative_program_is_named_in_the_refusal() -> None:
    with pytest.raises(HostbridgeError, match=r"^program_arguments: 'bin/hb' must be an absolute path"):
        render(args=["bin/hb", "/etc/hb.conf"])


@pytest.mark.parametrize(("interval", "ok"), [(-1, False), (0, False), (1, True)])
def test_start_interval_must_be_a_positive_number_of_seconds(interval: int, ok: bool) -> None:
    if ok:
        assert b"<integer>1</integer>" in render(start_interval=interval)
    else:
        with pytest.raises(HostbridgeError, match="must be a positive number of seconds"):
            render(start_interval=interval)


def test_the_same_job_is_the_same_bytes_whatever_order_its_keys_come_in() -> None:
    assert render(extra={"ProcessType": "Background", "Nice": 5}) == render(extra={"Nice": 5,
                                                                                   "ProcessType": "Background"})


def test_a_failing_print_disabled_still_gives_the_bootstrap_error(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    no_list = (PRINT_DISABLED, 64, "", "Unrecognized subcommand: print-disabled\n")
    runner = FakeRunner([NOT_LOADED, ENABLE, *[bootstrap(plist, 5, EIO), no_list] * 3])
    with pytest.raises(HostbridgeError, match="Bootstrap failed: 5: Input/output error"):
        _launchd.LaunchDaemon(runner, module, sleep=Sleeps()).ensure(label=LABEL, program_arguments=ARGS)


def test_a_bootstrap_failure_other_than_input_output_error_is_not_retried(module, daemons) -> None:
    """launchctl's format, "Bootstrap failed: <errno>: <strerror>" (as in the EIO fixture), for EPERM."""
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([NOT_LOADED, ENABLE, bootstrap(plist, 1, "Bootstrap failed: 1: Operation not permitted\n")])
    sleeps = Sleeps()
    with pytest.raises(HostbridgeError, match=r"failed \(rc=1\): Bootstrap failed: 1: .* Check the file is root:wheel"):
        _launchd.LaunchDaemon(runner, module, sleep=sleeps).ensure(label=LABEL, program_arguments=ARGS)
    runner.assert_done()
    assert sleeps == []
