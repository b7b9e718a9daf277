# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: hostname
short_description: Whether a value is an RFC 1123 host name
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Letters, digits and inner hyphens in dot-separated labels of 1-63 characters, 253 characters in all, an optional
    trailing dot; no whitespace, no C(#), no empty label.
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
    that: loopback_services is dockermac.hostbridge.hostname
    fail_msg: "{{ loopback_services }} is not an RFC 1123 host name"
  vars:
    # 'web.local' passes, 'web.local\n' does not
    loopback_services: 'web.local'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def hostname(value: t.Any) -> bool:
    return is_valid("hostname", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"hostname": hostname}
