# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: launchd_label
short_description: Whether a value is a reverse-DNS job label
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Letters, digits, C(.), C(_) and C(-), starting with a letter or digit, at most 200 characters, no C(..), not
    ending with C(.). Used as a launchd label and as the base name of a property list or a systemd unit.
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
    that: tap_bridge_reapply_label is dockermac.hostbridge.launchd_label
    fail_msg: "{{ tap_bridge_reapply_label }} is not a reverse-DNS job label"
  vars:
    # 'com.example.tap-reapply' passes, 'a b' does not
    tap_bridge_reapply_label: 'com.example.tap-reapply'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def launchd_label(value: t.Any) -> bool:
    return is_valid("launchd_label", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"launchd_label": launchd_label}
