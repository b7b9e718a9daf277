"""macOS loopback aliases: recorded ``ifconfig`` output in, exact ``ifconfig`` argv out (FakeRunner)."""

from __future__ import annotations

import ipaddress
import json
import plistlib
import typing as t

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockermac.hostbridge.plugins.module_utils import _launchd
from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError
from ansible_collections.dockermac.hostbridge.plugins.module_utils._loopback import manage
from ansible_collections.dockermac.hostbridge.plugins.module_utils._netinfo import parse_ifconfig
from ansible_collections.dockermac.hostbridge.tests.unit.utils import FakeRunner, context, fixture_text

LO0 = ["ifconfig", "lo0"]
ALL = ["ifconfig", "-a"]
# Apple's ifconfig.c: errx(1, "interface %s does not exist", name)
NO_SUCH_IF = "ifconfig: interface {} does not exist\n"


def sample(name: str) -> str:
    return fixture_text("darwin", name)


def ifaces(*texts: str) -> list[t.Any]:
    return [ipaddress.ip_interface(x) for x in texts]


def run(runner: FakeRunner, *, check_mode: bool = False, diff_mode: bool = False, module: t.Any = None,
        **params: t.Any) -> dict[str, t.Any]:
    params.setdefault("state", "present")
    params.setdefault("persistent", False)  # the default on macOS is persistent; those tests are below
    result = manage(context("Darwin", runner=runner, module=module, check_mode=check_mode, diff_mode=diff_mode),
                    params)
    runner.assert_done()
    return result


# --- parsing ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ifconfig_lo0_background.txt",
         ["127.0.0.1/8", "::1/128", "fe80::1/64", "10.254.254.254/8", "10.200.10.1/24"]),
        ("ifconfig_lo0_trailing_space.txt", ["127.0.0.1/8", "::1/128", "fe80::1/64", "127.0.0.2/32"]),
        ("ifconfig_lo0_stock_old.txt", ["::1/128", "127.0.0.1/8", "fe80::1/64"]),
        ("ifconfig_lo0_mixed_aliases.txt",
         ["127.0.0.1/8", "::1/128", "fe80::1/64", "198.51.100.1/32", "198.51.100.2/24", "10.254.254.254/8",
          "fd00:db8::1/128", "fd00:db8::2/64"]),
    ],
)
def test_parse_lo0_samples(name: str, expected: list[str]) -> None:
    assert parse_ifconfig(sample(name)) == {"lo0": ifaces(*expected)}


def test_parse_ifconfig_a_keeps_interfaces_apart() -> None:
    parsed = parse_ifconfig(sample("ifconfig_a_laptop.txt"))
    assert list(parsed) == ["lo0", "gif0", "stf0", "en5", "ap1", "en0"]
    assert parsed["en0"] == ifaces("fe80::c81:46dd:5023:1d69/64", "172.16.42.20/24")
    assert parsed["gif0"] == []
    utun = parse_ifconfig(sample("ifconfig_a_utun.txt"))
    assert utun["utun0"] == ifaces("fe80::e2ac:cbff:fe76:bca6/64", "202:ba74:d101:6ade:d27a:56ff:5e1a:aedc/7")
    assert utun["en0"] == ifaces("192.168.3.93/24")


def test_parse_point_to_point_and_dotted_netmask() -> None:
    text = ("utun9: flags=8051<UP,POINTOPOINT,RUNNING,MULTICAST> mtu 1380\n"
            "\tinet 10.33.33.1 --> 10.33.33.2 netmask 0xffffffff \n"
            "en9: flags=8863<UP> mtu 1500\n\tinet 10.1.2.3 netmask 255.255.0.0 broadcast 10.1.255.255\n")
    assert parse_ifconfig(text) == {"utun9": ifaces("10.33.33.1/32"), "en9": ifaces("10.1.2.3/16")}


# --- adding ----------------------------------------------------------------------------------------------
def test_adds_many_in_one_call_with_host_prefixes() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_background.txt"), ""),
        (ALL, 0, sample("ifconfig_a_laptop.txt"), ""),
        (["ifconfig", "lo0", "alias", "198.51.100.1/32"], 0, "", ""),
        (["ifconfig", "lo0", "alias", "198.51.100.2/24"], 0, "", ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::1", "prefixlen", "128", "alias"], 0, "", ""),
    ])
    result = run(runner, addresses=["198.51.100.1", "198.51.100.2/24", "fd00:db8::1"])
    assert result == {
        "changed": True, "interface": "lo0",
        "addresses": ["198.51.100.1/32", "198.51.100.2/24", "fd00:db8::1/128"],
        "added": ["198.51.100.1/32", "198.51.100.2/24", "fd00:db8::1/128"], "removed": [],
        "persistent_path": None, "warnings": [],
    }


