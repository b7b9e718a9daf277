#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lo0_alias
short_description: Manage loopback alias addresses (macOS lo0, Linux lo), optionally re-applied at boot
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Adds and removes alias addresses on the loopback interface, so that Docker ports can be published on one
    address per service (C(docker run -p 198.51.100.1:80:80 ...)).
  - The interface is read once; the module then adds or removes only what differs, in one call for any number
    of addresses, removals first.
  - On macOS it parses C(ifconfig lo0) (hex netmasks such as C(0xffffff00), trailing spaces, aliases after the
    C(inet6) lines and C(fe80::1%lo0) are all understood) and runs C(ifconfig lo0 alias IP/len) /
    C(ifconfig lo0 -alias IP) (IPv6 - C(ifconfig lo0 inet6 IP prefixlen len alias) /
    C(ifconfig lo0 inet6 IP -alias)). The syntax follows Apple's ifconfig(8) (network_cmds) - CIDR notation for
    C(inet) addresses, the C(prefixlen) parameter for C(inet6), and the C(alias) / C(-alias) parameters.
    C(ifconfig -a) is read once, and only when something must be added.
  - On Linux it reads C(ip -j addr show dev lo) (and C(ip -j addr show) when adding) and runs
    C(ip addr add IP/len dev lo) / C(ip addr del IP/len dev lo). It works in a container with
    C(--cap-add NET_ADMIN).
  - An address listed with a different prefix length than the one on the interface is corrected (the old entry
    removed, then the new one added).
  - Before the first change the module refuses, naming the value - a bad address (not an IP, multicast,
    unspecified, broadcast or network address, prefix length out of range), C(127.0.0.1) or C(::1) in
    O(addresses), one address listed twice with different prefix lengths, an unknown interface, a bad
    O(exclusive_within) or O(persistent_label), and - only when something must be added - an address that already
    lives on another interface (so the C(File exists) error of C(ifconfig)'s C(SIOCAIFADDR) is never seen). On
    Linux, IPv6 addresses for an interface whose C(net.ipv6.conf.<interface>.disable_ipv6) is 1 (Docker
    containers by default) are refused too. Nothing is changed then.
  - With O(persistent=true) (the default where there is a service manager) the aliases are re-applied at
    boot - by a LaunchDaemon C(/Library/LaunchDaemons/<persistent_label>.plist) on macOS, by an enabled
    oneshot systemd unit C(/etc/systemd/system/<persistent_label>.service) on Linux.
  - The LaunchDaemon plist is owned by root:wheel with mode 0644, written atomically (a symlink at that path is
    refused), with C(RunAtLoad) and C(ProgramArguments) C(/bin/sh -c "/sbin/ifconfig lo0 alias ...; ...") (one
    C(ifconfig) per address). It is loaded with C(launchctl bootstrap system <plist>); when the address list
    changes the plist is rewritten and the job booted out (C(launchctl bootout system/<label>)) and in again.
    Whether the job is loaded comes from C(launchctl print system/<label>).
  - The systemd unit has one C(ExecStart=/usr/sbin/ip addr replace IP/len dev lo) per address,
    C(WantedBy=multi-user.target), and is ordered before C(network-online.target) and C(docker.service). The
    module runs C(systemctl daemon-reload) and C(systemctl enable) but does not start it (the change is already
    made). Systemd counts as running when C(/run/systemd/system) exists; without it O(persistent=true) fails
    with C(persistence needs systemd or launchd; not available on this host) and nothing is changed.
options:
  addresses:
    description:
      - IPv4 or IPv6 addresses, each with an optional prefix length (C(198.51.100.1/24), C(fd00:db8::1/64)).
      - Without a prefix an IPv4 address gets C(/32) and an IPv6 address C(/128), never the classful default
        that C(ifconfig lo0 alias 10.1.2.3) would pick on macOS (C(/8) for C(10.x)).
      - Multicast, unspecified, broadcast and network addresses, prefix lengths out of range, C(127.0.0.1)
        and C(::1) are refused.
    type: list
    elements: str
    required: true
  interface:
    description:
      - The interface to manage. Defaults to C(lo0) on macOS and C(lo) on Linux.
      - An interface that does not exist is an error.
    type: str
  state:
    description:
      - V(present) adds the addresses (and corrects their prefix lengths).
      - V(absent) removes the listed addresses, whatever their prefix length.
    type: str
    choices: [present, absent]
    default: present
  exclusive_within:
    description:
      - A CIDR network. With O(state=present), aliases inside it that are not in O(addresses) are removed.
      - Addresses outside it are never touched, nor C(127.0.0.1), C(::1) and IPv6 link-local addresses.
      - Ignored with O(state=absent).
    type: str
  persistent:
    description:
      - Re-apply the aliases at boot (LaunchDaemon on macOS, systemd unit on Linux). The job is rewritten when
        the address list changes; O(state=absent) removes it.
      - Default (null) - V(true) on macOS, and on Linux when systemd runs (C(/run/systemd/system)); V(false)
        otherwise.
      - V(true) on Linux needs a running systemd; without it the module fails.
      - V(false) leaves any existing job alone.
    type: bool
  persistent_label:
    description:
      - Name of the boot job - the launchd label (C(/Library/LaunchDaemons/<label>.plist)) and the systemd
        unit name (C(<label>.service)). Letters, digits, C(.), C(_) and C(-) only.
    type: str
    default: com.dockermac.hostbridge.loopback
extends_documentation_fragment:
  - dockermac.hostbridge._attributes
attributes:
  diff_mode:
    details: The diff lists every address of the interface before and after, and the boot job's file.
notes:
  - Needs root (C(become)).
  - "Undo by hand on macOS: C(sudo launchctl bootout system/com.dockermac.hostbridge.loopback),
    C(sudo rm /Library/LaunchDaemons/com.dockermac.hostbridge.loopback.plist), then per alias
    C(sudo ifconfig lo0 -alias 198.51.100.1) (IPv4) or C(sudo ifconfig lo0 inet6 fd00:db8:100::1 -alias) (IPv6)."
  - "Undo by hand on Linux: C(sudo systemctl disable com.dockermac.hostbridge.loopback.service),
    C(sudo rm /etc/systemd/system/com.dockermac.hostbridge.loopback.service && sudo systemctl daemon-reload), then
    per alias, with its prefix, C(sudo ip addr del 198.51.100.1/32 dev lo)."
  - Tested with recorded C(ifconfig) outputs of macOS (C(tests/fixtures/darwin/), sources in C(SOURCES.md)) in and
    the exact C(ifconfig) and C(launchctl) argv out (C(tests/unit/plugins/module_utils/test_loopback_darwin.py),
    C(test_launchd.py)), through AnsibleModule (C(tests/unit/plugins/modules/test_lo0_alias.py)), and as root on
    Linux through C(ansible-playbook) in a network namespace (C(tests/system/test_lo0_alias_linux.py) - 25
    addresses, idempotence, check mode, prefix correction, O(exclusive_within), O(state=absent) restoring the
    previous state exactly, every refusal leaving the interface unchanged).
seealso:
  - module: dockermac.hostbridge.etc_hosts_entry
  - module: dockermac.hostbridge.bridge_facts
"""

EXAMPLES = r"""
- name: One loopback address per service, re-applied at boot
  dockermac.hostbridge.lo0_alias:
    addresses:
      - 198.51.100.1
      - 198.51.100.2
    exclusive_within: 198.51.100.0/24
    persistent: true
  become: true

- name: An IPv6 alias
  dockermac.hostbridge.lo0_alias:
    addresses: [fd00:db8:100::1/128]
  become: true

- name: Remove the aliases and their boot job
  dockermac.hostbridge.lo0_alias:
    addresses: [198.51.100.1, 198.51.100.2]
    persistent: true
    state: absent
  become: true
"""

RETURN = r"""
interface:
  description: The interface managed.
  returned: success
  type: str
  sample: lo0
addresses:
  description: The listed addresses present after the run, as C(ip/prefix) (empty with O(state=absent)).
  returned: success
  type: list
  elements: str
  sample: [198.51.100.1/32, 198.51.100.2/32]
added:
  description: Addresses added (or to be added in check mode), as C(ip/prefix).
  returned: success
  type: list
  elements: str
  sample: [198.51.100.2/32]
removed:
  description: Addresses removed (prefix corrections, O(exclusive_within), O(state=absent)), as C(ip/prefix).
  returned: success
  type: list
  elements: str
  sample: [198.51.100.9/32]
persistent_path:
  description: The LaunchDaemon plist or systemd unit path when O(persistent=true), otherwise null.
  returned: success
  type: str
  sample: /Library/LaunchDaemons/com.dockermac.hostbridge.loopback.plist
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
from ansible_collections.dockermac.hostbridge.plugins.module_utils._loopback import ARGUMENT_SPEC, manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module


def main() -> None:
    run_module(manage, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
