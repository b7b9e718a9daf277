# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: safe_path
short_description: Whether a value is an absolute path of plain characters
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Starts with C(/) and has only letters, digits, C(_), C(.), C(/) and C(-) - safe to write into a shell script or a
    unit file unquoted.
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
    that: tap_bridge_reapply_path is dockermac.hostbridge.safe_path
    fail_msg: "{{ tap_bridge_reapply_path }} is not an absolute path of plain characters"
  vars:
    # '/usr/local/libexec/tap-reapply' passes, '/usr/local/$(reboot)' does not
    tap_bridge_reapply_path: '/usr/local/libexec/tap-reapply'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def safe_path(value: t.Any) -> bool:
    return is_valid("safe_path", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"safe_path": safe_path}