def test_nothing_to_do_reads_once_and_runs_nothing() -> None:
    runner = FakeRunner([(LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), "")])
    result = run(runner, addresses=["198.51.100.1", "198.51.100.2/24", "fd00:db8::1/128", "fd00:db8::2/64"])
    assert result["changed"] is False
    assert result["added"] == result["removed"] == []
    assert result["addresses"] == ["198.51.100.1/32", "198.51.100.2/24", "fd00:db8::1/128", "fd00:db8::2/64"]


def test_prefix_is_corrected_by_removing_then_adding() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (ALL, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["ifconfig", "lo0", "-alias", "198.51.100.2"], 0, "", ""),
        (["ifconfig", "lo0", "-alias", "10.254.254.254"], 0, "", ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::2", "-alias"], 0, "", ""),
        (["ifconfig", "lo0", "alias", "198.51.100.2/32"], 0, "", ""),
        (["ifconfig", "lo0", "alias", "10.254.254.254/32"], 0, "", ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::2", "prefixlen", "128", "alias"], 0, "", ""),
    ])
    result = run(runner, addresses=["198.51.100.2", "10.254.254.254", "fd00:db8::2"])
    assert result["removed"] == ["198.51.100.2/24", "10.254.254.254/8", "fd00:db8::2/64"]
    assert result["added"] == ["198.51.100.2/32", "10.254.254.254/32", "fd00:db8::2/128"]


def test_address_on_another_interface_is_a_clear_error_before_any_change() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_background.txt"), ""),
        (ALL, 0, sample("ifconfig_a_laptop.txt"), ""),
    ])
    with pytest.raises(HostbridgeError) as info:
        run(runner, addresses=["198.51.100.1", "172.16.42.20"])
    assert info.value.msg.startswith("addresses: cannot add to lo0: 172.16.42.20 is on en0.")
    assert info.value.details["value"] == ["172.16.42.20/32"]


def test_ipv6_on_a_tunnel_is_found_too() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_stock_old.txt"), ""),
        (ALL, 0, sample("ifconfig_a_utun.txt"), ""),
    ])
    with pytest.raises(HostbridgeError, match=r"202:ba74:d101:6ade:d27a:56ff:5e1a:aedc is on utun0"):
        run(runner, addresses=["202:ba74:d101:6ade:d27a:56ff:5e1a:aedc/7"])


def test_unknown_interface_names_it_and_changes_nothing() -> None:
    runner = FakeRunner([(["ifconfig", "lo9"], 1, "", NO_SUCH_IF.format("lo9"))])
    with pytest.raises(HostbridgeError) as info:
        run(runner, addresses=["198.51.100.1"], interface="lo9")
    assert info.value.msg == "interface: 'lo9' does not exist on this host"


def test_other_ifconfig_failure_carries_rc_and_stderr() -> None:
    runner = FakeRunner([(LO0, 1, "", "ifconfig: boom\n"), (LO0, 1, "", "ifconfig: boom\n")])
    with pytest.raises(HostbridgeError) as info:
        run(runner, addresses=["198.51.100.1"])
    assert info.value.details["rc"] == 1
    assert "ifconfig: boom" in info.value.msg


def test_a_failing_add_reports_what_was_done() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_background.txt"), ""),
        (ALL, 0, sample("ifconfig_lo0_background.txt"), ""),
        (["ifconfig", "lo0", "alias", "198.51.100.1/32"], 0, "", ""),
        (["ifconfig", "lo0", "alias", "198.51.100.2/32"], 1, "", "ifconfig: ioctl (SIOCAIFADDR): File exists\n"),
    ])
    with pytest.raises(HostbridgeError) as info:
        run(runner, addresses=["198.51.100.1", "198.51.100.2"])
    assert "File exists" in info.value.msg
    assert info.value.details["added"] == ["198.51.100.1/32"]
    assert info.value.details["changed"] is True
    assert info.value.details["interface"] == "lo0"


# --- exclusive_within, absent --------------------------------------------------------------------------------
def test_exclusive_within_removes_only_inside_the_network() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["ifconfig", "lo0", "-alias", "198.51.100.2"], 0, "", ""),
    ])
    result = run(runner, addresses=["198.51.100.1"], exclusive_within="198.51.100.0/24")
    assert result["removed"] == ["198.51.100.2/24"]  # 10.254.254.254 and the IPv6 aliases stay


