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
    host side of the link an IPv4 address and brings it up. On a Mac it is tuntaposx's C(/dev/tapN), opened by
    hyperkit (Docker Desktop's HyperKit VM sees it as C(eth1)); on Linux it is a persistent TAP device that a VM
    run by a normal user can attach to.
  - "Every option is validated before anything is read or changed; errors name the option and the value, as in
    C(owner: 'bob' is not a user on this host)."
  - The device and its interface are read once; only what differs from the request is changed, and C(changed)
    comes from that comparison.
  - On macOS (tuntaposx), C(/dev/tapN) is a character device made by the C(net.sf.tuntaposx.tap) kernel extension.
    The owner is changed with C(chown) on the device node (the group stays C(wheel)). The network interface
    C(tapN) exists only while a process (hyperkit) holds C(/dev/tapN) open; while it is missing the address cannot
    be set, and the module returns RV(interface_present=false) and warns that O(address) was not set (or fails with
    O(require_interface=true)). When present, C(ifconfig tapN) is parsed (flags, IPv4 addresses with hex
    netmasks, the holder's pid from tuntaposx's C(open) status line); C(ifconfig tapN inet IP/len up) runs when the
    address is missing or has another prefix length, and only C(ifconfig tapN up) when the address is there but the
    link is down. The address is removed with C(-alias), the form Apple's ifconfig(8) documents, as
    M(dockermac.hostbridge.lo0_alias) does.
  - On macOS, when C(/dev/tapN) is missing or is not a character device, the module fails and says why, after
    checking the kernel extension with C(kmutil showloaded --list-only -b net.sf.tuntaposx.tap) (macOS 11 and
    later) or C(kextstat -l -b net.sf.tuntaposx.tap) - the extension is not loaded (with how to install it - the
    C(tap_bridge) role's C(tap_bridge_tuntap_pkg), or C(sudo installer -pkg tuntap_20150118.pkg -target /) then
    C(sudo kextload /Library/Extensions/tap.kext); tuntaposx is Intel-only), it is loaded but the number is above
    15, it is loaded but the node is missing (reload it), or its state could not be checked. The detection
    command's C(rc), C(stdout) and C(stderr) are in the result. Without the kernel extension there is nothing to
    undo.
  - On Linux the module manages a persistent TAP device (C(IFF_TAP|IFF_NO_PI)). It is created with
    C(ip tuntap add dev tapN mode tap user UID). State is read from C(/sys/class/net/tapN) (C(tun_flags),
    C(owner)) and C(ip -d -j addr show dev tapN); the address is set with C(ip addr replace), the link with
    C(ip link set dev tapN up) (only with O(address)). An interface named C(tapN) that is not a TAP device (a
    veth, a TUN device) is an error for both states and is left untouched.
  - On Linux a device with another owner gets the new owner in place, as C(tunctl -u) does - C(TUNSETIFF) on
    C(/dev/net/tun) with the device's own flags, then C(TUNSETOWNER) - because C(ip tuntap add) on an existing
    device fails (C(Device or resource busy)) and deleting and re-creating the device would lose its ifindex,
    addresses, routes and bridge membership. C(TUNSETOWNER) changes nothing else, but attaching gives the device a
    carrier for a moment, so the kernel may add an IPv6 link-local address. A device that a process holds open
    cannot be re-owned - the module fails (C(a process has it open), a VM perhaps) and changes nothing.
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
  - dockermac.hostbridge._attributes
attributes:
  diff_mode:
    details: The diff shows the device's owner, and the interface's presence, link state and IPv4 addresses.
notes:
  - Needs root (C(become)).
  - On macOS tuntaposx recreates C(/dev/tapN) as root:wheel 0660 at every boot, and the interface loses its
    address whenever the process holding the device restarts; the C(tap_bridge) role installs a job that gives the
    device back to its owner at boot and re-applies the address.
  - The C(tap_bridge) role calls this module twice (the owner first, then the owner and the address after Docker
    Desktop restarted) and once with O(state=absent) when undoing.
  - "Undo by hand - macOS: C(sudo chown root /dev/tap1) and C(sudo ifconfig tap1 inet 10.0.75.1 -alias); Linux:
    C(sudo ip tuntap del dev tap1 mode tap)."
  - Tested with recorded macOS outputs in (C(tests/fixtures/darwin/) - a real C(ifconfig tap1) with its holder's
    C(open) status line, C(kmutil) and C(kextstat) answers; sources and what is reconstructed in C(SOURCES.md))
    and the exact C(ifconfig), C(kmutil) and C(kextstat) argv out
    (C(tests/unit/plugins/module_utils/test_tap_darwin.py)), through AnsibleModule with a stand-in
    C(/sys/class/net) and recorded C(ip -d -j addr show) output (C(tests/unit/plugins/modules/test_tap_device.py)),
    and as root on Linux through C(ansible-playbook) in a
    network namespace per test (C(tests/system/test_tap_device_linux.py) - a process running as the owner
    attaches and another non-root user gets C(EPERM), the owner changes in place keeping ifindex, address and
    routes, O(state=absent) restores the namespace exactly).
  - Not tested on a real Mac - the macOS side rests on the recorded outputs and on tuntaposx's source
    (C(src/tuntap.cc) - the C(open) status line with the holder's pid, the 0660 root:wheel node).
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
  description: macOS - the process holding C(/dev/tapN) open (from the C(open) status line tuntaposx adds to
    C(ifconfig tapN)), otherwise null.
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
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module
from ansible_collections.dockermac.hostbridge.plugins.module_utils._tap import ARGUMENT_RULES, ARGUMENT_SPEC, manage


def main() -> None:
    run_module(manage, ARGUMENT_SPEC, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
