#!/usr/bin/python
# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: etc_hosts_entry
short_description: Manage names in the hosts file as a block of its own, leaving every other byte alone
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Maps host names to addresses in C(/etc/hosts) (on macOS C(/private/etc/hosts)), so a service published on a
    loopback alias (C(docker run -p 198.51.100.1:80:80 nginx)) is reachable by name (C(nginx.test)).
  - The module owns one marked block per O(marker) and nothing else - a line C(# BEGIN <marker>) (followed by a
    remark that the block is managed by Ansible and edits inside are overwritten), one line per address (the
    address, a tab, its names separated by spaces), and C(# END <marker>); the examples show one. Several
    owners can keep independent blocks in one file.
  - Every byte outside the block is preserved - comments, blank lines, tabs, CRLF line endings (the block uses
    the file's own line ending), a missing final newline (a block at the end of such a file is written without
    one), IPv6 lines, Docker Desktop's C(# Added by Docker Desktop) ... C(# End of section) and other owners'
    blocks.
  - One task sets any number of entries with one read and one write. The file's directory is locked (C(flock)),
    the file read once, the new content computed in memory, written to a temp file beside it, fsynced and
    renamed over the original (owner and mode kept), so two runs at the same time on one host never lose each
    other's entries (24 concurrent runs in the unit tests all land).
  - The file keeps its owner and mode unless O(mode), O(owner), O(group) (or the SELinux and attribute options)
    say otherwise; they are applied whether or not the content changes. A new file is created C(0644). A hosts
    file that cannot be replaced by a rename (a container's bind-mounted C(/etc/hosts)) needs O(unsafe_writes),
    whose default comes from the E(ANSIBLE_UNSAFE_WRITES) environment variable.
  - Removing the last entry removes the block, and the file is byte for byte what it was before the block was
    added. A re-run that changes nothing leaves the bytes alone, even a block aligned by hand.
  - A BEGIN line without its END, an END before its BEGIN, or the block present twice is an error naming the
    lines; nothing is changed.
  - Bad input fails before the file is read, naming the option and the value - an address that is not IPv4 or
    IPv6 (or has spaces around it), a name that is not an RFC 1123 host name (whitespace, C(#), C(;), C($),
    newlines, a leading hyphen, empty), an empty O(names), one name given two addresses of one family, an
    unknown key in an entry, a bad O(marker), a O(path) that is a directory or in a missing directory.
options:
  path:
    description:
      - The hosts file. A missing file is created (mode C(0644)) when there is something to write.
    type: path
    default: /etc/hosts
  ip:
    description:
      - The address (IPv4 or IPv6) of a single entry; use with O(names). Mutually exclusive with O(entries).
    type: str
  names:
    description:
      - The host names of O(ip), each an RFC 1123 host name. With O(state=absent) they may be left out to remove
        the whole entry of O(ip).
    type: list
    elements: str
  entries:
    description:
      - Many entries at once, each with O(entries[].ip) and O(entries[].names). Entries that name the same
        address are merged.
    type: list
    elements: dict
    suboptions:
      ip:
        description: The address (IPv4 or IPv6).
        type: str
        required: true
      names:
        description:
          - Its host names. With O(state=absent) they may be left out to remove the whole entry.
        type: list
        elements: str
  state:
    description:
      - V(present) maps each name to its address in the block. A name of the block that pointed at another
        address of the same family is moved. Other entries of the block stay unless O(exclusive=true).
      - V(absent) removes the given names of each address from the block (all of its names when O(names) is
        left out). With O(exclusive=true) the whole block of O(marker) is removed, whatever the entries.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), the block becomes exactly the given entries, in the given order; entries of earlier
        runs that are no longer listed are removed. An empty O(entries) removes the block (a team with no services
        left).
      - With O(state=absent), the whole block is removed (O(entries) may then be empty).
    type: bool
    default: false
  marker:
    description:
      - Names the block, so that independent owners (a team role, a project's playbook) each manage their own.
        Letters, digits and the characters C(._:@/+-); no spaces.
    type: str
    default: dockermac.hostbridge
  on_conflict:
    description:
      - What to do when a name is also mapped to another address of the same family by a line outside the block
        (the system's, a user's, another owner's block). Resolvers answer with the first match, so such a line
        may shadow the entry.
      - V(warn) writes the entry and warns, naming the line; V(fail) fails and changes nothing; V(ignore) says
        nothing. The conflicts are returned in any case.
    type: str
    choices: [warn, fail, ignore]
    default: warn
  flush_cache:
    description:
      - On macOS, after a change, flush the resolver caches (C(dscacheutil -flushcache), then
        C(killall -HUP mDNSResponder)); a failure there is a warning, the file change stands.
      - On Linux nothing needs flushing (glibc reads the file on each lookup); the option does nothing.
    type: bool
    default: true
extends_documentation_fragment:
  - dockermac.hostbridge._attributes
  - ansible.builtin.files
  - ansible.builtin.backup
attributes:
  diff_mode:
    details: The whole file before and after.
notes:
  - Needs write access to the file's directory (C(become) for C(/etc/hosts)).
  - Lines inside the block are the module's; edits there are overwritten on the next run that changes the block.
  - Tested on a recorded macOS hosts file with Docker Desktop's section (C(tests/fixtures/darwin/), see
    C(SOURCES.md)), CRLF and no-final-newline files, moves, merges, damaged blocks and conflicts, with
    hypothesis properties over generated files (applying twice equals applying once, apply then remove restores
    the bytes, lines outside the block are never altered) in C(tests/unit/plugins/module_utils/test_hosts.py);
    through AnsibleModule (check and diff mode, mode and owner kept, backup, bad input leaving the file
    identical, O(on_conflict), the macOS cache flush argv, 24 concurrent processes) in
    C(tests/unit/plugins/modules/test_etc_hosts_entry.py); through Ansible by the C(etc_hosts_entry) integration
    target, and on containers' real bind-mounted C(/etc/hosts) through the C(loopback) role in the Molecule
    scenarios.
  - Speed on a 10,000-line file with 1,000 entries is measured by C(bench/hosts_file.py); see
    C(docs/performance.md) in the collection.
seealso:
  - module: dockermac.hostbridge.lo0_alias
"""

EXAMPLES = r"""
# The second task leaves this block in /etc/hosts (a tab between an address and its names):
#   # BEGIN team-services (managed by Ansible; edits inside are overwritten)
#   198.51.100.1  nginx.test
#   198.51.100.2  api.test api.team.internal
#   fd00:db8:100::1  api.test
#   # END team-services

- name: One name
  dockermac.hostbridge.etc_hosts_entry:
    ip: 198.51.100.1
    names: [nginx.test]
  become: true

- name: Every service of the team in one write; names of earlier runs that are gone are removed
  dockermac.hostbridge.etc_hosts_entry:
    entries:
      - {ip: 198.51.100.1, names: [nginx.test]}
      - {ip: 198.51.100.2, names: [api.test, api.team.internal]}
      - {ip: "fd00:db8:100::1", names: [api.test]}
    exclusive: true
    marker: team-services
    on_conflict: fail
  become: true

- name: Remove the block of a marker entirely
  dockermac.hostbridge.etc_hosts_entry:
    entries: []
    marker: team-services
    exclusive: true
    state: absent
  become: true
"""

RETURN = r"""
path:
  description: The hosts file.
  returned: always
  type: str
  sample: /etc/hosts
entries:
  description: The entries of the block after the run (before it, where the module failed).
  returned: success
  type: list
  elements: dict
  contains:
    ip:
      description: The address.
      type: str
    names:
      description: Its names.
      type: list
      elements: str
  sample: [{ip: 198.51.100.1, names: [nginx.test]}]
conflicts:
  description: Names also mapped to another address of the same family by lines outside the block.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: The host name.
      type: str
    ip:
      description: The address the block maps it to.
      type: str
    other_ip:
      description: The address the other line maps it to.
      type: str
    line_number:
      description: The other line's number in the file (before the change).
      type: int
  sample: [{name: nginx.test, ip: 198.51.100.1, other_ip: 127.0.0.1, line_number: 12}]
backup_file:
  description: The copy made before the change, with O(backup=true).
  returned: changed and O(backup=true)
  type: str
  sample: /etc/hosts.12345.2026-11-22@10:00:00~
"""

# Imports follow the documentation, as ansible-test's validate-modules requires.
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hosts import ARGUMENT_RULES, ARGUMENT_SPEC, manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._module import run_module


def main() -> None:
    run_module(manage, ARGUMENT_SPEC, add_file_common_args=True, **ARGUMENT_RULES)


if __name__ == "__main__":
    main()
