# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: merge_services
short_description: A host's services - the team's list with the host's or group's additions and removals
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - The team keeps its list in C(loopback_services) (for example in C(group_vars/all.yml)); a host or a group adds
    services with C(loopback_services_extra) and drops team services by name with C(loopback_services_drop). The
    result is the team's services in their order, without the dropped ones and without those an added service of
    the same name replaces, followed by the added services.
  - A service the team adds later therefore reaches every host that does not drop it by name, and a host's
    additions never remove a team service - what C(loopback_exclusive_within) removes is exactly what is in none of
    the three lists.
  - The C(loopback) role computes its services with this filter, and the C(verify) role checks the same list.
  - The values are checked by the roles (C(tasks/validate.yml), rules of C(plugins/module_utils/_validation.py));
    this filter only needs each service to be a mapping with a C(name).
options:
  _input:
    description: The team's services (C(loopback_services)).
    type: list
    elements: dict
    required: true
  extra:
    description: Services to add (C(loopback_services_extra)); one with the name of a team service replaces it.
    type: list
    elements: dict
    default: []
  drop:
    description: Names of team services to leave out (C(loopback_services_drop)); names not in the team's list
      are ignored.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: The services of this host
  ansible.builtin.debug:
    msg: >-
      {{ loopback_services | dockermac.hostbridge.merge_services(loopback_services_extra, loopback_services_drop) }}
  vars:
    loopback_services: [{name: nginx.test, ip: 198.51.100.1}, {name: db.test, ip: 198.51.100.3}]
    loopback_services_extra: [{name: grafana.test, ip: 198.51.100.9}]
    loopback_services_drop: [db.test]
  # [{name: nginx.test, ip: 198.51.100.1}, {name: grafana.test, ip: 198.51.100.9}]
"""

RETURN = r"""
_value:
  description: The host's services.
  type: list
  elements: dict
"""


def _services(value: t.Any, what: str) -> list[t.Mapping[str, t.Any]]:
    if value is None:
        return []
    if not isinstance(value, t.Sequence) or isinstance(value, str) \
            or not all(isinstance(item, t.Mapping) for item in value):
        raise AnsibleFilterError(f"merge_services: {what} must be a list of services (mappings), not {value!r}")
    return list(value)


def merge_services(team: t.Any, extra: t.Any = None, drop: t.Any = None) -> list[t.Mapping[str, t.Any]]:
    services, added = _services(team, "loopback_services"), _services(extra, "loopback_services_extra")
    if drop is None:
        drop = []
    if not isinstance(drop, t.Sequence) or isinstance(drop, str):
        raise AnsibleFilterError(f"merge_services: loopback_services_drop must be a list of names, not {drop!r}")
    left_out = {name for name in drop if isinstance(name, str)} | {service.get("name") for service in added}
    return [service for service in services if service.get("name") not in left_out] + added


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"merge_services": merge_services}
