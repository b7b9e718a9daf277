# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: ipv4_address
short_description: Whether a value is a dotted-quad IPv4 address
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Four decimal octets 0-255 without leading zeros, no prefix length.
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
    that: gateway is dockermac.hostbridge.ipv4_address
    fail_msg: "{{ gateway }} is not a dotted-quad IPv4 address"
  vars:
    # '10.0.75.1' passes, '10.0.75.1/24' does not
    gateway: '10.0.75.1'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def ipv4_address(value: t.Any) -> bool:
    return is_valid("ipv4_address", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"ipv4_address": ipv4_address}
