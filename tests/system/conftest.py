"""Fixtures shared by the system tests."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAIN_PYTHON, STOCK_HOSTS


@pytest.fixture
def laptop() -> t.Iterator[tuple[str, Path]]:
    """A network namespace standing in for the laptop, with a private /etc/hosts (ip netns exec binds
    /etc/netns/NAME/hosts): (its name, that file)."""
    if subprocess.run([PLAIN_PYTHON, "-c", "import requests"], capture_output=True, check=False).returncode == 0:
        pytest.fail(f"{PLAIN_PYTHON} has requests: this test needs a target Python without it")
    # Random: under pytest-xdist each worker numbers its own tmp_path, so names built from it can repeat.
    name = f"hb-plain-{secrets.token_hex(3)}"
    etc = Path("/etc/netns") / name
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        etc.mkdir(parents=True)
        (etc / "hosts").write_text(STOCK_HOSTS, encoding="utf-8")
        yield name, etc / "hosts"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(etc, ignore_errors=True)
