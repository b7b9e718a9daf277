"""``_loopback.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
the boot job's absolute ``ifconfig``, options as a real module run gets them (strings from JSON), a killed
``ifconfig``, duplicates in either order (and test_loopback_darwin.py: no diff for a boot job that stays)."""

from __future__ import annotations

import ipaddress
import json

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _loopback
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_loopback_darwin import (
    LO0,
    run,
    sample,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner


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


def test_linux_holding_one_address_twice_keeps_the_wanted_prefix_only() -> None:
    wanted, other = ipaddress.ip_interface("198.51.100.1/32"), ipaddress.ip_interface("198.51.100.1/24")
    plan = _loopback.compute_plan(current=[other, ipaddress.ip_interface("198.51.100.1/32")], desired=[wanted],
                                  state="present", exclusive_within=None)
    assert (plan.remove, plan.add, plan.after) == ([other], [], [wanted])
