# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: brew_formula
short_description: Whether a value is a Homebrew formula name
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - C(name) or C(user/tap/name), each part letters, digits and C(_ . @ + -), not starting with C(-) (the name
    reaches C(brew)'s argument list).
  - The whole value must match (a trailing newline fails). The rule is the one the collection's modules apply
    (C(plugins/module_utils/_validation.py)); the filter P(dockermac.hostbridge.invalid_fields#filter) reports
    which fields break it, with their values.
options:
  _input:
    description: The value to test.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse a bad value
  ansible.builtin.assert:
    that: routed_formula is dockermac.hostbridge.brew_formula
    fail_msg: "{{ routed_formula }} is not a Homebrew formula name"
  vars:
    # 'chipmk/tap/docker-mac-net-connect' passes, '--force' does not
    routed_formula: 'chipmk/tap/docker-mac-net-connect'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def brew_formula(value: t.Any) -> bool:
    return is_valid("brew_formula", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"brew_formula": brew_formula}
