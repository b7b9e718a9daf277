#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bridge_facts
short_description: Find out how Docker containers can be reached from this Mac or Linux machine
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Gathers the facts the C(bridge), C(tap_bridge) and C(loopback) roles decide with, as C(ansible_facts.hostbridge)
    (read them there, not as a top-level C(hostbridge) variable, whose injection is deprecated) - the platform
    and CPU architecture, the console user, the Docker socket and whether the engine answers, Docker Desktop
    (where, which version, which VM manager, the hyperkit binary and the state of the hyperkit shim), tuntaposx
    and the C(/dev/tapN) devices, Homebrew, and for each strategy (V(loopback), V(tap), V(routed)) whether it is
    possible here, with the reason.
  - The C(bridge) role picks its strategy from these facts; the C(tap_bridge) role fails early with
    C(ansible_facts.hostbridge.strategies.tap.reason) when the tap bridge cannot work here.
  - Docker Desktop's VM manager is read from its settings file,
    C(~/Library/Group Containers/group.com.docker/settings-store.json) (Docker Desktop 4.35 and later) or
    C(settings.json) (4.34 and earlier) in the console user's home - C(UseLibkrun=true) is Docker VMM,
    C(UseVirtualizationFramework=true) the Virtualization framework, C(UseVirtualizationFramework=false) HyperKit
    on Intel and QEMU on Apple Silicon. Keys are matched whatever their case (C(settings-store.json) uses
    PascalCase, C(settings.json) camelCase). When the file does not say (C(settings-store.json) omits settings
    left at their default, so a fresh install has no VM key at all), the version from the bundle's
    C(Contents/Info.plist) decides - before 4.14 HyperKit (QEMU on Apple Silicon), from 4.14 the Virtualization
    framework, except on Intel Macs below macOS 12.5 (where 4.14 disabled it) HyperKit. With no version either
    the VM manager is V(unknown). A settings file that is not a JSON object gives a warning, and the version
    decides. A settings file the system refuses to open (C(Operation not permitted) - macOS 15 guards app group
    containers against processes outside the app group, and an SSH session or a LaunchDaemon cannot answer the
    access prompt) makes the VM manager V(unknown), never a guess from the version; C(vm_manager_source) and the
    strategies' reasons say so and name O(vm_manager) (the roles' C(tap_bridge_vm_manager)) as the way out.
  - The tap strategy is possible on an Intel Mac whose Docker Desktop runs on HyperKit and has a hyperkit binary
    that is not held by another tool's shim; a missing tuntaposx kext (neither the kext nor C(/dev/tapN) there)
    is reported in the C(needs) list of C(ansible_facts.hostbridge.strategies.tap) because the C(tap_bridge) role
    installs it (from C(tap_bridge_tuntap_pkg)). It is not possible on Apple Silicon (no HyperKit and no tuntaposx
    kext), on Docker Desktop running another VM manager, without Docker Desktop (the reason lists the paths looked
    at), or when hyperkit is held by another tool's shim or an orphaned shim (the reason gives
    M(dockermac.hostbridge.hyperkit_shim)'s instructions). On Linux it is possible when C(/dev/net/tun) is a
    character device (the M(dockermac.hostbridge.tap_device) module then creates a real TAP device); otherwise
    the reason says to load the C(tun) module or pass the device to the container.
  - The routed strategy (docker-mac-net-connect, installed with Homebrew by the C(routed) role) is possible on a Mac
    whose Docker Desktop is installed and does not run on HyperKit (where the tap strategy applies); a missing
    Homebrew (no C(brew) at C(/opt/homebrew/bin/brew) or C(/usr/local/bin/brew)) is reported in the C(needs) list
    of C(ansible_facts.hostbridge.strategies.routed), because the role cannot install Homebrew; so is a missing
    C(/var/run/docker.sock), because docker-mac-net-connect runs as root with no C(DOCKER_HOST) and talks to that
    socket, which Docker Desktop creates only with its setting "Allow the default Docker socket to be used"
    (Settings > Advanced; no settings file key for it is documented, so the user switches it on). On Linux it is
    never possible - not needed, the host reaches container IPs directly.
  - The recommendation on a Mac is V(tap) where possible, else V(routed) where possible with nothing needed, else
    V(loopback); on Linux V(loopback). C(recommended_reason) says why.
  - Never changes anything. The Docker engine is asked C(GET /_ping) on its unix socket, with a 2 second timeout.
