"""verify across a fleet writes one report on the controller (verify_report_dir): Markdown and HTML, each host with
its strategy, each check and the fix; and ARA records the same run (docs/fleet.md). Three inventory hosts, all run
by a real ansible-playbook in a network namespace of the test's own: one bridged (OK), one not (its checks fail),
one whose Python is missing (no result)."""

from __future__ import annotations

import html.parser
import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT
from ansible_collections.dockermac.hostbridge.tests.system.playbook import PLAYBOOK_BIN, new_netns

pytestmark = pytest.mark.root

SERVICES = {"good": {"name": "good.report.test", "ip": "198.51.100.71"},
            "broken": {"name": "broken.report.test", "ip": "198.51.100.72"}}


def inventory(tmp: Path) -> Path:
    hosts: dict[str, dict[str, t.Any]] = {}
    for host, service in SERVICES.items():
        path = tmp / f"hosts-{host}"
        path.write_text("127.0.0.1\tlocalhost\n", encoding="utf-8")
        hosts[host] = {"ansible_python_interpreter": sys.executable, "loopback_services": [service],
                       "loopback_hosts_path": str(path)}
    hosts["gone"] = {"ansible_python_interpreter": str(tmp / "no-python")}
    data = {"laptops": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "bridge_strategy": "loopback", "loopback_persistent": False,
        "loopback_flush_cache": False, "loopback_hosts_path": str(tmp / "hosts-gone")}}}
    path = tmp / "inventory.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


class Cells(html.parser.HTMLParser):
    """The text of every table cell, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def verify_fleet(tmp: Path, report: Path, *, bin_dir: str | None = None, **env: str) -> None:
    """bridge.yml on `good`, then verify.yml on the three hosts writing the report into ``report``."""
    path = inventory(tmp)
    playbook_bin = os.path.join(bin_dir, "ansible-playbook") if bin_dir else PLAYBOOK_BIN
    with new_netns("report") as netns:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)

        def playbook(*argv: str) -> subprocess.CompletedProcess[str]:
            return ansible_cli.run(["ip", "netns", "exec", netns, playbook_bin, "-i", str(path), *argv],
                                   env=ansible_cli.ansible_env(**env), timeout=180)

        bridged = playbook("dockermac.hostbridge.bridge", "-l", "good")
        assert bridged.returncode == 0, bridged.stdout[-3000:]
        proc = playbook("dockermac.hostbridge.verify", "-e", f"verify_report_dir={report}")
    # `broken` fails its checks and `gone` its first task: the run fails, the report is there all the same.
    assert proc.returncode == 2, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_one_report_of_every_host(tmp_path: Path) -> None:
    report = tmp_path / "report"
    verify_fleet(tmp_path, report)
    markdown = (report / "verify-report.md").read_text(encoding="utf-8")
    lines = markdown.splitlines()
    assert "3 host(s): 1 OK, 1 with failed checks, 1 without a result" in markdown
    assert "| good | loopback | OK |" in lines
    assert "| broken | loopback | FAILED (2 check(s)) |" in lines
    assert "| gone | - | no result |" in lines
    assert "## broken: FAILED, strategy loopback" in lines
    failed = [line for line in lines if line.startswith("| failed |")]
    assert len(failed) == 2
    assert failed[0].startswith("| failed | alias 198.51.100.72/32 (broken.report.test) is missing on lo | "
                                "ip addr show dev lo")
    assert failed[1].startswith("| failed | the hosts block dockermac.hostbridge is missing in ")
    assert "| passed | 1 alias(es) on lo |  |" in lines

    cells = Cells()
    cells.feed((report / "verify-report.html").read_text(encoding="utf-8"))
    rows = [row for row in cells.rows if row]
    assert ["good", "loopback", "OK"] in rows
    assert ["broken", "loopback", "FAILED (2 check(s))"] in rows
    assert ["gone", "-", "no result"] in rows
    fixes = [row for row in rows if row[0] == "failed"]
    assert len(fixes) == 2
    assert all(row[2] for row in fixes), fixes  # every failed check has its fix


ARA_BIN = os.path.join(ROOT, ".venv-ara", "bin")


@pytest.mark.skipif(not os.path.exists(os.path.join(ARA_BIN, "ara")),
                    reason="no .venv-ara (requirements/ara.txt): run tools/bootstrap")
def test_ara_records_the_fleet_run(tmp_path: Path) -> None:
    """ARA's callback (its offline client, a SQLite database in ARA_BASE_DIR) records both runs; `ara` lists them."""
    callbacks = subprocess.run([os.path.join(ARA_BIN, "python"), "-m", "ara.setup.callback_plugins"], check=True,
                               capture_output=True, text=True).stdout.strip()
    ara = {"ARA_BASE_DIR": str(tmp_path / "ara"), "ARA_API_CLIENT": "offline"}
    verify_fleet(tmp_path, tmp_path / "report", bin_dir=ARA_BIN, ANSIBLE_CALLBACK_PLUGINS=callbacks,
                 ANSIBLE_CALLBACKS_ENABLED="ara_default", **ara)
    assert (tmp_path / "report" / "verify-report.md").exists()

    def listing(*argv: str) -> list[dict[str, t.Any]]:
        proc = subprocess.run([os.path.join(ARA_BIN, "ara"), *argv, "-f", "json"], capture_output=True, text=True,
                              check=True, env={**os.environ, **ara})
        return json.loads(proc.stdout)

    playbooks = sorted(listing("playbook", "list"), key=lambda p: p["id"])
    assert [(p["path"].rsplit("/", 1)[-1], p["status"]) for p in playbooks] == [
        ("bridge.yml", "completed"), ("verify.yml", "failed")]
    verify_id = str(playbooks[1]["id"])
    hosts = {h["name"]: h for h in listing("host", "list", "--playbook", verify_id)}
    assert set(hosts) == {"good", "broken", "gone", "localhost"}  # localhost: the report, delegated to it
    assert (hosts["good"]["failed"], hosts["broken"]["failed"], hosts["gone"]["failed"]) == (0, 1, 1)
    failed = listing("result", "list", "--playbook", verify_id, "--status", "failed")
    assert {r["host"] for r in failed} == {hosts["broken"]["id"], hosts["gone"]["id"]}
