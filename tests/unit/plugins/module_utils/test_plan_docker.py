"""The plan's Docker entries (_plan + _docker_api) against the fake Docker API on a unix socket: in sync, each
kind of drift, and an engine that cannot be asked, which is "pending" (the community.docker task tells), never an
error. The engine is only read."""

from __future__ import annotations

import tempfile
import typing as t
from unittest import mock

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _plan
from ansible_collections.dockermac.hostbridge.tests.fake_docker_api import FakeDockerAPI
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

ROLE_LABEL = {"com.dockermac.hostbridge.role": "tap_bridge"}
NETWORK = {"name": "tap", "driver": "macvlan", "driver_options": {"parent": "eth1"}, "subnet": "10.0.75.0/24",
           "gateway": "10.0.75.1", "iprange": "10.0.75.128/25", "labels": ROLE_LABEL}
LINK = {"name": "vm-link", "image": "busybox:stable", "command": ["/bin/sh", "-c", "sleep 1", "eth1"],
        "labels": {"com.dockermac.hostbridge.role": "tap_bridge"}, "network_mode": "host",
        "capabilities": ["NET_ADMIN"], "init": True, "restart_policy": "unless-stopped"}


@pytest.fixture
def api() -> t.Iterator[FakeDockerAPI]:
    with tempfile.TemporaryDirectory(prefix="hb-") as short, FakeDockerAPI(f"{short}/docker.sock") as fake:
        image = fake.add_image("busybox:stable")
        fake.add_network("tap", "10.0.75.0/24", gateway="10.0.75.1", driver="macvlan", options={"parent": "eth1"},
                         labels={"com.dockermac.hostbridge.role": "tap_bridge", "user": "x"}, ip_range="10.0.75.128/25")
        fake.containers["vm-link"] = {
            "Id": "c" * 64, "Name": "/vm-link", "Image": image["Id"], "State": {"Running": True},
            "Config": {"Image": "busybox:stable", "Cmd": LINK["command"],
                       "Labels": {"com.dockermac.hostbridge.role": "tap_bridge", "from.image": "y"}},
            "HostConfig": {"NetworkMode": "host", "CapAdd": ["CAP_NET_ADMIN"], "Init": True,
                           "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}}}
        yield fake


def plan(api: FakeDockerAPI, *, socket: str | None = None) -> dict[str, t.Any]:
    """The plan of both entries; the socket from the facts (the context) unless one is given."""
    ctx = _plan.PlanContext(system="Linux", runner=FakeRunner([]), module=mock.Mock(), console_user=None,
                            docker_socket=api.socket_path)
    desired = {"network": {"kind": "docker_network", "params": {**NETWORK, "socket": socket}},
               "vm_link": {"kind": "docker_container", "params": {**LINK, "socket": socket}}}
    return _plan.check(desired, ctx)


def test_in_sync_with_only_reads(api: FakeDockerAPI) -> None:
    assert plan(api) == {"network": {"pending": False, "reason": "in sync"},
                         "vm_link": {"pending": False, "reason": "in sync"}}
    assert {verb for verb, _path in api.requests} == {"GET"}
    assert api.calls() == ["/networks/tap", "/containers/vm-link/json", "/images/busybox:stable/json"]


def test_capabilities_in_either_form_are_the_same(api: FakeDockerAPI) -> None:
    """The docker CLI sends CAP_NET_ADMIN, community.docker NET_ADMIN; the engine keeps what it was given."""
    api.containers["vm-link"]["HostConfig"]["CapAdd"] = ["NET_ADMIN"]
    assert plan(api)["vm_link"] == {"pending": False, "reason": "in sync"}


def test_the_socket_given_wins_over_the_facts(api: FakeDockerAPI) -> None:
    result = plan(api, socket="unix:///nonexistent/docker.sock")
    assert all(entry["pending"] and "/nonexistent/docker.sock could not be asked" in entry["reason"]
               for entry in result.values()), result


@pytest.mark.parametrize(("drift", "entry", "reason"), [
    (lambda api: api.networks.pop("tap"), "network", "network tap does not exist"),
    (lambda api: api.networks["tap"].update(Driver="bridge"), "network", "driver is 'bridge', wanted 'macvlan'"),
    (lambda api: api.networks["tap"]["Options"].update(parent="eth9"), "network", "option parent is 'eth9'"),
    (lambda api: api.networks["tap"]["IPAM"]["Config"][0].update(Gateway="10.0.75.2"), "network", "gateway"),
    (lambda api: api.networks["tap"]["IPAM"]["Config"][0].pop("IPRange"), "network", "ip range is None"),
    (lambda api: api.networks["tap"]["Labels"].clear(), "network", "label com.dockermac.hostbridge.role is None"),
    (lambda api: api.containers.pop("vm-link"), "vm_link", "container vm-link does not exist"),
    (lambda api: api.containers["vm-link"]["State"].update(Running=False), "vm_link", "is not running"),
    (lambda api: api.images.pop("busybox:stable"), "vm_link", "its image is not there"),
    (lambda api: api.add_image("busybox:stable"), "vm_link", "image is 'sha256:"),  # the tag moved on
    (lambda api: api.containers["vm-link"]["Config"].update(Cmd=["sh"]), "vm_link", "command is ['sh']"),
    (lambda api: api.containers["vm-link"]["HostConfig"].update(NetworkMode="bridge"), "vm_link", "network mode"),
    (lambda api: api.containers["vm-link"]["HostConfig"].update(CapAdd=None), "vm_link", "added capabilities"),
    (lambda api: api.containers["vm-link"]["HostConfig"].update(Init=None), "vm_link", "init is False"),
    (lambda api: api.containers["vm-link"]["HostConfig"]["RestartPolicy"].update(Name="no"), "vm_link",
     "restart policy is 'no', wanted 'unless-stopped'"),
], ids=["network-deleted", "driver", "parent", "gateway", "iprange", "label", "link-removed", "link-stopped",
        "image-missing", "image-moved", "command", "network-mode", "capabilities", "init", "restart-policy"])
def test_each_drift_makes_only_its_entry_pending(api: FakeDockerAPI, drift: t.Callable[[FakeDockerAPI], t.Any],
                                                 entry: str, reason: str) -> None:
    drift(api)
    result = plan(api)
    assert {name for name, verdict in result.items() if verdict["pending"]} == {entry}, result
    assert reason in result[entry]["reason"], result[entry]
    assert {verb for verb, _path in api.requests} == {"GET"}


def test_an_engine_that_cannot_be_asked_is_pending_never_an_error(api: FakeDockerAPI) -> None:
    api.start_error = "unable to configure the Docker daemon"  # every request answered 500
    assert all(entry["pending"] and "answered GET" in entry["reason"] for entry in plan(api).values())
    api.stop()  # refused: the socket is gone
    assert all(entry["pending"] and "could not be asked" in entry["reason"] for entry in plan(api).values())


def test_no_socket_at_all_is_pending() -> None:
    ctx = _plan.PlanContext(system="Linux", runner=FakeRunner([]), module=mock.Mock(), console_user=None)
    result = _plan.check({"network": {"kind": "docker_network", "params": NETWORK}}, ctx)
    assert result == {"network": {"pending": True, "reason": "docker_network: no Docker socket was found"}}
