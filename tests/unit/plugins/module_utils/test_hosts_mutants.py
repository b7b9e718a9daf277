"""``_hosts.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score"):
parsing of real hosts lines, the line numbers a damaged block reports, a hand-aligned block kept byte for byte,
conflicts only outside our block, and the module's backup and file-argument paths. Real files in tmp_path."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _hosts
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.modules.test_etc_hosts_entry import module
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner

BEGIN = "# BEGIN dockermac.hostbridge (managed by Ansible; edits inside are overwritten)\n"
END = "# END dockermac.hostbridge\n"
A, B = "198.51.100.7", "198.51.100.8"


@pytest.mark.parametrize(("line", "parsed"), [
    ("fe80::1%lo0\tlocalhost\n", ("fe80::1", ["localhost"])),  # macOS's own /etc/hosts has this line
    (f"{A} a.test # b.test c.test\n", (A, ["a.test"])),
    (f"{A} a.test#b.test\n", (A, ["a.test"])),
    (f"{A}\n", None),  # an address with no name is not an entry
    (f"{A} # a.test\n", None),
    ("# 198.51.100.7 a.test\n", None),
    ("not-an-address a.test\n", None),
])
def test_parse_line(line: str, parsed: tuple[str, list[str]] | None) -> None:
    assert _hosts.parse_line(line) == parsed


@pytest.mark.parametrize(("text", "lines"), [
    (f"127.0.0.1 localhost\n{END}x\n{BEGIN}", "2, 4"),
    (f"{BEGIN}{BEGIN}{END}", "1, 2, 3"),
    (f"{BEGIN}{END}{END}", "1, 2, 3"),
    (f"\n\n\n\n{BEGIN}", "5"),
])
def test_a_damaged_block_names_its_lines_counted_from_one(text: str, lines: str) -> None:
    with pytest.raises(HostbridgeError, match=rf"its BEGIN/END lines are at lines {lines};"):
        _hosts.plan(text.encode(), [_hosts.Entry(A, ("a.test",))])


def test_a_hand_aligned_block_with_the_same_entries_is_kept_byte_for_byte() -> None:
    data = f"127.0.0.1 localhost\n{BEGIN}{A}    a.test   b.test\n{END}".encode()
    result = _hosts.plan(data, [_hosts.Entry(A, ("a.test", "b.test"))])
    assert (result.changed, result.after) == (False, data)


def test_a_name_moved_to_a_new_address_is_no_conflict_with_our_own_old_line() -> None:
    data = f"127.0.0.1 localhost\n{BEGIN}{A}\ta.test\n{END}".encode()
    result = _hosts.plan(data, [_hosts.Entry(B, ("a.test",))], exclusive=True)
    assert result.conflicts == []
    assert result.after == f"127.0.0.1 localhost\n{BEGIN}{B}\ta.test\n{END}".encode()


def test_a_conflicting_line_after_our_block_is_found_with_its_line_number() -> None:
    data = f"127.0.0.1 localhost\n{BEGIN}{A}\ta.test\n{END}{B} a.test\n".encode()
    result = _hosts.plan(data, [_hosts.Entry(A, ("a.test",))])
    assert result.conflicts == [_hosts.Conflict(name="a.test", ip=A, other_ip=B, line_number=5)]


def test_an_entry_without_names_may_be_removed_whole(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(f"127.0.0.1 localhost\n{BEGIN}{A}\ta.test\n{B}\tb.test\n{END}")
    result, _w = module({"path": str(path), "state": "absent", "entries": [{"ip": A}]})
    assert result["changed"] is True
    assert path.read_text() == f"127.0.0.1 localhost\n{BEGIN}{B}\tb.test\n{END}"


@pytest.mark.parametrize("item", [{"names": ["a.test"]}, "198.51.100.7 a.test"])
def test_an_entry_without_an_address_is_refused_naming_it(item: t.Any) -> None:
    with pytest.raises(HostbridgeError, match=r"^entries\[0\]: .* must be a mapping with 'ip' and 'names'"):
        _hosts.entries_from_params({"entries": [item], "state": "present"})


def test_no_entries_are_refused_unless_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(f"127.0.0.1 localhost\n{BEGIN}{A}\ta.test\n{END}")
    result, _w = module({"path": str(path), "entries": []})
    assert result["failed"] is True
    assert result["msg"].startswith("entries: [] must list at least one entry")
    assert path.read_text() == f"127.0.0.1 localhost\n{BEGIN}{A}\ta.test\n{END}"
    # Exclusive, the block becomes exactly nothing: it goes (bridge.yml with no loopback services).
    result, _w = module({"path": str(path), "entries": [], "exclusive": True})
    assert (result.get("failed", False), result["changed"]) == (False, True)
    assert path.read_text() == "127.0.0.1 localhost\n"


def test_no_backup_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost\n")
    result, _w = module({"path": str(path), "ip": A, "names": ["a.test"]})
    assert result["changed"] is True
    assert "backup_file" not in result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_missing_file_left_missing_gets_no_file_arguments(tmp_path: Path, check_mode: bool) -> None:
    """Removing from a file that does not exist: nothing to do, and mode/owner are not applied to nothing."""
    path = tmp_path / "hosts"
    result, _w = module({"path": str(path), "ip": A, "state": "absent", "mode": "0600",
                         "_ansible_check_mode": check_mode})
    assert (result.get("failed", False), result["changed"]) == (False, False)
    assert not path.exists()


def test_removing_a_name_reports_no_conflict_with_lines_outside() -> None:
    data = f"{B} a.test\n{BEGIN}{A}\ta.test\n{END}".encode()
    result = _hosts.plan(data, [_hosts.Entry(A, ("a.test",))], state="absent")
    assert (result.conflicts, result.after) == ([], f"{B} a.test\n".encode())


def test_a_new_file_gets_the_file_arguments(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    result, _w = module({"path": str(path), "ip": A, "names": ["a.test"], "mode": "0600"})
    assert result["changed"] is True
    assert (path.read_text(), path.stat().st_mode & 0o777) == (f"{BEGIN}{A}\ta.test\n{END}", 0o600)


def test_a_conflict_is_warned_when_present_is_asked_for_in_so_many_words(tmp_path: Path) -> None:
    """state given by the task (a string from JSON), not the spec's default: compared by value."""
    path = tmp_path / "hosts"
    path.write_text(f"{B} a.test\n")
    result, warnings = module({"path": str(path), "ip": A, "names": ["a.test"], "state": "present"})
    assert result["conflicts"] == [{"name": "a.test", "ip": A, "other_ip": B, "line_number": 1}]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"a.test is mapped to {B} by line 1 of {path}")


