"""``_app_management.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation
score"): what each kind of responsible process is told to do, and a macOS version that is not a number."""

from __future__ import annotations

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _app_management as am


def test_each_kind_gets_its_own_advice() -> None:
    assert am.Responsible("app", "/Applications/iTerm.app").describe() == (
        f"This run was started from /Applications/iTerm.app: turn it on for that app under {am._SETTING}")
    assert am.Responsible("program", "/usr/local/bin/tmux").describe() == (
        f"This run was started by /usr/local/bin/tmux (below launchd): add it under {am._SETTING}")
    assert am.Responsible("unknown", None).describe().startswith("Grant it to the program this run came from")


def test_a_macos_version_that_is_not_a_number_has_no_major() -> None:
    assert am.macos_major("Sonoma") is None
    assert am.macos_major("14.6.1") == 14
