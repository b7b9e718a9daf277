"""_trust on the paths of a Mac, through a modelled file system (lstat/readlink of a dict).

The owners and modes modelled, and their sources:
- Homebrew's installer (Homebrew/install ``install.sh``, commit ca0130bd): on Intel the prefix ``/usr/local``
  stays root's (``INSTALL=(/usr/bin/install -d -o root -g wheel -m 0755)`` makes it when missing), while ``bin
  etc include lib sbin share var opt ... Cellar Caskroom Frameworks`` under it are made or chowned to the user
  (``mkdirs``, ``chowns``: ``chown ${USER}``); ``libexec`` is not in those lists. On Apple Silicon the repository
  ``/opt/homebrew`` is ``chown -R ${USER}:${GROUP}`` (line 822), ``/opt`` made by root.
- ``/var``, ``/tmp`` and ``/etc`` are symlinks into ``/private`` (the project's background.md, section 2, for
  ``/etc/hosts`` -> ``/private/etc/hosts``); ``/private/tmp`` root:wheel 1777 (**reconstructed**: the sticky,
  world-writable temp directory every Unix has, as in sticky(7)).
- A drag-installed ``/Applications/Docker.app`` belongs to the user who dragged it (the issue #18 report; the
  Finder copies as the user); **reconstructed**.
"""

from __future__ import annotations

import os
import stat
import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _trust
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

ALICE = 501  # the first account macOS creates


class Node(t.NamedTuple):
    st_mode: int
    st_uid: int
    st_gid: int
    target: str | None = None


def d(mode: int = 0o755, uid: int = 0) -> Node:
    return Node(stat.S_IFDIR | mode, uid, 0)


def f(mode: int = 0o755, uid: int = 0) -> Node:
    return Node(stat.S_IFREG | mode, uid, 0)


def link(target: str, uid: int = 0) -> Node:
    return Node(stat.S_IFLNK | 0o755, uid, 0, target)


def mac(intel_homebrew: bool = True, **extra: Node) -> dict[str, Node]:
    tree = {
        "/": d(), "/usr": d(), "/usr/local": d(), "/usr/bin": d(), "/usr/bin/git": f(), "/bin": d(),
        "/bin/sh": f(), "/Library": d(), "/Library/LaunchDaemons": d(), "/opt": d(),
        "/private": d(), "/private/var": d(), "/private/var/log": d(), "/private/tmp": d(0o1777),
        "/var": link("private/var"), "/tmp": link("private/tmp"),
        "/opt/dockermac-hostbridge": d(), "/opt/dockermac-hostbridge/venv": d(),
        "/opt/dockermac-hostbridge/venv/bin": d(), "/opt/dockermac-hostbridge/venv/bin/ansible-pull": f(),
        "/Applications": d(), "/Applications/Docker.app": d(uid=ALICE),
    }
    if intel_homebrew:
        tree.update({"/usr/local/bin": d(uid=ALICE), "/usr/local/bin/ansible-pull": f(uid=ALICE)})
    else:
        tree.update({"/opt/homebrew": d(uid=ALICE), "/opt/homebrew/bin": d(uid=ALICE),
                     "/opt/homebrew/bin/ansible-pull": f(uid=ALICE)})
    tree.update(extra)
    return tree


def check(tree: dict[str, Node], path: str) -> _trust.Report:
    def lstat(p: str) -> Node:
        if p not in tree:
            raise FileNotFoundError(p)
        return tree[p]

    def readlink(p: str) -> str:
        return t.cast(str, tree[p].target)

    return _trust.check(path, lstat=lstat, readlink=readlink)


def paths(report: _trust.Report) -> list[str]:
    return [finding.path for finding in report.findings]


def test_root_owned_chains_are_trusted() -> None:
    tree = mac()
    for path in ("/opt/dockermac-hostbridge/venv/bin/ansible-pull", "/Library/LaunchDaemons", "/usr/bin/git",
                 "/bin/sh", "/var/log/dockermac-hostbridge-pull.log"):
        assert check(tree, path).trusted, check(tree, path)


def test_homebrew_prefixes_are_refused_with_the_owner() -> None:
    intel = check(mac(), "/usr/local/bin/ansible-pull")
    assert paths(intel) == ["/usr/local/bin", "/usr/local/bin/ansible-pull"]
    assert f"uid {ALICE}" in intel.findings[0].owner
    assert "is not owned by root" in str(intel.findings[0])
    assert intel.findings[0].fix == "sudo chown root /usr/local/bin"
    arm = check(mac(intel_homebrew=False), "/opt/homebrew/bin/ansible-pull")
    assert paths(arm) == ["/opt/homebrew", "/opt/homebrew/bin", "/opt/homebrew/bin/ansible-pull"]


