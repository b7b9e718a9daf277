# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hyperkit shim: a POSIX sh script Docker Desktop starts instead of hyperkit.

It adds ``-s 2:<func>,virtio-tap,<tap>`` to hyperkit's arguments and ``exec``s the real binary, kept next to it
as ``<name>.real``. Its second line is a marker that identifies it as ours and records how it was rendered::

    # dockermac.hostbridge-shim v2 tap=tap1 slot=after_vpnkit real=com.docker.hyperkit.real real-sha256=<hex>

``SHIM_VERSION`` is the one place the shim's version lives: bump it whenever the script's text changes, so that
installed shims are reported ``outdated`` and replaced. It is independent of the collection version on purpose:
a release that does not change the script must not force a Docker Desktop restart.
"""

from __future__ import annotations

import re
import shlex
import typing as t

SHIM_VERSION = 2
MARKER_TAG = "dockermac.hostbridge-shim"
SLOTS = ("after_vpnkit", "next_function")

_MARKER = re.compile(r"^# " + re.escape(MARKER_TAG) + r" v(?P<version>[0-9]+)(?P<fields>(?: [a-z0-9-]+=\S*)*) *$")
_TAP = re.compile(r"^tap(?:[0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$")
_REAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Marker(t.NamedTuple):
    version: int
    fields: dict[str, str]

    @property
    def real_sha256(self) -> str | None:
        value = self.fields.get("real-sha256")
        return value if value and _SHA256.match(value) else None

    def describe(self) -> str:
        return f"v{self.version} " + " ".join(f"{k}={v}" for k, v in self.fields.items() if k != "real-sha256")


def parse_marker(data: bytes) -> Marker | None:
    """The marker of one of our shims (any version), or None for anything else (binaries, other scripts)."""
    if not data.startswith(b"#!"):
        return None
    lines = data[:4096].split(b"\n")
    if len(lines) < 3:  # a marker line must be complete (followed by a newline)
        return None
    try:
        line = lines[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    match = _MARKER.match(line)
    if not match:
        return None
    fields = dict(item.split("=", 1) for item in match["fields"].split())
    return Marker(int(match["version"]), fields)


def render_shim(*, tap: str, slot: str, real_name: str, real_sha256: str) -> str:
    """The shim's text. Every value is validated here (whatever the caller did) and quoted for sh."""
    if not _TAP.match(tap):
        raise ValueError(f"tap {tap!r} is not tap0..tap255")
    if slot not in SLOTS:
        raise ValueError(f"slot {slot!r} is not one of {SLOTS}")
    if not _REAL_NAME.match(real_name):
        raise ValueError(f"real binary name {real_name!r} has characters the shim does not allow")
    if not _SHA256.match(real_sha256):
        raise ValueError(f"{real_sha256!r} is not a lowercase hex sha256")
    binary_name = real_name[: -len(".real")] if real_name.endswith(".real") else real_name
    marker = f"# {MARKER_TAG} v{SHIM_VERSION} tap={tap} slot={slot} real={real_name} real-sha256={real_sha256}"
    return (
        _TEMPLATE.replace("@MARKER@", marker)
        .replace("@TAP@", shlex.quote(tap))
        .replace("@SLOT@", shlex.quote(slot))
        .replace("@REAL_NAME@", shlex.quote(real_name))
        .replace("@UNDO@", f"mv -f {shlex.quote(real_name)} {shlex.quote(binary_name)}")
    )


