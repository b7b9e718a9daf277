"""The Jinja tests and the invalid_fields filter: the modules' rules (_validation.py), whole-value matches, and
messages that name the field, the value and the rule."""

from __future__ import annotations

import importlib
import os
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dockermac.hostbridge.plugins.filter.invalid_fields import FilterModule
from ansible_collections.dockermac.hostbridge.plugins.module_utils import _validation as v

TESTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))), "plugins", "test")
# One documentation file per Jinja test, beside its code (<name>.py).
TEST_NAMES = sorted(name[:-4] for name in os.listdir(TESTS_DIR) if name.endswith(".yml"))

GOOD: dict[str, list[t.Any]] = {
    "hostname": ["web.test", "a", "a-b.example.com.", "x" * 63 + ".local"],
    "tap_name": ["tap0", "tap1", "tap99", "tap255"],
    "ipv4_address": ["10.0.75.1", "0.0.0.0", "255.255.255.255"],
    "ipv4_cidr": ["10.0.75.1/24", "10.0.75.0/0", "10.0.75.128/32"],
    "launchd_label": ["com.dockermac.hostbridge.tap-reapply", "a", "x_y-1.z"],
    "hosts_marker": ["dockermac.hostbridge", "team@corp/x+y:1"],
    "interface_name": ["eth1", "chip0", "br-1.a_b", "a" * 15],
    "abs_path": ["/var/lib/x", "/Users/Jane Doe/pull"],
    "safe_path": ["/usr/local/libexec/dockermac-hostbridge/tap-reapply"],
    "brew_formula": ["chipmk/tap/docker-mac-net-connect", "wget", "openssl@3"],
    "brew_tap": ["chipmk/tap", "homebrew/core"],
}
BAD: dict[str, list[t.Any]] = {
    "hostname": ["web.test\n", "bad name", "-a", "a..b", "a#b", "", "x" * 64, None, 5],
    "tap_name": ["tap1\n", "tap256", "tap01", "../x", "tap1;reboot", "TAP1", None],
    "ipv4_address": ["10.0.75.1\n", "10.0.75.1/24", "256.1.1.1", "01.2.3.4", "fd00::1", ""],
    "ipv4_cidr": ["10.0.75.1/24\n", "10.0.75.1", "10.0.75.1/33", "10.0.75.1/024", "fd00::1/64", None],
    "launchd_label": ["com.example.x\n", "a b", "../x", "a..b", "a.", "-a", "a" * 201, ""],
    "hosts_marker": ["team\n", "a b", "../x", "", "a" * 101],
    "interface_name": ["eth1\n", "eth1;reboot", "-x", "a:b", "a" * 16, ""],
    "abs_path": ["/var/lib/x\n", "var/lib", "/a\tb", "", None],
    "safe_path": ["/usr/local/x\n", "../x", "/usr/local/$(reboot)", "/a b", ""],
    "brew_formula": ["wget\n", "--force", "chipmk/tap/-x", "a/b", "a b"],
    "brew_tap": ["chipmk/tap\n", "-x/tap", "chipmk", "a/b/c"],
}


def jinja_test(name: str) -> t.Callable[..., bool]:
    module = importlib.import_module(f"ansible_collections.dockermac.hostbridge.plugins.test.{name}")
    return module.TestModule().tests()[name]


def test_every_test_plugin_is_covered_documented_and_is_a_rule() -> None:
    assert set(TEST_NAMES) == set(GOOD) == set(BAD)
    assert {name for name in os.listdir(TESTS_DIR) if name.endswith(".py")} == {f"{n}.py" for n in TEST_NAMES}
    assert set(TEST_NAMES) <= set(v.RULES)


@pytest.mark.parametrize(("name", "value"), [(n, x) for n in GOOD for x in GOOD[n]])
def test_valid_values_pass(name: str, value: t.Any) -> None:
    assert jinja_test(name)(value) is True
    assert v.invalid_fields({"field": value}, {"field": name}) == []


@pytest.mark.parametrize(("name", "value"), [(n, x) for n in BAD for x in BAD[n]])
def test_invalid_values_fail_naming_field_value_and_rule(name: str, value: t.Any) -> None:
    assert jinja_test(name)(value) is False
    (msg,) = v.invalid_fields({"my_field": value}, {"my_field": name})
    assert msg.startswith(f"my_field: {value!r} ")
    assert msg.endswith(f"(rule {name})")


def test_interface_name_allows_a_colon_only_when_asked() -> None:
    assert jinja_test("interface_name")("lo:1", allow_colon=True) is True
    assert jinja_test("interface_name")("lo:1") is False


def test_the_filter_reports_every_bad_field_at_once_in_order() -> None:
    invalid_fields = FilterModule().filters()["invalid_fields"]
    problems = invalid_fields(
        {"dev": "tap999", "ok": "tap1", "names": ["a.test", "b c", "d\n"], "env": {"A": "x\ty"}, "opt": None,
         "n": 5, "both": None},
        {"dev": "tap_name", "ok": "tap_name", "names": "hostname[]", "env": "no_control_chars[]", "opt": "ipv4_cidr?",
         "n": {"rule": "integer_at_least", "minimum": 60}, "both": ["non_empty", "abs_path"]})
    assert problems == [
        "dev: 'tap999' must be a tap device name from tap0 to tap255 (rule tap_name)",
        "names[1]: 'b c' is not a valid RFC 1123 host name (letters, digits, hyphens and dots only) (rule hostname)",
        "names[2]: 'd\\n' is not a valid RFC 1123 host name (letters, digits, hyphens and dots only) (rule hostname)",
        "env[A]: 'x\\ty' contains a control character (rule no_control_chars)",
        "n: 5 must be an integer of at least 60 (rule integer_at_least)",
        "both: None must be set (rule non_empty)",
    ]


def test_the_filter_refuses_unknown_rules_and_fields_without_one() -> None:
    invalid_fields = FilterModule().filters()["invalid_fields"]
    with pytest.raises(AnsibleFilterError, match="unknown rule"):
        invalid_fields({"a": 1}, {"a": "nope"})
    with pytest.raises(AnsibleFilterError, match="no rule"):
        invalid_fields({"a": 1}, {})
    assert invalid_fields({"a": 1}, {"a": "tap_name[]"}) == ["a: 1 must be a list (rule tap_name)"]
