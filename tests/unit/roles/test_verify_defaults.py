"""verify reads the variables of the roles whose work it checks; when one is not set it must fall back to that
role's own default (read from its defaults/main.yml), never to a copy of it."""

from __future__ import annotations

import os
import re

import yaml

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     "roles")
OTHER = ("bridge", "loopback", "tap_bridge", "routed", "pull")


def verify_text() -> str:
    text = ""
    for folder in ("vars", "tasks"):
        for name in sorted(os.listdir(os.path.join(ROLES, "verify", folder))):
            with open(os.path.join(ROLES, "verify", folder, name), encoding="utf-8") as handle:
                text += handle.read()
    return text


def test_fallbacks_are_the_other_roles_defaults_not_copies() -> None:
    defaults: dict[str, object] = {}
    for role in OTHER:
        with open(os.path.join(ROLES, role, "defaults", "main.yml"), encoding="utf-8") as handle:
            defaults.update(yaml.safe_load(handle))
    uses = re.findall(r"\b((?:bridge|loopback|tap_bridge|routed|pull)_[a-z_]+) \| default\(([^,)]+)", verify_text())
    assert uses
    for name, fallback in uses:
        assert fallback in (f"verify__defaults.{name}", "omit"), f"{name} falls back to {fallback}"
        assert name in defaults, name
    for name in re.findall(r"verify__defaults\.(\w+)", verify_text()):
        assert name in defaults, name
