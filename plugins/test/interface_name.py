# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: interface_name
short_description: Whether a value is a network interface name
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - 1-15 letters, digits, C(_), C(.) and C(-), starting with a letter or digit; with O(allow_colon=true) also C(:)
    (a local interface label such as C(lo:1)).
  - The whole value must match (a trailing newline fails). The rule is the one the collection's modules apply
    (C(plugins/module_utils/_validation.py)); the filter P(dockermac.hostbridge.invalid_fields#filter) reports
    which fields break it, with their values.
options:
  _input:
    description: The value to test.
    type: raw
    required: true
  allow_colon:
    description: Also allow C(:), as in a local interface label (C(lo:1)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Refuse a bad value
  ansible.builtin.assert:
    that: tap_bridge_vm_interface is dockermac.hostbridge.interface_name
    fail_msg: "{{ tap_bridge_vm_interface }} is not a network interface name"
  vars:
    # 'eth1' passes, 'eth1;reboot' does not
    tap_bridge_vm_interface: 'eth1'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def interface_name(value: t.Any, allow_colon: bool = False) -> bool:
    return is_valid("interface_name", value, allow_colon=bool(allow_colon))


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"interface_name": interface_name}
