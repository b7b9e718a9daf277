"""bridge_facts on a fake Mac (tests/system/test_bridge_plan_routed.py), loaded by the target Python from PYTHONPATH.

Linux cannot be a Mac to bridge_facts' Darwin backend, so in a process where ``HOSTBRIDGE_TEST_MAC`` names the fake
Mac's settings (JSON: ``root``, ``home``, ``machine``, ``bin``), and only once ``_facts`` is imported (only
bridge_facts imports it):

- the module runs as on macOS: its context's system is ``Darwin``, so the plan compares the macOS entries;
- the facts are gathered by the real ``DarwinFacts`` backend from the fake Mac's root, home and machine (as
  tests/unit/plugins/module_utils/test_facts.py's ``Mac`` does in-process);
- the fake Mac's ``bin`` is searched first, where macOS has ``/bin`` and ``/sbin`` (``launchctl``, ``sw_vers``,
  ``ifconfig``).

Every other module of the run is itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys

_SETTINGS = os.environ.get("HOSTBRIDGE_TEST_MAC")
_UTILS = "ansible_collections.dockermac.hostbridge.plugins.module_utils."


def _as_on_a_mac(facts_module, mac):
    manage, gather = facts_module.manage, facts_module.gather
    sys.modules[_UTILS + "_commands"].SYSTEM_DIRS.insert(0, mac["bin"])

    def darwin_gather(*, params, system, runner, **kwargs):
        return gather(params=params, system="Darwin", runner=runner, root=mac["root"], home=mac["home"],
                      machine=mac["machine"])

    def darwin_manage(ctx, params):
        return manage(ctx._replace(system="Darwin"), params)

    facts_module.gather, facts_module.manage = darwin_gather, darwin_manage


class _Loader(importlib.abc.Loader):
    def __init__(self, inner, mac):
        self.inner, self.mac = inner, mac

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        _as_on_a_mac(module, self.mac)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, mac):
        self.mac = mac

    def find_spec(self, name, path=None, target=None):
        if name != _UTILS + "_facts":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.mac)
        return spec


if _SETTINGS:
    with open(_SETTINGS, encoding="utf-8") as _handle:
        sys.meta_path.insert(0, _Finder(json.load(_handle)))
