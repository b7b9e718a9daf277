"""Every example comment true: the example inventories (docs/examples/inventory, docs/examples/pull-repo) rendered by
a real ansible-playbook - the real variable precedence, the bridge role's own bridge__strategy - with recorded
bridge_facts results (tests/fixtures/facts, SOURCES.md there) as each host's facts. No task of the roles runs and
nothing connects to a host: the roles are imported with `when: false`, which keeps their variables."""

from __future__ import annotations

import json
import os
import re
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli
from ansible_collections.dockermac.hostbridge.tests.ansible_cli import ROOT

EXAMPLES = Path(ROOT) / "docs" / "examples"
FACTS = Path(ROOT) / "tests" / "fixtures" / "facts"
KINDS = sorted(path.stem for path in FACTS.glob("*.json"))
# The kind of machine each example laptop is, as its group's name and comments say.
HOST_KINDS = {
    "alice-mbp.example.internal": "intel_hyperkit",
    "bob-mbp.example.internal": "intel_hyperkit",
    "carol-mba.example.internal": "apple_silicon_homebrew",
    "dave-mbp.example.internal": "apple_silicon",
    "erin-thinkpad.example.internal": "linux",
}
# What the comments say `auto` picks, phrase by phrase, and the recorded machines each phrase covers.
AUTO_CLAIMS = {
    "tap on Intel Macs running HyperKit": ("tap", ["intel_hyperkit"]),
    "routed on other Macs with Homebrew and Docker Desktop's default socket on": (
        "routed", ["intel_virtualization_framework_homebrew", "apple_silicon_homebrew"]),
    "loopback elsewhere (Linux, Macs without Homebrew or without that socket)": (
        "loopback", ["linux", "apple_silicon", "apple_silicon_homebrew_no_default_socket"]),
}
GETS = re.compile(r"^\s+(?P<host>[\w.-]+):\s+# gets: (?P<strategy>\w+)", re.MULTILINE)
RENDER = [{"hosts": "all", "gather_facts": False, "tasks": [
    {"name": "The roles' variables, none of their tasks", "ansible.builtin.import_role": {
        "name": "dockermac.hostbridge.bridge"}, "when": False},
    {"name": "The loopback role's variables", "ansible.builtin.import_role": {
        "name": "dockermac.hostbridge.loopback"}, "when": False},
    {"name": "Render", "ansible.builtin.debug": {"msg": {
        "strategy": "{{ bridge__strategy }}", "services": "{{ loopback__services | map(attribute='name') }}"}}},
]}]


def facts(kind: str) -> dict[str, t.Any]:
    return json.loads((FACTS / f"{kind}.json").read_text(encoding="utf-8"))


def render(inventory: Path, hosts: dict[str, str], tmp_path: Path) -> dict[str, dict[str, t.Any]]:
    """Each host's strategy and services, rendered from ``inventory`` plus ``hosts`` (host name: its facts kind)
    given their recorded facts as hostbridge_facts - the saved-facts variable the bridge role reads."""
    extra = tmp_path / "facts.json"
    extra.write_text(json.dumps({"all": {"hosts": {host: {"hostbridge_facts": facts(kind)}
                                                   for host, kind in hosts.items()}}}), encoding="utf-8")
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps(RENDER), encoding="utf-8")
    proc = ansible_cli.run([ansible_cli.cli("ansible-playbook"), "-i", str(inventory), "-i", str(extra),
                            str(playbook)], timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    (task,) = [task for play in json.loads(proc.stdout)["plays"] for task in play["tasks"]
               if task["task"]["name"] == "Render"]
    return {host: result["msg"] for host, result in task["hosts"].items()}


def comments(folder: Path) -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.yml")))


def test_recorded_facts_cover_every_kind_named_here() -> None:
    named = set(HOST_KINDS.values()) | {kind for _s, kinds in AUTO_CLAIMS.values() for kind in kinds}
    assert named == set(KINDS)


def test_each_laptop_gets_the_strategy_its_comment_says(tmp_path: Path) -> None:
    inventory = EXAMPLES / "inventory"
    says = {m["host"]: m["strategy"] for m in GETS.finditer((inventory / "hosts.yml").read_text(encoding="utf-8"))}
    assert set(says) == set(HOST_KINDS), "every example laptop has a `# gets: <strategy>` comment"
    rendered = render(inventory, HOST_KINDS, tmp_path)
    assert {host: r["strategy"] for host, r in rendered.items()} == says
    # The Apple Silicon group's comment: `auto` would have picked routed on the Mac with Homebrew.
    assert "`auto` would pick routed where Homebrew is installed" in comments(inventory)
    assert facts(HOST_KINDS["carol-mba.example.internal"])["recommended_strategy"] == "routed"


@pytest.mark.parametrize("example", ["inventory", "pull-repo/inventory"])
def test_what_the_comments_say_auto_picks(tmp_path: Path, example: str) -> None:
    inventory = EXAMPLES / example
    text = " ".join(line.lstrip("# ").strip() for line in comments(inventory).splitlines() if "#" in line)
    # The example's own hosts need facts too (the pull repository's localhost: any laptop).
    hosts = {**HOST_KINDS, "localhost": "linux", **{f"auto-{kind}": kind for kind in KINDS}}
    rendered = render(inventory, hosts, tmp_path)
    for phrase, (strategy, kinds) in AUTO_CLAIMS.items():
        assert phrase in text, f"{example}: the comment on bridge_strategy: auto no longer says {phrase!r}"
        for kind in kinds:
            assert rendered[f"auto-{kind}"]["strategy"] == strategy, (example, phrase, kind)


def test_a_host_adds_and_drops_services_on_top_of_the_team_list(tmp_path: Path) -> None:
    rendered = render(EXAMPLES / "inventory", HOST_KINDS, tmp_path)
    team = ["nginx.test", "api.test", "db.test"]
    assert rendered["alice-mbp.example.internal"]["services"] == team
    # host_vars/bob-mbp: "works on one more service and does not run the team's database"
    assert rendered["bob-mbp.example.internal"]["services"] == ["nginx.test", "api.test", "grafana.test"]


def test_the_readme_table_says_what_auto_picks() -> None:
    readme = (Path(ROOT) / "README.md").read_text(encoding="utf-8")
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", readme, re.MULTILINE)}
    assert rows["tap"].strip() == "Intel Macs whose Docker Desktop runs on HyperKit"
    assert rows["routed"].strip().startswith("other Macs with Docker Desktop and Homebrew")
    assert os.path.exists(FACTS / "SOURCES.md")
