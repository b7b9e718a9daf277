# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lookup ``input_problems``: every bad value of the parts' role variables (rules of _validation.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: input_problems
short_description: Every bad value of the collection's roles' input, before anything is applied
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - >-
    Checks the role variables of each part named against the rules the collection's modules apply
    (C(plugins/module_utils/_validation.py)) and returns one message per part with bad values, V(<role>: <problem>;
    <problem>), each problem naming the variable, the value and the rule - all of them at once, empty when all is
    well.
  - The roles' input checks (C(tasks/validate.yml)) and the bridge role's check of every part use it, so that the
    names and values templated into the hosts file, the re-apply program and the units are refused before anything
    changes. Use it with C(query) (or C(wantlist=true)).
options:
  _terms:
    description: The parts, by role - V(loopback), V(tap_bridge).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse bad input before anything changes
  ansible.builtin.fail:
    msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ query('dockermac.hostbridge.input_problems', 'loopback', 'tap_bridge') }}"
  when: problems | length > 0
"""

RETURN = r"""
_raw:
  description: One message per part with bad values; empty when all are fine.
  type: list
  elements: str
"""

import typing as t

from ansible.plugins.lookup import LookupBase

from ansible_collections.dockermac.hostbridge.plugins.plugin_utils import _desired
from ansible_collections.dockermac.hostbridge.plugins.plugin_utils._role_lookup import RoleVariables, parts


class LookupModule(LookupBase):
    def run(self, terms: list[t.Any], variables: t.Any = None, **kwargs: t.Any) -> list[t.Any]:
        get = RoleVariables(self, variables or {}, "input_problems")
        return _desired.problems(get, parts(terms, _desired.PROBLEMS, "input_problems"))
