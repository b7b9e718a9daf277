# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running external commands: argv lists only, C locale, binaries found with get_bin_path.

Backends receive a ``CommandRunner`` so unit tests can substitute a recorder that checks the exact
argv and replays real command output.
"""

from __future__ import annotations

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError, become_hint
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import CommandResult, Module

__all__ = ["C_LOCALE", "SYSTEM_DIRS", "CommandResult", "CommandRunner", "command_error"]

C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# macOS keeps ifconfig, route and friends in /sbin and /usr/sbin, which a become PATH may lack.
SYSTEM_DIRS = ["/sbin", "/usr/sbin", "/usr/bin", "/bin", "/usr/local/bin"]


class CommandRunner:
    """Runs commands through ``AnsibleModule.run_command`` (never a shell)."""

    def __init__(self, module: Module) -> None:
        self._module = module
        self._paths: dict[str, str] = {}

    def which(self, name: str, *, required: bool = True) -> str | None:
        """Absolute path of ``name``; a missing required binary is a HostbridgeError."""
        if name not in self._paths:
            path = self._module.get_bin_path(name, required=False, opt_dirs=SYSTEM_DIRS)
            if path is None:
                if required:
                    raise HostbridgeError(
                        f"Required command {name!r} was not found in PATH or {', '.join(SYSTEM_DIRS)}."
                    )
                return None
            self._paths[name] = path
        return self._paths[name]

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None, what: str = "") -> CommandResult:
        """Run ``argv`` (argv[0] is a command name resolved with ``which``).

        With ``check`` a non-zero exit raises HostbridgeError naming ``what`` and carrying rc/stdout/stderr.
        """
        resolved = [self.which(argv[0]) or argv[0]] + [str(a) for a in argv[1:]]
        rc, out, err = self._module.run_command(resolved, check_rc=False, data=data, environ_update=C_LOCALE,
                                                binary_data=data is not None)
        if check and rc != 0:
            raise command_error(what or " ".join(argv[:2]), resolved, rc, out, err)
        return CommandResult(rc, out, err)


def command_error(what: str, argv: list[str], rc: int, stdout: str, stderr: str) -> HostbridgeError:
    detail = (stderr or stdout).strip().splitlines()
    reason = f": {detail[-1]}" if detail else ""
    hint = become_hint(stderr, stdout)
    return HostbridgeError(f"{what} failed (rc={rc}){reason}" + (f". {hint}" if hint else ""),
                           cmd=argv, rc=rc, stdout=stdout, stderr=stderr)
