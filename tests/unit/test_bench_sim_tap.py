"""The bench's sim-tap section without a simulated Mac: how a measured run's remote calls are counted (and a run
that makes more than bridge_facts fails the section), the verdicts and time split bench/table.py renders, and how
it keeps one generated part per section in docs/performance.md (``make lint`` runs ``--check`` on it)."""

from __future__ import annotations

import importlib.util
import sys
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

BENCH = Path(__file__).resolve().parents[2] / "bench"
FACTS = "dockermac.hostbridge.bridge_facts"


@pytest.fixture(scope="module")
def table() -> t.Any:
    spec = importlib.util.spec_from_file_location("hostbridge_bench_table", BENCH / "table.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sim_tap(monkeypatch: pytest.MonkeyPatch) -> t.Any:
    """bench/sim_tap.py as run.py imports it (the bench's folder on the path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    for name in ("sim_tap", "table", "cases", "harness", "restart_to_http", "hosts_file"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("sim_tap")


def task(name: str, action: str, seconds: float, *, skipped: bool = False) -> dict[str, t.Any]:
    """One task of an ansible.posix.json output."""
    return {"task": {"name": name, "duration": {"start": "2026-11-30T07:00:00.000000Z",
                                                "end": f"2026-11-30T07:00:{seconds:09.6f}Z"}},
            "hosts": {"localhost": {"action": action, "changed": False, **({"skipped": True} if skipped else {})}}}


def output(*tasks: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"plays": [{"tasks": list(tasks)}], "stats": {"localhost": {"changed": 0}}}


RERUN = output(task("Validate", "ansible.builtin.validate_argument_spec", 0.1),
               task("Facts", FACTS, 0.5),
               task("Plan", "ansible.builtin.set_fact", 0.1),
               task("Apply tap", "ansible.builtin.include_role", 0.2, skipped=True),
               task("Restart", "ansible.builtin.command", 0.1, skipped=True))


def test_remote_actions_count_only_modules_that_ran() -> None:
    """Skipped tasks and controller-only actions (qualified or not) are no remote call."""
    results = ansible_cli.task_results(RERUN, "localhost")
    assert [r["action"] for r in results] == [
        "ansible.builtin.validate_argument_spec", FACTS, "ansible.builtin.set_fact", "ansible.builtin.include_role",
        "ansible.builtin.command"]
    assert ansible_cli.remote_actions(results) == [FACTS]
    assert ansible_cli.remote_actions([{"action": "set_fact"}, {"action": "community.docker.docker_network"}]) == [
        "community.docker.docker_network"]


def test_a_rerun_with_a_second_remote_call_fails_the_section(sim_tap: t.Any) -> None:
    assert sim_tap.check_run(RERUN, "{}", remote=[FACTS]) == [FACTS]
    drifted = output(*RERUN["plays"][0]["tasks"], task("Network", "community.docker.docker_network", 0.3))
    with pytest.raises(RuntimeError, match="exactly the remote calls"):
        sim_tap.check_run(drifted, "{}", remote=[FACTS])
    assert sim_tap.check_run(drifted, "{}", remote=None) == [FACTS, "community.docker.docker_network"]
    with pytest.raises(RuntimeError, match="deprecation"):
        sim_tap.check_run(RERUN, '{"deprecations": [{"msg": "x"}]}', remote=[FACTS])


def results(floor_walls: list[float], walls: list[float], remote: list[list[str]]) -> dict[str, t.Any]:
    tasks = [[{"name": "Facts", "action": FACTS, "skipped": False, "seconds": 0.5},
              {"name": "Plan", "action": "ansible.builtin.set_fact", "skipped": False, "seconds": 0.1},
              {"name": "Apply", "action": "ansible.builtin.include_role", "skipped": True, "seconds": 0.2}]
             for _wall in walls]
    floor_tasks = [[{"name": "Ping", "action": "ansible.builtin.ping", "skipped": False, "seconds": 0.3}]
                   for _wall in floor_walls]
    return {
        "machine": {"nproc": 2, "cpu": "CPU", "memory_gib": 1, "kernel": "6", "python": "3.12", "ansible_core": "2.21",
                    "docker": "20", "load_before": (1, 1, 1)},
        "sim_tap": {"rounds": len(walls), "remote": remote, "tasks": tasks, "floor_tasks": floor_tasks,
                    "load_before": (2.5, 2, 2), "load_after": (3.5, 3, 3)},
        "cases": {"sim-tap: floor (ping)": {"wall": floor_walls, "ctrl_cpu": [1.0] * len(floor_walls)},
                  "sim-tap: collection (tap, no change)": {"wall": walls, "ctrl_cpu": [1.2] * len(walls)}},
    }


def verdicts(text: str) -> dict[str, str]:
    rows = [line.split(" | ") for line in text.splitlines() if line.endswith(("| met |", "| MISSED |"))]
    return {row[0].lstrip("| "): row[2].rstrip(" |") for row in rows}


def test_the_ratio_to_the_floor_is_judged_against_one_and_a_half(table: t.Any) -> None:
    one_call = [[FACTS]] * 3
    met = table.render_sim_tap(results([2.0, 2.0, 9.0], [3.0, 2.9, 3.1], one_call))
    assert "| 1.50 | 1.20 |" in met  # median wall 3.0 / 2.0, controller CPU 1.2 / 1.0
    assert set(verdicts(met).values()) == {"met"}, met
    missed = table.render_sim_tap(results([2.0, 2.0, 2.0], [3.1, 3.1, 3.1], one_call))
    assert verdicts(missed)["no-change re-run <= 1.5x the floor (one `ping`, same connection)"] == "MISSED"
    assert "load average (1 min) 2.50 before and 3.50 after" in missed


def test_a_run_with_more_than_bridge_facts_is_a_missed_target(table: t.Any) -> None:
    text = table.render_sim_tap(results([2.0], [2.0, 2.0], [[FACTS], [FACTS, "community.docker.docker_network"]]))
    assert verdicts(text)["one remote module execution per no-change re-run (`bridge_facts`)"] == "MISSED"
    assert "| 1 of 2 runs |" in text


def test_the_time_split_adds_up_to_the_wall(table: t.Any) -> None:
    data = results([1.0], [2.0, 2.0], [[FACTS]] * 2)
    rows = {name: (mine, theirs) for name, mine, theirs in table.time_split(data)}
    assert rows == {"outside the tasks (start-up, end)": ("1.20", "0.70"),
                    "the remote module's task (`bridge_facts` / `ping`)": ("0.50", "0.30"),
                    "the other 1 tasks run (controller-only)": ("0.10", "-"), "the 1 skipped tasks": ("0.20", "-"),
                    "wall": ("2.00", "1.00")}
    data["sim_tap"]["module_alone"] = {"python -c pass": [0.1, 0.3], "ping": [0.2], "bridge_facts": [0.4]}
    rows = {name: (mine, theirs) for name, mine, theirs in table.time_split(data)}
    assert rows["of which the module alone (its AnsiballZ file run again, as the task ran it)"] == ("0.40", "0.20")
    assert rows["of which the target Python's start-up (`python -c pass`, same prefix)"] == ("0.20", "0.20")


DOC = """# Performance
<!-- bench/table.py: generated from performance/ssh.json; do not edit -->
old ssh table
<!-- bench/table.py: end -->
between
<!-- bench/table.py: sim-tap generated from performance/tap-old.json; do not edit -->
old sim-tap table
<!-- bench/table.py: end -->
after
"""


def test_each_section_is_rendered_from_the_json_its_marker_names(
        table: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table, "RENDERERS", {"ssh": lambda r: f"SSH {r['name']}",
                                             "sim-tap": lambda r: f"TAP {r['name']}"})
    loaded: list[str] = []

    def load(source: str) -> dict[str, str]:
        loaded.append(source)
        return {"name": source}

    new = table.regenerate(DOC, load, {"sim-tap": "performance/tap-new.json"})
    assert new == DOC.replace("old ssh table", "SSH performance/ssh.json").replace(
        "sim-tap generated from performance/tap-old.json", "sim-tap generated from performance/tap-new.json").replace(
        "old sim-tap table", "TAP performance/tap-new.json")
    assert loaded == ["performance/ssh.json", "performance/tap-new.json"]
    assert table.regenerate(new, load) == new  # what --check compares: nothing to change
    with pytest.raises(SystemExit, match="no generated part for"):
        table.regenerate(DOC.replace("sim-tap generated", "ssh generated"), load, {"sim-tap": "x.json"})
    with pytest.raises(SystemExit, match="without"):
        table.regenerate(DOC.rsplit("<!-- bench/table.py: end -->", 1)[0], load)


def test_the_sections_of_a_run(table: t.Any) -> None:
    assert table.sections(results([1.0], [1.0], [[FACTS]])) == ["sim-tap"]
    assert table.sections({"cases": {"ssh: floor (ping)": {}}}) == ["ssh"]
