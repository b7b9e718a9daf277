"""The desired_state and input_problems lookups on a real templar: the role variables they read, rendered; the parts
they accept; bad input refused before a desired state exists; the re-apply program as Ansible's template lookup
renders it."""

from __future__ import annotations

import hashlib
import os
import typing as t

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, lookup_loader
from ansible.template import Templar, trust_as_template

from ansible_collections.dockermac.hostbridge.plugins.lookup import desired_state, input_problems
from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.plugin_utils.test_desired import LOOPBACK, TAP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATE = os.path.join(ROOT, "roles", "tap_bridge", "templates", "tap-reapply.sh.j2")
TAP_VARS = {**TAP, "tap_bridge__reapply_template": TEMPLATE,
            "tap_bridge__owner_file": "/usr/local/libexec/dockermac-hostbridge/tap1.owner"}


def run(plugin: t.Any, terms: list[str], variables: dict[str, t.Any]) -> list[t.Any]:
    loader = DataLoader()
    lookup = plugin.LookupModule(loader=loader, templar=Templar(loader=loader, variables=variables))
    return t.cast("list[t.Any]", lookup.run(terms, variables=variables))


def test_role_variables_are_rendered() -> None:
    variables = {**LOOPBACK, "web": "web.test", "loopback_services": [
        {"name": trust_as_template("{{ web }}"), "ip": "198.51.100.1"}]}
    (desired,) = run(desired_state, ["loopback"], variables)
    assert desired["etc_hosts_entry"]["params"]["entries"] == [{"ip": "198.51.100.1", "names": ["web.test"]}]
    assert desired == _desired.loopback({**variables, "loopback_services": [
        {"name": "web.test", "ip": "198.51.100.1"}]}.__getitem__)


def test_parts_together() -> None:
    (desired,) = run(desired_state, ["loopback", "tap_bridge"], {**LOOPBACK, **TAP_VARS})
    assert list(desired) == ["lo0_alias", "etc_hosts_entry", "tap_device", "hyperkit_shim", "reapply_program",
                             "boot_job", "network", "vm_link"]


def test_the_program_is_compared_as_the_template_lookup_renders_it() -> None:
    (desired,) = run(desired_state, ["tap_bridge"], TAP_VARS)
    loader = DataLoader()
    init_plugin_loader()  # what ansible-playbook does at start: the template lookup reads its options' defaults
    template = lookup_loader.get("ansible.builtin.template", loader=loader,
                                 templar=Templar(loader=loader, variables=TAP_VARS))
    (written,) = template.run([TEMPLATE], TAP_VARS)
    assert "tap1" in written
    assert written.endswith("\n")
    sha1 = hashlib.sha1(written.encode(), usedforsecurity=False).hexdigest()
    assert desired["reapply_program"]["params"]["sha1"] == sha1


def test_a_variable_not_there_names_it_and_its_role() -> None:
    variables = dict(LOOPBACK)
    del variables["loopback_hosts_marker"]
    with pytest.raises(AnsibleLookupError, match=r"^desired_state: the variable loopback_hosts_marker is not "
                                                 r"defined here: run the lookup inside the role "
                                                 r"dockermac\.hostbridge\.loopback"):
        run(desired_state, ["loopback"], variables)
    with pytest.raises(AnsibleLookupError, match=r"role dockermac\.hostbridge\.tap_bridge"):
        run(desired_state, ["tap_bridge"], LOOPBACK)


@pytest.mark.parametrize("plugin", [desired_state, input_problems])
@pytest.mark.parametrize("terms", [[], ["loopback", "bogus"]], ids=["none", "unknown"])
def test_parts_must_be_known(plugin: t.Any, terms: list[str]) -> None:
    with pytest.raises(AnsibleLookupError, match=r": parts .* name one or more of \['loopback', 'tap_bridge'"):
        run(plugin, terms, {**LOOPBACK, **TAP_VARS})


def test_bad_input_has_no_desired_state() -> None:
    variables = {**LOOPBACK, **TAP_VARS, "loopback_hosts_marker": "a b", "tap_bridge_device": "tap256"}
    problems = run(input_problems, ["loopback", "tap_bridge"], variables)
    assert [problem.split(": ")[0] for problem in problems] == ["loopback", "tap_bridge"]
    with pytest.raises(AnsibleLookupError) as raised:
        run(desired_state, ["loopback", "tap_bridge"], variables)
    assert str(raised.value) == "; ".join(problems)
    assert run(input_problems, ["loopback", "tap_bridge"], {**LOOPBACK, **TAP_VARS}) == []
