# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookups ``desired_state`` and ``input_problems`` read the role variables of the parts they are given."""

from __future__ import annotations

DOCUMENTATION = r"""
name: desired_state
short_description: What the collection's roles would apply, in the form bridge_facts compares with the host
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - The desired state of each part named, from that role's variables as they are where the lookup runs (the role's
    own tasks, or a play that imported the role's variables). Each entry holds the module's options that the role's
    task would apply; the module P(dockermac.hostbridge.bridge_facts#module) compares them with the host (its
    O(dockermac.hostbridge.bridge_facts#module:desired) option) and the role's tasks take their options from it.
  - One source for the roles and the bridge role's single comparison. It is Python rather than role templates because
    a re-run with nothing to do renders it on every host.
options:
  _terms:
    description:
      - The parts, by role - V(loopback), V(tap_bridge), V(routed). With more than one, their entries together.
    type: list
    elements: str
    required: true
notes:
  - The V(tap_bridge) part renders the role's re-apply program (C(tap_bridge__reapply_template)) to compare its
    checksum; that path is found from C(role_path), so the part needs to be looked up inside one of the
    collection's roles (its own tasks, or the bridge role's), or with C(role_path) set to one of them.
"""

EXAMPLES = r"""
- name: Compare what the loopback role would apply with the host, without applying it
  dockermac.hostbridge.bridge_facts:
    desired: "{{ lookup('dockermac.hostbridge.desired_state', 'loopback') }}"
  vars:
    loopback_services: [{name: web.test, ip: 198.51.100.1}]
  register: probe
"""

RETURN = r"""
_raw:
  description:
    - One mapping of entry names (V(lo0_alias), V(etc_hosts_entry), V(tap_device), ...) to entries, each with
      C(kind), C(strategy), C(platforms) (absent or null - every platform) and C(params), the module's options (null
      - an option left out).
  type: list
  elements: dict
"""

import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.template import trust_as_template

from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired
from ansible_collections.dockermac.hostbridge.plugins.plugin_utils._role_lookup import RoleVariables, parts

PARTS = ("loopback", "tap_bridge", "routed")


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: t.Any = None, **kwargs: t.Any) -> list[t.Any]:
        get = RoleVariables(self, variables or {}, "desired_state")
        names = parts(terms, PARTS, "desired_state")
        # No desired state from bad input: refused here, on the controller, before anything reaches the host.
        problems = _desired.problems(get, names)
        if problems:
            raise AnsibleLookupError("; ".join(problems))
        desired: dict[str, t.Any] = {}
        for part in names:
            if part == "loopback":
                desired.update(_desired.loopback(get))
            elif part == "tap_bridge":
                desired.update(_desired.tap_bridge(get, lambda: self._reapply_program(get)))
            else:
                desired.update(_desired.routed(get))
        return [desired]

    def _reapply_program(self, get: RoleVariables) -> str:
        """The re-apply program as the role's template task writes it. Rendered here with the variables as they are
        (the template uses nothing else, and no Jinja block): the template lookup would copy every variable first,
        most of a re-run's time in this lookup."""
        source = self._loader.get_text_file_contents(get("tap_bridge__reapply_template"))
        return str(self._templar.template(trust_as_template(source), escape_backslashes=False))
