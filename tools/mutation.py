"""Mutation testing of plugins/module_utils with cosmic-ray (`make mutation`; docs/development.md "Mutation score").

    tools/mutation.py run [FILE...]   mutate each file (default: all of TARGETS) in a copy of this checkout, run
                                      its own unit tests against every mutant, write docs/mutation/<file>.json,
                                      then report; --survivors re-tests only the last run's survivors, --resume
                                      goes on with an interrupted run (and re-tests mutants whose test command failed
                                      without output, counted as errors, not kills), --jobs N runs N files side by side
    tools/mutation.py report          the score table in docs/development.md and the survivors with their reasons
                                      (docs/mutation/README.md), from docs/mutation/*.json and explained.json
    tools/mutation.py check           fail when either is out of date, a survivor has no reason, or a reason no
                                      survivor (`make lint`)

Runs with .venv-mutation's Python (requirements/mutation.txt: cosmic-ray alone); the tests themselves run with
.venv's pytest, `report` and `check` with any Python. Each file is mutated in its own copy of the tree
(.tmp/mutation/<file>/), so this checkout is never changed and files can run side by side. A mutant inside an
annotation is never run: every module has `from __future__ import annotations`, so annotations are never
evaluated and such a mutant is equivalent.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import typing as t
import warnings
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, ".tmp", "mutation")
RAW = os.path.join(ROOT, "docs", "mutation")
DOC = os.path.join(ROOT, "docs", "development.md")
EXPLAINED = os.path.join(RAW, "explained.json")
SURVIVORS = os.path.join(RAW, "README.md")
PYTEST = os.path.join(ROOT, ".venv", "bin", "python") + " -m pytest -x -q -p no:cacheprovider"
UNIT = "tests/unit/plugins/"
# Each file of plugins/module_utils/ and the unit tests that exercise it, fastest first (-x stops at the first
# failure). Run for every mutant, so only these: a full unit run (~22 s) per mutant would take days.
TARGETS: dict[str, list[str]] = {
    "_files.py": [
        "module_utils/test_files.py",
        "module_utils/test_files_mutants.py",
        "modules/test_etc_hosts_entry.py",
        "module_utils/test_hyperkit_faults.py",
    ],
    "_hosts.py": [
        "modules/test_etc_hosts_entry.py",
        "module_utils/test_plan.py",
        "module_utils/test_hosts_mutants.py",
        "module_utils/test_hosts.py",
    ],
    "_validation.py": [
        "module_utils/test_validation.py",
        "module_utils/test_validation_mutants.py",
        "filter/test_validation_plugins.py",
    ],
    "_loopback.py": [
        "module_utils/test_loopback_darwin.py",
        "module_utils/test_loopback_mutants.py",
        "modules/test_lo0_alias.py",
        "module_utils/test_plan.py",
    ],
    "_plan.py": [
        "module_utils/test_plan.py",
        "module_utils/test_plan_mutants.py",
        "modules/test_bridge_facts.py",
        "module_utils/test_plan_docker.py",  # the Docker side, against the fake engine API (~9 s)
        "module_utils/test_plan_routed.py",  # the routed strategy's kinds (Homebrew, daemon.json, the engine)
    ],
    "_hyperkit.py": [
        "module_utils/test_hyperkit.py",
        "module_utils/test_hyperkit_mutants.py",
        "modules/test_hyperkit_shim.py",
        "module_utils/test_hyperkit_faults.py",
    ],
    "_tap.py": [
        "module_utils/test_tap_darwin.py",
        "module_utils/test_tap_mutants.py",
        "modules/test_tap_device.py",
    ],
    "_bootjob.py": [
        "module_utils/test_bootjob.py",
        "module_utils/test_bootjob_mutants.py",
        "modules/test_boot_job.py",
        "module_utils/test_plan.py",
    ],
    "_launchd.py": [
        "module_utils/test_launchd.py",
        "module_utils/test_launchd_mutants.py",
        "module_utils/test_bootjob.py",
        "modules/test_boot_job.py",
        "module_utils/test_loopback_darwin.py",
        "module_utils/test_plan.py",
    ],
    "_systemd.py": [
        "module_utils/test_bootjob.py",
        "module_utils/test_systemd_mutants.py",
        "modules/test_boot_job.py",
        "modules/test_lo0_alias.py",
        "module_utils/test_plan.py",
    ],
    "_trust.py": [
        "module_utils/test_trust.py",
        "module_utils/test_trust_mutants.py",
        "module_utils/test_bootjob.py",
        "module_utils/test_loopback_darwin.py",
        "module_utils/test_facts.py",
    ],
    "_docker_api.py": [
        "module_utils/test_docker_api.py",
        "module_utils/test_docker_api_mutants.py",
        "module_utils/test_plan_docker.py",
        "module_utils/test_plan_routed.py",  # the engine's version (the routed strategy's docker_engine kind)
    ],
    # bridge_facts: _facts.py and what only it uses (the strategy choice, the interface reading, App Management).
    "_facts.py": [
        "module_utils/test_facts.py",
        "module_utils/test_facts_mutants.py",
        "modules/test_bridge_facts.py",
        "module_utils/test_plan.py",
    ],
    "_strategy.py": [
        "module_utils/test_facts.py",
        "module_utils/test_strategy_mutants.py",
        "modules/test_bridge_facts.py",
    ],
    "_netinfo.py": [  # ifconfig (macOS) and `ip -j` (Linux) parsed
        "module_utils/test_tap_darwin.py",
        "module_utils/test_netinfo_mutants.py",
        "module_utils/test_loopback_darwin.py",
        "modules/test_lo0_alias.py",
        "modules/test_tap_device.py",
        "module_utils/test_facts.py",
    ],
    "_app_management.py": [
        "module_utils/test_app_management.py",
        "module_utils/test_app_management_mutants.py",
        "module_utils/test_facts.py",
    ],
}
# The second pass (`run --system`): the system tests (tests/system/: real ansible-playbook runs as root in network
# namespaces, seconds each) that drive each file's code, chosen by reading them, the fastest first; none needs
# Docker (a pass holds no lock for an hour). Run only on the unit run's survivors of that file. Not listed:
# _hyperkit.py and _app_management.py, whose code (Docker.app's bundle on a Mac) no system test reaches. The job
# files (_bootjob, _launchd, _systemd) are reached only by rendering them: no system test installs a boot job
# (a running systemd is hidden from them, so nothing reaches the host's /etc/systemd).
SYSTEM_TESTS = "tests/system/"
JOB_FILES = "test_ansible_pull.py::test_job_files_carry_the_exact_command"
SYSTEM: dict[str, list[str]] = {
    "_files.py": [
        "test_without_root.py::test_etc_hosts_entry_says_to_use_become",
        "test_without_root.py::test_a_hosts_file_in_a_directory_of_the_users_own_needs_no_become",
        "test_services_merge.py",
    ],
    "_hosts.py": ["test_without_root.py::test_etc_hosts_entry_says_to_use_become", "test_services_merge.py"],
    "_loopback.py": ["test_lo0_alias_linux.py"],
    "_tap.py": [  # the tests that create a device, change its owner (in place, in use), and meet a TUN or veth
        "test_tap_device_linux.py::test_create_check_mode_then_real_then_idempotent_and_only_the_owner_attaches",
        "test_tap_device_linux.py::test_owner_change_in_place_keeps_ifindex_address_and_route",
        "test_tap_device_linux.py::test_owner_change_of_a_device_in_use_fails_clearly_and_changes_nothing",
        "test_tap_device_linux.py::test_veth_or_tun_named_tap_is_refused_untouched",
    ],
    "_validation.py": [
        "test_lo0_alias_linux.py::test_unknown_interface_and_bad_input_fail_and_change_nothing",
        "test_tap_device_linux.py::test_unknown_owner_and_bad_input_are_refused_with_nothing_changed",
    ],
    "_plan.py": ["test_saved_facts.py", "test_bridge_plan.py::test_rerun_in_step_makes_one_remote_call"],
    "_bootjob.py": [JOB_FILES],
    "_launchd.py": [JOB_FILES],
    "_systemd.py": [JOB_FILES],
    "_trust.py": ["test_ansible_pull.py::test_pull_role_refuses_a_python_or_checkout_the_user_can_change"],
    "_facts.py": [  # the plan gets the facts' console user and Docker socket: a re-run in step is one call
        "test_saved_facts.py",
        "test_bridge_plan.py::test_rerun_in_step_makes_one_remote_call",
        "test_bridge_plan.py::test_rerun_in_step_with_the_docker_side_makes_one_remote_call",
    ],
    "_strategy.py": ["test_example_inventories.py", "test_saved_facts.py"],
    "_netinfo.py": ["test_tap_device_linux.py::test_existing_device_gets_address_link_and_prefix_correction",
                    "test_saved_facts.py"],
    "_docker_api.py": [
        "test_bridge_plan.py::test_rerun_in_step_with_the_docker_side_makes_one_remote_call",
        "test_routed_role.py::test_daemon_option_refused_before_engine_28_2",
    ],
}
UNIT_TIMEOUT = 60.0
SYSTEM_TIMEOUT = 600.0
CAUGHT = ("killed", "timeout")
BROKEN = "the test command failed without output"
# The reason recorded for a mutant cosmic-ray's own operator fails to make (nothing was tested).
UNMAKEABLE = "cosmic-ray cannot make it"
BEGIN = "<!-- mutation table: generated by tools/mutation.py report from docs/mutation/*.json -->"
END = "<!-- end of mutation table -->"


def tests_of(name: str) -> list[str]:
    """The test files of ``name`` that exist (a *_mutants.py file is added only where survivors needed one)."""
    return [UNIT + path for path in TARGETS[name] if os.path.isfile(os.path.join(ROOT, UNIT + path))]


def copy_tree(dest: str) -> None:
    """This checkout as it is now (tracked and new files, not ignored ones), plus links to the venvs."""
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue  # deleted in the work tree
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)
    for link in (".venv", ".cache"):
        os.symlink(os.path.join(ROOT, link), os.path.join(dest, link))


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions, 1-based lines and 0-based columns, of every annotation in ``source``."""
    if "from __future__ import annotations" not in source:
        return []
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
            found = [a.annotation for a in every] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            found = [node.annotation]
        for expr in filter(None, found):
            spans.append(((expr.lineno, expr.col_offset), (expr.end_lineno or 0, expr.end_col_offset or 0)))
    return spans


