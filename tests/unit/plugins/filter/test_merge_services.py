"""merge_services: a host's services are the team's list plus the host's additions, minus its removals - never a
copy of the team's list, so what the team adds later reaches the host and a host's override removes nothing else."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dockermac.hostbridge.plugins.filter.merge_services import FilterModule

merge = FilterModule().filters()["merge_services"]
NGINX = {"name": "nginx.test", "ip": "198.51.100.1"}
API = {"name": "api.test", "ip": "198.51.100.2", "aliases": ["api.team.internal"]}
DB = {"name": "db.test", "ip": "198.51.100.3"}
GRAFANA = {"name": "grafana.test", "ip": "198.51.100.9"}


def test_nothing_added_or_dropped_is_the_team_list() -> None:
    assert merge([NGINX, API]) == [NGINX, API]
    assert merge([NGINX, API], [], []) == [NGINX, API]
    assert merge([NGINX, API], None, None) == [NGINX, API]


def test_added_services_come_after_the_teams() -> None:
    assert merge([NGINX, API], [GRAFANA]) == [NGINX, API, GRAFANA]


def test_dropped_names_leave_the_team_service_out() -> None:
    assert merge([NGINX, API, DB], [GRAFANA], ["db.test"]) == [NGINX, API, GRAFANA]
    # a name the team does not have (any more) changes nothing
    assert merge([NGINX], [], ["gone.test"]) == [NGINX]


def test_a_team_service_added_later_reaches_a_host_with_its_own_changes() -> None:
    host = {"extra": [GRAFANA], "drop": ["db.test"]}
    before = merge([NGINX, DB], **host)
    after = merge([NGINX, DB, API], **host)
    assert API not in before
    assert after == [NGINX, API, GRAFANA]


def test_an_added_service_with_a_team_name_replaces_it_on_this_host() -> None:
    moved = {"name": "api.test", "ip": "198.51.100.20"}
    assert merge([NGINX, API], [moved]) == [NGINX, moved]


@pytest.mark.parametrize(("team", "extra", "drop", "says"), [
    ("nginx.test", [], [], "loopback_services must be a list of services"),
    ([NGINX], ["grafana.test"], [], "loopback_services_extra must be a list of services"),
    ([NGINX], [], "nginx.test", "loopback_services_drop must be a list of names"),
])
def test_wrong_types_are_refused_by_name(team: object, extra: object, drop: object, says: str) -> None:
    with pytest.raises(AnsibleFilterError, match=says):
        merge(team, extra, drop)