def test_exclusive_within_never_removes_the_loopbacks_own_addresses() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_trailing_space.txt"), ""),
        (["ifconfig", "lo0", "-alias", "127.0.0.2"], 0, "", ""),
    ])
    assert run(runner, addresses=[], exclusive_within="127.0.0.0/8")["removed"] == ["127.0.0.2/32"]
    # ::/1 covers ::1 and fe80::/10 covers fe80::1: neither is touched; only fd00:db8:: aliases go.
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::2", "-alias"], 0, "", ""),
    ])
    assert run(runner, addresses=["fd00:db8::1"], exclusive_within="fc00::/7")["removed"] == ["fd00:db8::2/64"]
    for cidr in ("::/1", "fe80::/10"):
        runner = FakeRunner([(LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), "")])
        assert run(runner, addresses=[], exclusive_within=cidr)["changed"] is False


def test_absent_removes_listed_addresses_whatever_their_prefix() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["ifconfig", "lo0", "-alias", "198.51.100.2"], 0, "", ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::2", "-alias"], 0, "", ""),
    ])
    result = run(runner, state="absent", addresses=["198.51.100.2", "fd00:db8::2", "198.51.100.77"],
                 exclusive_within="198.51.100.0/24")  # ignored with absent
    assert result["removed"] == ["198.51.100.2/24", "fd00:db8::2/64"]
    assert result["addresses"] == []
    runner = FakeRunner([(LO0, 0, sample("ifconfig_lo0_stock_old.txt"), "")])
    assert run(runner, state="absent", addresses=["198.51.100.2"])["changed"] is False


# --- check and diff mode -------------------------------------------------------------------------------------
def test_check_mode_reads_and_reports_but_changes_nothing() -> None:
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_trailing_space.txt"), ""),
        (ALL, 0, sample("ifconfig_a_utun.txt"), ""),
    ])
    result = run(runner, check_mode=True, diff_mode=True, addresses=["198.51.100.1"],
                 exclusive_within="127.0.0.0/8")
    assert result["changed"] is True
    assert result["added"] == ["198.51.100.1/32"]
    assert result["removed"] == ["127.0.0.2/32"]
    assert result["diff"] == [{
        "before_header": "lo0 addresses", "after_header": "lo0 addresses",
        "before": "lo0 127.0.0.1/8\nlo0 127.0.0.2/32\nlo0 ::1/128\nlo0 fe80::1/64\n",
        "after": "lo0 127.0.0.1/8\nlo0 198.51.100.1/32\nlo0 ::1/128\nlo0 fe80::1/64\n",
    }]


# --- bad input: refused before any command --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"addresses": ["198.51.100.1", "nope"]}, "addresses[1]: 'nope' is not a valid IPv4 or IPv6 address"),
        ({"addresses": ["224.0.0.5"]}, "addresses[0]: '224.0.0.5' is a multicast address"),
        ({"addresses": ["0.0.0.0"]}, "addresses[0]: '0.0.0.0' is the unspecified address"),
        ({"addresses": ["::"]}, "addresses[0]: '::' is the unspecified address"),
        ({"addresses": ["255.255.255.255"]}, "addresses[0]: '255.255.255.255' is the broadcast address"),
        ({"addresses": ["198.51.100.255/24"]}, "is the broadcast address of 198.51.100.0/24"),
        ({"addresses": ["198.51.100.1/33"]}, "addresses[0]: '198.51.100.1/33' has a prefix length out of range"),
        ({"addresses": ["fd00::1/129"]}, "addresses[0]: 'fd00::1/129' has a prefix length out of range 0-128"),
        ({"addresses": ["127.0.0.1"]}, "addresses[0]: '127.0.0.1' is the loopback's own address"),
        ({"addresses": ["::1/128"]}, "addresses[0]: '::1/128' is the loopback's own address"),
        ({"addresses": ["198.51.100.1/24", "198.51.100.1/32"]},
         "addresses[1]: '198.51.100.1/32' names 198.51.100.1 again, already listed as 198.51.100.1/24"),
        ({"addresses": ["198.51.100.1"], "interface": "lo0; reboot"}, "interface: 'lo0; reboot' is not an interface"),
        ({"addresses": ["198.51.100.1"], "interface": "x" * 16}, "is not an interface name"),
        ({"addresses": [], "exclusive_within": "198.51.100.0/33"}, "exclusive_within: '198.51.100.0/33' is not"),
        ({"addresses": [], "exclusive_within": "0.0.0.0/0"}, "exclusive_within: '0.0.0.0/0' covers every address"),
        ({"addresses": [], "persistent": True, "persistent_label": "../evil"}, "persistent_label: '../evil' is not"),
        ({"addresses": [], "persistent": True, "persistent_label": "a b"}, "persistent_label: 'a b' is not"),
    ],
)
def test_bad_input_fails_naming_the_value_before_any_command(params: dict[str, t.Any], message: str) -> None:
    runner = FakeRunner([])  # any command would fail the test
    with pytest.raises(HostbridgeError) as info:
        run(runner, **params)
    assert message in info.value.msg
    assert runner.calls == []


