# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection uses of ``AnsibleModule`` and of the command runner, as Protocols.

ansible-core is not typed, so ``AnsibleModule`` reads as ``Any`` to mypy. Backends and helpers take these
Protocols instead: mypy then checks every call they make, and tests pass their fakes (``FakeRunner``, a
``mock.Mock`` module) without inheriting from anything.
"""

from __future__ import annotations

import typing as t

# A module result (``exit_json`` keyword arguments) and a module's validated options.
Result = t.Dict[str, t.Any]
Params = t.Mapping[str, t.Any]


class CommandResult(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str


class Runner(t.Protocol):
    """``_commands.CommandRunner``; the unit tests' ``FakeRunner`` replays recorded output through it."""

    def which(self, name: str, *, required: bool = True) -> str | None: ...

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None,
            what: str = "") -> CommandResult: ...


class Module(t.Protocol):
    """The parts of ``AnsibleModule`` this collection calls."""

    params: dict[str, t.Any]
    check_mode: bool

    def warn(self, warning: str) -> None: ...

    def fail_json(self, msg: str, **kwargs: t.Any) -> t.NoReturn: ...

    def exit_json(self, **kwargs: t.Any) -> t.NoReturn: ...

    def get_bin_path(self, arg: str, required: bool = False,
                     opt_dirs: list[str] | None = None) -> str | None: ...

    def run_command(self, args: list[str], check_rc: bool = False, *, data: str | None = None,
                    environ_update: dict[str, str] | None = None,
                    binary_data: bool = False) -> tuple[int, str, str]: ...

    def backup_local(self, fn: str) -> str: ...

    def atomic_move(self, src: str, dest: str, unsafe_writes: bool = False) -> None: ...

    def set_owner_if_different(self, path: str, owner: str | None, changed: bool) -> bool: ...

    def set_group_if_different(self, path: str, group: str | None, changed: bool) -> bool: ...

    def set_mode_if_different(self, path: str, mode: int | str | None, changed: bool) -> bool: ...

    def load_file_common_arguments(self, params: Params, path: str | None = None) -> dict[str, t.Any]: ...

    def set_fs_attributes_if_different(self, file_args: dict[str, t.Any], changed: bool,
                                       diff: dict[str, t.Any] | None = None, expand: bool = True) -> bool: ...