def mark_skipped(session: str, skip: t.Callable[[t.Any], bool], why: str) -> int:
    """Record every mutant of ``session`` for which ``skip(its mutation spec)`` holds as skipped: never run."""
    from cosmic_ray.work_db import use_db  # noqa: PLC0415 - only .venv-mutation has it
    from cosmic_ray.work_item import WorkerOutcome, WorkResult  # noqa: PLC0415

    skipped = 0
    with use_db(session) as db:
        for item in db.work_items:
            if skip(item.mutations[0]):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=why))
                skipped += 1
    return skipped


def skip_annotations(session: str, source: str) -> int:
    spans = annotation_spans(source)
    return mark_skipped(session, lambda spec: any(low <= tuple(spec.start_pos) < high for low, high in spans),
                        "annotation")


def skip_uncompilable(session: str, source: str) -> int:
    """Mark the mutants that are not Python as skipped: e.g. the `*` of keyword-only parameters made `* ^`. Their
    test run fails before any test (at import, on stderr, which cosmic-ray does not keep), so it would count as an
    error, not as a test catching anything. So are the mutants cosmic-ray cannot make at all: its ExceptionReplacer
    fails on a dotted name in an `except` tuple (`http.client.HTTPException`: an AttributeError in its parso
    visitor, cosmic-ray 8.7.0), and its worker would fail on them the same way."""
    from cosmic_ray.mutating import mutate_code  # noqa: PLC0415 - only .venv-mutation has it
    from cosmic_ray.plugins import get_operator  # noqa: PLC0415

    made: dict[tuple[str, int, str], str | None] = {}

    def mutant(spec: t.Any) -> str | None:
        """The mutated source (None: cosmic-ray cannot make this mutant)."""
        key = (spec.operator_name, spec.occurrence, repr(spec.operator_args))
        if key not in made:
            operator = get_operator(spec.operator_name)(**(spec.operator_args or {}))
            try:
                made[key] = mutate_code(source, operator, spec.occurrence) or source
            except AttributeError:
                made[key] = None
        return made[key]

    def broken(spec: t.Any) -> bool:
        mutated = mutant(spec)
        if mutated is None:
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)  # `is "..."`: a mutant, not this tool's concern
                compile(mutated, "mutant", "exec")
        except SyntaxError:
            return True
        return False

    return (mark_skipped(session, lambda spec: mutant(spec) is None, UNMAKEABLE)
            + mark_skipped(session, broken, "not Python"))


