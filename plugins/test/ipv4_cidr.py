# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: ipv4_cidr
short_description: Whether a value is an IPv4 address with a prefix length
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - An IPv4 address (four octets 0-255, no leading zeros) followed by C(/) and a prefix length 0-32.
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
    that: tap_bridge_host_address is dockermac.hostbridge.ipv4_cidr
    fail_msg: "{{ tap_bridge_host_address }} is not an IPv4 address with a prefix length"
  vars:
    # '10.0.75.1/24' passes, '10.0.75.1/33' does not
    tap_bridge_host_address: '10.0.75.1/24'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def ipv4_cidr(value: t.Any) -> bool:
    return is_valid("ipv4_cidr", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"ipv4_cidr": ipv4_cidr}
