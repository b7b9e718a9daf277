# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: tap_name
short_description: Whether a value is a tap device name (tap0 ... tap255)
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - C(tap) followed by a number from 0 to 255 without leading zeros.
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
    that: tap_bridge_device is dockermac.hostbridge.tap_name
    fail_msg: "{{ tap_bridge_device }} is not a tap device name (tap0 ... tap255)"
  vars:
    # 'tap1' passes, 'tap256' does not
    tap_bridge_device: 'tap1'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def tap_name(value: t.Any) -> bool:
    return is_valid("tap_name", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"tap_name": tap_name}
