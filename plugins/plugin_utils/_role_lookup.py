# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the desired_state and input_problems lookups share: the role variables they read, and the parts asked for."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleLookupError


class RoleVariables:
    """A role variable by name, rendered; an error naming the variable and the role when it is not there."""

    def __init__(self, lookup: t.Any, variables: t.Mapping[str, t.Any], who: str) -> None:
        self._lookup, self._variables, self._who = lookup, variables, who

    def __call__(self, name: str) -> t.Any:
        if name not in self._variables:
            role = "tap_bridge" if name.startswith("tap_bridge") else name.split("_", 1)[0]
            raise AnsibleLookupError(
                f"{self._who}: the variable {name} is not defined here: run the lookup inside the role "
                f"dockermac.hostbridge.{role}, or after importing its variables (import_role, public: true)")
        return self._lookup._templar.template(self._variables[name])


def parts(terms: t.Sequence[t.Any], known: t.Iterable[str], who: str) -> list[str]:
    """The parts named (``terms``), each one of ``known``; an error naming the others."""
    known = list(known)
    unknown = [term for term in terms if term not in known]
    if not terms or unknown:
        raise AnsibleLookupError(f"{who}: parts {unknown or '(none)'}: name one or more of {known}")
    return list(terms)
