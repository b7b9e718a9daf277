"""Fail when a test run left a test out: read pytest's JUnit XML reports.

    tools/no_skips.py REPORT.xml...      every report: no skipped test, no expected failure, no error, some tests
    tools/no_skips.py --tree DIR         the same for DIR/*.xml, and every test file of the tree ran in some report

A test file of the tree is tests/**/test_*.py or extensions/molecule/<scenario>/tests/test_*.py (a report named
molecule-<scenario>.xml holds that scenario's testinfra run). pytest writes a skip, an xfail and an xpass of a
xfail as <skipped>, a collection-time skip as a test case with <skipped>, and an error as <error>. Unexpected
passes and deselected tests leave no trace here: tests/conftest.py fails a run with either under
HOSTBRIDGE_NO_SKIP=1 (ansible-test units runs no deselection, and its tests have no xfail marks).
"""

from __future__ import annotations

import glob
import os
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tree_files() -> set[str]:
    found = glob.glob(os.path.join(ROOT, "tests", "**", "test_*.py"), recursive=True)
    found += glob.glob(os.path.join(ROOT, "extensions", "molecule", "*", "tests", "test_*.py"))
    return {os.path.relpath(path, ROOT) for path in found if "/tests/output/" not in path}


def file_of(classname: str, base: str) -> str | None:
    """The test file a JUnit classname (``tests.unit.x.test_y.Class``) comes from, under ``base``."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = os.path.join(base, *parts[:end]) + ".py"
        if os.path.isfile(os.path.join(ROOT, candidate)):
            return os.path.normpath(candidate)
    return None


def check(report: str) -> tuple[list[str], set[str]]:
    """(problems, test files that ran) of one report."""
    problems = []
    ran = set()
    name = os.path.basename(report)
    base = ""
    if name.startswith("molecule-"):
        base = os.path.join("extensions", "molecule", name[len("molecule-"):-len(".xml")])
    try:
        root = ET.parse(report).getroot()  # noqa: S314 - our own pytest reports
    except (OSError, ET.ParseError) as exc:
        return [f"{report}: cannot read: {exc}"], ran
    cases = list(root.iter("testcase"))
    if not cases:
        problems.append(f"{report}: no test ran")
    for case in cases:
        # A collection report (a module skipped or broken at import) has no classname: its name is the module.
        dotted = case.get("classname") or case.get("name") or ""
        test = f"{dotted}::{case.get('name')}" if case.get("classname") else dotted
        for kind in ("skipped", "error"):
            for element in case.findall(kind):
                problems.append(f"{name}: {test}: {kind}: {element.get('message') or element.get('type')}")
        path = file_of(dotted, "")
        if path is None and base:
            path = file_of(dotted, base) or file_of(dotted, os.path.join(base, "tests"))
        if path is not None:
            ran.add(path)
    return problems, ran


def main(argv: list[str]) -> int:
    tree = argv[:1] == ["--tree"]
    reports = sorted(glob.glob(os.path.join(argv[1], "*.xml"))) if tree and len(argv) == 2 else argv
    if not reports or (tree and len(argv) != 2):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems: list[str] = []
    ran: set[str] = set()
    for report in reports:
        found, files = check(report)
        problems += found
        ran |= files
    if tree:
        problems += [f"{path}: ran in no stage (no report in {argv[1]} holds a test of it)"
                     for path in sorted(tree_files() - ran)]
    for problem in problems:
        print(f"no-skips: {problem}", file=sys.stderr)
    if problems:
        print(f"no-skips: {len(problems)} problem(s) in {len(reports)} report(s): every test must run",
              file=sys.stderr)
        return 1
    print(f"no-skips: {len(reports)} report(s), no test skipped" + (f", {len(ran)} test files ran" if tree else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
