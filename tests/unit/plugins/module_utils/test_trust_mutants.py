"""``_trust.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"): the
sticky bit and no other special bit, ``.``, ``..`` and names sorting before them, the kernels' limit of 40 links
exactly, one finding for a missing hop or a link loop, what the report says about existence and owner, a group
without a name, and a ``#!`` line with nothing after it. The modelled file system of test_trust.py."""

from __future__ import annotations

import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _trust
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.test_trust import (
    ALICE,
    Node,
    check,
    d,
    f,
    link,
    mac,
    paths,
)


def test_a_setgid_directory_others_can_write_is_no_sticky_directory() -> None:
    """Only S_ISVTX keeps others from renaming what follows; setgid (02000) does not."""
    tree = mac(**{"/opt/shared": d(0o2777), "/opt/shared/job": f()})
    assert paths(check(tree, "/opt/shared/job")) == ["/opt/shared"]


def test_dot_and_dot_dot_are_walked_as_the_kernel_resolves_them() -> None:
    tree = mac(**{"/opt/app": d(), "/opt/bin": d(uid=ALICE), "/opt/bin/tool": f()})
    assert paths(check(tree, "/opt/app/../bin/tool")) == ["/opt/bin"]
    assert paths(check(tree, "/opt/./bin/tool")) == ["/opt/bin"]
    assert paths(check(tree, "//opt/bin/tool")) == ["/opt/bin"]


def test_a_name_sorting_before_dot_dot_is_an_ordinary_name() -> None:
    tree = mac(**{"/opt/-shared": d(0o777), "/opt/-shared/job": f()})
    assert paths(check(tree, "/opt/-shared/job")) == ["/opt/-shared"]


def chain(length: int) -> dict[str, Node]:
    """/opt/l1 -> /opt/l2 -> ... -> /opt/l<length> -> /bin/sh: ``length`` links to follow."""
    return mac(**{f"/opt/l{i}": link(f"/opt/l{i + 1}" if i < length else "/bin/sh") for i in range(1, length + 1)})


def test_forty_links_are_followed_and_the_forty_first_is_a_loop() -> None:
    """MAX_LINKS: as the kernels' ELOOP limit (Linux MAXSYMLINKS 40)."""
    assert check(chain(40), "/opt/l1").trusted
    loop = check(chain(41), "/opt/l1")
    assert [(x.path, x.why) for x in loop.findings] == [("/opt/l41", "has too many levels of symbolic links")]
    beyond = chain(41) | {"/opt/job": f(uid=ALICE)}  # the walk ends at the loop: nothing after it is judged
    assert paths(check(beyond, "/opt/l1/job")) == ["/opt/l41"]


def test_a_missing_hop_in_a_sticky_directory_is_one_finding() -> None:
    report = check(mac(), "/tmp/not-yet/deeper/job")
    assert paths(report) == ["/private/tmp/not-yet"]
    assert report.exists is False


def test_the_report_says_whether_the_path_exists_and_who_owns_it() -> None:
    there = check(mac(), "/bin/sh")
    assert (there.exists, there.owner, there.trusted) == (True, "root (uid 0)", True)
    assert there.as_fact()["trusted"] is True
    gone = check(mac(), "/hb-not-there")
    assert (gone.exists, gone.owner, gone.findings) == (False, None, [])  # / is root's: root creates it
    relative = _trust.check("bin/sh")
    assert (relative.exists, relative.trusted) == (False, False)
    untrusted = check(mac(), "/Applications/Docker.app")
    assert untrusted.as_fact()["trusted"] is False


def test_a_group_without_a_name_is_shown_by_its_number() -> None:
    tree = mac(**{"/opt/job": Node(f(0o775).st_mode, 0, 424242)})
    (finding,) = check(tree, "/opt/job").findings
    assert finding.why == "is writable by group gid 424242: they can replace what a root job runs"


def test_a_hash_bang_line_with_nothing_on_it_names_no_interpreter(tmp_path: t.Any) -> None:
    script = tmp_path / "s"
    script.write_text("#!\n/opt/other/bin/python3\n")
    assert _trust.interpreter(str(script)) is None
