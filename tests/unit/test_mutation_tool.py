"""tools/mutation.py without cosmic-ray: which mutants it never runs (annotations), how it counts and scores, and
that `check` (in `make lint`) names an unexplained survivor and an explanation of none."""

from __future__ import annotations

import importlib.util
import json
import typing as t
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "mutation.py"


@pytest.fixture(scope="module")
def mutation() -> t.Any:
    spec = importlib.util.spec_from_file_location("mutation_tool", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = '''from __future__ import annotations
def f(a: int | None, *, b: str = "x") -> list[int]:
    x: dict[str, int] = {}
    return [a | 1]
'''


def test_the_annotations_and_nothing_else_are_never_mutated(mutation: t.Any) -> None:
    spans = mutation.annotation_spans(SOURCE)
    lines = SOURCE.splitlines()
    texts = sorted(lines[start[0] - 1][start[1]:end[1]] for start, end in spans)
    assert texts == ["dict[str, int]", "int | None", "list[int]", "str"]
    code_or = (4, lines[3].index("|"))  # `a | 1` is code: its mutants run
    assert not any(start <= code_or < end for start, end in spans)


def test_without_the_future_import_annotations_are_mutated_too(mutation: t.Any) -> None:
    """Evaluated at definition time then: a mutant there is not equivalent."""
    assert mutation.annotation_spans(SOURCE.replace("from __future__ import annotations\n", "")) == []


def mutant(outcome: str, mutated: str = "") -> dict[str, t.Any]:
    return {"line": 1, "column": 0, "operator": "AddNot", "occurrence": 0, "function": "f", "outcome": outcome,
            "original": "x", "mutated": mutated}


RAW = {"file": "plugins/module_utils/_x.py", "date": "2026-11-30", "tool": "cosmic-ray 8.7.0", "mutants": [
    mutant("skipped: annotation"), mutant("skipped: annotation"), mutant("killed"), mutant("killed"),
    mutant("killed"), mutant("timeout"), mutant("survived", "not x"), mutant("survived", "y")]}
WHY = {("_x.py", "f", "AddNot", "not x"): "Equivalent: ...", ("_x.py", "f", "AddNot", "gone"): "Equivalent: ..."}


def test_the_score_counts_a_timeout_as_caught_and_leaves_out_what_did_not_run(mutation: t.Any) -> None:
    row = mutation.table([RAW], WHY).splitlines()[2]
    assert row == ("| `_x.py` | 8 | 2 | 3 | 1 | 2 | 66.7 % | no system pass | - | 2 | 1 | 2026-11-30 "
                   "| cosmic-ray 8.7.0 |")


def with_system(*outcomes: str | None) -> dict[str, t.Any]:
    """RAW after a system pass that gave its survivors these outcomes (None: not run yet)."""
    left = [dict(mutant("survived", f"m{i}"), line=i, **({"system": o} if o else {})) for i, o in enumerate(outcomes)]
    return dict(RAW, system_date="2026-12-01", system_test_command="pytest tests/system/x.py",
                mutants=[m for m in RAW["mutants"] if m["outcome"] != "survived"] + left)


def test_a_survivor_the_system_tests_kill_counts_as_caught_and_needs_no_reason(mutation: t.Any) -> None:
    raw = with_system("killed", "timeout", "survived")
    assert [m["mutated"] for m in mutation.survivors(raw)] == ["m2"]
    row = mutation.table([raw], {("_x.py", "f", "AddNot", "m2"): "Equivalent: ..."}).splitlines()[2]
    # unit: 4 caught of 7 run; with the system pass 6 of 7; one left, explained
    assert row == ("| `_x.py` | 9 | 2 | 3 | 1 | 3 | 57.1 % | 2 of 3 | 85.7 % | 1 | 1 "
                   "| 2026-11-30, system 2026-12-01 | cosmic-ray 8.7.0 |")
    assert mutation.problems([raw], {}) == [
        f"survivor not explained in {mutation.EXPLAINED}: ('_x.py', 'f', 'AddNot', 'm2')"]


def test_an_interrupted_system_pass_says_partial_and_runs_the_rest_next_time(mutation: t.Any) -> None:
    raw = with_system("killed", None, "survived")
    assert "| 1 of 2 (partial: 1 not run yet) | 71.4 % |" in mutation.table([raw], {}).splitlines()[2]
    assert mutation.pending_system(raw) == {(1, 0, "AddNot", 0)}  # the next pass goes on where this one stopped
    # run again after system tests were added: the survivors too, never one already killed
    assert mutation.pending_system(raw, again=True) == {(1, 0, "AddNot", 0), (2, 0, "AddNot", 0)}


def test_a_unit_rerun_keeps_the_system_results_of_the_same_source_only(
        mutation: t.Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "RAW", str(tmp_path))
    last = dict(with_system("killed", "survived", "survived"), source_sha256="abc")
    (tmp_path / "_x.json").write_text(json.dumps(last), encoding="utf-8")
    again = dict(with_system(None, None, None), source_sha256="abc")
    again["mutants"][-3]["outcome"] = "killed"  # a new unit test killed m0 this time
    del again["system_date"], again["system_test_command"]
    mutation.keep_system(again)
    assert [m.get("system") for m in again["mutants"][-3:]] == [None, "survived", "survived"]
    assert again["system_date"] == "2026-12-01"
    changed = dict(with_system(None), source_sha256="def")
    del changed["system_date"]
    mutation.keep_system(changed)  # another source: its mutants are other mutants
    assert "system_date" not in changed


def test_check_names_an_unexplained_survivor_and_an_explanation_of_none(mutation: t.Any) -> None:
    problems = mutation.problems([RAW], WHY)
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"survivor not explained in {mutation.EXPLAINED}", f"explanation of no survivor in {mutation.EXPLAINED}"]
    assert "'y')" in problems[0]
    assert "'gone')" in problems[1]


