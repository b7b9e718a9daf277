# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _routes

DOCUMENTATION = r"""
name: routed_routes
short_description: Which Docker networks docker-mac-net-connect routes on a Mac, from netstat and ifconfig output
version_added: 0.1.0
author:
  - dockermac.hostbridge contributors (!UNKNOWN)
description:
  - Finds docker-mac-net-connect's tunnel (the interface holding C(10.33.33.1) in the C(ifconfig) output) and checks,
    for every IPv4 subnet of every local-scope Docker network, that the routing table (C(netstat -rn -f inet) output)
    has a route for exactly that subnet through the tunnel - what docker-mac-net-connect adds with C(route -n add
    -inet SUBNET -interface utunN).
  - Reads macOS's abbreviated destinations (C(172.17) is C(172.17.0.0/16), C(10.99.200/24) is C(10.99.200.0/24)).
  - The C(verify) role uses it for its routed checks.
options:
  _input:
    description: The output of C(netstat -rn -f inet).
    type: str
    required: true
  ifconfig:
    description: The output of C(ifconfig) (all interfaces).
    type: str
    required: true
  networks:
    description: Docker networks as the engine lists them (C(Name), C(Scope), C(IPAM.Config[].Subnet)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Routes of the Docker networks
  ansible.builtin.debug:
    msg: >-
      {{ netstat.stdout | dockermac.hostbridge.routed_routes(ifconfig=ifconfig.stdout,
         networks=engine.networks) }}
  # {"tunnel": "utun3", "routed": [{"name": "bridge", "subnet": "172.17.0.0/16"}], "missing": []}
"""

RETURN = r"""
_value:
  description:
    - C(tunnel) - the tunnel interface, or null when no interface holds C(10.33.33.1).
    - C(routed) and C(missing) - the networks (C(name), C(subnet)) routed through the tunnel, and the others.
  type: dict
"""


def routed_routes(netstat: t.Any, ifconfig: t.Any, networks: t.Any) -> dict[str, t.Any]:
    if not isinstance(netstat, str) or not isinstance(ifconfig, str):
        raise AnsibleFilterError("routed_routes: the netstat and ifconfig outputs must be strings")
    if not isinstance(networks, t.Sequence) or not all(isinstance(net, t.Mapping) for net in networks):
        raise AnsibleFilterError("routed_routes: networks must be a list of Docker networks (mappings)")
    return _routes.routed_state(ifconfig=ifconfig, netstat=netstat, networks=networks)


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"routed_routes": routed_routes}