@pytest.mark.parametrize(("first", "second"), [(A, B), (B, A)])
def test_one_name_for_two_addresses_is_refused_in_either_order(first: str, second: str) -> None:
    entries = [{"ip": first, "names": ["a.test"]}, {"ip": second, "names": ["a.test"]}]
    message = rf"^entries\[1\]\.names\[0\]: 'a.test' is already given address {first};"
    with pytest.raises(HostbridgeError, match=message):
        _hosts.entries_from_params({"entries": entries, "state": "present"})


@pytest.mark.parametrize(("old", "new"), [(A, B), (B, A)])
def test_a_name_moves_to_its_new_address_up_or_down(old: str, new: str) -> None:
    data = f"{BEGIN}{old}\ta.test b.test\n{END}".encode()
    result = _hosts.plan(data, [_hosts.Entry(new, ("a.test",))])
    assert result.after == f"{BEGIN}{old}\tb.test\n{new}\ta.test\n{END}".encode()


@pytest.mark.parametrize("rc", [1, -9])
def test_a_flush_that_fails_or_is_killed_is_warned(tmp_path: Path, rc: int) -> None:
    """A negative rc is a command killed by a signal: it did not flush either."""
    path = tmp_path / "hosts"
    path.write_text("127.0.0.1 localhost\n")
    runner = FakeRunner([(["dscacheutil", "-flushcache"], rc, "", "killed"),
                         (["killall", "-HUP", "mDNSResponder"], 0, "", "")])
    _result, warnings = module({"path": str(path), "ip": A, "names": ["a.test"]}, system="Darwin", runner=runner)
    assert warnings == [f"The hosts file was updated, but `dscacheutil -flushcache` failed (rc={rc}: killed); run "
                        "`sudo dscacheutil -flushcache` or wait for the cache to expire."]


def test_an_entry_given_without_a_names_key_is_the_whole_address() -> None:
    """bridge_facts and the module fill in names=None; a caller of the function may leave the key out."""
    assert _hosts.entries_from_params({"entries": [{"ip": A}], "state": "absent"}) == [_hosts.Entry(A, ())]


def test_an_entry_without_an_address_fails_as_the_module_spec_says(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    result, _w = module({"path": str(path), "entries": [{"names": ["a.test"]}]})
    assert (result["failed"], result["msg"]) == (True, "missing required arguments: ip found in entries")
    assert not path.exists()
