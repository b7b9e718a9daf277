"""Shared helpers for unit tests: a command recorder that replays recorded output, and a module runner."""

from __future__ import annotations

import json
import os
import typing as t
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandResult, command_error
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def fixture_text(*parts: str) -> str:
    """A recorded sample under tests/fixtures (each sample's source is in that folder's SOURCES.md)."""
    with open(os.path.join(FIXTURES, *parts), encoding="utf-8") as handle:
        return handle.read()


class FakeRunner:
    """Stands in for CommandRunner: each expected call is (argv, rc, stdout, stderr), checked in order.

    ``which`` answers ``name`` unchanged, so argv in expectations are written with bare command names.
    """

    def __init__(self, expected: list[tuple[list[str], int, str, str]] | None = None,
                 missing: t.Iterable[str] = ()) -> None:
        self.expected = list(expected or [])
        self.calls: list[list[str]] = []
        self.missing = set(missing)

    def which(self, name: str, *, required: bool = True) -> str | None:
        if name in self.missing:
            if required:
                raise HostbridgeError(f"Required command {name!r} was not found")
            return None
        return name

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None, what: str = "") -> CommandResult:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        assert self.expected, f"unexpected command {argv}"
        want, rc, out, err = self.expected.pop(0)
        assert argv == want, f"expected {want}, got {argv}"
        if check and rc != 0:
            raise command_error(what or " ".join(argv[:2]), argv, rc, out, err)
        return CommandResult(rc, out, err)

    def assert_done(self) -> None:
        assert not self.expected, f"commands expected but not run: {self.expected}"


def context(system: str = "Linux", *, runner: t.Any = None, module: t.Any = None, check_mode: bool = False,
            diff_mode: bool = False) -> Context:
    """The ``Context`` a ``manage()`` gets from the harness (``_module``), for calling it directly."""
    return Context(system=system, runner=runner if runner is not None else FakeRunner([]),
                   module=module if module is not None else mock.Mock(check_mode=check_mode),
                   check_mode=check_mode, diff_mode=diff_mode)


class ModuleExit(Exception):
    def __init__(self, result: dict[str, t.Any], failed: bool) -> None:
        super().__init__(result)
        self.result = result
        self.failed = failed


def run_module(main: t.Callable[[], None], args: dict[str, t.Any], **patches: t.Any) -> dict[str, t.Any]:
    """Run a module's ``main()`` with ``args``; returns its result dict (``failed`` set on failure)."""

    def exit_json(self: basic.AnsibleModule, **kwargs: t.Any) -> None:
        raise ModuleExit(kwargs, False)

    def fail_json(self: basic.AnsibleModule, msg: str, **kwargs: t.Any) -> None:
        kwargs.update(msg=msg, failed=True)
        raise ModuleExit(kwargs, True)

    with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=exit_json,
                                                      fail_json=fail_json), pytest.raises(ModuleExit) as info:
        main()
    # Results must be JSON-serialisable, as Ansible will send them.
    json.dumps(info.value.result)
    return info.value.result
