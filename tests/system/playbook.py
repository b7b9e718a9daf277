"""Run one module through the real ansible-playbook inside a network namespace, as the system tests do."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

PLAYBOOK_BIN = ansible_cli.cli("ansible-playbook")
# A target Python with nothing extra, as a new user's laptop has (Debian's; no requests, no Docker SDK).
PLAIN_PYTHON = "/usr/bin/python3"
STOCK_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"


def run_module_in_netns(netns: str, tmp: str, module: str, args: dict[str, t.Any], *, check: bool = False,
                        diff: bool = False) -> dict[str, t.Any]:
    """``dockermac.hostbridge.<module>`` with ``args``, once, in ``netns``; returns the task result."""
    playbook = os.path.join(tmp, "play.yml")
    with open(playbook, "w", encoding="utf-8") as handle:  # JSON is YAML
        json.dump([{"hosts": "localhost", "gather_facts": False,
                    "tasks": [{f"dockermac.hostbridge.{module}": args, "ignore_errors": True}]}], handle)
    cmd = ["ip", "netns", "exec", netns, PLAYBOOK_BIN, "-i", "localhost,", "-c", "local", playbook]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    if os.path.isdir("/run/systemd/system"):
        # Hide a running systemd from the module so it can never write the host's /etc/systemd/system.
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs tmpfs /run/systemd && exec "$0" "$@"', *cmd]
    proc = ansible_cli.run(cmd, timeout=120)
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"ansible-playbook gave no JSON (rc={proc.returncode}): {proc.stdout}\n{proc.stderr}")
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


@contextlib.contextmanager
def new_netns(prefix: str) -> t.Iterator[str]:
    """A network namespace of the test's own (``hb-<prefix>-<random>``), deleted with everything in it."""
    name = f"hb-{prefix}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
