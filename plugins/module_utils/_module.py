# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one module harness, and the contract every ``manage()`` follows.

A module's ``main()`` is ``run_module(manage, ARGUMENT_SPEC, **rules)``. The harness builds the
``AnsibleModule`` and its ``CommandRunner``, reads the platform once, calls ``manage(ctx, params)``, turns a
``HostbridgeError`` into ``fail_json`` (its rc/stdout/stderr and other details in the result), emits the
result's ``warnings`` with ``module.warn`` and exits.

``manage(ctx, params) -> result`` is the whole module behind its argument parsing: the same signature for every
module, so ``_plan`` runs any of them in check mode inside ``bridge_facts`` the same way. The result always has a
``warnings`` list (maybe empty). A backend class per platform is picked with ``select_backend``, nowhere else.
"""

from __future__ import annotations

import platform
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandRunner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Params, Result, Runner

# platform.system() values and how messages name them.
PLATFORM_NAMES = {"Darwin": "macOS (Darwin)", "Linux": "Linux"}

B = t.TypeVar("B")


class Context(t.NamedTuple):
    """What ``manage()`` gets besides its options: where it runs and how it may act."""

    system: str  # platform.system(): "Darwin" or "Linux"
    runner: Runner
    module: Module
    check_mode: bool
    diff_mode: bool


Manage = t.Callable[[Context, Params], Result]


def select_backend(system: str, backends: t.Mapping[str, B], *, what: str) -> B:
    """The entry of ``backends`` (platform.system() -> class or factory) for ``system``; an unsupported
    platform is a HostbridgeError that names the module and the platform."""
    try:
        return backends[system]
    except KeyError:
        supported = " and ".join(PLATFORM_NAMES.get(name, name) for name in backends)
        raise HostbridgeError(f"{what} does not support {system!r} (only {supported})", system=system) from None


def context(module: Module, *, runner: Runner | None = None, system: str | None = None) -> Context:
    """The context of a real module run: its check and diff modes, this host's platform."""
    return Context(system=system or platform.system(), runner=runner or CommandRunner(module), module=module,
                   check_mode=module.check_mode, diff_mode=bool(getattr(module, "_diff", False)))


def finish(module: Module, manage: Manage, ctx: Context) -> t.NoReturn:
    """Run ``manage`` and end the module: ``exit_json`` with its result, or ``fail_json`` for its error."""
    try:
        result = manage(ctx, module.params)
    except HostbridgeError as exc:
        module.fail_json(**exc.fail_json_kwargs())
    for warning in result.pop("warnings", None) or []:
        module.warn(str(warning))
    module.exit_json(**result)


def run_module(manage: Manage, argument_spec: dict[str, t.Any], *, add_file_common_args: bool = False,
               **rules: t.Any) -> t.NoReturn:
    """A module's whole ``main()``: parse the options (``rules`` are AnsibleModule's ``required_if``,
    ``mutually_exclusive``...), then ``finish``. Every module supports check mode."""
    module: Module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                                   add_file_common_args=add_file_common_args, **rules)
    finish(module, manage, context(module))
