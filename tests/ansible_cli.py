"""How every test and benchmark runs the ansible CLI: which binaries, with which environment, and the rule that no
run may print a deprecation warning.

- ``HOSTBRIDGE_ANSIBLE_BIN`` picks the directory of ``ansible``/``ansible-playbook``/``ansible-pull``: ``make
  oldest`` points it at ``.venv-oldest/bin`` to prove the oldest ansible-core that ``requires_ansible`` names; by
  default it is the directory of the Python running the tests (``.venv/bin``, the newest ansible-core).
- Facts are never injected as variables (``ANSIBLE_INJECT_FACT_VARS=false``, the coming ansible-core default): the
  roles must read ``ansible_facts.hostbridge``.
- Deprecation warnings are on, and :func:`check` fails a run that printed one (``[DEPRECATION WARNING]`` from the
  default callback, or a non-empty ``deprecations`` list in a json callback result).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = os.environ.get("HOSTBRIDGE_ANSIBLE_BIN") or os.path.dirname(sys.executable)
COLLECTIONS_PATH = f"{ROOT}/.tmp/collections:{ROOT}/.cache/collections"

_SETTINGS = {
    "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS_PATH,
    "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
    "ANSIBLE_INJECT_FACT_VARS": "false",
    "ANSIBLE_DEPRECATION_WARNINGS": "true",
    "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    "ANSIBLE_LOCALHOST_WARNING": "false",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    "ANSIBLE_RETRY_FILES_ENABLED": "false",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_FORCE_COLOR": "false",
    "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
}
# The json callback records a deprecation in the task result instead of printing it.
_JSON_DEPRECATION = re.compile(r'"deprecations":\s*\[\s*\{')


def cli(name: str) -> str:
    """The path of an ansible command (``ansible-playbook``, ``ansible``, ``ansible-pull``)."""
    return os.path.join(BIN_DIR, name)


def ansible_env(**overrides: str) -> dict[str, str]:
    """This process's environment without its ``ANSIBLE_*`` settings, plus the suite's settings and ``overrides``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(_SETTINGS)
    env.update(overrides)
    return env


# Actions that run on the controller only; every other task that is not skipped made a remote call.
CONTROLLER_ACTIONS = frozenset({"set_fact", "assert", "debug", "fail", "include_role", "include_tasks",
                                "import_tasks", "meta", "validate_argument_spec"})


def named_task_results(output: dict[str, t.Any], host: str) -> list[tuple[str, dict[str, t.Any]]]:
    """(name, result) of every task with a result for ``host`` in an ``ansible.posix.json`` callback output, in
    order. A task without one (a ``meta`` task that ran, such as the bridge role's ``end_role``) is left out."""
    return [(task["task"]["name"], task["hosts"][host]) for play in output["plays"] for task in play["tasks"]
            if host in task["hosts"]]


def task_results(output: dict[str, t.Any], host: str) -> list[dict[str, t.Any]]:
    """Every task's result for ``host`` in an ``ansible.posix.json`` callback output, each with its ``action``."""
    return [result for _name, result in named_task_results(output, host)]


def ran_remotely(result: dict[str, t.Any]) -> bool:
    """A task result (with its ``action``) that ran a module on the host: not skipped, not controller-only."""
    return not result.get("skipped") and result["action"].removeprefix("ansible.builtin.") not in CONTROLLER_ACTIONS


def remote_actions(results: t.Iterable[dict[str, t.Any]]) -> list[str]:
    """The actions of the tasks that ran a module on the host, in order."""
    return [r["action"] for r in results if ran_remotely(r)]


def deprecations(*outputs: str) -> list[str]:
    """The deprecation warnings found in the outputs of a run, as lines (empty when there are none)."""
    found = []
    for text in outputs:
        found += [line for line in text.splitlines() if "[DEPRECATION WARNING]" in line]
        found += [text[match.start():match.start() + 1200] for match in _JSON_DEPRECATION.finditer(text)]
    return found


def check(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``proc`` unchanged; an AssertionError quoting the first deprecation warning when the run printed one."""
    found = deprecations(proc.stdout or "", proc.stderr or "")
    if found:
        raise AssertionError(f"an ansible run printed {len(found)} deprecation warning(s); the first: {found[0]}")
    return proc


def run(argv: t.Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 240,
        **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    """``argv`` (an ansible command) with :func:`ansible_env` unless ``env`` is given; output captured as text,
    deprecation warnings refused (:func:`check`). The caller checks the return code."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=timeout,
                          env=ansible_env() if env is None else env, **kwargs)
    return check(proc)
