# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Jinja test ``dockermac.hostbridge.brew_tap`` (documented in brew_tap.yml): a rule of _validation.py."""

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import jinja_tests


class TestModule:
    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return jinja_tests("brew_tap")
