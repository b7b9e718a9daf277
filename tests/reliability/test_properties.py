"""Property tests of the hosts-file engine beyond tests/unit/plugins/module_utils/test_hosts.py.

- Arbitrary bytes: files of any bytes (invalid UTF-8, NULs, lone ``\\r`` endings, form feeds, U+0085/U+2028, no
  final newline) round-trip through adding and removing a block, byte for byte, and adding is idempotent.
- Random sequences of operations (present, present+exclusive, absent by name, absent by address, absent+exclusive)
  over several markers against a simple model (per marker: name -> address per family): after every operation
  each block holds what the model says, repeating the operation changes nothing, blocks never interfere, bad
  input changes nothing, and removing every block gives back the original bytes.

The number of examples each test really ran is recorded in the figures (docs/reliability.md).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._hosts import (
    BEGIN,
    END,
    Entry,
    HostsFile,
    entries_from_params,
    plan,
)
from ansible_collections.dockermac.hostbridge.plugins.modules import etc_hosts_entry
from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import FIGURES, call_module, quiet_stdio

MARKERS = ["dockermac.hostbridge", "team-a", "proj@b"]
COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _count_examples() -> t.Iterator[None]:
    # Runs its teardown before conftest's _figures saves the figures.
    yield
    FIGURES["property tests (examples run)"] = dict(COUNTS)


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


# --- arbitrary bytes -----------------------------------------------------------------------------------------
_ODD = [b"\x00", b"\xff", b"\xfe\xfd", b"\x85", b"\xc2\x85", b"\xe2\x80\xa8", b"\x0b", b"\x0c", b"\x1c", b"\t",
        b"\xc3\xa9", b"#", b" ", b"\r"]
_words = st.one_of(
    st.sampled_from([b"127.0.0.1", b"::1", b"198.51.100.1", b"fe80::1%lo0", b"localhost", b"nginx.test",
                     b"# comment", b"broadcasthost", b"10.0.0.1\tx.test # note"]),
    st.sampled_from(_ODD),
    st.binary(max_size=6),
)
_line = st.lists(_words, max_size=5).map(b" ".join)
_ending = st.sampled_from([b"\n", b"\r\n", b"\r", b""])
arbitrary_files = st.one_of(
    st.binary(max_size=300),
    st.lists(st.tuples(_line, _ending), max_size=12).map(lambda parts: b"".join(a + b for a, b in parts)),
)
_v4 = [f"198.51.100.{n}" for n in (1, 2, 3, 4)]
_v6 = ["fd00::1", "fd00::2", "fd00:db8::3"]
IPS = _v4 + _v6
NAMES = ["nginx.test", "api.test", "db.test", "a", "x-1.example", "svc.team.internal", "b.test", "c"]
_name = st.tuples(st.sampled_from(NAMES), st.booleans()).map(lambda p: p[0].upper() if p[1] else p[0])
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _no_marker_lines(data: bytes) -> bool:
    text = data.decode("utf-8", "surrogateescape")
    return not any(tag in text for m in MARKERS for tag in (BEGIN.format(marker=m), END.format(marker=m)))


WANTED = [Entry("198.51.100.1", ("nginx.test", "web.test")), Entry("fd00::1", ("api.test",))]


@SETTINGS
@given(data=arbitrary_files, marker=st.sampled_from(MARKERS))
def test_any_bytes_round_trip_and_adding_is_idempotent(data: bytes, marker: str) -> None:
    count("arbitrary bytes: add, re-add, remove")
    assert _no_marker_lines(data)
    added = plan(data, WANTED, marker=marker)
    assert added.changed
    assert HostsFile(added.after, marker=marker).entries == WANTED  # the block is found again
    again = plan(added.after, WANTED, marker=marker)
    assert not again.changed
    assert again.after == added.after
    assert plan(added.after, [], marker=marker, state="absent", exclusive=True).after == data
    assert plan(added.after, WANTED, marker=marker, state="absent").after == data


@SETTINGS
@given(data=arbitrary_files)
def test_any_bytes_two_markers_removed_in_either_order(data: bytes) -> None:
    count("arbitrary bytes: two blocks, removed in either order")
    one = plan(data, WANTED, marker=MARKERS[1]).after
    both = plan(one, WANTED[:1], marker=MARKERS[2]).after
    for first, second in ((MARKERS[1], MARKERS[2]), (MARKERS[2], MARKERS[1])):
        gone = plan(both, [], marker=first, state="absent", exclusive=True).after
        assert HostsFile(gone, marker=second).entries == (WANTED if second == MARKERS[1] else WANTED[:1])
        assert plan(gone, [], marker=second, state="absent", exclusive=True).after == data


# --- operation sequences against a model ---------------------------------------------------------------------
Model = t.Dict[str, t.Dict[t.Tuple[str, int], str]]  # marker -> (lower name, family) -> ip

_entry = st.tuples(st.sampled_from(IPS), st.lists(_name, min_size=1, max_size=3))
_op = st.tuples(st.sampled_from(MARKERS),
                st.sampled_from(["present", "present_exclusive", "absent", "absent_address", "absent_exclusive"]),
                st.lists(_entry, min_size=1, max_size=4))


def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def _apply_model(model: Model, marker: str, kind: str, wanted: list[Entry]) -> None:
    block = model.setdefault(marker, {})
    if kind == "present":
        for e in wanted:
            for n in e.names:
                block[(n.lower(), _family(e.ip))] = e.ip
    elif kind == "present_exclusive":
        model[marker] = {(n.lower(), _family(e.ip)): e.ip for e in wanted for n in e.names}
    elif kind == "absent":
        for e in wanted:
            for n in e.names:
                if block.get((n.lower(), _family(e.ip))) == e.ip:
                    del block[(n.lower(), _family(e.ip))]
    elif kind == "absent_address":
        gone = {e.ip for e in wanted}
        model[marker] = {k: ip for k, ip in block.items() if ip not in gone}
    else:
        model[marker] = {}


def _block(data: bytes, marker: str) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    for e in HostsFile(data, marker=marker).entries:
        for n in e.names:
            key = (n.lower(), _family(e.ip))
            assert key not in found, f"{n} twice in the block of {marker}"
            found[key] = e.ip
    return found


def _module_run(data: bytes, params: dict[str, t.Any]) -> bytes:
    """The bytes of a hosts file holding ``data`` after a run of the module that must fail."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "hosts")
        with open(path, "wb") as handle:
            handle.write(data)
        with quiet_stdio():
            result = call_module(etc_hosts_entry.main, dict(params, path=path, flush_cache=False))
        assert result.get("failed"), result
        with open(path, "rb") as handle:
            return handle.read()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(initial=arbitrary_files, ops=st.lists(_op, min_size=1, max_size=15))
