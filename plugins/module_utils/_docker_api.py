# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the Docker Engine API over its unix socket, standard library only (no Docker SDK, no ``requests``).

Only ``GET``: ``_plan`` asks the engine the roles' community.docker tasks talk to (the same socket) whether their
network and container are as wanted, and the engine's version. Paths are unversioned: the engine answers them
in its own API version.

An HTTP/1.0 request on a fresh connection: the engine answers without chunked encoding and closes the connection
after its answer, so the body is what comes before the end of the stream. Not ``http.client``: its imports (email,
ssl) cost a no-change re-run, whose one module call this is in, about 9 ms (docs/performance.md).
"""

from __future__ import annotations

import json
import socket
import time
import typing as t
import urllib.parse

TIMEOUT = 5.0
# The engine's answers read here are a few kB; an answer this large is not one, and is not read to its end.
MAX_ANSWER = 8388608  # 8 MiB


class EngineError(Exception):
    """The engine could not be asked, or answered something other than JSON with 200 or 404."""


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


def ping(socket_path: str, *, timeout: float) -> bool:
    """Whether a Docker engine answers ``GET /_ping`` with 200 on the unix socket ``socket_path``."""
    try:
        return _request(socket_path, "/_ping", timeout)[0] == 200
    except (OSError, ValueError):  # refused, absent, silent, path too long for AF_UNIX, not HTTP
        return False


def _get(socket_path: str, path: str, timeout: float) -> dict[str, t.Any] | None:
    """The JSON object the engine answers ``GET path`` with; None for a 404."""
    try:
        status, body = _request(socket_path, path, timeout)
    except (OSError, ValueError) as exc:
        raise EngineError(f"the Docker engine at {socket_path} could not be asked ({exc})") from exc
    if status == 404:
        return None
    try:
        document = json.loads(body) if status == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise EngineError(f"the Docker engine at {socket_path} answered GET {path} with HTTP {status}")
    return document


def _request(socket_path: str, path: str, timeout: float) -> tuple[int, bytes]:
    """The status and the body of ``GET path``, all within ``timeout``; ValueError for an answer that is not HTTP
    or too large."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        chunks, size = [], 0
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))  # a trickling answer ends at the deadline too
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER:
                raise ValueError(f"an answer of more than {MAX_ANSWER} bytes")
    head, separator, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not separator or len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") \
            or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP answer: {head[:80]!r}")
    return int(status_line[1]), body
