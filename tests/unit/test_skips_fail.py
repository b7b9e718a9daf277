""""Skip means failure": tests/conftest.py under HOSTBRIDGE_NO_SKIP=1 and tools/no_skips.py on JUnit reports.

Each case runs pytest in a child process on a small test file, with a copy of this suite's conftest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_SKIPS = ROOT / "tools" / "no_skips.py"

CASES = {
    "runtime_skip": "import pytest\ndef test_a():\n    pytest.skip('no tool')\n",
    "skip_mark": "import pytest\n@pytest.mark.skip(reason='later')\ndef test_a():\n    pass\n",
    "collection_skip": "import pytest\npytest.skip('not here', allow_module_level=True)\ndef test_a():\n    pass\n",
    "importorskip": "import pytest\npytest.importorskip('no_such_module_hostbridge')\ndef test_a():\n    pass\n",
    "xfail": "import pytest\n@pytest.mark.xfail(reason='bug')\ndef test_a():\n    assert False\n",
    "strict_xfail": "import pytest\n@pytest.mark.xfail(strict=True, reason='bug')\ndef test_a():\n    assert False\n",
    "xpass": "import pytest\n@pytest.mark.xfail(reason='bug')\ndef test_a():\n    pass\n",
}
RUNS = "def test_a():\n    pass\n"


def run_pytest(directory: Path, no_skip: str, *args: str) -> tuple[int, str, ET.Element]:
    """pytest on ``directory`` (a copy of the suite's conftest, one file per case): rc, output, JUnit report."""
    shutil.copy(ROOT / "tests" / "conftest.py", directory / "conftest.py")
    env = dict(os.environ, HOSTBRIDGE_NO_SKIP=no_skip, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_PLUGINS", None)
    report = directory / f"report-{no_skip}.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(directory),
                           "--continue-on-collection-errors", "--junitxml", str(report), *args, str(directory)],
                          capture_output=True, text=True, check=False, cwd=directory, env=env, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr, ET.parse(report).getroot()  # noqa: S314 - pytest's own report


def outcomes(report: ET.Element) -> dict[str, str]:
    """case -> what the report says of its test: passed, failed, error or skipped."""
    found = {}
    for case in report.iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        module = case.get("classname") or case.get("name") or ""  # a collection report has only a name
        found[module.split(".")[0][len("test_"):]] = kinds[0] if kinds else "passed"
    return found


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cases")
    for name, source in dict(CASES, runs=RUNS).items():
        (directory / f"test_{name}.py").write_text(source)
    return directory


def test_every_way_of_not_running_a_test_fails_under_no_skip(cases: Path) -> None:
    rc, output, report = run_pytest(cases, "1")
    assert rc == 1, output
    got = outcomes(report)
    assert got.pop("runs") == "passed"
    assert {name: kind in ("failure", "error") for name, kind in got.items()} == dict.fromkeys(CASES, True), got
    assert output.count("HOSTBRIDGE_NO_SKIP=1 requires every test to run") >= len(CASES), output


def test_single_stages_allow_it_and_tools_no_skips_catches_it_in_the_report(cases: Path) -> None:
    """As ansible-test units runs pytest: the variable does not reach it, the JUnit report tells."""
    rc, output, _report = run_pytest(cases, "0")
    assert rc == 0, output
    proc = no_skips(str(cases / "report-0.xml"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    named = {line.split(": ")[2].split("::")[0] for line in proc.stderr.splitlines() if line.count(": ") >= 3}
    # xpass is a pass in JUnit: only the conftest catches it (ansible-test's tests have no xfail marks).
    assert named == {f"test_{name}" for name in CASES if name != "xpass"}, proc.stderr


def test_a_deselected_test_fails_under_no_skip(tmp_path: Path) -> None:
    (tmp_path / "test_runs.py").write_text(RUNS + "def test_b():\n    pass\n")
    rc, output, _report = run_pytest(tmp_path, "1", "-k", "test_a")
    assert rc == 1, output
    assert "1 test(s) deselected" in output
    rc, output, _report = run_pytest(tmp_path, "0", "-k", "test_a")
    assert rc == 0, output


def no_skips(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(NO_SKIPS), *args], capture_output=True, text=True, check=False,
                          timeout=60)


def test_no_skips_passes_a_report_where_every_test_ran(tmp_path: Path) -> None:
    (tmp_path / "test_runs.py").write_text(RUNS)
    run_pytest(tmp_path, "1")
    proc = no_skips(str(tmp_path / "report-1.xml"))
    assert proc.returncode == 0, proc.stderr
    assert no_skips(str(tmp_path / "missing.xml")).returncode == 1


def test_no_skips_tree_names_a_test_file_that_ran_in_no_stage(tmp_path: Path) -> None:
    """A report holding one test of this file: every other test file of the tree is named as not run."""
    (tmp_path / "junit").mkdir()
    (tmp_path / "junit" / "units.xml").write_text(textwrap.dedent("""\
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites><testsuite name="pytest" tests="1">
        <testcase classname="tests.unit.test_skips_fail" name="test_x" time="0.1"/>
        </testsuite></testsuites>
        """))
    proc = no_skips("--tree", str(tmp_path / "junit"))
    assert proc.returncode == 1
    assert "tests/unit/test_skips_fail.py: ran in no stage" not in proc.stderr
    assert "tests/reliability/test_crash.py: ran in no stage" in proc.stderr
    assert "extensions/molecule/unbridge/tests/test_unbridge.py: ran in no stage" in proc.stderr
