#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hyperkit_shim
short_description: Install or remove the hyperkit shim that gives Docker Desktop's VM a tap device
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Docker Desktop on HyperKit (Intel Macs) starts its Linux VM with C(hyperkit). This module moves the real
    binary aside to C(<name>.real) and puts a small POSIX sh script (the shim) in its place. The shim adds
    C(-s 2:1,virtio-tap,tap1) (or the next free function of PCI slot 2) to hyperkit's arguments and C(exec)s the
    real binary, so the VM gets a second network interface (C(eth1)) linked to the Mac's C(/dev/tapN).
  - hyperkit is looked for in the three known bundle layouts, first that exists -
    C(Contents/MacOS/com.docker.hyperkit) (17.03), C(Contents/Resources/bin/hyperkit) (17.04-17.12),
    C(Contents/Resources/bin/com.docker.hyperkit) (18.03 on). With O(state=present) a bundle without any is an
    error that lists the paths tried; Docker Desktop on Apple's Virtualization framework (the default since 4.14,
    and Apple Silicon) has no hyperkit. With O(state=absent) no bundle, or no hyperkit in it, is nothing to remove -
    V(ok), unchanged, RV(state_found=no_hyperkit), nothing touched (as M(ansible.builtin.file) with
    C(state=absent) on a missing path).
  - "The state found is reported as RV(state_found): V(pristine) (the real binary, no C(.real)) - the shim is
    installed; V(installed) (our shim for these options, C(.real) present) - nothing to do; V(outdated) (our shim
    of another version or with other options) - it is updated; V(updated_by_docker) (a new real binary in place
    of the shim while an old C(.real) remains: Docker Desktop updated itself) - the new binary becomes the real
    one and the shim is installed again, with a warning; V(orphaned_shim) (our shim without C(.real)) and
    V(foreign_shim) (docker-tuntap-osx's C(.original) next to it, or a script that is not ours) - the module fails
    with instructions and touches nothing."
  - Our shim is recognised by its second line, a marker with the shim version, the options and the sha256 of the
    real binary, for example C(# dockermac.hostbridge-shim v2 tap=tap1 slot=after_vpnkit
    real=com.docker.hyperkit.real real-sha256=...).
  - Every change is crash-safe - the shim is written to a temp file and fsynced, the real binary is hard-linked to
    C(<name>.real) through a temp name and checked, then the shim is renamed over the binary; removal renames
    C(.real) back. Whenever a run is interrupted, the real binary is reachable at one of the two paths and the
    next run converges; it also removes the temp files left behind.
  - A running hyperkit keeps its arguments; RV(restart_required) says when Docker Desktop must restart.
  - On Linux only an explicit O(app_path) is managed (the end-to-end simulation's bundle).
options:
  app_path:
    description:
      - The Docker Desktop application bundle. Any path; spaces are fine.
      - Default - C(/Applications/Docker.app), then C(~/Applications/Docker.app) of O(user), the first that exists.
      - Required on Linux.
    type: path
  user:
    description:
      - The user whose C(~/Applications/Docker.app) is looked at when O(app_path) is not set.
      - Default - the user in the C(SUDO_USER) environment variable (set by C(become) with sudo - the user Ansible
        connects as), else the login user, else the user running the module.
    type: str
  tap_device:
    description:
      - The tap device the shim hands to hyperkit, C(tap0) to C(tap255). It must exist on the Mac (tuntaposx's
        C(/dev/tapN)) and be owned by the user Docker Desktop runs as when Docker Desktop starts, or hyperkit only
        warns and the VM starts without the link (after a reboot C(/dev/tapN) is root's again, and the C(tap_bridge)
        role's re-apply job gives it back at boot).
    type: str
    default: tap1
  slot:
    description:
      - Where the shim puts the C(virtio-tap) device.
      - V(after_vpnkit) inserts C(-s 2:1,virtio-tap,<tap_device>) right after the C(-s) device whose emulation is
        C(virtio-vpnkit) (as docker-for-mac-host-bridge did).
      - V(next_function) inserts C(-s 2:<N+1>,virtio-tap,<tap_device>) right after the C(-s 2:N,...) device with
        the highest function N (as docker-tuntap-osx did); C(-s 2,...), C(-s 2:N,...) and C(-s 0:2:N,...) count.
      - Either way PCI slot 2 must have function 0 (C(-s 2,...), C(-s 2:0,...) or C(-s 0:2:0,...)) - the VM's
        Linux does not look at other functions of a slot without it.
      - Either way, when no anchor is found, slot 2 has no function 0 or the function is taken, or an argument
        already carries C(virtio-tap,<tap_device>), the shim passes the arguments through unchanged (with a
        warning on stderr in the first cases) so that Docker Desktop always starts.
    type: str
    choices: [after_vpnkit, next_function]
    default: after_vpnkit
  state:
    description:
      - V(present) installs or updates the shim.
      - V(absent) puts the original binary back byte for byte (its checksum is checked against the one recorded in
        the shim) and so removes the shim; a stale C(.real) left beside a binary Docker Desktop put back is removed.
        Nothing to do on a pristine bundle.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Before the first install (and after a Docker Desktop update), keep an independent copy of the real binary
        as C(<name>.hostbridge-backup-<UTC time>) next to it, inside the bundle (where a Docker Desktop update,
        which makes it useless, removes it too). An existing backup with the same checksum is reused.
      - C(.real) is already a second name of the original binary; the backup guards against C(.real) being lost.
    type: bool
    default: false
extends_documentation_fragment:
  - dockermac.hostbridge._attributes
attributes:
  diff_mode:
    details: The diff shows the state, the two paths with their checksums, and the shim's text before and after.
notes:
  - Needs root (C(become)) unless the user owns the bundle. The shim gets the original binary's owner and mode
    (without group/other write).
  - Changing a file in the bundle breaks Docker.app's code signature seal, as every hyperkit shim does.
  - macOS 13 and later (App Management) refuse a change of a notarized app with EPERM, even to root, unless the
    program responsible for the run has the App Management or Full Disk Access permission; the module then fails
    naming that program - C(sshd-keygen-wrapper) over SSH (Remote Login's "Allow full disk access for remote
    users"), the terminal app, or the program of the ansible-pull LaunchDaemon - and touches nothing.
    M(dockermac.hostbridge.bridge_facts) reports C(ansible_facts.hostbridge.docker_desktop.app_management).
  - The shim follows C($0) through symlinks to find the real binary, so it also works when started as
    C(/usr/local/bin/hyperkit) (the link Docker's Homebrew cask makes on Intel Macs, which minikube's hyperkit
    driver starts).
  - See C(docs/shim.md) in the collection for the shim itself and how to undo it by hand.
seealso:
  - name: docker-for-mac-host-bridge
    description: The project whose approach this implements.
    link: https://github.com/mal/docker-for-mac-host-bridge
"""

EXAMPLES = r"""
- name: Install the shim (Docker Desktop in /Applications or in the user's ~/Applications)
  dockermac.hostbridge.hyperkit_shim:
    tap_device: tap1
  become: true
  register: shim

- name: Restart Docker Desktop when the shim changed
  ansible.builtin.command: osascript -e 'quit app "Docker"'
  become: false
  when: shim.restart_required

- name: A bundle elsewhere, the device on the next free function of slot 2, with a backup
  dockermac.hostbridge.hyperkit_shim:
    app_path: /Applications/Developer/Docker.app
    slot: next_function
    backup: true
  become: true

- name: Put the original hyperkit back
  dockermac.hostbridge.hyperkit_shim:
    state: absent
  become: true
"""

RETURN = r"""
restart_required:
  description: Whether hyperkit's file changed (shim installed, updated or removed), so a running Docker Desktop
    must restart to use it. Also true in check mode when it would change.
  returned: success
  type: bool
  sample: true
hyperkit_path:
  description: The hyperkit path in the bundle (the file the shim replaces); null for V(no_hyperkit).
  returned: success
  type: str
  sample: /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit
real_path:
  description: Where the real binary is kept while the shim is installed; null for V(no_hyperkit).
  returned: success
  type: str
  sample: /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit.real
app_path:
  description: The bundle used; null when none was found (O(state=absent) only).
  returned: success
  type: str
  sample: /Applications/Docker.app
state_found:
  description: The state found before any change - V(pristine), V(installed), V(outdated), V(updated_by_docker),
    or with O(state=absent) V(no_hyperkit) (no bundle, or no hyperkit in it).
  returned: success
  type: str
  sample: pristine
state:
  description: The state after the run (V(installed) or V(pristine), or V(no_hyperkit)); in check mode, the state
    it would have.
  returned: success
  type: str
  sample: installed
shim_version:
  description: The version of the shim this module writes (the C(v2) of the marker line).
  returned: success
  type: int
  sample: 2
actions:
  description: What was done (or would be done in check mode), in order.
  returned: success
  type: list
  elements: str
  sample:
    - keep the real hyperkit as /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit.real
    - install the shim (v2) as /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit
backup_file:
  description: The backup of the real binary made or reused (O(backup=true), install only), otherwise null.
  returned: success
  type: str
  sample: /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit.hostbridge-backup-20240501T101500Z
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import ARGUMENT_SPEC, manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module


def main() -> None:
    run_module(manage, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
