"""``_loopback.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
the boot job's absolute ``ifconfig``, options as a real module run gets them (strings from JSON), a killed
``ifconfig``, duplicates in either order (and test_loopback_darwin.py: no diff for a boot job that stays)."""

from __future__ import annotations

import ipaddress
import json
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _loopback
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_loopback_darwin import (
    LO0,
    run,
    sample,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.modules.test_lo0_alias import (
    LO_STOCK,
    SHOW_ALL,
    SHOW_LO,
    ip_json,
    module_run,
    proc_ipv6,
    systemd,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, context

__all__ = ["proc_ipv6", "systemd"]  # fixtures


class SbinRunner(FakeRunner):
    """``which`` as on a Mac: ifconfig lives in /sbin."""

    def which(self, name: str, *, required: bool = True) -> str | None:
        return f"/sbin/{name}"


def test_the_boot_job_runs_ifconfig_by_its_full_path() -> None:
    argv = _loopback.DarwinLoopback(SbinRunner()).boot_argv("lo0", ipaddress.ip_interface("198.51.100.1/32"))
    assert argv == ["/sbin/ifconfig", "lo0", "alias", "198.51.100.1/32"]


def test_exclusive_within_from_json_options_removes_the_others() -> None:
    """state given by the task (a string from JSON, not the interpreter's shared "present"): compared by value."""
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["ifconfig", "lo0", "-alias", "198.51.100.2"], 0, "", ""),
    ])
    params = json.loads(json.dumps({"addresses": ["198.51.100.1"], "exclusive_within": "198.51.100.0/24",
                                    "state": "present"}))
    assert run(runner, **params)["removed"] == ["198.51.100.2/24"]


def test_an_ifconfig_killed_by_a_signal_is_an_error() -> None:
    runner = FakeRunner([(LO0, -9, "", ""), (LO0, -9, "", "")])
    with pytest.raises(HostbridgeError, match=r"^ifconfig lo0 failed \(rc=-9\)$"):
        run(runner, addresses=["198.51.100.1"])


@pytest.mark.parametrize("values", [["198.51.100.1/24", "198.51.100.1/32"], ["198.51.100.1/32", "198.51.100.1/24"]])
def test_one_address_with_two_prefixes_is_refused_in_either_order(values: list[str]) -> None:
    with pytest.raises(HostbridgeError, match=rf"^addresses\[1\]: '{values[1]}' names 198.51.100.1 again, already "
                                              rf"listed as {values[0]}$"):
        _loopback.desired_addresses(values)


def test_one_address_listed_twice_the_same_way_is_listed_once() -> None:
    assert _loopback.desired_addresses(["198.51.100.1", "198.51.100.1/32"]) == [
        ipaddress.ip_interface("198.51.100.1/32")]


def test_an_ipv4_link_local_alias_is_not_protected() -> None:
    """Only IPv6 link-local addresses (fe80::1%lo0) belong to the system; 169.254/16 aliases are anyone's."""
    alias = ipaddress.ip_interface("169.254.10.1/32")
    plan = _loopback.compute_plan(current=[alias], desired=[], state="present",
                                  exclusive_within=ipaddress.ip_network("169.254.0.0/16"))
    assert plan.remove == [alias]


def test_a_linux_interface_label_with_a_colon_is_an_interface_name() -> None:
    assert _loopback.interface_name("lo:hb") == "lo:hb"


def test_an_ip_killed_by_a_signal_is_an_error() -> None:
    argv = ["ip", "-j", "addr", "show", "dev", "lo"]
    with pytest.raises(HostbridgeError, match=r"^ip addr show dev lo failed \(rc=-9\)$"):
        _loopback.LinuxLoopback(FakeRunner([(argv, -9, "", ""), (argv, -9, "", "")])).read("lo")


def test_an_interface_without_ipv6_settings_is_left_to_ip(tmp_path: t.Any) -> None:
    backend = _loopback.LinuxLoopback(FakeRunner())
    backend.proc_ipv6_conf = str(tmp_path)  # no <interface>/disable_ipv6 there
    backend.refuse_unaddable("lo", [ipaddress.ip_interface("fd00:db8::1/128")])


@pytest.mark.parametrize(("wanted", "other"), [
    ("198.51.100.1/32", "198.51.100.1/24"),
    ("198.51.100.1/24", "198.51.100.1/32"),
])
def test_linux_holding_one_address_twice_keeps_the_wanted_prefix_either_way(wanted: str, other: str) -> None:
    want, drop = ipaddress.ip_interface(wanted), ipaddress.ip_interface(other)
    plan = _loopback.compute_plan(current=[drop, ipaddress.ip_interface(wanted)], desired=[want], state="present",
                                  exclusive_within=None)
    assert (plan.remove, plan.add, plan.after) == ([drop], [], [want])


def test_an_address_already_there_does_not_stop_the_others_being_added() -> None:
    there, missing = ipaddress.ip_interface("198.51.100.1/32"), ipaddress.ip_interface("198.51.100.2/32")
    plan = _loopback.compute_plan(current=[there], desired=[there, missing], state="present", exclusive_within=None)
    assert (plan.remove, plan.add) == ([], [missing])


def test_no_service_manager_fails_naming_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_loopback, "systemd_running", lambda: False)
    with pytest.raises(HostbridgeError) as raised:
        _loopback.manage(context("Linux"), {"addresses": ["198.51.100.1"], "persistent": True})
    assert raised.value.details == {"field": "persistent", "value": True}


def test_a_boot_job_whose_ip_anyone_can_replace_is_refused_before_any_change(systemd, tmp_path) -> None:
    """The unit runs `ip` as root at every boot: an `ip` found in a directory others can write is refused."""
    shared = tmp_path / "shared-bin"
    shared.mkdir()
    shared.chmod(0o777)

    class SharedRunner(FakeRunner):
        def which(self, name: str, *, required: bool = True) -> str | None:
            return f"{shared}/{name}"

    run_dir, unit_dir = systemd
    runner = SharedRunner([(SHOW_LO, 0, ip_json(("lo", LO_STOCK)), ""), (SHOW_ALL, 0, ip_json(("lo", LO_STOCK)), "")])
    result = module_run(runner, {"addresses": ["198.51.100.1"], "persistent": True}, systemd_dir=str(run_dir))
    assert result["failed"] is True
    assert f"lo0_alias persistent job {_loopback.DEFAULT_LABEL}: refusing" in result["msg"]
    assert str(shared) in result["msg"]
    assert list(unit_dir.iterdir()) == []
