# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the Docker Engine API over its unix socket, standard library only (no Docker SDK, no ``requests``).

Only ``GET``: ``_plan`` asks the engine the roles' community.docker tasks talk to (the same socket) whether their
network and container are as wanted, and the engine's version. Paths are unversioned: the engine answers them
in its own API version.
"""

from __future__ import annotations

import http.client
import json
import socket
import typing as t
import urllib.parse

TIMEOUT = 5.0


class EngineError(Exception):
    """The engine could not be asked, or answered something other than JSON with 200 or 404."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def inspect(socket_path: str, kind: str, name: str, *, timeout: float = TIMEOUT) -> dict[str, t.Any] | None:
    """``GET /<kind>/<name>/json`` (``kind``: networks, containers or images); None when the engine says 404."""
    path = f"/{kind}/{urllib.parse.quote(name, safe=':')}" + ("" if kind == "networks" else "/json")
    return _get(socket_path, path, timeout)


def version(socket_path: str, *, timeout: float = TIMEOUT) -> str:
    """The engine's version (``GET /version``: ``Version``, e.g. ``28.2.2``), what docker_host_info reports as
    ``ServerVersion``."""
    found = (_get(socket_path, "/version", timeout) or {}).get("Version")
    if not isinstance(found, str):
        raise EngineError(f"the Docker engine at {socket_path} did not tell its version")
    return found


def _get(socket_path: str, path: str, timeout: float) -> dict[str, t.Any] | None:
    """The JSON object the engine answers ``GET path`` with; None for a 404."""
    connection = _UnixConnection(socket_path, timeout)
    try:
        connection.request("GET", path, headers={"Host": "docker"})
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise EngineError(f"the Docker engine at {socket_path} could not be asked ({exc})") from exc
    finally:
        connection.close()
    if response.status == 404:
        return None
    try:
        document = json.loads(body) if response.status == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise EngineError(f"the Docker engine at {socket_path} answered GET {path} with HTTP {response.status}")
    return document