def cosmic_ray(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # the pytest plugins of .venv: ~0.6 s per run
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "cosmic-ray"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=True,
    )


def version() -> str:
    from importlib.metadata import version as of  # noqa: PLC0415

    return f"cosmic-ray {of('cosmic-ray')}"


def _execute(session: str, sql: str) -> None:
    """One statement on cosmic-ray's session database, in a transaction of its own."""
    db = sqlite3.connect(session)
    try:
        with db:
            db.execute(sql)
    finally:
        db.close()


def prepare(name: str, part: str, command: str, timeout: float) -> tuple[str, str, str]:
    """A fresh copy of this checkout in .tmp/mutation/<file>/<part>/, the source of ``name`` there, and cosmic-ray's
    config (``command`` for every mutant); fails when ``command`` fails before any mutation."""
    tree = os.path.join(WORK, name.removesuffix(".py"), part)
    copy_tree(tree)
    module = f"plugins/module_utils/{name}"
    with open(os.path.join(tree, module), encoding="utf-8") as handle:
        source = handle.read()
    baseline = subprocess.run(
        command.split(), cwd=tree, capture_output=True, text=True, check=False,
        env=dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"),
    )
    if baseline.returncode != 0:
        raise SystemExit(f"{name}: the tests fail before any mutation:\n{baseline.stdout[-3000:]}")
    config = os.path.join(tree, ".tmp", "cosmic-ray.toml")
    os.makedirs(os.path.dirname(config), exist_ok=True)
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(
            f'[cosmic-ray]\nmodule-path = "{module}"\ntimeout = {timeout}\nexcluded-modules = []\n'
            f"test-command = {json.dumps(command)}\n\n[cosmic-ray.distributor]\nname = \"local\"\n"
        )
    return tree, source, config


