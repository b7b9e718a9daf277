# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _validation

DOCUMENTATION = r"""
name: invalid_fields
short_description: The problems of named values against the collection's validation rules
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Checks each value of a mapping of field names to values against the rule given for that field, and returns one
    message per field that breaks its rule, in the order of the mapping - all of them at once, empty when every
    value is fine.
  - >-
    Each message names the field, the value (as Python writes it, so a trailing newline shows as C(\n)) and the
    rule, for example V(tap_bridge_device: 'tap256' must be a tap device name from tap0 to tap255 (rule tap_name\)).
  - The rules are the ones the collection's modules apply (C(plugins/module_utils/_validation.py)) - C(abs_path),
    C(brew_formula), C(brew_tap), C(hostname), C(hosts_marker), C(integer_at_least) (option C(minimum)),
    C(interface_name) (option C(allow_colon)), C(ip_address), C(ipv4_address), C(ipv4_cidr), C(launchd_label),
    C(network), C(no_control_chars), C(non_empty), C(safe_path), C(tap_name). The yes/no form of most of them is a
    Jinja test of the same name (P(dockermac.hostbridge.tap_name#test), ...).
options:
  _input:
    description: Field names (as the user wrote them, for example role variables) and their values.
    type: dict
    required: true
  rules:
    description:
      - The rule of each field of O(_input) (every field needs one).
      - A rule name; a name ending in C(?) lets an unset value (null or an empty string) through; a name ending in
        C([]) applies the rule to every item of a list (reported as C(field[0]), ...) or every value of a mapping
        (C(field[key])).
      - >-
        A mapping C({rule: NAME, OPTION: VALUE}) passes options to the rule
        (C({rule: integer_at_least, minimum: 60})).
      - A list of those - the field is reported for the first rule it breaks.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check the role's input, reporting every bad value at once
  vars:
    problems: >-
      {{ {'tap_bridge_device': tap_bridge_device, 'tap_bridge_host_address': tap_bridge_host_address,
          'tap_bridge_reapply_interval': tap_bridge_reapply_interval}
         | dockermac.hostbridge.invalid_fields({
             'tap_bridge_device': 'tap_name', 'tap_bridge_host_address': 'ipv4_cidr',
             'tap_bridge_reapply_interval': {'rule': 'integer_at_least', 'minimum': 1}}) }}
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "tap_bridge: {{ problems | join('; ') }}"
    quiet: true

- name: Every item of a list
  ansible.builtin.debug:
    msg: "{{ {'names': ['web.test', 'bad name']} | dockermac.hostbridge.invalid_fields({'names': 'hostname[]'}) }}"
  # ["names[1]: 'bad name' is not a valid RFC 1123 host name (letters, digits, hyphens and dots only) (rule hostname)"]
"""

RETURN = r"""
_value:
  description:
    - >-
      One message per bad field, V(<field>: <value> <what the rule wants> (rule <name>\)); empty when all pass.
  type: list
  elements: str
"""


def invalid_fields(values: t.Any, rules: t.Any) -> list[str]:
    if not isinstance(values, t.Mapping) or not isinstance(rules, t.Mapping):
        raise AnsibleFilterError("invalid_fields: the input and the rules must be mappings of field names")
    try:
        return _validation.invalid_fields(values, rules)
    except ValueError as exc:
        raise AnsibleFilterError(f"invalid_fields: {exc}") from None


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"invalid_fields": invalid_fields}
