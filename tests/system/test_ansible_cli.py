"""The suite's rule "no deprecation warning in any run" (tests/ansible_cli.py) catches real ones.

ansible-core 2.20+ deprecates reading an injected fact as a top-level variable while INJECT_FACTS_AS_VARS is left
at its default. A play that does so must be refused by ``ansible_cli.check`` with either callback the suite uses (the
default callback prints ``[DEPRECATION WARNING]``; the json callback records it in the task result), and the same
play reading ``ansible_facts`` under the suite's settings must pass."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests import ansible_cli

PLAY = [{"hosts": "localhost", "gather_facts": True, "gather_subset": ["!all", "!min", "platform"],
         "tasks": [{"ansible.builtin.debug": {"msg": "{{ %s }}"}}]}]


def run(tmp_path: Path, expression: str, callback: str, *, suite_settings: bool) -> tuple[str, str]:
    book = tmp_path / "play.yml"
    book.write_text(json.dumps(PLAY).replace("%s", expression), encoding="utf-8")  # JSON is YAML
    env = ansible_cli.ansible_env(ANSIBLE_STDOUT_CALLBACK=callback)
    if not suite_settings:
        del env["ANSIBLE_INJECT_FACT_VARS"]  # ansible-core's default: warns only when left unset
    proc = subprocess.run([ansible_cli.cli("ansible-playbook"), "-i", "localhost,", "-c", "local", str(book)],
                          capture_output=True, text=True, check=False, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("callback", ["ansible.builtin.default", "ansible.posix.json"])
def test_a_deprecated_fact_variable_fails_the_run(tmp_path: Path, callback: str) -> None:
    out, err = run(tmp_path, "ansible_system", callback, suite_settings=False)
    found = ansible_cli.deprecations(out, err)
    assert found, f"no deprecation found in:\n{out}\n{err}"
    assert "INJECT_FACTS_AS_VARS" in found[0]
    with pytest.raises(AssertionError, match="deprecation warning"):
        ansible_cli.check(subprocess.CompletedProcess([], 0, out, err))


@pytest.mark.parametrize("callback", ["ansible.builtin.default", "ansible.posix.json"])
def test_reading_ansible_facts_under_the_suite_settings_passes(tmp_path: Path, callback: str) -> None:
    out, err = run(tmp_path, "ansible_facts.system", callback, suite_settings=True)
    assert "Linux" in out
    assert ansible_cli.deprecations(out, err) == []
