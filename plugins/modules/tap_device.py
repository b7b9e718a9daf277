#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: tap_device
short_description: Manage the TAP device of the tap host bridge (owner, host-side address, link state)
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Gives a TAP device to the user whose process attaches to it (hyperkit on a Mac, a VM on Linux), and gives the
    host side of the link an IPv4 address and brings it up.
  - The device and its interface are read once; only what differs from the request is changed, and C(changed)
    comes from that comparison.
  - On macOS (tuntaposx), C(/dev/tapN) is a character device made by the C(net.sf.tuntaposx.tap) kernel extension.
    When it is missing the module fails, telling whether the extension is loaded (C(kmutil showloaded), or
    C(kextstat) on macOS 10.15 and older) and how to install it. The owner is changed with C(chown) on the device
    node (the group stays C(wheel)). The network interface C(tapN) exists only while a process (hyperkit) holds
    C(/dev/tapN) open; while it is missing the address cannot be set, and the module returns
    RV(interface_present=false) (or fails with O(require_interface=true)). When present, C(ifconfig tapN) is
    parsed and C(ifconfig tapN inet IP/len up) runs only when the address or the C(UP) flag is missing.
  - On Linux the module manages a persistent TAP device. It is created with C(ip tuntap add dev tapN mode tap user
    UID); a device with another owner gets the new owner in place (TUNSETOWNER, as C(tunctl -u) does), keeping its
    addresses, routes and bridge membership. State is read from C(/sys/class/net/tapN) (C(tun_flags), C(owner))
    and C(ip -d -j addr show dev tapN); the address is set with C(ip addr replace), the link with
    C(ip link set dev tapN up). An interface named C(tapN) that is not a TAP device (a veth, a TUN device) is an
    error and is left untouched.
options:
  name:
    description:
      - The device, V(tap0) to V(tap255). tuntaposx on macOS makes V(tap0) to V(tap15) only.
    type: str
    required: true
  owner:
    description:
      - The user (name or numeric uid) allowed to open the device. Must exist on the host.
      - Required with O(state=present); ignored with O(state=absent).
    type: str
  address:
    description:
      - IPv4 address with prefix length for the host side of the link, such as V(10.0.75.1/24).
      - With O(state=present) the address is set and the link brought up. On macOS it replaces the interface's
        first IPv4 address (C(ifconfig) without C(alias)); on Linux an entry for the same address with another
        prefix is removed and other addresses are kept.
      - With O(state=absent) on macOS, this address is removed from the interface (C(ifconfig tapN inet IP -alias))
        when the interface exists. On Linux the device goes, with its addresses.
      - Without it, addresses and link state are not touched.
    type: str
  state:
    description:
      - V(present) gives the device to O(owner) (creating it on Linux) and sets O(address).
      - V(absent) gives C(/dev/tapN) back to root on macOS (the node itself belongs to the kernel extension and
        stays) and removes O(address); on Linux it deletes the TAP device (C(ip tuntap del dev tapN mode tap)).
    type: str
    choices: [present, absent]
    default: present
  require_interface:
    description:
      - With V(true), fail when the network interface does not exist (macOS - no process holds C(/dev/tapN) open),
        before anything is changed. With V(false) the owner is still set, the address is left for later, and
        RV(interface_present) is V(false).
      - On Linux the interface exists whenever the device does, so this never fails there.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows the device's owner, and the interface's presence, link state and IPv4 addresses.
  platform:
    platforms: [darwin, linux]
notes:
  - Needs root (C(become)).
  - On macOS devfs recreates C(/dev/tapN) as root:wheel at every boot, and the interface loses its address whenever
    the process holding the device restarts; the C(tap_bridge) role installs a job that re-applies the address.
seealso:
  - module: dockermac.hostbridge.hyperkit_shim
"""

EXAMPLES = r"""
- name: Give /dev/tap1 to the console user and the host side its address
  dockermac.hostbridge.tap_device:
    name: tap1
    owner: alice
    address: 10.0.75.1/24
  become: true
  register: tap

- name: Say when hyperkit does not hold the device yet
  ansible.builtin.debug:
    msg: tap1 appears when Docker Desktop starts through the shim
  when: not tap.interface_present

- name: A TAP device on a Linux laptop for a VM run by bob
  dockermac.hostbridge.tap_device:
    name: tap3
    owner: bob
    address: 192.168.77.1/24
  become: true

- name: Undo - /dev/tap1 back to root (macOS), the device deleted (Linux)
  dockermac.hostbridge.tap_device:
    name: tap1
    state: absent
  become: true
"""

RETURN = r"""
name:
  description: The device name.
  returned: success
  type: str
  sample: tap1
owner:
  description:
    - The user owning the device after the run (as a name, or the uid when it has no name).
    - V(root) after O(state=absent) on macOS; null when there is no device (Linux after O(state=absent)) or the
      Linux device has no owner.
  returned: success
  type: str
  sample: alice
address:
  description:
    - O(address) when it is on the interface after the run, otherwise null (interface missing, O(state=absent)).
  returned: success
  type: str
  sample: 10.0.75.1/24
interface_present:
  description:
    - Whether the network interface exists after the run. macOS - only while a process holds C(/dev/tapN) open;
      Linux - whenever the device exists.
  returned: success
  type: bool
  sample: true
holder_pid:
  description: macOS - the process holding C(/dev/tapN) open (tuntaposx's C(open (pid N)) line), otherwise null.
  returned: success
  type: int
  sample: 25606
actions:
  description: The changes made (or, in check mode, that would be made), in order.
  returned: success
  type: list
  elements: str
  sample: ["changing the owner of /dev/tap1 to alice (uid 501)", "setting 10.0.75.1/24 on tap1 and bringing it up"]
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
import platform  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dockermac.hostbridge.plugins.module_utils._commands import CommandRunner  # noqa: E402
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError  # noqa: E402
from ansible_collections.dockermac.hostbridge.plugins.module_utils._tap import ARGUMENT_RULES, ARGUMENT_SPEC, manage  # noqa: E402


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **ARGUMENT_RULES)
    try:
        result = manage(params=module.params, system=platform.system(), runner=CommandRunner(module),
                        check_mode=module.check_mode, diff_mode=module._diff)
    except HostbridgeError as exc:
        module.fail_json(**exc.fail_json_kwargs())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
