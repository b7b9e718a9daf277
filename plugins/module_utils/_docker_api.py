# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the Docker Engine API over its unix socket, standard library only (no Docker SDK, no ``requests``).

Only ``GET``: ``_plan`` asks the engine the roles' community.docker tasks talk to (the same socket) whether their
network and container are as wanted, and the engine's version. Paths are unversioned: the engine answers them
in its own API version.

An HTTP/1.0 request on a fresh connection, ``Connection: close``: dockerd answers without chunks and closes the
connection after its answer; an answer framed by Content-Length or chunks (a proxy speaking HTTP/1.1) ends where
its framing says. Not ``http.client``: its imports (email, ssl) cost a no-change re-run, whose one module call this
is in, about 9 ms (docs/performance.md).
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
    """The status and the body of ``GET path``, all within ``timeout``; ValueError for an answer that is not HTTP,
    is cut short or is too large. The answer ends where its own framing says (Content-Length, or the last chunk of
    a chunked body), else where the engine closes the connection: a proxy in front of the engine (Docker Desktop's)
    may keep it open, and may answer in HTTP/1.1."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n".encode("ascii"))
        data = bytearray()
        body: bytes | None = None  # the answer's body, once its own framing says it is whole
        while body is None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))  # a trickling answer ends at the deadline too
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > MAX_ANSWER:
                raise ValueError(f"an answer of more than {MAX_ANSWER} bytes")
            body = _framed(bytes(data))
    answer = bytes(data)
    head, separator, rest = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if not separator or len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") \
            or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP answer: {head[:80]!r}")
    if body is None:
        if _fields(head).keys() & {b"content-length", b"transfer-encoding"}:
            raise ValueError(f"an answer cut short ({len(answer)} bytes)")
        body = rest
    return int(status_line[1]), body


def _fields(head: bytes) -> dict[bytes, bytes]:
    """The header fields of an answer's head, by lower-case name."""
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _colon, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return fields


def _framed(answer: bytes) -> bytes | None:
    """The body when ``answer`` is whole by its own framing (Content-Length, or a chunked body's last chunk);
    None when it is not yet, or has no framing of its own."""
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return None
    fields = _fields(head)
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        return _dechunk(body)
    length = fields.get(b"content-length", b"")
    if length.isdigit() and len(body) >= int(length):
        return body[:int(length)]
    return None


def _dechunk(body: bytes) -> bytes | None:
    """A chunked body's data, or None while its last chunk has not come; ValueError for what is not chunks."""
    data: list[bytes] = []
    rest = body
    while True:
        size_line, separator, rest = rest.partition(b"\r\n")
        if not separator:
            return None
        size = int(size_line.split(b";")[0].strip() or b"x", 16)
        if size < 0:
            raise ValueError(f"a chunk of {size} bytes")
        if not size:
            return b"".join(data)
        data.append(rest[:size])  # a chunk not whole yet leaves no size line after it: None above
        rest = rest[size + 2:]
