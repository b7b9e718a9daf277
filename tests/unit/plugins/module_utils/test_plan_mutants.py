"""The plan's file checks and entry shape, where cosmic-ray's mutants of ``_plan.py`` survived the other tests
(docs/development.md, "Mutation score"): each comparison is tried from both sides, each required field alone."""

from __future__ import annotations

import hashlib
import os
import typing as t
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _plan
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_plan import context, file_entry
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_plan_docker import (
    LINK,
    NETWORK,
    api,
    plan,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

__all__ = ["api"]  # fixture


def docker_context(api: FakeDockerAPI) -> _plan.PlanContext:
    return _plan.PlanContext(system="Linux", runner=FakeRunner([]), module=mock.Mock(), console_user=None,
                             docker_socket=api.socket_path)


CONTENT = b"#!/bin/sh\n"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "tap-reapply"
    path.write_bytes(CONTENT)
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("missing", ["path", "sha1", "mode"])
def test_a_file_entry_without_a_required_field_names_it(script: Path, missing: str) -> None:
    entry = file_entry(script, CONTENT)
    del entry["params"][missing]
    assert _plan.check({"x": entry}, context())["x"] == {
        "pending": True, "reason": f"file: missing required arguments: {missing}", "exists": missing != "path"}


def test_a_file_entry_without_owner_wants_root(script: Path) -> None:
    entry = file_entry(script, CONTENT)
    del entry["params"]["uid"], entry["params"]["gid"]
    info = script.stat()
    expected = ({"pending": False, "reason": "in sync", "exists": True} if (info.st_uid, info.st_gid) == (0, 0) else
                {"pending": True, "reason": f"{script}: owner {info.st_uid}:{info.st_gid}, wanted 0:0", "exists": True})
    assert _plan.check({"x": entry}, context())["x"] == expected


@pytest.mark.parametrize("wanted", [b"", b"#!/bin/sh\nexit 0\n", b"x", b"y", b"z"])
def test_content_differs_whichever_checksum_sorts_first(script: Path, wanted: bytes) -> None:
    """Five other contents: their checksums sort both below and above the file's own."""
    entry = file_entry(script, wanted)
    assert _plan.check({"x": entry}, context())["x"] == {"pending": True, "reason": f"{script}: content differs",
                                                         "exists": True}


def test_the_checksums_tried_sort_on_both_sides() -> None:
    """The premise of the test above, written out: a mutant turning != into < or > is caught by one of them."""
    own = hashlib.sha1(CONTENT, usedforsecurity=False).hexdigest()
    others = [hashlib.sha1(c, usedforsecurity=False).hexdigest() for c in (b"", b"#!/bin/sh\nexit 0\n", b"x")]
    assert min(others) < own < max(others)


@pytest.mark.parametrize(("mode", "actual"), [("0600", "0644"), ("0755", "0644")])
def test_mode_differs_below_and_above(script: Path, mode: str, actual: str) -> None:
    entry = file_entry(script, CONTENT, mode)
    assert _plan.check({"x": entry}, context())["x"] == {
        "pending": True, "reason": f"{script}: mode {actual}, wanted {mode}", "exists": True}


@pytest.mark.parametrize("delta", [-1, 1])
def test_owner_differs_below_and_above(script: Path, delta: int) -> None:
    """A wanted uid one below and one above the file's own (as root, the file is first given to uid 1000)."""
    if os.geteuid() == 0:
        os.chown(script, 1000, 1000)
    info = script.stat()
    entry = file_entry(script, CONTENT, uid=info.st_uid + delta, gid=info.st_gid)
    assert _plan.check({"x": entry}, context())["x"] == {
        "pending": True,
        "reason": f"{script}: owner {info.st_uid}:{info.st_gid}, wanted {info.st_uid + delta}:{info.st_gid}",
        "exists": True}


@pytest.mark.parametrize("platforms", [["darwin", "linux"], ["linux", "darwin"]])
def test_every_platform_listed_is_accepted(script: Path, platforms: list[str]) -> None:
    entry: dict[str, t.Any] = dict(file_entry(script, CONTENT), platforms=platforms)
    plan = _plan.check({"x": entry}, context())
    assert plan == {"x": {"pending": False, "reason": "in sync", "exists": True}}


# --- the Docker entries, against the fake engine API (test_plan_docker.py) ------------------------------------
@pytest.mark.parametrize(("entry", "missing"), [
    ("network", "name"), ("network", "driver"), ("network", "subnet"), ("vm_link", "name"), ("vm_link", "image"),
    ("vm_link", "command"), ("vm_link", "network_mode"), ("vm_link", "restart_policy")])
def test_a_docker_entry_without_a_required_option_names_it(api: FakeDockerAPI, entry: str, missing: str) -> None:
    params = {k: v for k, v in (NETWORK if entry == "network" else LINK).items() if k != missing}
    kind = "docker_network" if entry == "network" else "docker_container"
    verdict = _plan.check({entry: {"kind": kind, "params": params}}, docker_context(api))[entry]
    assert verdict == {"pending": True, "reason": f"{kind}: missing required arguments: {missing}"}


def test_a_driver_option_that_sorts_before_the_wanted_one_is_drift_too(api: FakeDockerAPI) -> None:
    api.networks["tap"]["Options"].update(parent="dummy0")  # a name of the fake engine's only, before "eth1"
    assert plan(api)["network"] == {"pending": True,
                                    "reason": "network tap: option parent is 'dummy0', wanted 'eth1'"}


def test_a_link_container_without_init_matches_a_task_that_does_not_ask_for_it(api: FakeDockerAPI) -> None:
    api.containers["vm-link"]["HostConfig"]["Init"] = None  # as the engine shows a container made without --init
    params = {k: v for k, v in LINK.items() if k != "init"}
    ctx = docker_context(api)
    assert _plan.check({"vm_link": {"kind": "docker_container", "params": params}}, ctx)["vm_link"] == {
        "pending": False, "reason": "in sync"}


# --- where an entry applies ---------------------------------------------------------------------------------------
def test_an_entry_may_name_every_platform(script: Path) -> None:
    entry = dict(file_entry(script, CONTENT, "0644"), platforms=["darwin", "linux", "systemd"])
    plan = _plan.check({"x": entry}, context())
    assert plan == {"x": {"pending": False, "reason": "in sync", "exists": True}}


def test_without_systemd_said_an_entry_for_systemd_is_not_compared(script: Path) -> None:
    """PlanContext's default: no systemd (bridge_facts says when it runs)."""
    ctx = _plan.PlanContext(system="Linux", runner=FakeRunner([]), module=mock.Mock(), console_user=None)
    entry = dict(file_entry(script, CONTENT, "0644"), platforms=["systemd"])
    assert _plan.check({"x": entry}, ctx) == {}