def test_random_operation_sequences_match_the_model(initial: bytes, ops: list[t.Any]) -> None:
    count("operation sequences")
    data = initial
    model: Model = {}
    for marker, kind, raw in ops:
        COUNTS["operations applied"] = COUNTS.get("operations applied", 0) + 1
        state = "present" if kind.startswith("present") else "absent"
        params = {"state": state, "entries": [{"ip": ip, "names": None if kind == "absent_address" else names}
                                              for ip, names in raw]}
        refusal = ""
        try:
            wanted = entries_from_params(params)
        except HostbridgeError as exc:  # one name given two addresses of a family: refused, nothing changes
            refusal = exc.msg
            wanted = None
        # The model's own verdict: a set is invalid when one name gets two addresses of one family.
        given_to: dict[tuple[str, int], set[str]] = {}
        for ip, names in raw:
            for n in names if kind != "absent_address" else ():
                given_to.setdefault((n.lower(), _family(ip)), set()).add(ip)
        invalid = any(len(ips) > 1 for ips in given_to.values())
        assert (wanted is None) is invalid, (raw, refusal)
        if wanted is None:
            assert "a name can have one address per family" in refusal
            COUNTS["refused operations, file compared"] = COUNTS.get("refused operations, file compared", 0) + 1
            assert _module_run(data, dict(params, marker=marker, exclusive=kind.endswith("exclusive"))) == data
            continue
        exclusive = kind.endswith("exclusive")
        result = plan(data, wanted, marker=marker, state=state, exclusive=exclusive)
        _apply_model(model, marker, kind, wanted)
        data = result.after
        for m in MARKERS:
            assert _block(data, m) == model.get(m, {}), (m, kind)
        again = plan(data, wanted, marker=marker, state=state, exclusive=exclusive)
        assert not again.changed, (marker, kind)
    for m in MARKERS:
        data = plan(data, [], marker=m, state="absent", exclusive=True).after
    assert data == initial
