"""_docker_api's HTTP over the engine's unix socket (no http.client): what it sends, and each kind of answer - a
JSON object, a 404, an answer in pieces, something that is not HTTP, no engine at all."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
import time
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _docker_api


def serve(path: str, answer: bytes, *, piece: int = 0, pause: float = 0.0, delay: float = 0.0,
          hold: bool = False) -> list[bytes]:
    """A unix socket that answers one connection with ``answer`` and closes it; the request it read
    (test_docker_api_mutants and test_facts_mutants too). The answer comes ``delay`` seconds after the request,
    ``piece`` bytes at a time with ``pause`` seconds between them; with ``hold`` the connection stays open after it
    (HTTP/1.1's default) until the client hangs up or 3 s pass, longer than any client timeout here."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got: list[bytes] = []

    def once() -> None:
        conn, _peer = server.accept()
        with conn, contextlib.suppress(OSError):  # the client may hang up first, at its deadline
            got.append(conn.recv(65536))
            time.sleep(delay)
            step = piece or max(len(answer), 1)
            for start in range(0, len(answer), step):
                conn.sendall(answer[start:start + step])
                time.sleep(pause)
            if hold:
                conn.settimeout(3)
                conn.recv(1)
        server.close()

    threading.Thread(target=once, daemon=True).start()
    return got


def answer(status: str, body: bytes) -> bytes:
    # what the engine (Go's net/http) sends an HTTP/1.0 client: no chunks, the connection closed after the body
    return b"HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status.encode(), len(body), body)


@pytest.fixture
def sock() -> t.Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="hb-") as short:  # a unix socket path must stay short
        yield os.path.join(short, "docker.sock")


def test_a_json_object_read_in_pieces(sock: str) -> None:
    network = {"Name": "tap", "Options": {"parent": "eth1"}, "Pad": "x" * 5000}
    got = serve(sock, answer("200 OK", json.dumps(network).encode()), piece=7)
    assert _docker_api.inspect(sock, "networks", "tap") == network
    assert got == [b"GET /networks/tap HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n"]


def test_names_are_quoted_into_the_path(sock: str) -> None:
    got = serve(sock, answer("200 OK", b"{}"))
    assert _docker_api.inspect(sock, "images", "busybox:stable x") == {}
    assert got == [b"GET /images/busybox:stable%20x/json HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n"]


def test_a_404_is_none(sock: str) -> None:
    serve(sock, answer("404 Not Found", b'{"message": "network tap not found"}'))
    assert _docker_api.inspect(sock, "networks", "tap") is None


def test_the_version(sock: str) -> None:
    serve(sock, answer("200 OK", b'{"Version": "28.2.2", "ApiVersion": "1.50"}'))
    assert _docker_api.version(sock) == "28.2.2"


@pytest.mark.parametrize("status", ["500 Internal Server Error", "199 Early"], ids=["500", "1xx"])
def test_another_status_is_an_engine_error(sock: str, status: str) -> None:
    serve(sock, answer(status, b'{"message": "boom"}'))
    with pytest.raises(_docker_api.EngineError, match=rf"^the Docker engine at {sock} answered GET /containers/x/json "
                                                      rf"with HTTP {status[:3]}$"):
        _docker_api.inspect(sock, "containers", "x")


def test_a_status_line_without_a_reason_phrase(sock: str) -> None:
    serve(sock, b"HTTP/1.0 200\r\n\r\n{}")  # the reason phrase may be left out (RFC 9112, 4)
    assert _docker_api.inspect(sock, "networks", "tap") == {}


@pytest.mark.parametrize("reply", [
    b"SSH-2.0-OpenSSH_9.6\r\n", b"", b"HTTP/1.0 OK\r\n\r\n", b"HTTP/1.0\r\n\r\n{}", b"FTP/1.0 200 OK\r\n\r\n{}",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n", b"HTTP/1.0\r\n200 OK\r\n\r\n{}",
], ids=["not-http", "nothing", "no-status-code", "status-line-cut-short", "another-protocol", "headers-never-end",
        "a-code-on-the-next-line"])
def test_an_answer_that_is_not_http(sock: str, reply: bytes) -> None:
    serve(sock, reply)
    with pytest.raises(_docker_api.EngineError, match=rf"^the Docker engine at {sock} could not be asked "
                                                      r"\(not an HTTP answer: "):
        _docker_api.inspect(sock, "networks", "tap")


def test_what_is_not_http_is_quoted_up_to_80_bytes(sock: str) -> None:
    serve(sock, b"x" * 100 + b"\r\n\r\n")
    with pytest.raises(_docker_api.EngineError) as raised:
        _docker_api.inspect(sock, "networks", "tap")
    assert str(raised.value) == f"the Docker engine at {sock} could not be asked (not an HTTP answer: {b'x' * 80!r})"


def test_no_engine(sock: str) -> None:
    with pytest.raises(_docker_api.EngineError, match=rf"^the Docker engine at {sock} could not be asked \(.*No such"):
        _docker_api.version(sock)


@pytest.mark.parametrize(("reply", "up"), [(answer("200 OK", b"OK"), True), (answer("500 Error", b""), False),
                                           (answer("199 Early", b""), False), (b"nonsense", False)],
                         ids=["ok", "500", "1xx", "not-http"])
