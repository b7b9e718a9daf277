"""The hosts-file engine on real and generated files: exact bytes in, exact bytes out."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hosts import (
    Entry,
    HostsFile,
    entries_from_params,
    plan,
)
from ansible_collections.dockermac.hostbridge.tests.unit.utils import fixture_text

MAC_HOSTS = fixture_text("darwin", "hosts_docker_desktop.txt").encode()
NGINX = [Entry("198.51.100.1", ("nginx.test",))]
BEGIN = b"# BEGIN dockermac.hostbridge (managed by Ansible; edits inside are overwritten)"


def apply(data: bytes, entries: list[Entry], **kwargs) -> bytes:
    return plan(data, entries, **kwargs).after


def test_adds_a_block_after_docker_desktops_section_and_keeps_every_other_byte() -> None:
    after = apply(MAC_HOSTS, [*NGINX, Entry("198.51.100.2", ("api.test", "api.team.internal"))])
    assert after.startswith(MAC_HOSTS)
    assert after[len(MAC_HOSTS):] == (BEGIN + b"\n198.51.100.1\tnginx.test\n"
                                      b"198.51.100.2\tapi.test api.team.internal\n# END dockermac.hostbridge\n")


def test_no_change_keeps_the_same_bytes_and_says_unchanged() -> None:
    once = apply(MAC_HOSTS, NGINX)
    result = plan(once, NGINX)
    assert result.after == once
    assert not result.changed


def test_removing_the_last_entry_restores_the_original_bytes() -> None:
    once = apply(MAC_HOSTS, NGINX)
    assert apply(once, NGINX, state="absent") == MAC_HOSTS
    assert apply(once, [], state="absent", exclusive=True) == MAC_HOSTS


@pytest.mark.parametrize("original", [
    b"",
    b"127.0.0.1 localhost",  # no final newline
    b"127.0.0.1\tlocalhost\r\n::1\tlocalhost\r\n",  # CRLF
    b"127.0.0.1 localhost\r\n# no final newline after CRLF",
    b"\n\n\t# indented comment\t\n",
    b"fe80::1%lo0\tlocalhost\n",
])
def test_round_trip_keeps_file_style(original: bytes) -> None:
    once = apply(original, NGINX)
    if original.startswith(b"127.0.0.1\tlocalhost\r\n"):
        assert b"nginx.test\r\n" in once
    if original and not original.endswith(b"\n"):
        assert not once.endswith(b"\n"), "a file without a final newline keeps that"
    assert apply(once, [], state="absent", exclusive=True) == original


def test_a_block_in_the_middle_is_edited_in_place() -> None:
    once = apply(b"a 1.2.3.4\n", NGINX)
    with_tail = once + b"10.0.0.1 later.example\n"
    twice = apply(with_tail, [Entry("198.51.100.1", ("web.test",))])
    assert twice.endswith(b"# END dockermac.hostbridge\n10.0.0.1 later.example\n")
    assert b"198.51.100.1\tnginx.test web.test\n" in twice
    assert apply(twice, [], state="absent", exclusive=True) == b"a 1.2.3.4\n10.0.0.1 later.example\n"


def test_present_moves_a_name_between_addresses_of_the_same_family_only() -> None:
    once = apply(b"", [Entry("198.51.100.1", ("web.test", "nginx.test")), Entry("fd00::1", ("web.test",))])
    moved = plan(once, [Entry("198.51.100.9", ("web.test",))])
    assert moved.entries == [Entry("198.51.100.1", ("nginx.test",)), Entry("fd00::1", ("web.test",)),
                             Entry("198.51.100.9", ("web.test",))]


def test_present_merges_names_and_exclusive_replaces_the_block() -> None:
    once = apply(b"", [Entry("198.51.100.1", ("nginx.test",)), Entry("198.51.100.2", ("db.test",))])
    merged = plan(once, [Entry("198.51.100.1", ("NGINX.test", "www.test"))])
    assert merged.entries[0] == Entry("198.51.100.1", ("nginx.test", "www.test"))
    assert len(merged.entries) == 2
    exclusive = plan(once, [Entry("198.51.100.3", ("x.test",))], exclusive=True)
    assert exclusive.entries == [Entry("198.51.100.3", ("x.test",))]


def test_absent_removes_names_or_whole_entries() -> None:
    once = apply(b"", [Entry("198.51.100.1", ("a.test", "b.test")), Entry("198.51.100.2", ("c.test",))])
    assert plan(once, [Entry("198.51.100.1", ("b.test",))], state="absent").entries == [
        Entry("198.51.100.1", ("a.test",)), Entry("198.51.100.2", ("c.test",))]
    assert plan(once, [Entry("198.51.100.1", ())], state="absent").entries == [Entry("198.51.100.2", ("c.test",))]
    assert not plan(once, [Entry("198.51.100.7", ("c.test",))], state="absent").changed


def test_two_markers_keep_independent_blocks() -> None:
    one = apply(MAC_HOSTS, NGINX, marker="team")
    two = apply(one, [Entry("198.51.100.5", ("proj.test",))], marker="project-x")
    assert HostsFile(two, marker="team").entries == NGINX
    assert apply(apply(two, [], state="absent", exclusive=True, marker="team"), [], state="absent",
                 exclusive=True, marker="project-x") == MAC_HOSTS


def test_conflicts_with_unmanaged_lines_of_the_same_family() -> None:
    data = MAC_HOSTS + b"10.1.1.1 nginx.test\n::1 api.test\n"
    result = plan(data, [*NGINX, Entry("198.51.100.2", ("api.test",))])
    assert [(c.name, c.ip, c.other_ip, c.line_number) for c in result.conflicts] == [
        ("nginx.test", "198.51.100.1", "10.1.1.1", 14)]
    # The same name on the same address is no conflict.
    assert not plan(MAC_HOSTS + b"198.51.100.1 nginx.test\n", NGINX).conflicts


@pytest.mark.parametrize("damage", [
    lambda b: b.replace(b"# END dockermac.hostbridge\n", b""),
    lambda b: b.replace(BEGIN + b"\n", b""),
    lambda b: b + b + b"",
])
def test_a_damaged_block_is_an_error_naming_the_lines(damage) -> None:
    broken = damage(apply(b"127.0.0.1 localhost\n", NGINX))
    with pytest.raises(HostbridgeError, match=r"block of marker 'dockermac.hostbridge' is damaged .*lines \d"):
        plan(broken, NGINX)


@pytest.mark.parametrize(("params", "message"), [
    ({"ip": "198.51.100.300", "names": ["a.test"]}, "ip: '198.51.100.300' is not a valid"),
    ({"ip": " 198.51.100.1", "names": ["a.test"]}, "ip: ' 198.51.100.1'"),
    ({"ip": "198.51.100.1", "names": ["bad name"]}, "names[0]: 'bad name' is not a valid RFC 1123"),
    ({"ip": "198.51.100.1", "names": ["a#b"]}, "names[0]: 'a#b'"),
    ({"ip": "198.51.100.1", "names": ["-a.test"]}, "names[0]: '-a.test'"),
    ({"ip": "198.51.100.1", "names": [""]}, "names[0]: ''"),
    ({"ip": "198.51.100.1", "names": []}, "names: [] must be a non-empty list"),
    ({"entries": [{"ip": "::g", "names": ["a"]}]}, "entries[0].ip: '::g'"),
    ({"entries": [{"ip": "10.0.0.1", "names": ["ok", "x\ny"]}]}, "entries[0].names[1]: 'x\\ny'"),
    ({"entries": [{"ip": "10.0.0.1", "names": ["a"]}, {"ip": "10.0.0.2", "names": ["A"]}]},
     "entries[1].names[0]: 'A' is already given address 10.0.0.1"),
])
def test_bad_input_names_the_field_and_value(params, message) -> None:
    with pytest.raises(HostbridgeError) as info:
        entries_from_params({"state": "present", **params})
    assert message in info.value.msg


def test_entries_with_the_same_address_are_merged() -> None:
    got = entries_from_params({"entries": [{"ip": "10.0.0.1", "names": ["a"]}, {"ip": "10.0.0.1", "names": ["b", "A"]},
                                           {"ip": "::0:1", "names": ["c"]}]})
    assert got == [Entry("10.0.0.1", ("a", "b")), Entry("::1", ("c",))]


# --- properties over arbitrary files and entry sets --------------------------------------------------------
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.#\t :", min_size=0, max_size=30)
_line = st.one_of(
    _word,
    st.builds(lambda ip, n: f"{ip}\t{n}", st.sampled_from(["127.0.0.1", "::1", "10.0.0.1", "198.51.100.1"]),
              st.sampled_from(["localhost", "nginx.test", "x.test"])),
    st.just("# End of section"), st.just(""),
    st.just("# BEGIN other (managed by Ansible; edits inside are overwritten)"),
)
_eol = st.sampled_from(["\n", "\r\n"])
hosts_files = st.builds(
    lambda lines, eol, final: (eol.join(lines) + (eol if final and lines else "")).encode(),
    st.lists(_line, max_size=15), _eol, st.booleans())
_label = st.from_regex(re.compile(r"[a-z][a-z0-9]{0,8}"), fullmatch=True)
_names = st.lists(st.builds(lambda a, b: f"{a}.{b}", _label, st.sampled_from(["local", "test"])), min_size=1,
                  max_size=3, unique=True)
_ips = st.one_of(st.integers(1, 254).map(lambda n: f"198.51.100.{n}"),
                 st.integers(1, 0xFFFF).map(lambda n: f"fd00::{n:x}"))
entry_sets = st.lists(st.builds(lambda ip, names: {"ip": ip, "names": names}, _ips, _names), min_size=1, max_size=8)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_entries(raw) -> list[Entry]:
    """Valid entry sets only (one name on two addresses of a family is refused, tested above)."""
    try:
        return entries_from_params({"entries": raw})
    except HostbridgeError:
        assume(False)
        raise


def pairs(entries: list[Entry]) -> set[tuple[str, str]]:
    return {(entry.ip, name) for entry in entries for name in entry.names}


def block_pairs(data: bytes) -> set[tuple[str, str]]:
    """(address, name) of every entry in our block of ``data``."""
    return pairs(list(HostsFile(data, marker="dockermac.hostbridge").entries))


@SETTINGS
@given(data=hosts_files, raw=entry_sets, exclusive=st.booleans())
def test_applying_twice_equals_applying_once(data: bytes, raw, exclusive: bool) -> None:
    wanted = valid_entries(raw)
    once = plan(data, wanted, exclusive=exclusive)
    # The first run did the work (a plan that does nothing would pass the rest): the block holds exactly them.
    assert once.changed
    assert block_pairs(once.after) == pairs(wanted)
    twice = plan(once.after, wanted, exclusive=exclusive)
    assert twice.after == once.after
    assert not twice.changed


@SETTINGS
@given(data=hosts_files, raw=entry_sets)
def test_apply_then_remove_restores_the_bytes(data: bytes, raw) -> None:
    wanted = valid_entries(raw)
    once = plan(data, wanted).after
    assert block_pairs(once) == pairs(wanted)
    assert plan(once, [], state="absent", exclusive=True).after == data
    assert plan(once, wanted, state="absent").after == data


@SETTINGS
@given(data=hosts_files, first=entry_sets, second=entry_sets)
def test_lines_outside_the_block_are_never_altered(data: bytes, first, second) -> None:
    once = plan(data, valid_entries(first)).after
    twice = plan(once, valid_entries(second), exclusive=True).after
    assert block_pairs(twice) == pairs(valid_entries(second))  # exclusive: the second set replaced the first
    outside = HostsFile(twice, marker="dockermac.hostbridge")
    assert outside.span is not None
    kept = outside.lines[:outside.span[0]] + outside.lines[outside.span[1] + 1:]
    assert "".join(kept).rstrip("\r\n") == data.decode().rstrip("\r\n")
