"""``_docker_api.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
what a socket answering 200 with something other than a JSON object gives (a proxy's page, a list). A one-shot
HTTP server on a unix socket of the test's own."""

from __future__ import annotations

import os
import tempfile

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _docker_api
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_docker_api import serve


def ok_with(body: bytes) -> bytes:
    """HTTP 200 with ``body``, as a proxy's page or an engine would send it."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(body), body))


@pytest.mark.parametrize("body", [b"<html>proxy</html>", b"[]"], ids=["not-json", "not-an-object"])
def test_a_200_that_is_not_a_json_object_is_an_engine_error(body: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="hb-") as short:
        path = os.path.join(short, "docker.sock")
        serve(path, ok_with(body))
        with pytest.raises(_docker_api.EngineError, match=rf"^the Docker engine at {path} answered GET "
                                                          r"/networks/tap with HTTP 200$"):
            _docker_api.inspect(path, "networks", "tap")
