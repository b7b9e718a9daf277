# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This doc fragment is PRIVATE to dockermac.hostbridge: it may change at any time; do not use it elsewhere.

from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection shares (the harness in module_utils/_module.py): check and diff mode,
    # macOS and Linux, and a second run with the same options changes nothing. A module adds its diff_mode
    # details, or overrides an entry (bridge_facts has no diff).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [darwin, linux]
  idempotent:
    description:
      - When run twice in a row with the same options, the second run reports no change (and changes nothing).
    support: full
"""
