# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts file as a managed resource: one marked block per owner, every other byte left alone.

A block looks like this (the file's own line ending is used, CRLF included)::

    # BEGIN dockermac.hostbridge (managed by Ansible; edits inside are overwritten)
    198.51.100.1	nginx.test
    198.51.100.2	api.test api.team.internal
    # END dockermac.hostbridge

``HostsFile`` splits the bytes into the text before the block, the block and the text after it, so that
rendering with no change gives back the very same bytes, and removing the block gives back the file as it
was before the block was added (a file without a final newline included: see ``_render``).
``plan()`` is the whole engine: pure, on bytes, so it can be tested exhaustively.
``manage()`` is the ``etc_hosts_entry`` module behind its argument parsing: lock, read, plan, write, flush.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._files import (
    check_writable,
    directory_lock,
    read_bytes,
    write_atomic,
)
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import Context, select_backend
from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Params, Result, Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import (
    bad,
    hostname,
    hosts_marker,
    ip_address,
)

DEFAULT_MARKER = "dockermac.hostbridge"
BEGIN = "# BEGIN {marker} (managed by Ansible; edits inside are overwritten)"
END = "# END {marker}"
# Hosts files are ASCII in practice; surrogateescape carries any other byte through unchanged.
_CODEC = {"encoding": "utf-8", "errors": "surrogateescape"}
CONFLICT_CHOICES = ("warn", "fail", "ignore")

# The module's options; bridge_facts validates its desired-state entries with the same spec.
ARGUMENT_SPEC = {
    "path": {"type": "path", "default": "/etc/hosts"},
    "ip": {"type": "str"},
    "names": {"type": "list", "elements": "str"},
    "entries": {"type": "list", "elements": "dict", "options": {
        "ip": {"type": "str", "required": True},
        "names": {"type": "list", "elements": "str"},
    }},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "exclusive": {"type": "bool", "default": False},
    "marker": {"type": "str", "default": DEFAULT_MARKER},
    "on_conflict": {"type": "str", "choices": list(CONFLICT_CHOICES), "default": "warn"},
    "backup": {"type": "bool", "default": False},
    "flush_cache": {"type": "bool", "default": True},
}
# With this spec the module takes AnsibleModule's file arguments (add_file_common_args): mode, owner, group, the
# SELinux context, attributes and unsafe_writes (whose default comes from ANSIBLE_UNSAFE_WRITES).
FILE_ATTRIBUTES = ("mode", "owner", "group", "seuser", "serole", "selevel", "setype", "attributes")
ARGUMENT_RULES: dict[str, t.Any] = {
    "mutually_exclusive": [("ip", "entries")],
    "required_one_of": [("ip", "entries")],
    "required_by": {"names": "ip"},
}


@dataclasses.dataclass(frozen=True)
class Entry:
    """One hosts line of ours: an address (normalised) and its names (as given, first one canonical)."""

    ip: str
    names: tuple[str, ...]

    def line(self) -> str:
        return f"{self.ip}\t{' '.join(self.names)}"

    def as_dict(self) -> dict[str, t.Any]:
        return {"ip": self.ip, "names": list(self.names)}


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A name we map that a line outside our block maps to another address of the same family."""

    name: str
    ip: str
    other_ip: str
    line_number: int

    def message(self, path: str) -> str:
        return (f"{self.name} is mapped to {self.other_ip} by line {self.line_number} of {path}, a line this module "
                f"does not manage, while the managed block maps it to {self.ip}. Resolvers use the first match: "
                "remove or fix that line.")


# --- validation ---------------------------------------------------------------------------------------------
def marker(value: t.Any) -> str:
    return hosts_marker(value, field="marker")


def entries_from_params(params: Params) -> list[Entry]:
    """``ip``+``names`` or ``entries``, validated and merged by address (order kept, names de-duplicated)."""
    raw: list[tuple[str, t.Any, t.Any]] = []
    if params.get("entries") is not None:
        for index, item in enumerate(params["entries"]):
            where = f"entries[{index}]"
            if not isinstance(item, dict) or "ip" not in item:
                raise bad(where, item, "must be a mapping with 'ip' and 'names'")
            unknown = sorted(set(item) - {"ip", "names"})
            if unknown:
                raise bad(where, item, f"has unknown keys {', '.join(unknown)} (only 'ip' and 'names')")
            raw.append((where, item["ip"], item.get("names")))
    elif params.get("ip") is not None:
        raw.append(("", params["ip"], params.get("names")))
    merged: dict[str, list[str]] = {}
    owner: dict[tuple[str, int], str] = {}  # (name, family) -> address: one address per family and name
    for where, ip_value, names in raw:
        prefix = f"{where}." if where else ""
        ip = str(ip_address(ip_value, field=f"{prefix}ip"))
        names_field = f"{prefix}names"
        seen = merged.setdefault(ip, [])
        for n, name in enumerate(_name_list(names, field=names_field, absent=params.get("state") == "absent")):
            hostname(name, field=f"{names_field}[{n}]")
            other = owner.setdefault((name.lower(), _family(ip)), ip)
            if other != ip:
                raise bad(f"{names_field}[{n}]", name, f"is already given address {other}; a name can have one "
                          "address per family (list it once)")
            if name.lower() not in (s.lower() for s in seen):
                seen.append(name)
    return [Entry(ip, tuple(names)) for ip, names in merged.items()]


def _name_list(value: t.Any, *, field: str, absent: bool) -> list[t.Any]:
    """The names as a list; with state=absent they may be left out (the whole entry goes)."""
    if value is None and absent:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or (not value and not absent):
        raise bad(field, value, "must be a non-empty list of host names")
    return list(value)


# --- parsing ------------------------------------------------------------------------------------------------
def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def parse_line(text: str) -> tuple[str, list[str]] | None:
    """``(ip, names)`` of a hosts line, or None for blank lines, comments and lines that are not entries."""
    words = text.split("#", 1)[0].split()
    if len(words) < 2:
        return None
    try:
        ip = str(ipaddress.ip_address(words[0].split("%", 1)[0]))
    except ValueError:
        return None
    return ip, words[1:]


class HostsFile:
    """The file's text split around the block of one marker."""

    def __init__(self, data: bytes, *, marker: str, path: str = "hosts") -> None:
        text = data.decode(**_CODEC)
        self.lines = text.splitlines(keepends=True)
        self.eol = "\r\n" if self.lines and self.lines[0].endswith("\r\n") else "\n"
        begin, end = BEGIN.format(marker=marker), END.format(marker=marker)
        starts = [i for i, line in enumerate(self.lines) if line.rstrip("\r\n") == begin]
        ends = [i for i, line in enumerate(self.lines) if line.rstrip("\r\n") == end]
        self.span: tuple[int, int] | None = None
        if not starts and not ends:
            return
        if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
            where = ", ".join(str(i + 1) for i in sorted(starts + ends))
            raise HostbridgeError(
                f"{path}: the block of marker {marker!r} is damaged (its BEGIN/END lines are at lines {where}; "
                "expected one BEGIN followed by one END). Fix or delete those lines by hand; nothing was changed.",
                path=path)
        self.span = (starts[0], ends[0])

    @property
    def entries(self) -> list[Entry]:
        """The entries inside our block (comments and stray lines in it are not kept)."""
        if self.span is None:
            return []
        found: list[Entry] = []
        for line in self.lines[self.span[0] + 1:self.span[1]]:
            parsed = parse_line(line)
            if parsed is not None:
                found.append(Entry(parsed[0], tuple(parsed[1])))
        return found

    def outside(self) -> t.Iterator[tuple[int, str, list[str]]]:
        """``(line number, ip, names)`` of every entry line outside our block."""
        for index, line in enumerate(self.lines):
            if self.span is not None and self.span[0] <= index <= self.span[1]:
                continue
            parsed = parse_line(line)
            if parsed is not None:
                yield index + 1, parsed[0], parsed[1]

    def render(self, entries: list[Entry], *, marker: str) -> bytes:
        return _render(self.lines, self.span, entries, marker=marker, eol=self.eol).encode(**_CODEC)


def _render(lines: list[str], span: tuple[int, int] | None, entries: list[Entry], *, marker: str, eol: str) -> str:
    """The file with the block holding ``entries`` (or without a block when there are none).

    A block at the end of a file whose last line has no newline is written as ``<eol>block`` with no final
    newline, so the file keeps that property and removing the block restores it byte for byte.
    """
    if span is None:
        before, after = "".join(lines), ""
    else:
        before, after = "".join(lines[:span[0]]), "".join(lines[span[1] + 1:])
        if not after and not lines[span[1]].endswith(("\n", "\r")) and before.endswith(("\n", "\r")):
            before = before[:-2] if before.endswith("\r\n") else before[:-1]  # the newline we added
    if not entries:
        return before + after
    body = eol.join([BEGIN.format(marker=marker), *(e.line() for e in entries), END.format(marker=marker)])
    if after:
        return before + body + eol + after
    if before and not before.endswith(("\n", "\r")):
        return before + eol + body  # keep "no final newline"
    return before + body + eol


# --- planning -----------------------------------------------------------------------------------------------
class Plan(t.NamedTuple):
    before: bytes
    after: bytes
    entries: list[Entry]  # our block afterwards
    conflicts: list[Conflict]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _desired(current: list[Entry], wanted: list[Entry], *, state: str, exclusive: bool) -> list[Entry]:
    if state == "absent":
        if exclusive:
            return []
        drop = {e.ip: {n.lower() for n in e.names} for e in wanted}
        result = []
        for entry in current:
            if entry.ip not in drop:
                result.append(entry)
                continue
            left = tuple(n for n in entry.names if drop[entry.ip] and n.lower() not in drop[entry.ip])
            if left:
                result.append(Entry(entry.ip, left))
        return result
    if exclusive:
        return list(wanted)
    # present, not exclusive: each wanted name points at its address; other entries stay where they are.
    moved = {(n.lower(), _family(e.ip)): e.ip for e in wanted for n in e.names}
    by_ip = {e.ip: e for e in wanted}
    result = []
    for entry in current:
        family = _family(entry.ip)
        names = [n for n in entry.names if moved.get((n.lower(), family), entry.ip) == entry.ip]
        extra = by_ip.pop(entry.ip, None)
        if extra is not None:
            names += [n for n in extra.names if n.lower() not in {m.lower() for m in names}]
        if names:
            result.append(Entry(entry.ip, tuple(names)))
    return result + list(by_ip.values())


def plan(data: bytes, wanted: list[Entry], *, marker: str = DEFAULT_MARKER, state: str = "present",
         exclusive: bool = False, path: str = "hosts") -> Plan:
    """What the file becomes. ``data`` is the file's bytes (``b""`` for a missing file)."""
    hosts = HostsFile(data, marker=marker, path=path)
    current = hosts.entries
    desired = _desired(current, wanted, state=state, exclusive=exclusive)
    # Nothing changes in our block's meaning: keep the bytes (a hand-aligned block is not rewritten).
    after = data if desired == current and (hosts.span is not None or not desired) else hosts.render(desired,
                                                                                                     marker=marker)
    conflicts: list[Conflict] = []
    if state == "present" and wanted:
        ours = {(n.lower(), _family(e.ip)): e.ip for e in wanted for n in e.names}
        for number, ip, names in hosts.outside():
            family = _family(ip)
            for name in names:
                mine = ours.get((name.lower(), family))
                if mine is not None and mine != ip:
                    conflicts.append(Conflict(name=name, ip=mine, other_ip=ip, line_number=number))
    return Plan(before=data, after=after, entries=desired, conflicts=conflicts)


# --- the module ---------------------------------------------------------------------------------------------
class DarwinResolverCache:
    """macOS caches lookups, hosts-file answers included: flush both caches after a change."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def flush(self) -> list[str]:
        warnings = []
        for argv in (["dscacheutil", "-flushcache"], ["killall", "-HUP", "mDNSResponder"]):
            result = self._runner.run(argv, check=False)
            if result.rc != 0:
                detail = (result.stderr or result.stdout).strip()
                warnings.append(f"The hosts file was updated, but `{' '.join(argv)}` failed (rc={result.rc}: "
                                f"{detail}); run `sudo {' '.join(argv)}` or wait for the cache to expire.")
        return warnings


class NoResolverCache:
    """Linux: glibc reads /etc/hosts on every lookup, and systemd-resolved and nscd reload it on change."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    def flush(self) -> list[str]:
        return []


RESOLVER_CACHES: dict[str, t.Callable[[Runner], DarwinResolverCache | NoResolverCache]] = {
    "Darwin": DarwinResolverCache, "Linux": NoResolverCache}


def _set_file_attributes(ctx: Context, params: Params, path: str, changed: bool) -> bool:
    """Apply the file arguments (mode, owner, ...) the task gives; ``changed`` when they differed."""
    if not any(params.get(key) is not None for key in FILE_ATTRIBUTES):
        return changed
    if ctx.check_mode and not ctx.module.check_mode:
        # A comparison inside bridge_facts (``_plan``): AnsibleModule can only compare these by setting them, so
        # the task decides.
        return True
    return ctx.module.set_fs_attributes_if_different(ctx.module.load_file_common_arguments(params, path=path),
                                                     changed)


def manage(ctx: Context, params: Params) -> Result:
    """Validate, then lock the file's directory, read, plan, write and flush. Returns the module result."""
    path = params.get("path") or "/etc/hosts"
    state = params.get("state") or "present"
    exclusive = bool(params.get("exclusive"))
    mark = marker(params.get("marker") or DEFAULT_MARKER)
    on_conflict = params.get("on_conflict") or "warn"
    if on_conflict not in CONFLICT_CHOICES:
        raise bad("on_conflict", on_conflict, f"must be one of {', '.join(CONFLICT_CHOICES)}")
    wanted = entries_from_params(params)
    if not wanted and not exclusive:
        raise bad("entries", params.get("entries"),
                  "must list at least one entry (or give ip and names); an empty list is only allowed with "
                  "exclusive=true, where the block holds nothing and is removed")
    if os.path.isdir(path):
        raise bad("path", path, "is a directory, not a hosts file")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise bad("path", path, "is in a directory that does not exist")

    cache = select_backend(ctx.system, RESOLVER_CACHES, what="etc_hosts_entry")(ctx.runner)
    result: dict[str, t.Any] = {"changed": False, "path": path, "warnings": []}
    with directory_lock(path):
        data = read_bytes(path)
        exists = data is not None
        current = plan(data or b"", wanted, marker=mark, state=state, exclusive=exclusive, path=path)
        if current.conflicts and on_conflict != "ignore":
            messages = [c.message(path) for c in current.conflicts]
            if on_conflict == "fail":
                raise HostbridgeError(" ".join(messages) + " Nothing was changed (on_conflict=fail).",
                                      path=path, conflicts=[dataclasses.asdict(c) for c in current.conflicts])
            result["warnings"] += messages
        # A missing file that would stay empty is not created.
        changed = current.changed and (exists or bool(current.after))
        result.update(changed=changed, entries=[e.as_dict() for e in current.entries],
                      conflicts=[dataclasses.asdict(c) for c in current.conflicts])
        if ctx.diff_mode:
            result["diff"] = {"before_header": path, "after_header": path,
                              "before": current.before.decode(**_CODEC), "after": current.after.decode(**_CODEC)}
        if changed and not ctx.check_mode:
            check_writable(path)
            if params.get("backup") and exists:
                result["backup_file"] = ctx.module.backup_local(path)
            write_atomic(ctx.module, path, current.after, mode=None if exists else 0o644,
                         unsafe_writes=bool(params.get("unsafe_writes")))
        if exists or (changed and not ctx.check_mode):
            result["changed"] = _set_file_attributes(ctx, params, path, result["changed"])
    if changed and not ctx.check_mode and params.get("flush_cache", True):
        result["warnings"] += cache.flush()
    return result
