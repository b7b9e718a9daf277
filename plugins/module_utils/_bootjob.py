# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A job the system runs at boot and, optionally, every N seconds: the whole of the ``boot_job`` module.

macOS: a root LaunchDaemon (``_launchd.LaunchDaemon``: plistlib, root:wheel 0644, and the launchd rules of
bootout, enable and bootstrap). Linux: ``/etc/systemd/system/<name>.service`` (oneshot) plus, with
``start_interval``, ``<name>.timer``; written root:root 0644, ``daemon-reload``, the timer (or the boot-only
service) enabled and the timer started. ``manage()`` validates every option, reads the host once, plans, and
outside check mode applies exactly the plan. ``bridge_facts`` calls the same ``manage()`` in check mode.
"""

from __future__ import annotations

import os
import re
import stat
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd, _systemd, _trust
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import (
    directory_lock,
    read_bytes,
    remove_file,
    write_atomic,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Module, Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import bad

# The module's options; bridge_facts validates its desired-state entries with the same spec and rules.
ARGUMENT_SPEC: dict[str, t.Any] = {
    "name": {"type": "str", "required": True, "aliases": ["label"]},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "program_arguments": {"type": "list", "elements": "str"},
    "environment": {"type": "dict", "default": {}},
    "description": {"type": "str"},
    "run_at_load": {"type": "bool", "default": True},
    "start_interval": {"type": "int"},
    "boot_delay": {"type": "int"},
    "requires_network": {"type": "bool", "default": False},
    "process_type": {"type": "str", "choices": ["Background", "Standard", "Adaptive", "Interactive"]},
    "standard_out_path": {"type": "str"},
    "standard_error_path": {"type": "str"},
    "reload": {"type": "bool", "default": True},
    "trusted_paths": {"type": "list", "elements": "path", "default": []},
}
ARGUMENT_RULES: dict[str, t.Any] = {"required_if": [("state", "present", ("program_arguments",))]}

HEADER = "# Managed by the dockermac.hostbridge.boot_job Ansible module; local changes are overwritten."
# launchd starts a job at most once every ThrottleInterval seconds, 10 by default (launchd.plist(5)), so a smaller
# StartInterval silently means 10. Refused on every platform: a job runs as often on Linux as on a Mac.
LAUNCHD_MIN_INTERVAL = 10
UNIT_MODE = 0o644
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Job(t.NamedTuple):
    name: str
    state: str
    program_arguments: list[str]
    environment: dict[str, str]
    description: str
    run_at_load: bool
    start_interval: int | None
    boot_delay: int | None
    requires_network: bool
    process_type: str | None
    standard_out_path: str | None
    standard_error_path: str | None
    reload: bool
    trusted_paths: list[str]


def _text(value: t.Any, *, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad(field, value, "must be a string")
    text = str(value)
    if _CONTROL.search(text):
        raise bad(field, value, "contains a control character (a newline, tab or NUL), which neither a plist nor a "
                                "unit file carries safely")
    return text


def _absolute(value: t.Any, *, field: str) -> str | None:
    if value is None:
        return None
    text = _text(value, field=field)
    if not text.startswith("/"):
        raise bad(field, value, "must be an absolute path")
    return text


def validate(params: t.Mapping[str, t.Any]) -> Job:
    """Every option checked before the host is touched; errors name the option and the value."""
    name = _launchd.validate_label(params.get("name"), field="name")
    state = params.get("state") or "present"
    argv = [_text(a, field=f"program_arguments[{i}]") for i, a in enumerate(params.get("program_arguments") or [])]
    if state == "present":
        if not argv or not all(argv):
            raise bad("program_arguments", argv, "must be a non-empty list of non-empty strings")
        if not argv[0].startswith("/"):
            raise bad("program_arguments", argv, "must start with an absolute program path (neither launchd nor "
                                                 "systemd searches PATH for it)")
    environment = {}
    for key, value in sorted((params.get("environment") or {}).items()):
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise bad("environment", key, "is not an environment variable name (letters, digits and '_')")
        environment[key] = _text(value, field=f"environment.{key}")
    interval = params.get("start_interval")
    if interval is not None and int(interval) < LAUNCHD_MIN_INTERVAL:
        least = LAUNCHD_MIN_INTERVAL
        raise bad("start_interval", interval, f"must be at least {least} (seconds): launchd starts a job at most "
                                              f"once every {least} s (its default ThrottleInterval, launchd.plist(5)), "
                                              f"so a smaller interval would run every {least} s anyway; set {least} "
                                              "or more")
    boot_delay = params.get("boot_delay")
    if boot_delay is not None and int(boot_delay) < 0:
        raise bad("boot_delay", boot_delay, "must be 0 or more (seconds)")
    return Job(
        name=name, state=state, program_arguments=argv, environment=environment,
        description=_text(params.get("description") or f"dockermac.hostbridge: {name}", field="description"),
        run_at_load=bool(params.get("run_at_load", True)),
        start_interval=None if interval is None else int(interval),
        boot_delay=None if boot_delay is None else int(boot_delay),
        requires_network=bool(params.get("requires_network")),
        process_type=params.get("process_type") or None,
        standard_out_path=_absolute(params.get("standard_out_path"), field="standard_out_path"),
        standard_error_path=_absolute(params.get("standard_error_path"), field="standard_error_path"),
        reload=bool(params.get("reload", True)),
        trusted_paths=[_absolute(p, field=f"trusted_paths[{i}]") or ""
                       for i, p in enumerate(params.get("trusted_paths") or [])],
    )


def root_reads(job: Job) -> list[str]:
    """What the root job runs or reads as code: its program (and a script's interpreter), every PATH directory,
    and the trusted_paths. Each must be root's alone (_trust, sshd's StrictModes)."""
    program = job.program_arguments[0]
    search = [d for d in job.environment.get("PATH", "").split(":") if d]
    return [p for p in [program, _trust.interpreter(program), *search, *job.trusted_paths] if p]


# --- rendering ---------------------------------------------------------------------------------------------
def render_plist(job: Job) -> bytes:
    return _launchd.LaunchDaemon.render(label=job.name, program_arguments=job.program_arguments,
                                        **_plist_options(job))


def _unit_text(value: str) -> str:
    return value.replace("%", "%%")  # systemd expands %-specifiers in most settings


def environment_line(key: str, value: str) -> str:
    """One ``Environment=`` line: a double-quoted ``KEY=value`` (systemd does not expand ``$`` there)."""
    escaped = f"{key}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{escaped}"'


def render_service(job: Job) -> bytes:
    lines = [HEADER, "[Unit]", f"Description={_unit_text(job.description)}"]
    if job.requires_network:
        lines += ["Wants=network-online.target", "After=network-online.target"]
    lines += ["", "[Service]", "Type=oneshot"]
    lines += [environment_line(k, v) for k, v in job.environment.items()]
    lines.append(f"ExecStart={_systemd.exec_line(job.program_arguments)}")
    if job.start_interval is None:  # a boot-only job: the service itself is enabled
        lines += ["", "[Install]", "WantedBy=multi-user.target"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_timer(job: Job) -> bytes | None:
    if job.start_interval is None:
        return None
    boot = job.start_interval if job.boot_delay is None else job.boot_delay
    lines = [HEADER, "[Unit]", f"Description={_unit_text(job.description)} (every {job.start_interval}s)", "",
             "[Timer]", f"OnBootSec={boot}s", f"OnUnitActiveSec={job.start_interval}s", "AccuracySec=1s", "",
             "[Install]", "WantedBy=timers.target"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _file_diff(path: str, before: bytes | None, after: bytes | None) -> dict[str, str]:
    return {"before_header": path, "after_header": path,
            "before": (before or b"").decode("utf-8", "replace"), "after": (after or b"").decode("utf-8", "replace")}


class Outcome(t.NamedTuple):
    """What a backend plans: the steps (empty: nothing to do), the file diffs, and whether a reload waits."""

    actions: list[str]
    diffs: list[dict[str, str]]
    paths: list[str]
    reload_deferred: bool


# --- launchd -----------------------------------------------------------------------------------------------
class LaunchdBackend:
    name = "launchd"

    def __init__(self, runner: Runner, module: Module, *, sleep: t.Callable[[float], None] | None = None) -> None:
        self._daemon = _launchd.LaunchDaemon(runner, module, sleep=sleep)
        self._plan: _launchd.LaunchDaemonPlan | None = None

    def plan(self, job: Job) -> Outcome:
        deferred = False
        if job.state == "absent":
            plan = self._daemon.plan_remove(job.name)
            if plan.bootout and not job.reload:  # the loaded job goes at the next boot
                plan = plan._replace(bootout=False)
                deferred = True
        else:
            plan = self._daemon.plan_ensure(label=job.name, program_arguments=job.program_arguments,
                                            **_plist_options(job))
            if plan.bootout and not job.reload:  # the new plist is read at the next bootstrap (boot)
                plan = plan._replace(bootout=False, bootstrap=False)
                deferred = True
        self._plan = plan
        actions = []
        if plan.bootout:
            actions.append(f"launchctl bootout system/{plan.label}")
        if plan.write:
            actions.append(f"write {plan.path}")
        if plan.fix_perms:
            actions.append(f"set {plan.path} to root:wheel 0644")
        if plan.delete:
            actions.append(f"remove {plan.path}")
        if plan.bootstrap:
            actions.append(f"launchctl bootstrap system {plan.path}")
        diffs = [_file_diff(plan.path, plan.before, plan.after)] if plan.write or plan.delete else []
        return Outcome(actions, diffs, [plan.path], deferred)

    def apply(self) -> None:
        if self._plan is None:
            raise HostbridgeError("boot_job: apply() before plan() (a bug in the module)")
        self._daemon.apply(self._plan)


def _plist_options(job: Job) -> dict[str, t.Any]:
    """``render_plist``'s options as ``LaunchDaemon.render`` takes them (it renders the same bytes)."""
    extra: dict[str, t.Any] = {}
    if job.environment:
        extra["EnvironmentVariables"] = dict(job.environment)
    if job.process_type:
        extra["ProcessType"] = job.process_type
    return {"run_at_load": job.run_at_load, "start_interval": job.start_interval,
            "standard_out_path": job.standard_out_path, "standard_error_path": job.standard_error_path,
            "extra": extra}


