# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

DOCUMENTATION = r"""
name: brew_tap
short_description: Whether a value is a Homebrew tap name
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - C(user/repo), each part letters, digits and C(_ . @ + -), not starting with C(-).
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
    that: routed_tap is dockermac.hostbridge.brew_tap
    fail_msg: "{{ routed_tap }} is not a Homebrew tap name"
  vars:
    # 'chipmk/tap' passes, '-x/y' does not
    routed_tap: 'chipmk/tap'
"""

RETURN = r"""
_value:
  description: Whether the value follows the rule.
  type: boolean
"""


def brew_tap(value: t.Any) -> bool:
    return is_valid("brew_tap", value)


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"brew_tap": brew_tap}
