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
    address per service (C(docker run -p 192.100.200.1:80:80 ...)).
  - The interface is read once; the module then adds or removes only what differs, in one call for any number
    of addresses.
  - On macOS it parses C(ifconfig lo0) and runs C(ifconfig lo0 alias IP/len) / C(ifconfig lo0 -alias IP)
    (IPv6 - C(ifconfig lo0 inet6 IP prefixlen len alias) / C(ifconfig lo0 inet6 IP -alias)).
  - On Linux it reads C(ip -j addr show dev lo) and runs C(ip addr add) / C(ip addr del).
  - An address listed with a different prefix length than the one on the interface is corrected (removed, then
    added). An address that lives on another interface is an error; nothing is changed.
  - With O(persistent=true) (the default where there is a service manager) the aliases are re-applied at
    boot - by a LaunchDaemon C(/Library/LaunchDaemons/<persistent_label>.plist) on macOS, by an enabled
    oneshot systemd unit C(/etc/systemd/system/<persistent_label>.service) on Linux.
options:
  addresses:
    description:
      - IPv4 or IPv6 addresses, each with an optional prefix length (C(192.100.200.1/24), C(fd00:db8::1/64)).
      - Without a prefix an IPv4 address gets C(/32) and an IPv6 address C(/128) (never the classful default
        that C(ifconfig) would pick on macOS).
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
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists every address of the interface before and after, and the boot job's file.
  platform:
    platforms: [darwin, linux]
notes:
  - Needs root (C(become)).
"""

EXAMPLES = r"""
- name: One loopback address per service, re-applied at boot
  dockermac.hostbridge.lo0_alias:
    addresses:
      - 192.100.200.1
      - 192.100.200.2
    exclusive_within: 192.100.200.0/24
    persistent: true
  become: true

- name: An IPv6 alias
  dockermac.hostbridge.lo0_alias:
    addresses: [fd00:db8:100::1/128]
  become: true

- name: Remove the aliases and their boot job
  dockermac.hostbridge.lo0_alias:
    addresses: [192.100.200.1, 192.100.200.2]
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
  sample: [192.100.200.1/32, 192.100.200.2/32]
added:
  description: Addresses added (or to be added in check mode), as C(ip/prefix).
  returned: success
  type: list
  elements: str
  sample: [192.100.200.2/32]
removed:
  description: Addresses removed (prefix corrections, O(exclusive_within), O(state=absent)), as C(ip/prefix).
  returned: success
  type: list
  elements: str
  sample: [192.100.200.9/32]
persistent_path:
  description: The LaunchDaemon plist or systemd unit path when O(persistent=true), otherwise null.
  returned: success
  type: str
  sample: /Library/LaunchDaemons/com.dockermac.hostbridge.loopback.plist
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
import platform  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandRunner  # noqa: E402
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError  # noqa: E402
from ansible_collections.dockermac.hostbridge.plugins.module_utils._loopback import ARGUMENT_SPEC, manage  # noqa: E402


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = manage(params=module.params, system=platform.system(), runner=CommandRunner(module),
                        module=module, check_mode=module.check_mode, diff_mode=module._diff)
    except HostbridgeError as exc:
        module.fail_json(**exc.fail_json_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