# --- persistence: a LaunchDaemon ------------------------------------------------------------------------------
@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


LABEL = "com.dockermac.hostbridge.loopback"


@pytest.mark.parametrize("persistent", [True, None], ids=["explicit", "the-default-on-macos"])
def test_persistent_writes_and_bootstraps_a_launchdaemon(module, daemons, persistent) -> None:
    plist = daemons / f"{LABEL}.plist"
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_stock_old.txt"), ""),
        (ALL, 0, sample("ifconfig_a_laptop.txt"), ""),
        (["launchctl", "print", f"system/{LABEL}"], 113, "", f'Could not find service "{LABEL}" in domain for system'),
        (["ifconfig", "lo0", "alias", "198.51.100.1/32"], 0, "", ""),
        (["ifconfig", "lo0", "inet6", "fd00:db8::1", "prefixlen", "128", "alias"], 0, "", ""),
        (["launchctl", "enable", f"system/{LABEL}"], 0, "", ""),
        (["launchctl", "bootstrap", "system", str(plist)], 0, "", ""),
    ])
    result = run(runner, module=module, diff_mode=True, addresses=["198.51.100.1", "fd00:db8::1"],
                 persistent=persistent)
    assert result["persistent_path"] == str(plist)
    doc = plistlib.loads(plist.read_bytes())
    assert doc == {
        "Label": LABEL, "RunAtLoad": True,
        "ProgramArguments": ["/bin/sh", "-c", "ifconfig lo0 alias 198.51.100.1/32; "
                             "ifconfig lo0 inet6 fd00:db8::1 prefixlen 128 alias"],
    }
    assert oct(plist.stat().st_mode & 0o777) == "0o644"
    assert result["diff"][1]["before"] == ""
    assert "<key>ProgramArguments</key>" in result["diff"][1]["after"]


def test_persistent_unchanged_and_loaded_runs_nothing(module, daemons) -> None:
    content = _launchd.LaunchDaemon.render(
        label=LABEL, program_arguments=["/bin/sh", "-c", "ifconfig lo0 alias 198.51.100.1/32"])
    (daemons / f"{LABEL}.plist").write_bytes(content)
    (daemons / f"{LABEL}.plist").chmod(0o644)
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["launchctl", "print", f"system/{LABEL}"], 0, "system/com.dockermac.hostbridge.loopback = {\n", ""),
    ])
    # The options as a task gives them (strings from JSON: compared by value, never by identity).
    params = json.loads(json.dumps({"addresses": ["198.51.100.1"], "persistent": True, "state": "present"}))
    result = run(runner, module=module, diff_mode=True, **params)
    assert (result["changed"], len(result["diff"])) == (False, 1)  # no diff of a boot job that stays as it is


def test_persistent_changed_list_reloads_the_daemon(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(_launchd.LaunchDaemon.render(
        label=LABEL, program_arguments=["/bin/sh", "-c", "ifconfig lo0 alias 198.51.100.9/32"]))
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["launchctl", "print", f"system/{LABEL}"], 0, "", ""),
        (["launchctl", "bootout", f"system/{LABEL}"], 0, "", ""),
        (["launchctl", "print", f"system/{LABEL}"], 113, "", f'Could not find service "{LABEL}" in domain for system'),
        (["launchctl", "enable", f"system/{LABEL}"], 0, "", ""),
        (["launchctl", "bootstrap", "system", str(plist)], 0, "", ""),
    ])
    result = run(runner, module=module, addresses=["198.51.100.1"], persistent=True)
    assert result["changed"] is True
    assert result["added"] == []
    assert b"198.51.100.1/32" in plist.read_bytes()


def test_absent_persistent_removes_the_daemon(module, daemons) -> None:
    plist = daemons / f"{LABEL}.plist"
    plist.write_bytes(b"<plist/>")
    runner = FakeRunner([
        (LO0, 0, sample("ifconfig_lo0_mixed_aliases.txt"), ""),
        (["launchctl", "print", f"system/{LABEL}"], 0, "", ""),
        (["ifconfig", "lo0", "-alias", "198.51.100.1"], 0, "", ""),
        (["launchctl", "bootout", f"system/{LABEL}"], 0, "", ""),
        (["launchctl", "print", f"system/{LABEL}"], 113, "", f'Could not find service "{LABEL}" in domain for system'),
    ])
    result = run(runner, module=module, state="absent", addresses=["198.51.100.1"], persistent=True)
    assert result["removed"] == ["198.51.100.1/32"]
    assert not plist.exists()
