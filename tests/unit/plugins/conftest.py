"""Fixtures shared by the module and module_utils unit tests."""

from __future__ import annotations

import grp
import os
import pwd
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd, _tap


@pytest.fixture
def daemons(tmp_path, monkeypatch) -> t.Any:
    """A LaunchDaemons directory of the test's own, owned as this process can own files (root:wheel on a Mac)."""
    monkeypatch.setattr(_launchd, "LAUNCH_DAEMONS_DIR", str(tmp_path))
    monkeypatch.setattr(_launchd, "PLIST_OWNER", pwd.getpwuid(os.geteuid()).pw_name)
    monkeypatch.setattr(_launchd, "PLIST_GROUP", grp.getgrgid(os.getegid()).gr_name)
    return tmp_path


@pytest.fixture
def sysfs(tmp_path, monkeypatch) -> t.Any:
    """A /sys/class/net of the test's own, read by the Linux tap backend."""
    root = tmp_path / "sys-class-net"
    root.mkdir()
    monkeypatch.setattr(_tap.LinuxTap, "sysfs_net", str(root))
    return root