# --- systemd -----------------------------------------------------------------------------------------------
class _UnitFile(t.NamedTuple):
    unit: str
    path: str
    before: bytes | None
    after: bytes | None  # None: the file must not exist
    write: bool
    fix_perms: bool
    delete: bool


def _describe(verb: str, arg: t.Any) -> str:
    if verb == "file":
        return (f"remove {arg.path}" if arg.delete else
                f"write {arg.path}" if arg.write else f"set {arg.path} to root:root 0644")
    if verb == "daemon-reload":
        return "systemctl daemon-reload"
    return f"systemctl {verb} {arg}"


class SystemdBackend:
    name = "systemd"

    def __init__(self, runner: Runner, module: Module, *, unit_dir: str | None = None, run_dir: str | None = None,
                 owner: str = "root", group: str = "root") -> None:
        self._runner = runner
        self._module = module
        self._units = _systemd.SystemdUnit(runner, module, unit_dir=unit_dir or _systemd.UNIT_DIR)
        self._running = _systemd.systemd_running(run_dir)
        self._owner, self._group = owner, group
        self._steps: list[tuple[str, t.Any]] = []

    def _file(self, unit: str, after: bytes | None) -> _UnitFile:
        path = self._units.path(unit)
        if os.path.islink(path):
            raise HostbridgeError(f"{path} is a symlink; refusing to write or remove a unit through it", path=path)
        before = read_bytes(path)
        write = after is not None and before != after
        fix = after is not None and not write and self._perms_wrong(path)
        return _UnitFile(unit, path, before, after, write, fix, after is None and before is not None)

    def _perms_wrong(self, path: str) -> bool:
        info = os.lstat(path)
        owner = (_launchd._uid(self._owner), _launchd._gid(self._group))  # pylint: disable=protected-access
        return stat.S_IMODE(info.st_mode) != UNIT_MODE or (info.st_uid, info.st_gid) != owner

    def _quiet(self, verb: str, unit: str) -> bool:
        return self._runner.run(["systemctl", verb, "--quiet", unit], check=False).rc == 0

    def plan(self, job: Job) -> Outcome:
        service, timer = f"{job.name}.service", f"{job.name}.timer"
        if job.state == "present":
            files = [self._file(service, render_service(job)), self._file(timer, render_timer(job))]
        else:
            files = [self._file(service, None), self._file(timer, None)]
        if job.state == "present" and not self._running:
            raise HostbridgeError(
                f"systemd does not run on this host ({_systemd.SYSTEMD_RUN_DIR} is missing), so there is nothing to "
                f"install the job {job.name} into. Run its program another way (cron, a container's entry point), "
                "or leave this task out where systemd is missing.", name=job.name)
        steps: list[tuple[str, t.Any]] = []
        svc_file, timer_file = files
        if self._running:
            # A timer left from an earlier job with an interval, or every enabled unit on removal: stop it first.
            if timer_file.delete and (self._quiet("is-enabled", timer) or self._quiet("is-active", timer)):
                steps.append(("disable --now", timer))
            if (job.state == "absent" and svc_file.before is not None and b"[Install]" in svc_file.before
                    and self._quiet("is-enabled", service)):
                steps.append(("disable", service))
        for f in files:
            if f.write or f.fix_perms or f.delete:
                steps.append(("file", f))
        if any(f.write or f.delete for f in files) and self._running:
            steps.append(("daemon-reload", None))
        if job.state == "present":
            steps += self._trigger_steps(job, timer_file)
        self._steps = steps
        actions = [_describe(verb, arg) for verb, arg in steps]
        diffs = [_file_diff(f.path, f.before, f.after) for f in files if f.write or f.delete]
        return Outcome(actions, diffs, [f.path for f in files if f.after is not None or f.before is not None],
                       False)

    def _trigger_steps(self, job: Job, timer_file: _UnitFile) -> list[tuple[str, t.Any]]:
        """Enable the timer (or the boot-only service); start the timer, or restart it on a new schedule."""
        steps: list[tuple[str, t.Any]] = []
        trigger = timer_file.unit if job.start_interval is not None else f"{job.name}.service"
        if not self._quiet("is-enabled", trigger):
            steps.append(("enable", trigger))
        if job.start_interval is not None:
            if not self._quiet("is-active", trigger):
                steps.append(("start", trigger))
            elif timer_file.write and job.reload:  # the new schedule counts from now
                steps.append(("restart", trigger))
        return steps

    def apply(self) -> None:
        for verb, arg in self._steps:
            if verb == "file":
                with directory_lock(arg.path):
                    if os.path.islink(arg.path):  # re-checked under the lock
                        raise HostbridgeError(f"{arg.path} became a symlink; refusing to follow it", path=arg.path)
                    if arg.delete:
                        remove_file(arg.path)
                    else:
                        write_atomic(self._module, arg.path, arg.after, mode=UNIT_MODE, owner=self._owner,
                                     group=self._group)
            elif verb == "daemon-reload":
                self._runner.run(["systemctl", "daemon-reload"], what="systemctl daemon-reload")
            else:
                argv = ["systemctl", *verb.split(), arg]
                self._runner.run(argv, what=" ".join(argv))


Backend = t.Union[LaunchdBackend, SystemdBackend]


def make_backend(system: str, runner: Runner, module: Module) -> Backend:
    backend: type[LaunchdBackend] | type[SystemdBackend] = select_backend(
        system, {"Darwin": LaunchdBackend, "Linux": SystemdBackend}, what="boot_job")
    return backend(runner, module)


def manage(ctx: Context, params: Params, *, backend: Backend | None = None) -> Result:
    """Validate, read once, plan, and (outside check mode) apply. Returns the module result."""
    job = validate(params)
    if job.state == "present":  # every run: a path that was root's may not be any more
        _trust.require(root_reads(job), what=f"boot_job {job.name}")
    backend = backend or make_backend(ctx.system, ctx.runner, ctx.module)
    outcome = backend.plan(job)
    result: Result = {
        "changed": bool(outcome.actions),
        "name": job.name,
        "backend": backend.name,
        "paths": outcome.paths,
        "actions": outcome.actions,
        "reload_deferred": outcome.reload_deferred,
        "warnings": [],
    }
    if ctx.diff_mode:
        result["diff"] = outcome.diffs
    if outcome.actions and not ctx.check_mode:
        backend.apply()
    return result
