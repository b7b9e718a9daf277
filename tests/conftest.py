"""Make ``ansible_collections.dockermac.hostbridge`` importable when pytest runs from a plain checkout.

ansible-test runs the unit tests from a real ``ansible_collections/dockermac/hostbridge`` tree; a
developer's checkout can live anywhere, so point a symlink tree at it (under .tmp/, git-ignored).
"""

from __future__ import annotations

import importlib.util
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


if not _importable("ansible_collections.dockermac.hostbridge"):  # ansible-test already provides it
    _tree = os.path.join(_ROOT, ".tmp", "collections")
    _link = os.path.join(_tree, "ansible_collections", "dockermac", "hostbridge")
    if not os.path.islink(_link):
        os.makedirs(os.path.dirname(_link), exist_ok=True)
        os.symlink(_ROOT, _link)
    sys.path.insert(0, _tree)
    # The dependency collections unpacked by tools/bootstrap (community.docker, ...).
    sys.path.insert(1, os.path.join(_ROOT, ".cache", "collections"))
