# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's Jinja tests, one per input rule of ``plugins/module_utils/_validation.py`` (the only copy of
each rule): ``x is dockermac.hostbridge.tap_name``. Each test is documented beside this file, in ``<name>.yml``."""

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import is_valid

# The rules offered as Jinja tests (the others take options, or serve only the invalid_fields filter).
TESTS = ("abs_path", "brew_formula", "brew_tap", "hostname", "hosts_marker", "interface_name", "ipv4_address",
         "ipv4_cidr", "launchd_label", "safe_path", "tap_name")


def _test(rule: str) -> t.Callable[..., bool]:
    def passes(value: t.Any, **options: t.Any) -> bool:  # options: as documented (interface_name's allow_colon)
        return is_valid(rule, value, **options)

    passes.__name__ = rule
    return passes


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {rule: _test(rule) for rule in TESTS}
