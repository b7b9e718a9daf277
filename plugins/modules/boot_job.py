#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: boot_job
short_description: A root job run at boot and every N seconds (a LaunchDaemon; a systemd service and timer)
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Installs, updates and removes one root job that the service manager runs at boot and, with
    O(start_interval), periodically. The roles of this collection install their jobs with it (the C(pull) role's
    C(ansible-pull), the C(tap_bridge) role's re-apply program); C(lo0_alias) uses the same LaunchDaemon code.
  - The host is read once, the change planned, and only the difference applied; C(changed) comes from comparing
    the wanted file content, mode and owner and the loaded, enabled or active state with the host.
  - B(macOS) - C(/Library/LaunchDaemons/<name>.plist), rendered with Python's plistlib (keys sorted, so equal
    options give equal bytes), written atomically as root:wheel 0644 (launchd refuses other owners or modes with
    C(Path had bad ownership/permissions)); a symlink there is refused. Whether the job is loaded comes from
    C(launchctl print system/<name>).
  - >-
    B(launchd rules.) A changed plist of a loaded job is unloaded with C(launchctl bootout system/<name>), and
    the module then waits (bounded, 15 s) until C(launchctl print) no longer finds the label, because C(bootout)
    returns before launchd has let go of it and a C(bootstrap) meanwhile fails with
    C(Bootstrap failed: 5: Input/output error). Before every C(launchctl bootstrap system <plist>) it runs
    C(launchctl enable system/<name>), since a label left disabled (an old C(launchctl unload -w), a
    C(launchctl disable)) refuses C(bootstrap). An C(Input/output error) is tried three times in all, two
    seconds apart; when C(launchctl print-disabled system) still shows the label disabled the error names the
    switch that does it on macOS 13 and later - System Settings > General > Login Items >
    C(Allow in the Background).
  - B(Linux) - C(/etc/systemd/system/<name>.service) (C(Type=oneshot), one C(ExecStart=) with the argv quoted
    for systemd, C(Environment=) lines) and, with O(start_interval), C(<name>.timer) (C(OnBootSec=),
    C(OnUnitActiveSec=), C(AccuracySec=1s), C(WantedBy=timers.target)); both root:root 0644, written
    atomically. After a file change C(systemctl daemon-reload); the timer is enabled and started, and restarted
    when its schedule changed. Without O(start_interval) the service itself is enabled for the next boot
    (C(WantedBy=multi-user.target)) and not started. Systemd counts as running when C(/run/systemd/system)
    exists; without it O(state=present) fails and nothing is changed.
  - All options are checked before the host is touched; errors name the option and the value.
  - >-
    B(Trusted paths.) On every run with O(state=present), before anything is read or changed, the program
    (C(program_arguments[0])), the interpreter of its C(#!) line, every directory of the job's C(PATH) and every
    O(trusted_paths) entry must be owned by root and writable by neither group nor others, and so must every
    directory above them up to C(/), each symlink and its target included (the rule of sshd's C(StrictModes)).
    Otherwise the module fails naming each path, its owner and mode, and the command that fixes it; a job whose
    program another account can change would make that account root. See C(docs/security.md).
options:
  name:
    description:
      - The launchd label (C(/Library/LaunchDaemons/<name>.plist)) and the systemd unit name
        (C(<name>.service), C(<name>.timer)). Letters, digits, C(.), C(_) and C(-), starting with a letter or a
        digit, at most 200 characters.
    type: str
    required: true
    aliases: [label]
  state:
    description:
      - V(present) installs or updates the job and loads (launchd) or enables and starts (systemd timer) it.
      - V(absent) unloads it (C(launchctl bootout), with the same wait) or disables and stops the timer
        (C(systemctl disable --now)), then removes its files. A running program is not killed on Linux.
    type: str
    choices: [present, absent]
    default: present
  program_arguments:
    description:
      - The command, one argument per item; the first is an absolute path (no C(PATH) search). No shell is
        involved, so no quoting is needed. Required with O(state=present).
      - Control characters (newline, tab, NUL) are refused here and in every other text option.
    type: list
    elements: str
  environment:
    description:
      - Environment variables of the job (launchd C(EnvironmentVariables), systemd C(Environment=)). Names are
        letters, digits and C(_); values are strings (numbers are converted).
    type: dict
    default: {}
  description:
    description:
      - The systemd C(Description=) of the service (the timer's adds the interval). Ignored by launchd.
      - "Default - C(dockermac.hostbridge: <name>)."
    type: str
  run_at_load:
    description:
      - launchd C(RunAtLoad) - run the job when it is loaded, so at boot and when this module loads it.
      - On Linux the timer's C(OnBootSec=) (O(boot_delay)) decides the first run after boot; ignored there.
    type: bool
    default: true
  start_interval:
    description:
      - Run the job every this many seconds (launchd C(StartInterval); a systemd timer on Linux). At least 10.
      - launchd starts a job at most once every 10 seconds (its default C(ThrottleInterval), C(man launchd.plist)),
        so a smaller value would silently act as 10; it is refused on every platform, naming the option.
      - Null - no periodic run (a boot-only job).
    type: int
  boot_delay:
    description:
      - Linux only - seconds after boot of the first run (the timer's C(OnBootSec=)). Default - O(start_interval).
    type: int
  requires_network:
    description:
      - Linux only - order the service after C(network-online.target) and pull it in
        (C(Wants=) and C(After=)). launchd has no such dependency; a job that needs the network retries later.
    type: bool
    default: false
  process_type:
    description:
      - macOS only - launchd C(ProcessType) (V(Background) lowers the job's CPU and I/O priority).
    type: str
    choices: [Background, Standard, Adaptive, Interactive]
  standard_out_path:
    description:
      - macOS only - absolute path of the file launchd appends the job's standard output to. On Linux the output
        goes to the journal (C(journalctl -u <name>.service)).
    type: str
  standard_error_path:
    description:
      - macOS only - absolute path of the file launchd appends the job's standard error to.
    type: str
  reload:
    description:
      - Whether a loaded launchd job whose plist changed is unloaded and loaded again now (launchd reads a plist
        only at C(bootstrap)), and a removed job unloaded now. V(false) only writes (or removes) the plist, and
        RV(reload_deferred) says that launchd reads it at the next boot or the next run with V(true) - for a run
        started by the job itself, which a C(bootout) would kill. On Linux V(false) keeps a running timer from
        being restarted after a schedule change (the new schedule counts from its next activation); a running
        service is never stopped either way.
    type: bool
    default: true
  trusted_paths:
    description:
      - More files or directories the job runs or reads as code (a script given to C(/bin/sh), a virtualenv, a
        checkout of playbooks). Each is checked like the program (see the trusted paths rule above); a missing
        path is fine when the directory that would hold it is trusted.
    type: list
    elements: path
    default: []
    version_added: 0.1.0
extends_documentation_fragment:
  - dockermac.hostbridge._attributes
attributes:
  diff_mode:
    details: The diff shows the plist or the unit files before and after (an empty side for a new or removed file).
notes:
  - Needs root (C(become)).
  - "Undo by hand on macOS: C(sudo launchctl bootout system/<name>) and C(sudo rm /Library/LaunchDaemons/<name>.plist)."
  - "Undo by hand on Linux: C(sudo systemctl disable --now <name>.timer) (or C(<name>.service) for a boot-only job),
    C(sudo rm /etc/systemd/system/<name>.service /etc/systemd/system/<name>.timer), C(sudo systemctl daemon-reload)."
  - Tested with the exact C(launchctl) and C(systemctl) argv against recorded answers
    (C(tests/unit/plugins/module_utils/test_bootjob.py), C(test_launchd.py); sources in
    C(tests/fixtures/darwin/SOURCES.md)), with the plist and unit files compared byte for byte, and through
    AnsibleModule (C(tests/unit/plugins/modules/test_boot_job.py)).
seealso:
  - module: dockermac.hostbridge.lo0_alias
  - module: community.general.launchd
    description: Starts, stops and reloads launchd services; it does not author plists.
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Run ansible-pull every 30 minutes, at boot too
  dockermac.hostbridge.boot_job:
    name: com.example.pull
    program_arguments: [/usr/local/bin/ansible-pull, -U, "https://git.example.com/laptops.git", local.yml]
    environment:
      PATH: /usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
    start_interval: 1800
    boot_delay: 120
    requires_network: true
    process_type: Background
    standard_out_path: /var/log/example-pull.log
    standard_error_path: /var/log/example-pull.log
  become: true

- name: A boot-only job (LaunchDaemon with RunAtLoad; an enabled systemd service)
  dockermac.hostbridge.boot_job:
    name: com.example.at-boot
    program_arguments: [/usr/local/libexec/example-at-boot]
  become: true

- name: Remove the job
  dockermac.hostbridge.boot_job:
    name: com.example.pull
    state: absent
  become: true
"""

RETURN = r"""
name:
  description: The label (launchd) or the unit name without suffix (systemd).
  returned: success
  type: str
  sample: com.dockermac.hostbridge.pull
backend:
  description: The service manager used.
  returned: success
  type: str
  sample: launchd
paths:
  description: The job's files (existing or to be written).
  returned: success
  type: list
  elements: str
  sample: [/Library/LaunchDaemons/com.dockermac.hostbridge.pull.plist]
actions:
  description: What was done (or, in check mode, would be done), in order; empty when nothing differs.
  returned: success
  type: list
  elements: str
  sample: ["launchctl bootout system/com.example.pull", "write /Library/LaunchDaemons/com.example.pull.plist",
           "launchctl bootstrap system /Library/LaunchDaemons/com.example.pull.plist"]
reload_deferred:
  description: True when O(reload=false) left a loaded launchd job on its old plist, or loaded after its plist was
    removed, until the next boot.
  returned: success
  type: bool
  sample: false
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.

from ansible_collections.dockermac.hostbridge.plugins.module_utils._bootjob import ARGUMENT_RULES, ARGUMENT_SPEC, manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module


def main() -> None:
    run_module(manage, ARGUMENT_SPEC, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
