"""``_validation.py`` where cosmic-ray's mutants survived the other tests (docs/development.md, "Mutation score")."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _validation
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError


@pytest.mark.parametrize("value", ["198.51.100.0/31", "198.51.100.1/31"])
def test_both_addresses_of_a_point_to_point_31_are_usable(value: str) -> None:
    """RFC 3021: a /31 has no network or broadcast address; both of its two addresses are hosts."""
    assert _validation.host_interface(value, field="address") == ipaddress.ip_interface(value)


@pytest.mark.parametrize(("value", "why"), [
    ("198.51.100.3/30", "is the broadcast address of 198.51.100.0/30"),
    ("198.51.100.0/30", "is the network address of 198.51.100.0/30"),
])
def test_the_edges_of_a_30_are_refused(value: str, why: str) -> None:
    with pytest.raises(HostbridgeError, match=f"^address: '{value}' {why}$"):
        _validation.host_interface(value, field="address")


@pytest.mark.parametrize("prefix", ["\u0662\u0664", "024", "00"])  # Arabic-Indic "24": isdigit() says yes
def test_a_prefix_length_is_plain_ascii_digits_without_leading_zeros(prefix: str) -> None:
    with pytest.raises(HostbridgeError, match=r"^address: .* has a prefix length out of range 0-32$|prefix length 0"):
        _validation.host_interface(f"198.51.100.1/{prefix}", field="address")


@pytest.mark.parametrize(("value", "minimum", "expected"), [("5", 5, 5), (" 6", 5, 6), (7, 0, 7)])
def test_integer_at_least_accepts_the_minimum_and_above(value: object, minimum: int, expected: int) -> None:
    assert _validation.integer_at_least(value, field="n", minimum=minimum) == expected


@pytest.mark.parametrize("value", ["4", True, "x", None])
def test_integer_at_least_refuses_below_and_non_integers(value: object) -> None:
    with pytest.raises(HostbridgeError, match=r"^n: .* must be an integer of at least 5$"):
        _validation.integer_at_least(value, field="n", minimum=5)


def test_a_host_name_may_be_253_characters_and_no_more() -> None:
    longest = ".".join(["a" * 63] * 3 + ["a" * 61])
    assert len(longest) == 253
    assert _validation.hostname(longest, field="name") == longest
    with pytest.raises(HostbridgeError, match=r"is longer than 253 characters$"):
        _validation.hostname(longest + "a", field="name")


@pytest.mark.parametrize("value", ["a.b.", "a.test.", "x."])
def test_a_fully_qualified_name_with_its_final_dot_is_a_host_name(value: str) -> None:
    assert _validation.hostname(value, field="name") == value


@pytest.mark.parametrize(("allow_colon", "chars"), [
    (True, "letters, digits, '_', '.', ':' or '-'"),
    (False, "letters, digits, '_', '.' or '-'"),
])
def test_a_bad_interface_name_says_which_characters_are_allowed(allow_colon: bool, chars: str) -> None:
    with pytest.raises(HostbridgeError) as raised:
        _validation.interface_name("-lo0", field="interface", allow_colon=allow_colon)
    assert raised.value.msg == (f"interface: '-lo0' is not an interface name (1-15 {chars}, starting with a letter "
                                "or digit)")


@pytest.mark.parametrize("value", ["x", [0], {"a": None}, 0, False])
def test_non_empty_lets_every_set_value_through(value: object) -> None:
    assert _validation.non_empty(value, field="v") == value


@pytest.mark.parametrize("value", [None, "", [], {}])
def test_non_empty_refuses_unset_values(value: object) -> None:
    with pytest.raises(HostbridgeError, match=r"^v: .* must be set$"):
        _validation.non_empty(value, field="v")


@pytest.mark.parametrize("value", [" 198.51.100.1", "198.51.100.1 ", "\t::1"])
def test_an_address_with_surrounding_whitespace_says_so(value: str) -> None:
    with pytest.raises(HostbridgeError) as raised:
        _validation.ip_address(value, field="ip")
    assert raised.value.msg == f"ip: {value!r} has surrounding whitespace"


def test_an_address_may_be_given_as_an_integer() -> None:
    assert _validation.ip_address(3325256705, field="ip") == ipaddress.ip_address("198.51.100.1")


@pytest.mark.parametrize("value", [" 198.51.100.1", "198.51.100.1 ", ""])
def test_an_interface_address_with_surrounding_whitespace_is_refused_as_a_whole(value: str) -> None:
    with pytest.raises(HostbridgeError) as raised:
        _validation.host_interface(value, field="address")
    assert raised.value.msg == f"address: {value!r} is not an IP address with an optional /prefix"


@pytest.mark.parametrize("value", ["198.51.100.1/32", "fd00:db8::1/128", "198.51.100.1/1"])
def test_the_longest_and_shortest_prefixes_are_allowed(value: str) -> None:
    assert _validation.host_interface(value, field="address") == ipaddress.ip_interface(value)


@pytest.mark.parametrize("value", ["a.-b.", "a..", "-a."])
def test_a_final_dot_does_not_hide_a_bad_label(value: str) -> None:
    with pytest.raises(HostbridgeError, match="is not a valid RFC 1123 host name"):
        _validation.hostname(value, field="name")


def test_a_field_with_several_rules_is_reported_for_the_first_it_breaks_only() -> None:
    assert _validation.invalid_fields({"x": "-a b"}, {"x": ["interface_name", "hostname"]}) == [
        "x: '-a b' is not an interface name (1-15 letters, digits, '_', '.' or '-', starting with a letter or digit) "
        "(rule interface_name)"]


def test_a_field_that_is_not_a_list_is_reported_once() -> None:
    assert _validation.invalid_fields({"x": 5}, {"x": ["hostname[]", "hostname"]}) == [
        "x: 5 must be a list (rule hostname)"]