options:
  app_path:
    description:
      - The Docker Desktop application bundle, looked at first (spaces in the path are fine). When it is not a
        directory the module warns and falls back to C(/Applications/Docker.app), then C(~/Applications/Docker.app)
        of O(user).
      - On Linux only this bundle (the end-to-end simulation's) is looked at, for the C(hyperkit_path) and
        C(shim_state) of C(ansible_facts.hostbridge.docker_desktop).
    type: path
  user:
    description:
      - The user whose home holds Docker Desktop's settings, socket and C(~/Applications), by name or uid.
      - Default on macOS - the owner of C(/dev/console) (the user logged in at the screen) unless that is root;
        otherwise, and on Linux, the user in C(SUDO_USER) (set by C(become) with sudo), else the login user,
        else the user running the module.
    type: str
  tap_device:
    description:
      - The tap device the tap strategy would use, C(tap0) to C(tap255).
    type: str
    default: tap1
  vm_manager:
    description:
      - The VM manager Docker Desktop runs on, as Docker Desktop > Settings > General shows it, instead of reading
        it from the settings file. For a Mac where that file cannot be read (macOS 15 over SSH).
      - macOS only; ignored on Linux.
    type: str
    choices: [hyperkit, virtualization_framework, docker_vmm, qemu]
  desired:
    description:
      - A desired state to compare with the host in this same process, so that a re-run with nothing to do costs
        one remote execution instead of one per module. The C(bridge) and C(tap_bridge) roles send what their
        module tasks would apply and skip the tasks with nothing pending (the C(bridge) role does not include a
        role with nothing pending for its strategy).
      - Each key names an entry of RV(plan). Each value is a dict with C(kind) and C(params). C(kind) is
        V(lo0_alias), V(etc_hosts_entry), V(tap_device), V(hyperkit_shim) or V(boot_job) - C(params) are that
        module's options, and the module's own logic runs in check mode (for V(boot_job) - the plist or units,
        C(launchctl print system/<name>), C(systemctl is-enabled) and C(is-active) of the timer) - or V(file) -
        C(params) are C(path), C(sha1) (the wanted content's SHA-1), C(mode) (octal string) and C(uid) and C(gid)
        (default V(0)).
      - C(kind) V(docker_network) or V(docker_container) reads the Docker engine's API on its unix socket
        (C(params.socket), or RV(ansible_facts.hostbridge.docker.socket)) and compares the options the roles'
        C(community.docker) tasks give - a network's C(name), C(driver), C(driver_options), C(subnet), C(gateway),
        C(iprange) and C(labels); a container's C(name), C(image) (the image the name points to now), C(command),
        C(labels), C(network_mode), C(capabilities), C(init) and C(restart_policy), and whether it runs. Labels
        are compared as C(community.docker) does, only those given. An engine that cannot be asked makes the
        entry pending.
      - The routed strategy's kinds (the C(routed) role's entries), read without running C(brew) (which refuses
        root but for C(brew services)) - V(homebrew_tap) (C(params.tap)) is installed when
        C(<repository>/Library/Taps/<user>/homebrew-<repo>) is a directory; V(homebrew_formula) (C(params.formula))
        when a keg of C(<Cellar>/<name>) holds C(INSTALL_RECEIPT.json) (both with C(params.brew), or
        RV(ansible_facts.hostbridge.homebrew.path)); V(homebrew_service) (C(params.formula)) runs as root when
        C(launchctl print system/homebrew.mxcl.<name>) shows a pid and the property list it names has no other
        C(UserName) - what C(sudo brew services info) reports as running as root.
      - V(daemon_json_key) - C(params.path) (default the console user's C(~/.docker/daemon.json)) is a JSON object
        whose C(params.key) is C(params.value). V(docker_engine) - the engine (C(params.socket)) answers C(/version)
        with C(params.version_at_least) or later. V(docker_networks) - each of C(params.networks) (C(name),
        C(subnet), C(gateway)) compared as V(docker_network) with C(params.driver) and C(params.driver_options),
        labels not compared.
      - An entry may have C(platforms), a list of V(darwin), V(linux) and V(systemd) (Linux where systemd runs; an
        empty list - no host), and C(strategy) (V(loopback), V(tap), V(routed)); on another platform, or where
        that strategy is not possible (RV(ansible_facts.hostbridge.strategies)), it is not checked and not in
        RV(plan).
      - A null parameter counts as not set. A V(tap_device) entry without C(owner) and a V(hyperkit_shim) entry
        without C(user) get the console user found here (RV(ansible_facts.hostbridge.console_user)).
      - Never changes anything. An entry that cannot be checked (an error, a permission, a path starting with
        C(~)) or whose check has a warning to give is pending, with the reason; the module task then runs and
        reports for itself.
    type: dict
  trusted_paths:
    description:
      - Paths to report in RV(ansible_facts.hostbridge.trust) - whether each, and every directory and symlink
        from it up to C(/), is owned by root and writable by neither group nor others (the check
        M(dockermac.hostbridge.boot_job) makes before it installs a root job). Reads only.
    type: list
    elements: path
    default: []
    version_added: 0.1.0
extends_documentation_fragment:
  - dockermac.hostbridge._attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  diff_mode:
    support: none
  facts:
    support: full
notes:
  - Runs without root. Run it without C(become) on a Mac so that the Docker socket of the user is the one asked.
  - The VM manager rules are tested on real samples in C(tests/fixtures/darwin/) - the C(settings-store.json) files
    of an Apple Silicon Mac and of Docker VMM, a fresh install's, and a Docker Desktop 4.15 C(Info.plist) - each
    with its source in C(SOURCES.md).
seealso:
  - module: dockermac.hostbridge.hyperkit_shim
  - module: dockermac.hostbridge.lo0_alias
"""

EXAMPLES = r"""
- name: Gather the host bridge facts
  dockermac.hostbridge.bridge_facts:

- name: Say what this machine can do
  ansible.builtin.debug:
    msg: >-
      {{ facts.platform }}/{{ facts.architecture }}: use {{ facts.recommended_strategy }};
      tap {{ 'possible' if facts.strategies.tap.possible
             else 'not possible: ' ~ facts.strategies.tap.reason }} ({{ facts.recommended_reason }})
  vars:
    facts: "{{ ansible_facts.hostbridge }}"

- name: A bundle elsewhere, another tap device, the settings of a given user
  dockermac.hostbridge.bridge_facts:
    app_path: /Applications/Developer/Docker.app
    user: alice
    tap_device: tap2
"""

RETURN = r"""
ansible_facts:
  description: The facts, under the single key C(hostbridge).
  returned: always
  type: dict
  contains:
    hostbridge:
      description: Everything this module found.
      returned: always
      type: dict
      contains:
        platform:
          description: V(darwin) or V(linux).
          returned: always
          type: str
          sample: darwin
        architecture:
          description: The CPU architecture as Python's C(platform.machine) reports it, except that Apple Silicon
            and aarch64 are V(arm64), also when Python runs under Rosetta.
          returned: always
          type: str
          sample: x86_64
        os_version:
          description: macOS C(sw_vers -productVersion); on Linux C(PRETTY_NAME) of C(/etc/os-release). Null when
            unknown.
          returned: always
          type: str
          sample: "13.6.1"
        systemd:
          description: Linux, whether systemd runs (C(/run/systemd/system) exists), so boot jobs can be units; false on
            macOS.
          returned: always
          type: bool
          sample: true
        console_user:
          description: The user whose home was looked at (see O(user)).
          returned: always
          type: dict
          contains:
            name:
              description: User name.
              returned: always
              type: str
              sample: alice
            uid:
              description: Numeric user id.
              returned: always
              type: int
              sample: 501
            home:
              description: Home directory.
              returned: always
              type: str
              sample: /Users/alice
        docker:
          description: The Docker engine's socket.
          returned: always
          type: dict
          contains:
            socket:
              description: macOS - C(~/.docker/run/docker.sock) when it exists, else C(/var/run/docker.sock).
                Linux - the path of a C(unix://) C(DOCKER_HOST), else C(/var/run/docker.sock).
              returned: always
              type: str
              sample: /Users/alice/.docker/run/docker.sock
            socket_exists:
              description: Whether the socket exists.
              returned: always
              type: bool
              sample: true
            engine_reachable:
              description: Whether an engine answered C(GET /_ping) with 200 within 2 seconds.
              returned: always
              type: bool
              sample: true
            default_socket:
              description: The default socket clients without C(DOCKER_HOST) use (docker-mac-net-connect among them).
              returned: always
              type: str
              sample: /var/run/docker.sock
            default_socket_present:
              description:
                - Whether C(default_socket) exists, as a socket or a link (a dangling link counts - Docker Desktop
                  links it to the user's socket, which exists only while Docker Desktop runs). On a Mac it is there
                  only with Docker Desktop's "Allow the default Docker socket to be used".
              returned: always
              type: bool
              sample: true
        docker_desktop:
          description: Docker Desktop. On Linux V(installed) is false and only C(app_path), C(hyperkit_path) and
            C(shim_state) of an explicit O(app_path) are filled in.
          returned: always
          type: dict
          contains:
            installed:
              description: Whether a Docker Desktop bundle was found.
              returned: always
              type: bool
              sample: true
            app_path:
              description: The bundle found (first existing of O(app_path), C(/Applications/Docker.app),
                C(~/Applications/Docker.app)), or null.
              returned: always
              type: str
              sample: /Applications/Docker.app
            version:
              description: C(CFBundleShortVersionString) of the bundle's C(Contents/Info.plist), or null.
              returned: always
              type: str
              sample: "4.15.0"
            vm_manager:
              description: The VM manager Docker Desktop uses; null without Docker Desktop.
              returned: always
              type: str
              choices: [hyperkit, virtualization_framework, docker_vmm, qemu, unknown]
              sample: hyperkit
            vm_manager_source:
              description: Why - the settings file and key, or the default rule that applied.
              returned: always
              type: str
              sample: settings.json UseVirtualizationFramework=false
            settings_path:
              description: The settings file read, or null.
              returned: always
              type: str
              sample: /Users/alice/Library/Group Containers/group.com.docker/settings-store.json
            hyperkit_path:
              description: hyperkit in the bundle (the three known layouts, as M(dockermac.hostbridge.hyperkit_shim)
                finds it), or null.
              returned: always
              type: str
              sample: /Applications/Docker.app/Contents/Resources/bin/com.docker.hyperkit
            shim_state:
              description: The state M(dockermac.hostbridge.hyperkit_shim) would find (compared with a shim for
                O(tap_device) and the default slot), or null without hyperkit.
              returned: always
              type: str
              choices: [pristine, installed, outdated, orphaned_shim, updated_by_docker, foreign_shim]
              sample: pristine
            app_management:
              description:
                - Whether this run may change the bundle (null without hyperkit). From macOS 13 a notarized app
                  such as Docker.app may be changed only by a process whose responsible program (the terminal app,
                  C(sshd-keygen-wrapper) over SSH, a LaunchDaemon's program) has the App Management or Full Disk
                  Access permission; otherwise M(dockermac.hostbridge.hyperkit_shim) gets EPERM, even as root, and
                  says which program needs which permission.
                - V(not_required) before macOS 13 (and on Linux); V(full_disk_access) when this process can read the
                  console user's TCC database, which only Full Disk Access allows; V(unknown) otherwise - App
                  Management itself cannot be read without a prompt, so a change may be refused.
              returned: always
              type: str
              choices: [not_required, full_disk_access, unknown]
              sample: unknown
            vm_without_tap:
              description:
                - Whether Docker Desktop's VM runs without the tap device - the shim is C(installed) and the engine
                  answers, but no process holds O(tap_device) (RV(ansible_facts.hostbridge.tuntap.holder_pid) is
                  null). hyperkit could not open the device when Docker Desktop started (after a reboot tuntaposx's
                  C(/dev/tapN) is root:wheel 0660 until the C(tap_bridge) re-apply job gives it back), only warned,
                  and booted the VM with an unbacked NIC. Only a Docker Desktop restart attaches the device; the
                  C(tap_bridge) role restarts it, C(verify) reports it.
              returned: always
              type: bool
              sample: false
        tuntap:
          description: Tap devices.
          returned: always
          type: dict
          contains:
            kext_loaded:
              description: macOS - whether C(kmutil showloaded --list-only -b net.sf.tuntaposx.tap) (C(kextstat
                -l -b ...) where there is no kmutil) lists the tuntaposx tap kext. Always false on Linux.
              returned: always
              type: bool
              sample: false
            kext_state:
              description:
                - macOS - the tuntaposx tap kext. V(loaded); V(not_installed) (no C(/Library/Extensions/tap.kext));
                  V(not_loaded) - installed, and loadable with C(kextload) (macOS 10.x); V(awaiting_approval_or_reboot)
                  - installed but not loaded on macOS 11 or later, where a kext loads only at boot after the user
                  approved it in System Settings and restarted (which of the two is pending cannot be read). Null on
                  Linux.
              returned: always
              type: str
              choices: [loaded, not_installed, not_loaded, awaiting_approval_or_reboot]
              sample: awaiting_approval_or_reboot
            kext_load_on_demand:
              description: macOS - whether C(kextload) can load an installed, approved kext now (before macOS 11).
              returned: always
              type: bool
              sample: false
            kext_approval_steps:
              description: macOS 11 and later - what the user must do for a kext to load (approve it, restart); null
                before macOS 11 and on Linux.
              returned: always
              type: str
            devices:
              description: In numeric order, macOS - the C(tapN) character devices in C(/dev); Linux - the TAP
                interfaces named C(tapN) (Linux has no C(/dev/tapN); C(/sys/class/net/tapN/tun_flags) marks them).
              returned: always
              type: list
              elements: str
              sample: [tap0, tap1, tap2]
            tap_device:
              description: O(tap_device).
              returned: always
              type: str
              sample: tap1
            tap_device_exists:
              description: Whether O(tap_device) is among RV(ansible_facts.hostbridge.tuntap.devices).
              returned: always
              type: bool
              sample: true
            dev_net_tun:
              description: Linux - whether C(/dev/net/tun) is a character device. Always false on macOS.
              returned: always
              type: bool
              sample: true
            holder_pid:
              description:
                - The process holding O(tap_device) open (hyperkit), looked up only when the shim is C(installed) and
                  the engine answers; else null. macOS - tuntaposx's C(open (pid N)) line of C(ifconfig tapN) (no
                  interface, no holder); Linux - a C(/dev/net/tun) descriptor whose C(/proc/PID/fdinfo) has an
                  C(iff) line naming the device, in this network namespace.
              returned: always
              type: int
              sample: 25606
        homebrew:
          description: Homebrew, which the C(routed) role installs docker-mac-net-connect with. Both null on Linux.
          returned: always
          type: dict
          contains:
            path:
              description: The first of C(/opt/homebrew/bin/brew) (Apple Silicon) and C(/usr/local/bin/brew)
                (Intel) that is an executable file, or null.
              returned: always
              type: str
              sample: /opt/homebrew/bin/brew
            owner:
              description: The user owning that file (after symlinks) - the user C(brew) must run as, since
                Homebrew refuses to run as root. Null without Homebrew.
              returned: always
              type: str
              sample: alice
        strategies:
          description: For each strategy (C(loopback), C(tap), C(routed)) a dict with C(possible) (bool) and
            C(reason) (str, why it is or is not possible); C(tap) and C(routed) also have C(needs), a list of what
            has to be there first (C(tap) - the tuntaposx kext, which the C(tap_bridge) role installs; C(routed) -
            Homebrew, which no role installs, and Docker Desktop's default socket setting, which the user switches
            on).
          returned: always
          type: dict
          sample:
            loopback:
              possible: true
              reason: loopback aliases with ports published on them work with every Docker Desktop
            tap:
              possible: false
              reason: "Apple Silicon: no HyperKit and no tuntaposx kext (both are x86_64 only)"
              needs: []
            routed:
              possible: true
              reason: "Docker Desktop on Apple's Virtualization framework (settings-store.json
                UseVirtualizationFramework=true): docker-mac-net-connect routes the Docker networks' subnets through
                a WireGuard tunnel into the VM"
              needs: []
        recommended_strategy:
          description: On a Mac V(tap) where it is possible, else V(routed) where it is possible and needs nothing
            (Homebrew is there), else V(loopback). On Linux V(loopback).
          returned: always
          type: str
          choices: [loopback, tap, routed]
          sample: routed
        recommended_reason:
          description: Why RV(ansible_facts.hostbridge.recommended_strategy) was chosen, for example that the
            routed strategy would need Homebrew.
          returned: always
          type: str
          sample: "the routed strategy would need Homebrew (brew at /opt/homebrew/bin/brew or /usr/local/bin/brew):
            the routed role installs docker-mac-net-connect with it"
        trust:
          description:
            - One entry per O(trusted_paths) item - C(path), C(exists),
              C(owner) (of the file it leads to), C(trusted), C(problems) (each failing hop with its owner and mode) and
              C(fixes) (the commands). Absent without O(trusted_paths).
          returned: when O(trusted_paths) is given
          type: list
          elements: dict
          sample:
            - path: /usr/local/libexec/dockermac-hostbridge/tap-reapply
              exists: true
              owner: root (uid 0)
              trusted: false
              problems: ["/usr/local/libexec (owner alice (uid 501), mode 0755) is not owned by root: that account can
                replace what a root job runs"]
              fixes: [sudo chown root /usr/local/libexec]
plan:
  description:
    - For each key of O(desired) (but those for another platform), whether the host differs from it
      (C(pending)) and why (C(reason)), with the entry's C(strategy) when it has one; a C(file) entry also says
      whether the file C(exists). Absent without O(desired).
  returned: when O(desired) is given
  type: dict
  sample:
    lo0_alias: {pending: false, reason: in sync, strategy: loopback}
    etc_hosts_entry: {pending: true, reason: "etc_hosts_entry: would change", strategy: loopback}
    reapply_program: {pending: true, reason: /usr/local/libexec/dockermac-hostbridge/tap-reapply does not exist,
                      strategy: tap, exists: false}
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
from ansible_collections.dockermac.hostbridge.plugins.module_utils._facts import manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module

ARGUMENT_SPEC = {
    "app_path": {"type": "path"},
    "user": {"type": "str"},
    "tap_device": {"type": "str", "default": "tap1"},
    "vm_manager": {"type": "str", "choices": ["hyperkit", "virtualization_framework", "docker_vmm", "qemu"]},
    "desired": {"type": "dict"},
    "trusted_paths": {"type": "list", "elements": "path", "default": []},
}


def main() -> None:
    run_module(manage, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
