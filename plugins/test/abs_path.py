# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: abs_path
short_description: Whether a value is an absolute path without control characters
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Starts with C(/) and has no control character (newline, tab, NUL, DEL, ...).
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
    that: pull_checkout_dir is dockermac.hostbridge.abs_path
    fail_msg: "{{ pull_checkout_dir }} is not an absolute path without control characters"
  vars:
    # '/var/lib/pull' passes, 'var/lib/pull' does not
    pull_checkout_dir: '/var/lib/pull'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def abs_path(value: t.Any) -> bool:
    return is_valid("abs_path", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"abs_path": abs_path}
