# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type backends raise; modules turn it into ``fail_json``."""

from __future__ import annotations

import typing as t


class HostbridgeError(Exception):
    """A failure with a message a user can act on, plus details for the result (rc, stdout, ...)."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def fail_json_kwargs(self) -> dict[str, t.Any]:
        return dict(self.details, msg=self.msg)
