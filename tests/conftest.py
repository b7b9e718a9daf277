"""Make ``ansible_collections.dockermac.hostbridge`` importable when pytest runs from a plain checkout.

ansible-test runs the unit tests from a real ``ansible_collections/dockermac/hostbridge`` tree; a
developer's checkout can live anywhere, so point a symlink tree at it (under .tmp/, git-ignored).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


if not _importable("ansible_collections.dockermac.hostbridge"):  # ansible-test already provides it
    _tree = os.path.join(_ROOT, ".tmp", "collections")
    _link = os.path.join(_tree, "ansible_collections", "dockermac", "hostbridge")
    if not os.path.islink(_link):
        os.makedirs(os.path.dirname(_link), exist_ok=True)
        # pytest-xdist's workers start together: another one may have made it meanwhile.
        with contextlib.suppress(FileExistsError):
            os.symlink(_ROOT, _link)
    sys.path.insert(0, _tree)
    # The dependency collections unpacked by tools/bootstrap (community.docker, ...).
    sys.path.insert(1, os.path.join(_ROOT, ".cache", "collections"))


# --- markers: skip with the reason where a test cannot run; in CI a skip is a failure -------------------
_NO_SKIP = os.environ.get("HOSTBRIDGE_NO_SKIP") == "1"


def _docker_missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker engine answers (run `make bootstrap` as root)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too: ansible-test runs pytest with its own configuration and --strict-markers.
    config.addinivalue_line("markers", "root: needs root (network namespaces, TAP devices, chown)")
    config.addinivalue_line("markers", "docker: needs a Docker engine and the local base image")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    docker_reason: list[str | None] = []
    for item in items:
        if item.get_closest_marker("root") and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="needs root (network namespaces, TAP devices, chown)"))
        if item.get_closest_marker("docker"):
            if not docker_reason:
                docker_reason.append(_docker_missing())
            if docker_reason[0]:
                item.add_marker(pytest.mark.skip(reason=docker_reason[0]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    # `make test` sets HOSTBRIDGE_NO_SKIP=1: every test must really run there, and pass - an expected failure
    # (strict or not) or an unexpected pass is not a test that ran.
    if _NO_SKIP and (report.skipped or hasattr(report, "wasxfail")):
        kind = "an expected failure" if hasattr(report, "wasxfail") else "skipped"
        if hasattr(report, "wasxfail"):
            del report.wasxfail  # else reporters (JUnit, the summary) still count it as xfailed/xpassed
        report.outcome = "failed"
        report.longrepr = f"{kind}, but HOSTBRIDGE_NO_SKIP=1 requires every test to run: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    outcome = yield
    report = outcome.get_result()
    # A skip at collection time (pytest.skip(allow_module_level=True), importorskip) drops a whole module.
    if _NO_SKIP and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped at collection, but HOSTBRIDGE_NO_SKIP=1 requires every test to run: " \
                          f"{report.longrepr}"


_DESELECTED: list[str] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _DESELECTED.extend(item.nodeid for item in items)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # -k/-m leave tests out without a trace in the results: under HOSTBRIDGE_NO_SKIP=1 that fails the run.
    if _NO_SKIP and _DESELECTED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"HOSTBRIDGE_NO_SKIP=1: {len(_DESELECTED)} test(s) deselected, the first: "
                                f"{_DESELECTED[0]}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
