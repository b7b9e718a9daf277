"""``_docker_api.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
what a socket answering 200 with something other than a JSON object gives (a proxy's page, a list). A one-shot
HTTP server on a unix socket of the test's own."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _docker_api


def answering(body: bytes) -> t.Callable[[str], None]:
    """Serve one request on ``path`` with HTTP 200 and ``body``."""
    def serve(path: str) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)

        def once() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                             b"Connection: close\r\n\r\n%s" % (len(body), body))
            server.close()

        threading.Thread(target=once, daemon=True).start()
    return serve


@pytest.mark.parametrize("body", [b"<html>proxy</html>", b"[]"], ids=["not-json", "not-an-object"])
def test_a_200_that_is_not_a_json_object_is_an_engine_error(body: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="hb-") as short:
        path = os.path.join(short, "docker.sock")
        answering(body)(path)
        with pytest.raises(_docker_api.EngineError, match=rf"^the Docker engine at {path} answered GET "
                                                          r"/networks/tap with HTTP 200$"):
            _docker_api.inspect(path, "networks", "tap")