# The script. Rules it keeps: every expansion is quoted (paths with spaces, arguments with quotes, `$`,
# backslashes, globs, newlines or nothing at all pass through untouched); arguments are rebuilt in the
# positional parameters (POSIX sh has no arrays): each one is moved from the front to the back once, and the
# device is appended right after its anchor; when anything is unclear the arguments pass through unchanged,
# with a warning on stderr, because Docker Desktop must always start.
_TEMPLATE = r"""#!/bin/sh
@MARKER@
# Installed by the Ansible module dockermac.hostbridge.hyperkit_shim. Docker Desktop starts this script in
# place of hyperkit; it adds the tap device to hyperkit's arguments and runs the real hyperkit, which is kept
# next to this file. To undo by hand, in this directory: @UNDO@
# then restart Docker Desktop.
tap=@TAP@
slot_mode=@SLOT@
real_name=@REAL_NAME@

warn() {
    printf 'hostbridge-shim: %s\n' "$*" >&2
}

# The real hyperkit is next to this file, which $0 may reach through symlinks (Docker's Homebrew cask links
# /usr/local/bin/hyperkit here; minikube starts that path): follow them. readlink runs only for a symlink, so
# Docker Desktop's own start (the bundle path) needs no other program. The "." keeps a trailing newline.
self=$0
hops=0
while [ -L "$self" ] && [ "$hops" -lt 40 ]; do
    hops=$((hops + 1))
    link=$(readlink -- "$self" && printf .) || break
    link=${link%?.}
    case $link in
        /*) self=$link ;;
        *) case $self in
               */*) self=${self%/*}/$link ;;
               *) self=$link ;;
           esac ;;
    esac
done
case $self in
    */*) here=${self%/*} ;;
    *) here=. ;;
esac
real=$here/$real_name
if [ ! -f "$real" ] || [ ! -x "$real" ]; then
    warn "the real hyperkit is missing: $real (restore it, see the comment at the top of $self)"
    exit 127
fi

has_tap=no      # an argument already carries virtio-tap,<tap>
vpnkit_at=0     # position of the -s value whose device is virtio-vpnkit
func0_used=no   # function 0 of PCI slot 2 is there (without it the guest sees no other function of slot 2)
func1_used=no   # function 1 of PCI slot 2 is taken
top_func=-1     # highest function used on PCI slot 2 ...
top_at=0        # ... and the position of its -s value

note_slot() {
    # $1: the value of an -s option: <slot>[:<func>],<emulation>[,<config>] or <bus>:<slot>:<func>,...
    # $2: its position in the arguments
    case $1 in
        *,*) ;;
        *) return 0 ;;
    esac
    pci=${1%%,*}
    rest=${1#*,}
    emulation=${rest%%,*}
    case $pci in
        0:2:[01234567]) pci=2:${pci#0:2:} ;;
    esac
    case $pci in
        2) func=0 ;;
        2:[01234567]) func=${pci#2:} ;;
        *) func= ;;
    esac
    if [ -n "$func" ]; then
        if [ "$func" = 0 ]; then
            func0_used=yes
        fi
        if [ "$func" = 1 ]; then
            func1_used=yes
        fi
        if [ "$func" -gt "$top_func" ]; then
            top_func=$func
            top_at=$2
        fi
    fi
    if [ "$emulation" = virtio-vpnkit ] && [ "$vpnkit_at" -eq 0 ]; then
        vpnkit_at=$2
    fi
}

# Pass 1: read the arguments as hyperkit's getopt("behvuwxMACHPWY:f:F:g:c:s:m:l:U:") does.
position=0
value_of=
options=yes
for arg do
    position=$((position + 1))
    if [ -n "$value_of" ]; then
        if [ "$value_of" = -s ]; then
            note_slot "$arg" "$position"
        fi
        value_of=
    elif [ "$options" = yes ]; then
        case $arg in
            -s | -c | -f | -F | -g | -l | -m | -U | -Y) value_of=$arg ;;
            -s?*) note_slot "${arg#-s}" "$position" ;;
            --) options=no ;;
            -?*) ;;
            *) options=no ;;
        esac
    fi
    case $arg in
        *virtio-tap,"$tap" | *virtio-tap,"$tap",*) has_tap=yes ;;
    esac
done

# hyperkit accepts 2:N without 2:0, but Linux scans the other functions of a slot only when function 0 answers
# (drivers/pci/probe.c pci_scan_slot): the VM would have no eth1.
no_func0="PCI slot 2 has no function 0, so the VM would not see a device on 2:N; starting hyperkit without $tap"
anchor=0
if [ "$has_tap" = yes ]; then
    :
elif [ "$slot_mode" = next_function ]; then
    if [ "$top_at" -eq 0 ]; then
        warn "no -s 2:N device in hyperkit's arguments; starting hyperkit without $tap"
    elif [ "$func0_used" = no ]; then
        warn "$no_func0"
    elif [ "$top_func" -ge 7 ]; then
        warn "PCI slot 2 has no free function; starting hyperkit without $tap"
    else
        anchor=$top_at
        device=2:$((top_func + 1)),virtio-tap,$tap
    fi
else
    if [ "$vpnkit_at" -eq 0 ]; then
        warn "no virtio-vpnkit device in hyperkit's arguments; starting hyperkit without $tap"
    elif [ "$func0_used" = no ]; then
        warn "$no_func0"
    elif [ "$func1_used" = yes ]; then
        warn "PCI slot 2:1 is already taken; starting hyperkit without $tap"
    else
        anchor=$vpnkit_at
        device=2:1,virtio-tap,$tap
    fi
fi

# Pass 2: move each argument from the front to the back, appending the device right after its anchor.
if [ "$anchor" -gt 0 ]; then
    count=$#
    position=0
    while [ "$position" -lt "$count" ]; do
        position=$((position + 1))
        set -- "$@" "$1"
        shift
        if [ "$position" -eq "$anchor" ]; then
            set -- "$@" -s "$device"
        fi
    done
fi

exec "$real" "$@"
"""
