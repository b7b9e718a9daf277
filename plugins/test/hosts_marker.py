# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: hosts_marker
short_description: Whether a value is a managed hosts block marker
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - >-
    The marker is 1-100 characters of letters, digits and C(. _ : @ / + -), starting with a letter or digit (no
    spaces).
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
    that: loopback_hosts_marker is dockermac.hostbridge.hosts_marker
    fail_msg: "{{ loopback_hosts_marker }} is not a managed hosts block marker"
  vars:
    # 'dockermac.hostbridge' passes, '../x y' does not
    loopback_hosts_marker: 'dockermac.hostbridge'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def hosts_marker(value: t.Any) -> bool:
    return is_valid("hosts_marker", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"hosts_marker": hosts_marker}
