# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hyperkit shim in a Docker.app bundle: find hyperkit, recognise the state, install/update/remove crash-safely.

Files, in hyperkit's directory (``<name>`` is ``com.docker.hyperkit`` or ``hyperkit``):

- ``<name>``: the real hyperkit, or our shim (``_shim_template``), recognised by its marker line;
- ``<name>.real``: the real hyperkit while the shim is installed (a hard link to the original inode, so mode,
  owner, extended attributes and bytes are the original's);
- ``.<name>.<random>.hostbridge.tmp``: temp files of a run that was interrupted (removed by the next run);
- ``<name>.hostbridge-backup-<UTC time>``: the optional backup (``backup=true``), an independent copy.

Invariant kept by every sequence of file operations (each a single ``rename``/``link``/``unlink``, see
``FileOps`` in ``_hyperkit_files``): after any prefix of it, the real binary is reachable at ``<name>`` or at
``<name>.real`` and ``<name>`` is either the real binary or a shim whose ``.real`` exists - so Docker Desktop
starts whatever moment a run is killed, and the next run converges.
``tests/unit/plugins/module_utils/test_hyperkit_faults.py`` stops the module at every step to prove it.

Here: finding hyperkit, recognising the state (``detect``: a table of rules, first match wins), planning and
running the change; the file primitives are in ``_hyperkit_files``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import platform
import pwd
import time
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._app_management import (
    FIRST_MACOS,
    find_responsible,
    macos_major,
    refused_message,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import (
    TEMP_SUFFIX,
    directory_lock,
    resolve_inside,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit_files import (
    HEAD,
    FileInfo,
    FileOps,
    inspect,
    is_prefix_of,
    sha256_file,
    shim_mode,
    unlink_quietly,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import (
    SHIM_VERSION,
    SLOTS,
    parse_marker,
    render_shim,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import bad, tap_name, user_name

# Where Docker Desktop kept hyperkit, oldest first; the first that exists wins.
LAYOUTS = (
    ("17.03", "Contents/MacOS/com.docker.hyperkit"),
    ("17.04-17.12", "Contents/Resources/bin/hyperkit"),
    ("18.03 and later", "Contents/Resources/bin/com.docker.hyperkit"),
)
DEFAULT_APP = "/Applications/Docker.app"
REAL_SUFFIX = ".real"
FOREIGN_SUFFIX = ".original"  # AlmirKadric-Published/docker-tuntap-osx keeps the real binary there
BACKUP_INFIX = ".hostbridge-backup-"

PRISTINE = "pristine"
INSTALLED = "installed"
OUTDATED = "outdated"
ORPHANED_SHIM = "orphaned_shim"
UPDATED_BY_DOCKER = "updated_by_docker"
FOREIGN_SHIM = "foreign_shim"
STATES = (PRISTINE, INSTALLED, OUTDATED, ORPHANED_SHIM, UPDATED_BY_DOCKER, FOREIGN_SHIM)
NO_HYPERKIT = "no_hyperkit"  # no bundle, or no hyperkit in it: nothing state=absent could remove

_NO_HYPERKIT = (
    "Docker Desktop may be running on Apple's Virtualization framework (the default since Docker Desktop 4.14, "
    "and the only choice on Apple Silicon), where there is no hyperkit and no tap bridge is possible."
)


# --- options ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Options:
    tap: str
    slot: str
    state: str
    backup: bool


def validate(params: Params) -> Options:
    state = params.get("state") or "present"
    if state not in ("present", "absent"):
        raise bad("state", state, "must be present or absent")
    slot = params.get("slot") or "after_vpnkit"
    if slot not in SLOTS:
        raise bad("slot", slot, f"must be one of {', '.join(SLOTS)}")
    tap = tap_name(params.get("tap_device") or "tap1", field="tap_device")
    return Options(tap=tap, slot=slot, state=state, backup=bool(params.get("backup")))


# --- finding hyperkit ---------------------------------------------------------------------------------------
class NotFound(HostbridgeError):
    """No Docker.app bundle, or no hyperkit in it (Apple Silicon, the Virtualization framework): an error for
    ``state=present``, nothing to do for ``state=absent`` (as ``file state=absent`` on a missing path)."""

    def __init__(self, msg: str, *, app_path: str | None, **details: t.Any) -> None:
        super().__init__(msg, app_path=app_path, **details)
        self.app_path = app_path


@dataclasses.dataclass(frozen=True)
class Location:
    app_path: str
    layout: str
    hyperkit_path: str  # the file the shim replaces (a symlink inside the bundle is resolved)
    real_path: str

    @property
    def directory(self) -> str:
        return os.path.dirname(self.hyperkit_path)

    @property
    def name(self) -> str:
        return os.path.basename(self.hyperkit_path)

    @property
    def foreign_path(self) -> str:
        return self.hyperkit_path + FOREIGN_SUFFIX


def locate(app_path: str) -> Location:
    """hyperkit in the bundle: the first of ``LAYOUTS`` that exists (a leftover ``.real`` counts)."""
    if not os.path.isdir(app_path):
        raise NotFound(bad("app_path", app_path, "is not a directory (the Docker Desktop application bundle)").msg,
                       app_path=None, field="app_path", value=app_path)
    tried = []
    for layout, relative in LAYOUTS:
        candidate = os.path.join(app_path, relative)
        tried.append(candidate)
        if os.path.lexists(candidate):
            return _location(app_path, layout, candidate)
        if os.path.lexists(candidate + REAL_SUFFIX):
            raise HostbridgeError(
                f"{candidate} is missing but {candidate}{REAL_SUFFIX} exists: something removed the hyperkit (or "
                f"its shim) without restoring the real binary. Docker Desktop cannot start like this. Restore it "
                f"by hand: mv -f '{candidate}{REAL_SUFFIX}' '{candidate}', then run the module again.",
                app_path=app_path, hyperkit_path=candidate, real_path=candidate + REAL_SUFFIX)
    raise NotFound(f"No hyperkit found in {app_path}; tried: {', '.join(tried)}. {_NO_HYPERKIT}",
                   app_path=app_path, paths_tried=tried)


def _location(app_path: str, layout: str, candidate: str) -> Location:
    path = candidate
    if os.path.islink(candidate):
        path = resolve_inside(candidate, app_path, field="app_path")
        # The shim finds the real binary next to the path Docker Desktop starts ($0), so both must share a folder.
        if os.path.dirname(path) != os.path.realpath(os.path.dirname(candidate)):
            raise HostbridgeError(
                f"{candidate} is a symlink to {path}, in another folder; the shim finds the real hyperkit next to "
                "the path Docker Desktop starts, so this layout is not supported.", hyperkit_path=candidate)
    else:
        # A symlinked folder on the way must not lead out of the bundle either.
        path = os.path.join(resolve_inside(os.path.dirname(candidate), app_path, field="app_path"),
                            os.path.basename(candidate))
    if not os.path.isfile(path):
        raise HostbridgeError(f"{path} is not a regular file; refusing to touch it.", hyperkit_path=path)
    return Location(app_path=app_path, layout=layout, hyperkit_path=path, real_path=path + REAL_SUFFIX)


# --- recognising the state ----------------------------------------------------------------------------------
INSTALL, UPDATE, RESTORE, DROP_REAL = "install", "update", "restore", "drop_real"


@dataclasses.dataclass
class Plan:
    step: str | None = None  # INSTALL, UPDATE, RESTORE, DROP_REAL or None (nothing but leftover temp files)
    actions: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    backup_file: str | None = None


@dataclasses.dataclass
class Detection:
    state: str
    binary: FileInfo
    real: FileInfo | None
    problem: str | None = None  # set: refuse, touching nothing
    leftover_copy: bool = False  # pristine, and .real is an identical copy left by an interrupted install
    notes: list[str] = dataclasses.field(default_factory=list)
    temps: list[str] = dataclasses.field(default_factory=list)
    backups: list[str] = dataclasses.field(default_factory=list)


def desired_shim(location: Location, options: Options, real_sha256: str) -> str:
    return render_shim(tap=options.tap, slot=options.slot, real_name=os.path.basename(location.real_path),
                       real_sha256=real_sha256)


def _undo_hint(location: Location) -> str:
    return f"mv -f '{location.real_path}' '{location.hyperkit_path}'"


class Seen(t.NamedTuple):
    """What ``detect`` looked at: the two files and the options the shim should carry."""

    location: Location
    options: Options
    binary: FileInfo
    real: FileInfo | None
    backups_hint: str


class Verdict(t.NamedTuple):
    state: str
    problem: str | None = None  # set: refuse, touching nothing
    leftover_copy: bool = False
    notes: tuple[str, ...] = ()


def _another_tool(seen: Seen) -> Verdict | None:
    location = seen.location
    if not os.path.lexists(location.foreign_path):
        return None
    return Verdict(FOREIGN_SHIM, (
        f"{location.foreign_path} exists: another tool (docker-tuntap-osx) has installed its own hyperkit shim. "
        f"Undo it first - with that tool's uninstaller, or by hand: mv -f '{location.foreign_path}' "
        f"'{location.hyperkit_path}' - then restart Docker Desktop and run this module again. Nothing was changed."
    ))


def _a_script_not_ours(seen: Seen) -> Verdict | None:
    location = seen.location
    if not seen.binary.is_script or seen.binary.marker is not None:
        return None
    where = (f" The real hyperkit is probably {location.real_path}: restore it with {_undo_hint(location)}"
             if seen.real is not None else " Reinstall Docker Desktop to get the real hyperkit back.")
    return Verdict(FOREIGN_SHIM, (
        f"{location.hyperkit_path} is a script this module did not write (another tool's shim, such as the one "
        f"of docker-for-mac-host-bridge's install.sh).{where} Then run this module again. Nothing was changed."
    ))


def _real_is_a_script(seen: Seen) -> Verdict | None:
    if seen.real is None or not seen.real.is_script:
        return None
    return Verdict(FOREIGN_SHIM, (
        f"{seen.location.real_path} is a script, not the real hyperkit; refusing to go on, as the real binary could "
        f"be lost. Reinstall Docker Desktop, then run this module again.{seen.backups_hint} Nothing was changed."
    ))


def _our_shim(seen: Seen) -> Verdict | None:
    location, options, marker, real = seen.location, seen.options, seen.binary.marker, seen.real
    if marker is None:
        return None
    if real is None:
        return Verdict(ORPHANED_SHIM, (
            f"{location.hyperkit_path} is this module's shim but the real hyperkit {location.real_path} is "
            "missing, so Docker Desktop cannot start its VM. Reinstall Docker Desktop (that puts the real "
            f"hyperkit back), then run this module again.{seen.backups_hint} Nothing was changed."
        ))
    if marker.real_sha256 is not None and marker.real_sha256 != real.sha256:
        return Verdict(INSTALLED if marker.version == SHIM_VERSION else OUTDATED, (
            f"{location.real_path} has sha256 {real.sha256}, but the shim recorded {marker.real_sha256} when it "
            "was installed: something replaced the real hyperkit. Refusing to go on. If you trust that file, "
            f"restore it by hand ({_undo_hint(location)}) and run this module again; otherwise reinstall "
            f"Docker Desktop.{seen.backups_hint} Nothing was changed."
        ))
    current = seen.binary.small == desired_shim(location, options, real.sha256).encode("utf-8")
    notes: tuple[str, ...] = ()
    if marker.version > SHIM_VERSION:
        notes = (f"The installed shim is version {marker.version}, newer than this collection's {SHIM_VERSION}"
                 + ("; it will be replaced." if options.state == "present" else "."),)
    return Verdict(INSTALLED if current else OUTDATED, notes=notes)


def _the_real_binary(seen: Seen) -> Verdict | None:
    if seen.real is None:
        return Verdict(PRISTINE)
    if seen.real.sha256 == seen.binary.sha256:
        return Verdict(PRISTINE, leftover_copy=True)  # an interrupted install left an identical copy
    return Verdict(UPDATED_BY_DOCKER)  # Docker Desktop put a new hyperkit over the shim


# Checked in order; the first rule with a verdict decides. Refusals (another tool's work, a damaged install)
# come before our own states, so nothing is ever changed on top of them.
RULES: tuple[t.Callable[[Seen], Verdict | None], ...] = (
    _another_tool, _a_script_not_ours, _real_is_a_script, _our_shim, _the_real_binary)


def detect(location: Location, options: Options) -> Detection:
    binary = inspect(location.hyperkit_path)
    if binary is None:  # locate() found it a moment ago
        raise HostbridgeError(f"{location.hyperkit_path} vanished while it was inspected; re-run.",
                              hyperkit_path=location.hyperkit_path)
    real = inspect(location.real_path)
    backups = _list_prefixed(location, location.name + BACKUP_INFIX, "")
    hint = f" Backups made by this module: {', '.join(backups)}." if backups else ""
    seen = Seen(location=location, options=options, binary=binary, real=real, backups_hint=hint)
    verdict = next(v for v in (rule(seen) for rule in RULES) if v is not None)
    return Detection(state=verdict.state, binary=binary, real=real, problem=verdict.problem,
                     leftover_copy=verdict.leftover_copy, notes=list(verdict.notes),
                     temps=_list_prefixed(location, f".{location.name}.", TEMP_SUFFIX), backups=backups)


def _list_prefixed(location: Location, prefix: str, suffix: str) -> list[str]:
    return sorted(os.path.join(location.directory, entry) for entry in os.listdir(location.directory)
                  if entry.startswith(prefix) and entry.endswith(suffix))


# --- describing states (diff) -------------------------------------------------------------------------------
def describe(location: Location, *, state: str, shim_text: str | None, binary_sha: str | None,
             real_sha: str | None) -> str:
    lines = [f"state: {state}"]
    if shim_text is not None:
        marker = parse_marker(shim_text.encode())
        lines.append(f"{location.hyperkit_path}: shim {marker.describe() if marker else '(not ours)'}")
    else:
        lines.append(f"{location.hyperkit_path}: real hyperkit, sha256 {binary_sha}")
    lines.append(f"{location.real_path}: " + (f"real hyperkit, sha256 {real_sha}" if real_sha else "absent"))
    text = "\n".join(lines) + "\n"
    if shim_text is not None:
        text += "\n" + shim_text
    return text


# --- the backends -------------------------------------------------------------------------------------------
def target_user(user: str | None, *, environ: t.Mapping[str, str]) -> pwd.struct_passwd | None:
    """``user``, else SUDO_USER (when not root), else the login user, else whoever runs the module."""
    if user is not None:
        return user_name(user, field="user")
    sudo_user = environ.get("SUDO_USER")
    if sudo_user and sudo_user != "root":
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(sudo_user)
    with contextlib.suppress(OSError, KeyError):
        return pwd.getpwnam(os.getlogin())
    with contextlib.suppress(KeyError):
        return pwd.getpwuid(os.getuid())
    return None


class HyperkitShim:
    """Installs, updates and removes the shim. Subclasses say where Docker Desktop lives by default."""

    platform = "generic"

    def __init__(self, *, ops: FileOps | None = None, environ: t.Mapping[str, str] | None = None,
                 clock: t.Callable[[], float] = time.time, runner: Runner | None = None) -> None:
        self.ops = ops or FileOps()
        self.environ = os.environ if environ is None else environ
        self.clock = clock
        self.runner = runner  # only asked why a change was refused

    def refused(self, path: str) -> str | None:
        """Why a change of the bundle failed with EPERM (as root), when the platform can say."""
        return None

    # -- where the app is --
    def default_apps(self, user: pwd.struct_passwd | None) -> list[str]:
        raise NotImplementedError

    def target_user(self, user: str | None) -> pwd.struct_passwd | None:
        return target_user(user, environ=self.environ)

    def find_app(self, app_path: str | None, user: str | None) -> str:
        account = self.target_user(user)  # validates an explicit user even when app_path is given
        if app_path:
            if not os.path.isdir(app_path):
                raise NotFound(bad("app_path", app_path, "does not exist or is not a directory").msg,
                               app_path=None, field="app_path", value=app_path)
            return os.path.abspath(app_path)
        candidates = self.default_apps(account)
        for candidate in candidates:
            if os.path.isdir(candidate):
                return candidate
        raise NotFound(f"Docker Desktop was not found: tried {', '.join(candidates) or 'nothing'}. Set app_path "
                       "to the Docker.app bundle.", app_path=None, paths_tried=candidates)

    # -- the whole module --
    def run(self, *, params: Params, check_mode: bool, diff_mode: bool) -> dict[str, t.Any]:
        options = validate(params)
        try:
            location = locate(self.find_app(params.get("app_path"), params.get("user")))
        except NotFound as exc:
            if options.state == "present":
                raise
            return self._nothing_to_remove(exc, diff_mode=diff_mode)
        with directory_lock(location.hyperkit_path):
            detection = detect(location, options)
            base: dict[str, t.Any] = {
                "app_path": location.app_path, "hyperkit_path": location.hyperkit_path,
                "real_path": location.real_path, "state_found": detection.state, "shim_version": SHIM_VERSION,
            }
            if detection.problem:
                raise HostbridgeError(detection.problem, **base)
            try:
                return self._converge(location, options, detection, base, check_mode=check_mode,
                                      diff_mode=diff_mode)
            except OSError as exc:
                # Every step is crash-safe, so a failed one leaves a state the next run converges from.
                why = self.refused(exc.filename or location.hyperkit_path) if exc.errno == errno.EPERM else None
                if why:
                    raise HostbridgeError(f"{why} The real hyperkit is intact.", errno=exc.errno,
                                          **base) from exc
                hint = " (disk full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
                raise HostbridgeError(
                    f"Cannot change the bundle{hint}: {exc.strerror} ({exc.filename or location.hyperkit_path}). "
                    "The real hyperkit is intact; fix the cause and re-run.", **base) from exc

    @staticmethod
    def _nothing_to_remove(found: NotFound, *, diff_mode: bool) -> dict[str, t.Any]:
        """``state=absent`` with no bundle or no hyperkit in it: ok, nothing touched."""
        result: dict[str, t.Any] = {
            "app_path": found.app_path, "hyperkit_path": None, "real_path": None, "state_found": NO_HYPERKIT,
            "state": NO_HYPERKIT, "shim_version": SHIM_VERSION, "changed": False, "restart_required": False,
            "actions": [], "backup_file": None, "warnings": [], "msg": f"Nothing to remove: {found.msg}"}
        if diff_mode:
            text = f"state: {NO_HYPERKIT}\n{found.msg}\n"
            result["diff"] = {"before": text, "after": text}
        return result

    def _converge(self, location: Location, options: Options, detection: Detection, base: dict[str, t.Any], *,
                  check_mode: bool, diff_mode: bool) -> dict[str, t.Any]:
        binary, real = detection.binary, detection.real
        # What the real hyperkit is once we are done, and so the checksum the shim records.
        real_sha = real.sha256 if detection.state in (INSTALLED, OUTDATED) and real else binary.sha256
        new_shim = desired_shim(location, options, real_sha) if options.state == "present" else None
        plan = self._plan(location, options, detection)

        stale_temps, kept_temps = self._sort_temps(detection, new_shim)
        warnings = list(detection.notes) + plan.warnings + [
            f"{tmp} looks like a temp file of this module but its content is unknown; left in place."
            for tmp in kept_temps]
        actions = [f"remove the leftover temp file {tmp}" for tmp in stale_temps] + plan.actions

        result = dict(base, changed=bool(actions), restart_required=plan.step in (INSTALL, UPDATE, RESTORE),
                      state=INSTALLED if options.state == "present" else PRISTINE, actions=actions,
                      backup_file=plan.backup_file, warnings=warnings)
        if diff_mode:
            result["diff"] = self._diff(location, detection, new_shim, real_sha)
        if check_mode or not actions:
            return result

        for tmp in stale_temps:
            self.ops.unlink(tmp)
        if plan.step in (INSTALL, UPDATE):
            self._install(location, detection, new_shim or "", plan.backup_file)
        elif plan.step == RESTORE:
            self.ops.rename(location.real_path, location.hyperkit_path)
        elif plan.step == DROP_REAL:
            self.ops.unlink(location.real_path)
        self._verify(location, options)
        return result

    def _plan(self, location: Location, options: Options, detection: Detection) -> Plan:
        binary, real, state = detection.binary, detection.real, detection.state
        plan = Plan()
        if options.state == "present" and state in (PRISTINE, UPDATED_BY_DOCKER):
            plan.step = INSTALL
            if state == UPDATED_BY_DOCKER:
                plan.warnings.append(
                    f"Docker Desktop replaced the shim with a new hyperkit (sha256 {binary.sha256}); it becomes the "
                    f"real one (the stale {location.real_path}, sha256 {real.sha256 if real else '-'}, is replaced) "
                    "and the shim is installed again.")
            if options.backup:
                plan.backup_file = self._existing_backup(detection, binary.sha256)
                if plan.backup_file is None:
                    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
                    plan.backup_file = f"{location.hyperkit_path}{BACKUP_INFIX}{stamp}"
                    plan.actions.append(f"back up {location.hyperkit_path} to {plan.backup_file}")
            plan.actions.append(f"keep the real hyperkit as {location.real_path}"
                                + (" (replacing the stale one)" if real is not None else ""))
            plan.actions.append(f"install the shim (v{SHIM_VERSION}) as {location.hyperkit_path}")
        elif options.state == "present" and state == OUTDATED:
            plan.step = UPDATE
            plan.actions.append(f"update the shim at {location.hyperkit_path} to v{SHIM_VERSION} "
                                f"(tap={options.tap} slot={options.slot})")
        elif options.state == "absent" and state in (INSTALLED, OUTDATED):
            plan.step = RESTORE
            plan.actions.append(f"restore the real hyperkit {location.real_path} as {location.hyperkit_path}")
        elif options.state == "absent" and real is not None:  # pristine with a leftover copy, or updated_by_docker
            plan.step = DROP_REAL
            if state == UPDATED_BY_DOCKER:
                plan.warnings.append(f"Docker Desktop replaced the shim with a new hyperkit; the stale "
                                     f"{location.real_path} is removed.")
            plan.actions.append(f"remove the stale copy {location.real_path}")
        return plan

    def _install(self, location: Location, detection: Detection, shim: str, backup_file: str | None) -> None:
        binary = detection.binary
        state = detection.state
        if backup_file and not os.path.exists(backup_file):
            tmp = self.ops.clone_to_temp(location.hyperkit_path, location.name, sha256=binary.sha256, copy=True)
            self.ops.rename(tmp, backup_file)
        if state in (PRISTINE, UPDATED_BY_DOCKER):
            owner = (binary.uid, binary.gid)
            mode = shim_mode(binary.mode)
        else:
            real = detection.real
            if real is None:
                raise AssertionError("a shim is installed only over a detected real binary")
            owner = (real.uid, real.gid)
            mode = shim_mode(real.mode)
        shim_tmp = self.ops.write_temp(location.directory, location.name, shim.encode("utf-8"), mode=mode,
                                       uid=owner[0], gid=owner[1])
        try:
            if state in (PRISTINE, UPDATED_BY_DOCKER):
                real_tmp = self.ops.clone_to_temp(location.hyperkit_path, location.name, sha256=binary.sha256)
                try:
                    self.ops.rename(real_tmp, location.real_path)
                except Exception:
                    unlink_quietly(real_tmp)
                    raise
                # The real binary is now at both paths; the next rename swaps the shim in atomically.
            self.ops.rename(shim_tmp, location.hyperkit_path)
        except Exception:
            unlink_quietly(shim_tmp)
            raise

    def _verify(self, location: Location, options: Options) -> None:
        """Post-condition: a second look must find the state we aimed at."""
        after = detect(location, options)
        want = INSTALLED if options.state == "present" else PRISTINE
        if after.problem or after.state != want or (want == PRISTINE and after.real is not None):
            raise HostbridgeError(f"After the change {location.hyperkit_path} is in state {after.state!r}, not "
                                  f"{want!r}: {after.problem or 'unexpected'}", hyperkit_path=location.hyperkit_path)
        if after.real is not None and after.binary.marker and after.real.sha256 != after.binary.marker.real_sha256:
            raise HostbridgeError(f"After the change the shim at {location.hyperkit_path} records another real "
                                  f"binary than {location.real_path}; re-run to repair.",
                                  hyperkit_path=location.hyperkit_path)

    def _sort_temps(self, detection: Detection, new_shim: str | None) -> tuple[list[str], list[str]]:
        """Leftover temp files: ours (a whole or partial copy of hyperkit, or of a shim) are removed; anything
        else is reported and kept, so no bytes that exist nowhere else are ever deleted."""
        stale: list[str] = []
        kept: list[str] = []
        for tmp in detection.temps:
            try:
                with open(tmp, "rb") as handle:
                    head = handle.read(HEAD)
            except OSError:
                kept.append(tmp)
                continue
            ours = (
                is_prefix_of(tmp, detection.binary.path)
                or is_prefix_of(tmp, detection.real.path if detection.real else None)
                or parse_marker(head) is not None
                or (new_shim is not None and new_shim.encode().startswith(head) and len(head) < HEAD)
            )
            (stale if ours else kept).append(tmp)
        return stale, kept

    @staticmethod
    def _existing_backup(detection: Detection, sha256: str) -> str | None:
        for path in detection.backups:
            with contextlib.suppress(OSError):
                if sha256_file(path) == sha256:
                    return path
        return None

    @staticmethod
    def _diff(location: Location, detection: Detection, new_shim: str | None, real_sha: str) -> dict[str, str]:
        binary, real = detection.binary, detection.real
        before = describe(location, state=detection.state,
                          shim_text=binary.text() if binary.marker else None,
                          binary_sha=binary.sha256, real_sha=real.sha256 if real else None)
        if new_shim is not None:
            after = describe(location, state=INSTALLED, shim_text=new_shim, binary_sha=None, real_sha=real_sha)
        else:
            after = describe(location, state=PRISTINE, shim_text=None, binary_sha=real_sha if detection.state in (
                INSTALLED, OUTDATED) else binary.sha256, real_sha=None)
        return {"before": before, "after": after, "before_header": location.hyperkit_path,
                "after_header": location.hyperkit_path}


class DarwinHyperkitShim(HyperkitShim):
    """macOS: ``/Applications/Docker.app``, then the target user's ``~/Applications/Docker.app``."""

    platform = "Darwin"

    def refused(self, path: str) -> str | None:
        """App Management (macOS 13+): name the permission and the program that needs it (``_app_management``)."""
        major = macos_major(platform.mac_ver()[0] or None)
        if self.runner is None or (major is not None and major < FIRST_MACOS):
            return None
        return refused_message(path, find_responsible(self.runner, pid=os.getpid(), environ=self.environ))

    def default_apps(self, user: pwd.struct_passwd | None) -> list[str]:
        apps = [DEFAULT_APP]
        if user is not None and user.pw_dir:
            apps.append(os.path.join(user.pw_dir, "Applications", "Docker.app"))
        return apps


class LinuxHyperkitShim(HyperkitShim):
    """Linux has no Docker Desktop on HyperKit: only an explicit ``app_path`` (the end-to-end simulation's
    bundle) is managed."""

    platform = "Linux"

    def default_apps(self, user: pwd.struct_passwd | None) -> list[str]:
        raise HostbridgeError("app_path is required on Linux: there is no Docker Desktop on HyperKit here; the "
                              "option points at a (simulated) Docker.app bundle.", field="app_path")


BACKENDS: dict[str, type[HyperkitShim]] = {"Darwin": DarwinHyperkitShim, "Linux": LinuxHyperkitShim}


# The module's options; bridge_facts validates its desired-state entries with the same spec.
ARGUMENT_SPEC = {
    "app_path": {"type": "path"},
    "user": {"type": "str"},
    "tap_device": {"type": "str", "default": "tap1"},
    "slot": {"type": "str", "choices": ["after_vpnkit", "next_function"], "default": "after_vpnkit"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "backup": {"type": "bool", "default": False},
}


def manage(ctx: Context, params: Params, *, ops: FileOps | None = None) -> Result:
    """The whole ``hyperkit_shim`` module behind its argument parsing (``ops``: the fault-injection tests')."""
    shim = select_backend(ctx.system, BACKENDS, what="hyperkit_shim")(ops=ops, runner=ctx.runner)
    return shim.run(params=params, check_mode=ctx.check_mode, diff_mode=ctx.diff_mode)