def test_ping(sock: str, reply: bytes, up: bool) -> None:
    got = serve(sock, reply)
    assert _docker_api.ping(sock, timeout=2) is up
    assert got == [b"GET /_ping HTTP/1.0\r\nHost: docker\r\nConnection: close\r\n\r\n"]


@pytest.mark.parametrize("pad", [0, 1], ids=["at-the-bound", "a-byte-over"])
def test_an_answer_too_large_is_not_read_to_its_end(sock: str, monkeypatch: pytest.MonkeyPatch, pad: int) -> None:
    reply = answer("200 OK", b"{" + b" " * 900 + b"}")
    monkeypatch.setattr(_docker_api, "MAX_ANSWER", len(reply) - pad)
    serve(sock, reply, piece=100)
    if not pad:
        assert _docker_api.inspect(sock, "networks", "tap") == {}
        return
    with pytest.raises(_docker_api.EngineError, match=rf"could not be asked \(an answer of more than {len(reply) - 1} "
                                                      r"bytes\)"):
        _docker_api.inspect(sock, "networks", "tap")


def test_an_answer_within_the_timeout_is_waited_for(sock: str) -> None:
    serve(sock, answer("200 OK", b'{"Name": "tap"}'), delay=0.2)
    assert _docker_api.inspect(sock, "networks", "tap", timeout=0.8) == {"Name": "tap"}


def test_an_answer_after_the_timeout_is_not(sock: str) -> None:
    serve(sock, answer("200 OK", b'{"Name": "tap"}'), delay=0.8)
    with pytest.raises(_docker_api.EngineError, match=r"could not be asked \(timed out\)"):
        _docker_api.inspect(sock, "networks", "tap", timeout=0.3)


def test_an_answer_that_trickles_ends_at_the_deadline(sock: str) -> None:
    # each byte within a recv's timeout; the whole answer (1 s) only past the deadline
    serve(sock, b"HTTP/1.0 200 OK\r\n\r\n{}", piece=1, pause=0.05)
    with pytest.raises(_docker_api.EngineError, match=r"could not be asked \(timed out\)"):
        _docker_api.inspect(sock, "networks", "tap", timeout=0.3)


def test_an_answer_with_its_length_ends_there_on_a_connection_left_open(sock: str) -> None:
    serve(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n" + b'{"Name": "tap"}', hold=True)
    assert _docker_api.inspect(sock, "networks", "tap", timeout=1) == {"Name": "tap"}


def test_a_chunked_answer_is_read_to_its_last_chunk(sock: str) -> None:
    serve(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\n{\"Nam\r\na; ext=1\r\ne\": \"tap\"}\r\n0\r\n\r\n", hold=True)
    assert _docker_api.inspect(sock, "networks", "tap", timeout=1) == {"Name": "tap"}


def test_chunks_in_pieces_and_hex_sizes(sock: str) -> None:
    body = b'{"Name": "abcdefghijklmnopqrstuvwxyz"}'  # 38 bytes: chunks of 0x1a (26) and 0xC (12)
    got = serve(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n" + body[:26] + b"\r\nC\r\n"
                + body[26:] + b"\r\n0\r\n\r\n", piece=3)
    assert _docker_api.inspect(sock, "networks", "tap") == {"Name": "abcdefghijklmnopqrstuvwxyz"}
    assert got


@pytest.mark.parametrize(("fields", "rest"), [
    (b"Content-Length: 2", b"{}trailing"),  # bytes after the length are not the body
    (b"Transfer-Encoding: identity\r\nContent-Length: 2", b"{}"),  # only chunked is decoded as chunks
], ids=["bytes-after-the-length", "identity"])
def test_the_length_frames_the_body(sock: str, fields: bytes, rest: bytes) -> None:
    serve(sock, b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n\r\n" + rest)
    assert _docker_api.inspect(sock, "networks", "tap") == {}


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Nam\r\n",
], ids=["shorter-than-its-length", "without-its-last-chunk"])
def test_an_answer_cut_short(sock: str, reply: bytes) -> None:
    serve(sock, reply)
    with pytest.raises(_docker_api.EngineError, match=r"could not be asked \(an answer cut short \("):
        _docker_api.inspect(sock, "networks", "tap")


@pytest.mark.parametrize("chunks", [b"zz\r\n{}\r\n0\r\n\r\n", b"-1\r\n{}\r\n0\r\n\r\n"], ids=["not-hex", "negative"])
def test_chunks_that_are_not_chunks(sock: str, chunks: bytes) -> None:
    serve(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    with pytest.raises(_docker_api.EngineError, match=r"could not be asked \((invalid literal for int|a chunk of "
                                                      r"-1 bytes)"):
        _docker_api.inspect(sock, "networks", "tap")


def test_an_engine_that_does_not_answer_in_time(sock: str) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock)
    server.listen(1)
    try:
        with pytest.raises(_docker_api.EngineError, match=r"could not be asked \(timed out\)"):
            _docker_api.inspect(sock, "networks", "tap", timeout=0.2)
    finally:
        server.close()