def raw_path(name: str) -> str:
    return os.path.join(RAW, name.removesuffix(".py") + ".json")


def sha256(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def run(name: str, *, survivors_only: bool = False, resume: bool = False) -> str:
    """Mutate ``name`` and test every mutant; with ``survivors_only``, re-test only the mutants that survived the
    last run (its session kept in .tmp/mutation/), e.g. after adding tests: tests only ever added cannot let a
    killed mutant live, so that gives the same result as a full run, in a fraction of the time. ``resume``: go on
    with an interrupted run's session (its mutants not yet tested)."""
    session = os.path.join(WORK, name.removesuffix(".py"), "session.sqlite")
    command = f"{PYTEST} {' '.join(tests_of(name))}"
    tree, source, config = prepare(name, "tree", command, UNIT_TIMEOUT)
    today = datetime.date.today().isoformat()
    dates: tuple[str, str | None] = (today, None)
    if survivors_only:
        with open(raw_path(name), encoding="utf-8") as handle:
            last = json.load(handle)
        if last["source_sha256"] != sha256(source) or not os.path.exists(session):
            raise SystemExit(f"{name}: changed since its last run (or that run's session is gone): run it whole")
        _execute(session, "DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
        dates = (last["date"], today)
    elif resume and os.path.exists(session):
        _execute(session, "DELETE FROM work_results WHERE test_outcome = 'KILLED' AND COALESCE(output, '') = ''")
        skip_uncompilable(session, source)
    else:
        if os.path.exists(session):
            os.unlink(session)
        cosmic_ray("init", config, session, cwd=tree)
        skip_annotations(session, source)
        skip_uncompilable(session, source)
    cosmic_ray("exec", config, session, cwd=tree)
    dumped = cosmic_ray("dump", session, cwd=tree).stdout
    write_raw(name, command, source, dumped, dates=dates)
    return name


def ident(line: int, column: int, operator: str, occurrence: int) -> tuple[int, int, str, int]:
    """One mutant of a file, the same in every cosmic-ray session of the same source."""
    return (line, column, operator.removeprefix("core/"), occurrence)


def pending_system(raw: dict[str, t.Any], *, again: bool = False) -> set[tuple[int, int, str, int]]:
    """The unit run's survivors the system pass has not run yet (an interrupted pass goes on where it stopped);
    ``again``: also those the system tests did not kill (after system tests were added or strengthened)."""
    return {ident(m["line"], m["column"], m["operator"], m["occurrence"]) for m in raw["mutants"]
            if m["outcome"] == "survived" and (m.get("system") is None or (again and m["system"] == "survived"))}


def run_system(name: str, *, resume: bool = False, again: bool = False) -> str:
    """The second pass: each survivor of the unit run of ``name`` (docs/mutation/<file>.json, same source) against
    the system tests of SYSTEM[name]; every other mutant is marked skipped before cosmic-ray runs, so only those
    run (a full system run per mutant would take weeks). Only survivors not run yet, or with ``again`` also the
    ones that survived the system tests last time.
    Results go into the same raw file (``system`` of each survivor), interrupted or not; ``resume``: go on with an
    interrupted pass's session."""
    with open(raw_path(name), encoding="utf-8") as handle:
        raw = json.load(handle)
    command = f"{PYTEST} {' '.join(SYSTEM_TESTS + test for test in SYSTEM[name])}"
    tree, source, config = prepare(name, "system-tree", command, SYSTEM_TIMEOUT)
    if raw["source_sha256"] != sha256(source):
        raise SystemExit(f"{name}: changed since its unit run: run that first")
    skipped = code_only(raw)
    pending = pending_system(raw, again=again) - set(skipped)
    session = os.path.join(WORK, name.removesuffix(".py"), "system-session.sqlite")
    if not (resume and os.path.exists(session)):
        if os.path.exists(session):
            os.unlink(session)
        cosmic_ray("init", config, session, cwd=tree)
        mark_skipped(session, lambda spec: ident(spec.start_pos[0], spec.start_pos[1], spec.operator_name,
                                                 spec.occurrence) not in pending, "not a unit survivor")
    try:
        cosmic_ray("exec", config, session, cwd=tree)
    except subprocess.CalledProcessError as exc:  # interrupted: keep what ran
        print(f"mutation: {name}: system pass stopped ({exc.returncode}); recording what ran", file=sys.stderr)
    results = {}
    for line in cosmic_ray("dump", session, cwd=tree).stdout.splitlines():
        item, result = json.loads(line)
        spec = item["mutations"][0]
        found = ident(spec["start_pos"][0], spec["start_pos"][1], spec["operator_name"], spec["occurrence"])
        if found in pending and result is not None:
            results[found] = outcome(result)
    with open(raw_path(name), encoding="utf-8") as handle:
        raw = json.load(handle)  # as it is now: a unit `--survivors` run may have rewritten it meanwhile
    for mutant in raw["mutants"]:
        found = ident(mutant["line"], mutant["column"], mutant["operator"], mutant["occurrence"])
        if mutant["outcome"] != "survived":
            mutant.pop("system", None)  # killed by a unit test added meanwhile
        elif found in results:
            mutant["system"] = results[found]
        elif found in skipped:
            mutant["system"] = f"skipped: {skipped[found]}"
    raw["system_test_command"] = command.replace(ROOT + "/", "")
    raw["system_date"] = datetime.date.today().isoformat()
    dump_raw(name, raw)
    return name


def outcome(result: dict[str, object] | None) -> str:
    if result is None:
        return "not run"
    if result["worker_outcome"] == "exception" and "cosmic_ray/operators/" in str(result["output"]):
        # cosmic-ray's operator failed to make this mutant (ExceptionReplacer on the dotted name in
        # `except (..., _docker_api.EngineError)`: AttributeError in exception_replacer.py): nothing was tested
        result = dict(result, worker_outcome="skipped", output=UNMAKEABLE)
    if result["worker_outcome"] == "skipped":
        return "skipped: " + str(result["output"])
    if result["worker_outcome"] != "normal":
        return f"error: {result['worker_outcome']}"  # the mutation itself failed (incompetent mutant)
    if result["test_outcome"] != "killed":
        return "survived"
    if result["output"] == "timeout":
        return "timeout"
    # pytest always prints (progress, summary): a failure with nothing on stdout is the test command itself failing
    # (e.g. .venv re-made meanwhile), not a test catching the mutant; `--resume` runs these again.
    return "killed" if str(result["output"] or "").strip() else f"error: {BROKEN}"


def write_raw(name: str, command: str, source: str, dumped: str, *, dates: tuple[str, str | None]) -> None:
    """docs/mutation/<name>.json from ``cosmic-ray dump``; ``dates``: of the whole run, of the survivors' re-run."""
    mutants = []
    for line in dumped.splitlines():
        item, result = json.loads(line)
        spec = item["mutations"][0]
        entry = {
            "line": spec["start_pos"][0],
            "column": spec["start_pos"][1],
            "operator": spec["operator_name"].removeprefix("core/"),
            "occurrence": spec["occurrence"],
            "function": spec["definition_name"],
            "outcome": outcome(result),
        }
        if entry["outcome"] == "survived":
            changed = [line for line in result["diff"].splitlines() if line[:1] in "+-" and line[:3] not in "+++---"]
            entry["original"] = " ".join(line[1:].strip() for line in changed if line[0] == "-")
            entry["mutated"] = " ".join(line[1:].strip() for line in changed if line[0] == "+")
        mutants.append(entry)
    mutants.sort(key=lambda m: (m["line"], m["column"], m["operator"], m["occurrence"]))
    raw = {
        "file": f"plugins/module_utils/{name}",
        "source_sha256": sha256(source),
        "tool": version(),
        "date": dates[0],
        "survivors_retested": dates[1],
        "test_command": command.replace(ROOT + "/", ""),
        "mutants": mutants,
    }
    keep_system(raw)
    dump_raw(name, raw)


def keep_system(raw: dict[str, t.Any]) -> None:
    """A unit run (e.g. of the survivors, after tests were added) keeps the last system pass's results of the
    mutants that still survive, when the source is the same."""
    path = raw_path(os.path.basename(raw["file"]))
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        last = json.load(handle)
    if last["source_sha256"] != raw["source_sha256"] or "system_date" not in last:
        return
    before = {ident(m["line"], m["column"], m["operator"], m["occurrence"]): m["system"]
              for m in last["mutants"] if "system" in m}
    for mutant in raw["mutants"]:
        found = ident(mutant["line"], mutant["column"], mutant["operator"], mutant["occurrence"])
        if mutant["outcome"] == "survived" and found in before:
            mutant["system"] = before[found]
    raw["system_test_command"], raw["system_date"] = last["system_test_command"], last["system_date"]


def dump_raw(name: str, raw: dict[str, t.Any]) -> None:
    os.makedirs(RAW, exist_ok=True)
    with open(raw_path(name), "w", encoding="utf-8") as handle:
        json.dump(raw, handle, indent=1)
        handle.write("\n")


def load_raw() -> list[dict[str, t.Any]]:
    found = []
    for path in sorted(os.listdir(RAW)):
        if path.endswith(".json") and path != os.path.basename(EXPLAINED):
            with open(os.path.join(RAW, path), encoding="utf-8") as handle:
                found.append(json.load(handle))
    return found


def explained_json() -> tuple[dict[str, str], list[str], dict[tuple[str, str, str, str], str]]:
    """docs/mutation/explained.json: the reasons by name, the names of the reasons true of the code alone, and
    (file, function, operator, mutated line) -> the name (or the text) of why that surviving mutant is left."""
    with open(EXPLAINED, encoding="utf-8") as handle:
        explained = json.load(handle)
    reasons, code_only = explained.pop("reasons"), explained.pop("code_only")
    return reasons, code_only, {(name, e["function"], e["operator"], e["mutated"]): e["why"]
                                for name, entries in explained.items() for e in entries}


def explanations() -> dict[tuple[str, str, str, str], str]:
    """(file, function, operator, mutated line) -> why that surviving mutant is left."""
    reasons, _code_only, why = explained_json()
    return {k: reasons.get(name, name) for k, name in why.items()}


def code_only(raw: dict[str, t.Any]) -> dict[tuple[int, int, str, int], str]:
    """The unit survivors explained by a reason true of the code alone (`code_only` in explained.json: Python's
    semantics, the values the code itself passes): nothing a real host does can kill them, so the system pass
    does not run them."""
    _reasons, names, why = explained_json()
    found = {}
    for m in raw["mutants"]:
        reason = why.get(key(raw, m)) if m["outcome"] == "survived" else None
        if reason in names:
            found[ident(m["line"], m["column"], m["operator"], m["occurrence"])] = str(reason)
    return found


def survivors(raw: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The mutants left: survived the unit tests, and the system tests (where the second pass ran them)."""
    return [m for m in raw["mutants"] if m["outcome"] == "survived" and m.get("system") not in CAUGHT]


def key(raw: dict[str, t.Any], mutant: dict[str, t.Any]) -> tuple[str, str, str, str]:
    return (os.path.basename(raw["file"]), str(mutant["function"]), mutant["operator"], mutant["mutated"])


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def system_cells(raw: dict[str, t.Any], unit_survivors: list[dict[str, t.Any]], caught: int, ran: int) -> list[str]:
    """How many unit survivors the system pass ran, how many it killed, and the score of both passes together
    ("not run" for a file without a pass; "partial" while some survivors were not run)."""
    if "system_date" not in raw:
        return ["no system pass", "-"]
    outcomes = [m.get("system", "not run") for m in unit_survivors]
    outcomes = ["skipped" if o.startswith("skipped: ") else o for o in outcomes]
    unknown = set(outcomes) - {"killed", "timeout", "survived", "not run", "skipped"}
    if unknown:
        raise SystemExit(f"{raw['file']}: system pass outcomes {sorted(unknown)}: run it again")
    killed = sum(o in CAUGHT for o in outcomes)
    done = len(outcomes) - outcomes.count("not run") - outcomes.count("skipped")
    notes = [f"{outcomes.count('skipped')} equivalent in the code, not run"] if "skipped" in outcomes else []
    notes += [f"partial: {outcomes.count('not run')} not run yet"] if "not run" in outcomes else []
    return [f"{killed} of {done}" + (f" ({'; '.join(notes)})" if notes else ""), percent(caught + killed, ran)]


def table(every: list[dict[str, t.Any]], why: dict[tuple[str, str, str, str], str]) -> str:
    rows = [
        "| file | mutants | not run (annotations, not Python) | killed | timeout | survived | unit score "
        "| killed by the system tests | unit + system score | left | of which explained | date | tool |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for raw in every:
        counts: dict[str, int] = {}
        for mutant in raw["mutants"]:
            kind = "skipped" if mutant["outcome"].startswith("skipped") else mutant["outcome"]
            counts[kind] = counts.get(kind, 0) + 1
        unknown = set(counts) - {"skipped", "killed", "timeout", "survived"}
        if unknown:
            raise SystemExit(f"{raw['file']}: mutants with outcome {sorted(unknown)}: run it again")
        ran = counts.get("killed", 0) + counts.get("timeout", 0) + counts.get("survived", 0)
        caught = counts.get("killed", 0) + counts.get("timeout", 0)
        left = survivors(raw)
        explained = sum(key(raw, m) in why for m in left)
        unit_survivors = [m for m in raw["mutants"] if m["outcome"] == "survived"]
        dates = raw["date"] + (f", survivors re-tested {raw['survivors_retested']}"
                               if raw.get("survivors_retested") else "")
        dates += f", system {raw['system_date']}" if raw.get("system_date") else ""
        cells = [f"`{os.path.basename(raw['file'])}`", len(raw["mutants"]), counts.get("skipped", 0),
                 counts.get("killed", 0), counts.get("timeout", 0), counts.get("survived", 0), percent(caught, ran),
                 *system_cells(raw, unit_survivors, caught, ran), len(left), explained, dates, raw["tool"]]
        rows.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(rows)


def survivor_list(every: list[dict[str, t.Any]], why: dict[tuple[str, str, str, str], str]) -> str:
    lines = [
        "# Surviving mutants, and why each is left",
        "",
        "Generated by `tools/mutation.py report` from `docs/mutation/<file>.json` (cosmic-ray's results) and",
        "`explained.json` (the reasons); `make lint` checks it is current. Scores: docs/development.md.",
    ]
    for raw in every:
        lines += ["", f"## `{os.path.basename(raw['file'])}`", "",
                  "| line | operator | original | mutated | system tests | why |", "|---|---|---|---|---|---|"]
        for m in survivors(raw):
            cells = [str(m["line"]), m["operator"], f"`{m['original']}`", f"`{m['mutated']}`",
                     m.get("system", "not run"), why.get(key(raw, m), "**not explained**")]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def problems(every: list[dict[str, t.Any]], why: dict[tuple[str, str, str, str], str]) -> list[str]:
    found = [key(raw, m) for raw in every for m in survivors(raw)]
    return ([f"survivor not explained in {EXPLAINED}: {k}" for k in found if k not in why]
            + [f"explanation of no survivor in {EXPLAINED}: {k}" for k in why if k not in found])


def changed_since(every: list[dict[str, t.Any]]) -> list[str]:
    """Files changed since their run: their score is of the code as it was (a warning, not a failure: a run of a
    file takes minutes to an hour, and `make lint` runs on every commit)."""
    found = []
    for raw in every:
        with open(os.path.join(ROOT, raw["file"]), encoding="utf-8") as handle:
            if sha256(handle.read()) != raw["source_sha256"]:
                found.append(f"warning: {raw['file']} changed since its mutation run: "
                             f"`tools/mutation.py run {os.path.basename(raw['file'])}`")
    return found


def documented() -> tuple[str, re.Match[str]]:
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    if not match:
        raise SystemExit(f"{DOC}: no mutation table between {BEGIN!r} and {END!r}")
    return text, match


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "report", "check"])
    parser.add_argument("files", nargs="*", help="e.g. _files.py (default: every one of TARGETS)")
    parser.add_argument("--jobs", type=int, default=1, help="files mutated side by side")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test only the last run's survivors (with --system: also those the system pass ran)")
    parser.add_argument("--resume", action="store_true", help="go on with an interrupted run")
    parser.add_argument("--system", action="store_true",
                        help="the second pass: the unit run's survivors against the system tests of SYSTEM")
    args = parser.parse_intermixed_args()
    if args.command == "run":
        targets = SYSTEM if args.system else TARGETS
        unknown = set(args.files) - set(targets)
        if unknown:
            parser.error(f"not a target: {sorted(unknown)}; targets: {sorted(targets)}")

        def one(name: str) -> str:
            if args.system:
                return run_system(name, resume=args.resume, again=args.survivors)
            return run(name, survivors_only=args.survivors, resume=args.resume)

        with ThreadPoolExecutor(args.jobs) as pool:
            for done in pool.map(one, args.files or list(targets)):
                print(f"mutation: {done} done", flush=True)
    every, why = load_raw(), explanations()
    text, current = documented()
    wanted_table, wanted_list = table(every, why), survivor_list(every, why)
    if args.command == "check":
        with open(SURVIVORS, encoding="utf-8") as handle:
            stale = current.group(1) != wanted_table or handle.read() != wanted_list
        errors = problems(every, why) + (
            ["docs/development.md's mutation table or docs/mutation/README.md is out of date: run "
             "`tools/mutation.py report`"] if stale else [])
        for error in errors + changed_since(every):
            print(f"tools/mutation.py: {error}", file=sys.stderr)
        return 1 if errors else 0
    with open(DOC, "w", encoding="utf-8") as handle:
        handle.write(text[: current.start(1)] + wanted_table + text[current.end(1) :])
    with open(SURVIVORS, "w", encoding="utf-8") as handle:
        handle.write(wanted_list)
    print(wanted_table)
    for problem in problems(every, why) + changed_since(every):
        print(f"tools/mutation.py: {problem}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
