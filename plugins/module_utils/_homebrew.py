# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a Homebrew tap, formula and root service are there, read without running ``brew``.

``brew`` refuses to run as root except for ``brew services`` (``check-run-command-as-root`` in Homebrew/brew
``Library/Homebrew/brew.sh``), ``bridge_facts`` runs as whoever connects, and each ``brew`` call costs a Ruby start.
So this reads what Homebrew itself reads, by Homebrew/brew's own definitions:

- the prefix is the parent of ``brew``'s directory, and the repository the same unless ``brew`` is a symlink (Intel:
  ``/usr/local/bin/brew`` -> ``/usr/local/Homebrew/bin/brew``), then its target's (``bin/brew``);
- a tap ``user/repo`` is installed when ``<repository>/Library/Taps/user/homebrew-repo`` (lower case) is a directory
  (``Tap#installed?``, ``HOMEBREW_TAP_DIRECTORY``; ``tap.rb``, ``startup/config.rb``);
- a formula is installed when a keg of its rack ``<cellar>/<name>/<version>`` holds ``INSTALL_RECEIPT.json``
  (``Formula#any_version_installed?``, ``Tab::FILENAME``); the Cellar is ``<repository>/Cellar`` when that directory
  exists, else ``<prefix>/Cellar`` (``brew.sh``);
- its service ``homebrew.mxcl.<name>`` runs as root when launchd's system domain has it with a pid, what ``sudo brew
  services info`` reports as ``running`` (``FormulaWrapper#pid`` reads ``pid = N`` of ``launchctl print``), from a
  property list without another ``UserName`` (``FormulaWrapper#owner``; ``services/formula_wrapper.rb``).

Each function returns what differs, as a list of reasons (empty: as wanted).
"""

from __future__ import annotations

import os
import plistlib
import re

from ansible_collections.dockermac.hostbridge.plugins.module_utils._types import Runner
from ansible_collections.dockermac.hostbridge.plugins.module_utils._validation import brew_formula, brew_tap

RECEIPT = "INSTALL_RECEIPT.json"
_PID = re.compile(r"^\s*pid = (\d+)\s*$", re.MULTILINE)
_PATH = re.compile(r"^\s*path = (.+?)\s*$", re.MULTILINE)
_EXIT = re.compile(r"^\s*last exit code = (.+?)\s*$", re.MULTILINE)


def prefix_and_repository(brew: str) -> tuple[str, str]:
    """(HOMEBREW_PREFIX, HOMEBREW_REPOSITORY) as ``bin/brew`` works them out from its own path."""
    bin_dir = os.path.realpath(os.path.dirname(brew))
    prefix = os.path.dirname(bin_dir)
    brew_file = os.path.join(bin_dir, os.path.basename(brew))
    if os.path.islink(brew_file):
        return prefix, os.path.dirname(os.path.dirname(os.path.realpath(brew_file)))
    return prefix, prefix


def service_label(formula: str) -> str:
    """The launchd label ``brew services`` gives a formula's service (``Formula#plist_name``)."""
    return f"homebrew.mxcl.{formula.rsplit('/', 1)[-1]}"


def tap_missing(brew: str, tap: str) -> list[str]:
    user, repo = brew_tap(tap, field="tap").lower().split("/")
    _prefix, repository = prefix_and_repository(brew)
    path = os.path.join(repository, "Library", "Taps", user, f"homebrew-{repo.removeprefix('homebrew-')}")
    return [] if os.path.isdir(path) else [f"tap {tap} is not installed ({path} is not a directory)"]


def formula_missing(brew: str, formula: str) -> list[str]:
    name = brew_formula(formula, field="formula").rsplit("/", 1)[-1]
    prefix, repository = prefix_and_repository(brew)
    cellar = os.path.join(repository, "Cellar")
    rack = os.path.join(cellar if os.path.isdir(cellar) else os.path.join(prefix, "Cellar"), name)
    try:
        kegs = sorted(os.listdir(rack))
    except FileNotFoundError:
        kegs = []
    if any(os.path.isfile(os.path.join(rack, keg, RECEIPT)) for keg in kegs):
        return []
    return [f"formula {formula} is not installed (no keg of {rack} holds {RECEIPT})"]


def service_not_running_as_root(runner: Runner, formula: str) -> list[str]:
    label = service_label(brew_formula(formula, field="formula"))
    result = runner.run(["launchctl", "print", f"system/{label}"], check=False)
    if result.rc != 0:
        return [f"service {label} is not loaded in the system domain (launchctl print: rc={result.rc}"
                f"{': ' + result.stderr.strip() if result.stderr.strip() else ''})"]
    pid = _PID.search(result.stdout)
    if pid is None or int(pid.group(1)) == 0:
        code = _EXIT.search(result.stdout)
        return [f"service {label} is loaded but not running"
                + (f" (last exit code = {code.group(1)})" if code else "")]
    path = _PATH.search(result.stdout)
    if path is None:
        return [f"service {label}: launchctl print names no property list, so who it runs as is unknown"]
    with open(path.group(1), "rb") as handle:
        plist = plistlib.load(handle)
    user = (plist.get("UserName") if isinstance(plist, dict) else None) or "root"
    return [] if user == "root" else [f"service {label} runs as {user}, not root"]