def test_a_failure_without_any_test_output_is_an_error_not_a_kill(mutation: t.Any) -> None:
    """The test command broke (seen: .venv re-made during a run, 281 mutants "killed" in a row), not a test."""
    killed = {"worker_outcome": "normal", "test_outcome": "killed"}
    assert mutation.outcome(dict(killed, output="F\n1 failed in 0.1s\n")) == "killed"
    assert mutation.outcome(dict(killed, output="timeout")) == "timeout"
    assert mutation.outcome(dict(killed, output="")) == mutation.outcome(dict(killed, output=None)) == (
        "error: the test command failed without output")
    with pytest.raises(SystemExit, match=r"outcome \['error: the test command failed without output'\]: run it"):
        mutation.table([dict(RAW, mutants=[mutant("killed"), mutant("error: the test command failed without output")])],
                       WHY)


def test_a_mutant_cosmic_ray_cannot_make_is_not_run_and_another_exception_is_an_error(mutation: t.Any) -> None:
    trace = 'File ".../site-packages/cosmic_ray/operators/exception_replacer.py", line 25, in mutate\nAttributeError'
    assert mutation.outcome({"worker_outcome": "exception", "test_outcome": "incompetent", "output": trace}) == (
        "skipped: cosmic-ray cannot make it")
    assert mutation.outcome({"worker_outcome": "exception", "test_outcome": "incompetent",
                             "output": "FileNotFoundError: pytest"}) == "error: exception"


def test_a_file_changed_since_its_run_is_a_warning(mutation: t.Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "ROOT", str(tmp_path))
    (tmp_path / "plugins" / "module_utils").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils" / "_x.py").write_text("x = 1\n", encoding="utf-8")
    same = dict(RAW, source_sha256=mutation.sha256("x = 1\n"))
    assert mutation.changed_since([same]) == []
    assert mutation.changed_since([dict(RAW, source_sha256=mutation.sha256("x = 2\n"))]) == [
        "warning: plugins/module_utils/_x.py changed since its mutation run: `tools/mutation.py run _x.py`"]
