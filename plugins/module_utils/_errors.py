# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type backends raise; modules turn it into ``fail_json``."""

from __future__ import annotations

import os
import re
import typing as t

# What a command prints when it lacks root: strerror of EPERM or EACCES (Linux ip: "RTNETLINK answers: Operation
# not permitted", tests/system/test_without_root.py; the BSD tools print the same strerror texts), or "must be root".
_DENIED = re.compile(r"operation not permitted|permission denied|must be (run as )?root", re.IGNORECASE)
BECOME_HINT = ("This needs root and the module ran as uid {uid}: run the task with become (become: true on the task "
               "or the play, or ansible-playbook --become; add -K when sudo asks for a password).")


def become_hint(*outputs: str) -> str:
    """The hint to use become, when this process is not root and one of ``outputs`` says permission was denied
    (empty otherwise: root being refused is another problem)."""
    if os.geteuid() == 0 or not any(_DENIED.search(text or "") for text in outputs):
        return ""
    return BECOME_HINT.format(uid=os.geteuid())


class HostbridgeError(Exception):
    """A failure with a message a user can act on, plus details for the result (rc, stdout, ...)."""

    def __init__(self, msg: str, **details: t.Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details

    def fail_json_kwargs(self) -> dict[str, t.Any]:
        return dict(self.details, msg=self.msg)