def test_usr_local_libexec_is_trusted_only_while_root_owns_it() -> None:
    program = "/usr/local/libexec/dockermac-hostbridge/tap-reapply"
    assert check(mac(), program).trusted  # missing: root creates it under root-owned /usr/local
    assert not check(mac(), program).exists
    made_by_user = mac(**{"/usr/local/libexec": d(uid=ALICE)})
    assert paths(check(made_by_user, program)) == ["/usr/local/libexec"]


def test_group_writable_program_and_directory() -> None:
    tree = mac(**{"/opt/dockermac-hostbridge/venv/bin": d(0o775),
                  "/opt/dockermac-hostbridge/venv/bin/ansible-pull": f(0o757)})
    report = check(tree, "/opt/dockermac-hostbridge/venv/bin/ansible-pull")
    assert [str(x) for x in report.findings] == [
        f"/opt/dockermac-hostbridge/venv/bin (owner root (uid 0), mode 0775) is writable by group {_group_name(0)}: "
        "they can replace what a root job runs",
        "/opt/dockermac-hostbridge/venv/bin/ansible-pull (owner root (uid 0), mode 0757) is writable by others: "
        "they can replace what a root job runs"]
    assert paths(report) == ["/opt/dockermac-hostbridge/venv/bin", "/opt/dockermac-hostbridge/venv/bin/ansible-pull"]
    assert [x.fix for x in report.findings] == [f"sudo chmod go-w {p}" for p in paths(report)]


def _group_name(gid: int) -> str:
    return _trust._group(gid)  # pylint: disable=protected-access


def test_symlinks_each_hop_and_its_target() -> None:
    # /var -> private/var: both root's, trusted.
    assert paths(check(mac(), "/var/log")) == []
    # A root-owned link into the user's Homebrew prefix: the target's owner fails.
    tree = mac(**{"/opt/dockermac-hostbridge/venv/bin/python": link("/usr/local/bin/python3.12"),
                  "/usr/local/bin/python3.12": f(uid=ALICE)})
    assert paths(check(tree, "/opt/dockermac-hostbridge/venv/bin/python")) == [
        "/usr/local/bin", "/usr/local/bin/python3.12"]
    # A link the user owns is refused itself, wherever it points.
    tree = mac(**{"/opt/dockermac-hostbridge/x": link("/bin/sh", uid=ALICE)})
    assert paths(check(tree, "/opt/dockermac-hostbridge/x")) == ["/opt/dockermac-hostbridge/x"]
    # A relative link with .. is resolved from the link's directory.
    tree = mac(**{"/opt/dockermac-hostbridge/sh": link("../../bin/sh")})
    assert check(tree, "/opt/dockermac-hostbridge/sh").trusted
    loop = mac(**{"/opt/a": link("/opt/b"), "/opt/b": link("/opt/a")})
    assert "too many levels" in str(check(loop, "/opt/a").findings[-1])


def test_sticky_tmp_only_for_an_existing_root_owned_entry() -> None:
    tree = mac(**{"/private/tmp/job": f(), "/private/tmp/mine": f(uid=ALICE)})
    assert check(tree, "/tmp/job").trusted
    assert paths(check(tree, "/tmp/mine")) == ["/private/tmp/mine"]
    missing = check(tree, "/tmp/not-yet")
    assert paths(missing) == ["/private/tmp/not-yet"]
    assert "anyone can create it first" in str(missing.findings[0])
    assert paths(check(tree, "/tmp")) == ["/private/tmp"]  # the open directory itself is no trusted place


def test_a_drag_installed_docker_app_belongs_to_the_user() -> None:
    assert paths(check(mac(), "/Applications/Docker.app")) == ["/Applications/Docker.app"]


def test_require_names_every_path_owner_and_fix() -> None:
    with pytest.raises(HostbridgeError) as caught:
        _trust.require(["relative/path"], what="boot_job x")
    assert "boot_job x: refusing" in caught.value.msg
    assert "relative/path" in caught.value.msg
    _trust.require(["/"], what="root")  # the real / of this machine is root's


def test_interpreter(tmp_path: t.Any) -> None:
    script = tmp_path / "s"
    script.write_text("#!/opt/dockermac-hostbridge/venv/bin/python3.12 -I\nprint()\n")
    assert _trust.interpreter(str(script)) == "/opt/dockermac-hostbridge/venv/bin/python3.12"
    script.write_text("echo\n")
    assert _trust.interpreter(str(script)) is None
    assert _trust.interpreter(os.path.join(str(tmp_path), "missing")) is None
