"""A fake Docker Engine API on a unix socket, reporting the engine version a test chooses.

What the roles' behaviour depends on is the engine's version (Docker Engine 28.2 added ``allow-direct-routing`` and
``com.docker.network.bridge.trusted_host_interfaces``, moby/moby#49832), so a test must not depend on which Docker
happens to be installed. This server answers the calls community.docker's modules make (``docker_host_info``,
``docker_network_info``, ``docker_network``, ``docker_container``): API version negotiation (``/version``,
``/_ping``), ``/info``, network list, inspect, create, delete and connect, image list and inspect (images a test
adds: nothing is pulled), and container list, inspect, create, start, stop, update and delete, from in-memory
state. Every request is recorded; a request it does not know is answered 404 and recorded too, so a test can assert
that nothing unexpected was asked.

It fights back where the real engine does: a network name is unique (409 on create), inspecting or deleting an
unknown network is a 404 with Docker's message, an engine that is "stopped" (``stop()``) refuses connections, and a
restart (``restart_argv()``, a command for the role's restart hook) re-reads ``daemon_json`` as dockerd does at
start: a key this engine version does not know keeps it from starting (dockerd's "the following directives don't
match any configuration option", docs.docker.com/reference/cli/dockerd/ ``--validate``), and every later request
is answered 500 with that message.

    with FakeDockerAPI(path, version="28.2.2") as api:
        ...                      # point docker_host at unix://path
        api.requests             # [("GET", "/version"), ("GET", "/v1.50/info"), ...]
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socketserver
import threading
import typing as t
import urllib.parse
import uuid

# Engine release -> its API version (the Engine API version history, docs.docker.com/reference/api/engine/
# version-history/): 28.2 is API 1.50, 28.0 is 1.48, 27.0 is 1.46.
API_VERSIONS = {"20.10": "1.41", "27.0": "1.46", "27.5": "1.47", "28.0": "1.48", "28.1": "1.49", "28.2": "1.50",
                "28.3": "1.51", "28.4": "1.51", "29.0": "1.52"}
_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+(?=/)")
# daemon.json keys newer than some engines: the release that added each (Engine 28.2.0 release notes, moby#49832).
DAEMON_KEYS_SINCE = {"allow-direct-routing": (28, 2)}
RESTART_PATH = "/fake/restart"


def api_version_of(engine: str) -> str:
    """The API version an engine release speaks (its ``major.minor``); 1.41 for a release not listed."""
    return API_VERSIONS.get(".".join(engine.split(".")[:2]), "1.41")


class FakeDockerAPI:
    """The server; ``networks`` maps a network name to its inspect document (as ``docker network inspect``)."""

    def __init__(self, socket_path: str, *, version: str = "28.2.2", operating_system: str = "Docker Desktop",
                 mode: int = 0o666, daemon_json: str | None = None) -> None:
        self.socket_path = socket_path
        self.version = version
        self.daemon_json = daemon_json
        self.restarts = 0
        self.start_error: str | None = None  # set when a restart read a daemon.json this engine refuses
        self.operating_system = operating_system
        self.mode = mode
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[t.Any] = []
        self.networks: dict[str, dict[str, t.Any]] = {}
        self.add_network("bridge", "172.17.0.0/16", gateway="172.17.0.1")
        self.images: dict[str, dict[str, t.Any]] = {}  # reference ("busybox:stable") -> inspect document
        self.containers: dict[str, dict[str, t.Any]] = {}  # name (no "/") -> inspect document
        self._server: socketserver.ThreadingUnixStreamServer | None = None
        self._thread: threading.Thread | None = None

    # -- state --
    def add_network(self, name: str, subnet: str, *, gateway: str | None = None, driver: str = "bridge",
                    options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                    ip_range: str | None = None) -> dict[str, t.Any]:
        config = {"Subnet": subnet, **({"IPRange": ip_range} if ip_range else {}),
                  **({"Gateway": gateway} if gateway else {})}
        network = {"Name": name, "Id": uuid.uuid4().hex + uuid.uuid4().hex, "Created": "2026-11-30T00:00:00Z",
                   "Scope": "local", "Driver": driver, "EnableIPv6": False, "Internal": False, "Attachable": False,
                   "Ingress": False, "IPAM": {"Driver": "default", "Options": {}, "Config": [config]},
                   "Options": dict(options or {}), "Labels": dict(labels or {}), "Containers": {}}
        self.networks[name] = network
        return network

    def add_image(self, reference: str) -> dict[str, t.Any]:
        image = {"Id": "sha256:" + uuid.uuid4().hex + uuid.uuid4().hex, "RepoTags": [reference], "RepoDigests": [],
                 "Created": 0, "Size": 0, "Labels": {}, "Config": {"Cmd": ["sh"], "Labels": None, "Env": []}}
        self.images[reference] = image
        return image

    def find_container(self, ref: str) -> dict[str, t.Any] | None:
        for container in self.containers.values():
            if ref.lstrip("/") == container["Name"][1:] or (len(ref) >= 12 and container["Id"].startswith(ref)):
                return container
        return None

    def find(self, ref: str) -> dict[str, t.Any] | None:
        for network in self.networks.values():
            if ref in (network["Name"], network["Id"]) or (len(ref) >= 12 and network["Id"].startswith(ref)):
                return network
        return None

    def calls(self, method: str | None = None) -> list[str]:
        """The paths asked (without the /vX.Y prefix), optionally of one method."""
        return [_VERSION_PREFIX.sub("", path).split("?")[0] for verb, path in self.requests
                if method is None or verb == method]

    def restart_argv(self) -> list[str]:
        """A command that restarts this engine (for ``routed_docker_restart_command``): it asks the server to
        re-read ``daemon_json``."""
        code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                f"s.sendall(b'POST {RESTART_PATH} HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n'); s.recv(4096)")
        return ["/usr/bin/python3", "-c", code, self.socket_path]

    def restart(self) -> None:
        """dockerd starting again: it reads daemon.json and refuses keys it does not know."""
        self.restarts += 1
        self.start_error = None
        if not self.daemon_json or not os.path.exists(self.daemon_json):
            return
        with open(self.daemon_json, encoding="utf-8") as handle:
            config = json.load(handle)
        release = tuple(int(part) for part in re.findall(r"\d+", self.version)[:2])
        unknown = sorted(key for key, since in DAEMON_KEYS_SINCE.items() if key in config and release < since)
        if unknown:
            self.start_error = (f"unable to configure the Docker daemon with file {self.daemon_json}: the following "
                                f"directives don't match any configuration option: {', '.join(unknown)}")

    # -- life cycle --
    def start(self) -> FakeDockerAPI:
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        os.makedirs(os.path.dirname(self.socket_path), exist_ok=True)
        api = self

        class Handler(_Handler):
            fake = api

        self._server = socketserver.ThreadingUnixStreamServer(self.socket_path, Handler)
        self._server.daemon_threads = True
        os.chmod(self.socket_path, self.mode)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-docker-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """The engine goes away: the socket file is removed, connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)

    def __enter__(self) -> FakeDockerAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeDockerAPI

    def address_string(self) -> str:  # a unix socket has no peer address
        return "unix"

    def log_message(self, format: str, *args: t.Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    # -- plumbing --
    def _body(self) -> t.Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw.strip() else None

    def _send(self, status: int, payload: t.Any = None, *, text: str | None = None) -> None:
        body = text if text is not None else (json.dumps(payload) if payload is not None else "")
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if text is not None else "application/json")
        self.send_header("Api-Version", api_version_of(self.fake.version))
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        self.send_header("Server", f"Docker/{self.fake.version} (linux)")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"message": message})

    def _route(self, method: str) -> None:
        fake = self.fake
        fake.requests.append((method, self.path))
        url = urllib.parse.urlsplit(self.path)
        path = _VERSION_PREFIX.sub("", url.path)
        body = self._body() if method == "POST" else None
        fake.bodies.append(body)
        if path == RESTART_PATH and method == "POST":
            fake.restart()
            self._send(200, text="restarted")
        elif fake.start_error is not None:
            self._error(500, fake.start_error)
        elif path == "/_ping":
            self._send(200, text="OK")
        elif path == "/version" and method == "GET":
            self._send(200, self._version())
        elif path == "/info" and method == "GET":
            self._send(200, self._info())
        elif path.startswith("/networks"):
            self._route_networks(method, path, urllib.parse.parse_qs(url.query), body)
        elif path.startswith("/images"):
            self._route_images(method, path)
        elif path.startswith("/containers"):
            self._route_containers(method, path, urllib.parse.parse_qs(url.query), body or {})
        else:
            self._not_found(method, path)

    def _route_networks(self, method: str, path: str, query: dict[str, list[str]], body: t.Any) -> None:
        parts = [urllib.parse.unquote(part) for part in path.split("/") if part]
        if parts == ["networks"] and method == "GET":
            self._send(200, self._list_networks(query))
        elif parts == ["networks", "create"] and method == "POST":
            self._create_network(body or {})
        elif len(parts) in (2, 3) and method in ("GET", "DELETE", "POST"):
            network = self.fake.find(parts[1])
            if network is None:
                self._error(404, f"network {parts[1]} not found")
            elif len(parts) == 3 and parts[2] in ("connect", "disconnect") and method == "POST":
                self._send(200)
            elif len(parts) == 2 and method == "GET":
                self._send(200, network)
            elif len(parts) == 2 and method == "DELETE":
                del self.fake.networks[network["Name"]]
                self._send(204)
            else:
                self._not_found(method, path)
        else:
            self._not_found(method, path)

    def _route_images(self, method: str, path: str) -> None:
        parts = [urllib.parse.unquote(part) for part in path.split("/") if part]
        images = list(self.fake.images.values())
        if parts == ["images", "json"] and method == "GET":  # the caller matches the tag itself
            self._send(200, [{k: image[k] for k in ("Id", "RepoTags", "RepoDigests", "Created", "Size", "Labels")}
                             for image in images])
        elif len(parts) == 3 and parts[2] == "json" and method == "GET":
            found = [image for image in images if parts[1] in (image["Id"], *image["RepoTags"])]
            if found:
                self._send(200, found[0])
            else:
                self._error(404, f"No such image: {parts[1]}")
        else:
            self._not_found(method, path)

    def _route_containers(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, t.Any]) -> None:
        fake = self.fake
        parts = [urllib.parse.unquote(part) for part in path.split("/") if part]
        if parts == ["containers", "json"] and method == "GET":
            self._send(200, [{"Id": c["Id"], "Names": [c["Name"]], "Image": c["Config"]["Image"],
                              "State": "running" if c["State"]["Running"] else "exited"}
                             for c in fake.containers.values()])
        elif parts == ["containers", "create"] and method == "POST":
            self._create_container((query.get("name") or [""])[0], body)
        elif len(parts) in (2, 3) and method in ("GET", "POST", "DELETE"):
            self._container_action(method, path, parts[1], parts[2] if len(parts) == 3 else None,
                                   query=query, body=body)
        else:
            self._not_found(method, path)

    def _container_action(self, method: str, path: str, ref: str, action: str | None, *,
                          query: dict[str, list[str]], body: dict[str, t.Any]) -> None:
        fake = self.fake
        container = fake.find_container(ref)
        if container is None:
            self._error(404, f"No such container: {ref}")
        elif action == "json" and method == "GET":
            self._send(200, container)
        elif action in ("start", "stop", "kill") and method == "POST":
            running = action == "start"
            if container["State"]["Running"] == running:
                self._send(304)
                return
            container["State"].update(Running=running, Status="running" if running else "exited",
                                      Pid=4242 if running else 0)
            self._send(204)
        elif action == "update" and method == "POST":  # the restart policy and resources, in place
            container["HostConfig"].update(body)
            self._send(200, {"Warnings": []})
        elif action == "wait" and method == "POST":
            self._send(200, {"StatusCode": 0})
        elif action is None and method == "DELETE":
            if container["State"]["Running"] and (query.get("force") or ["0"])[0] not in ("1", "true", "True"):
                self._error(409, f"cannot remove container {container['Name']}: container is running")
                return
            del fake.containers[container["Name"][1:]]
            self._send(204)
        else:
            self._not_found(method, path)

    def _create_container(self, name: str, body: dict[str, t.Any]) -> None:
        """The inspect document the engine keeps: Config from the body, HostConfig as given (the engine fills
        in defaults the module compares only when asked)."""
        fake = self.fake
        if fake.find_container(name) is not None:
            self._error(409, f'Conflict. The container name "/{name}" is already in use')
            return
        image = fake.images.get(body.get("Image") or "")
        if image is None:
            self._error(404, f"No such image: {body.get('Image')}")
            return
        host_config = {"NetworkMode": "bridge", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                       "CapAdd": None, "Init": None, **(body.get("HostConfig") or {})}
        config = {"Image": body["Image"], "Cmd": body.get("Cmd") or image["Config"]["Cmd"],
                  "Entrypoint": body.get("Entrypoint"), "Env": body.get("Env") or [],
                  "Labels": {**(image["Config"]["Labels"] or {}), **(body.get("Labels") or {})},
                  **{k: v for k, v in body.items()
                     if k not in ("Image", "Cmd", "Entrypoint", "Env", "Labels", "HostConfig", "NetworkingConfig")}}
        container = {"Id": uuid.uuid4().hex + uuid.uuid4().hex, "Name": f"/{name}", "Image": image["Id"],
                     "Created": "2026-11-30T00:00:00Z", "Path": config["Cmd"][0], "Args": config["Cmd"][1:],
                     "State": {"Status": "created", "Running": False, "Paused": False, "Restarting": False,
                               "Pid": 0, "ExitCode": 0},
                     "Config": config, "HostConfig": host_config,
                     "NetworkSettings": {"Networks": {host_config["NetworkMode"]: {}}}, "Mounts": []}
        fake.containers[name] = container
        self._send(201, {"Id": container["Id"], "Warnings": []})

    def _not_found(self, method: str, path: str) -> None:
        self._error(404, f"page not found (fake Docker API: {method} {path})")

    # -- answers --
    def _version(self) -> dict[str, t.Any]:
        fake = self.fake
        api = api_version_of(fake.version)
        return {"Platform": {"Name": fake.operating_system}, "Version": fake.version, "ApiVersion": api,
                "MinAPIVersion": "1.24", "GitCommit": "fake", "GoVersion": "go1.24", "Os": "linux",
                "Arch": "arm64", "KernelVersion": "6.10.14-linuxkit",
                "Components": [{"Name": "Engine", "Version": fake.version,
                                "Details": {"ApiVersion": api, "MinAPIVersion": "1.24", "Os": "linux"}}]}

    def _info(self) -> dict[str, t.Any]:
        fake = self.fake
        return {"ID": "fake", "Name": "docker-desktop", "ServerVersion": fake.version,
                "OperatingSystem": fake.operating_system, "OSType": "linux", "Architecture": "aarch64",
                "KernelVersion": "6.10.14-linuxkit", "Containers": 0, "ContainersRunning": 0, "Images": 0,
                "Driver": "overlayfs", "DockerRootDir": "/var/lib/docker", "Swarm": {"LocalNodeState": "inactive"},
                "Plugins": {"Network": ["bridge", "host", "ipvlan", "macvlan", "null", "overlay"]}}

    def _list_networks(self, query: dict[str, list[str]]) -> list[dict[str, t.Any]]:
        filters = json.loads(query["filters"][0]) if query.get("filters") else {}
        found = []
        for network in self.fake.networks.values():
            if not all(_matches(network, key, wanted) for key, wanted in filters.items()):
                continue
            found.append(network)
        return found

    def _create_network(self, body: dict[str, t.Any]) -> None:
        fake = self.fake
        name = body.get("Name") or ""
        if fake.find(name) is not None:
            self._error(409, f"network with name {name} already exists")
            return
        configs = (body.get("IPAM") or {}).get("Config") or []
        first = configs[0] if configs else {}
        network = fake.add_network(name, first.get("Subnet", "172.30.0.0/16"), gateway=first.get("Gateway"),
                                   driver=body.get("Driver") or "bridge", options=body.get("Options") or {},
                                   labels=body.get("Labels") or {}, ip_range=first.get("IPRange"))
        self._send(201, {"Id": network["Id"], "Warning": ""})


def _matches(network: dict[str, t.Any], key: str, wanted: t.Any) -> bool:
    """Docker's list filters: ``{"label": {"k=v": true}}`` or ``{"label": ["k=v"]}``, and ``name``."""
    values = list(wanted) if not isinstance(wanted, dict) else [value for value, on in wanted.items() if on]
    if key == "label":
        labels = network["Labels"]
        pairs = [item.partition("=") for item in values]
        return all(labels.get(k) == v if sep else k in labels for k, sep, v in pairs)
    if key == "name":
        return any(value in network["Name"] for value in values)
    return True
