"""Bad input: every module and role refuses it, names the field and the value, and changes nothing.

Module cases run in one child process inside a network namespace of our own (``ip netns exec``, so /sys is the
namespace's), each through the module's real ``main()`` with AnsibleModule's own argument checks. Role cases run
through ``ansible-playbook`` in the same namespace, one ``include_role`` per case inside a block, with a snapshot
task between cases. A snapshot (``_snapshot.host``) holds the files involved byte for byte (digest, mode, owner),
``/etc/hosts``, ``ip -o addr`` and ``ip -d -o link`` of the namespace, and the TUN/TAP device nodes; the snapshot
before and after each case must be identical.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import (
    FIGURES,
    ROOT,
    STOCK,
    Netns,
    hide_systemd,
    run_playbook,
    task_results,
)
from ansible_collections.dockermac.hostbridge.tests.unit.plugins.module_utils.hyperkit_fakes import FakeBundle

pytestmark = pytest.mark.root
SNAPSHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_snapshot.py")


class Case(t.NamedTuple):
    id: str
    module: str
    args: dict[str, t.Any]
    field: str  # must appear in the message
    value: t.Any = None  # must appear in the message (as is or as its repr); None: no single value


def module_cases(w: dict[str, str]) -> list[Case]:
    """``w``: paths of the world the cases act on (hosts file, bundles)."""
    hosts = {"path": w["hosts"], "flush_cache": False}
    good = {"app_path": w["good_app"]}
    return [
        # etc_hosts_entry
        Case("hosts-bad-ip", "etc_hosts_entry", {**hosts, "ip": "999.1.1.1", "names": ["a.test"]}, "ip", "999.1.1.1"),
        Case("hosts-ip-space", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1 ", "names": ["a.test"]}, "ip",
             "198.51.100.1 "),
        Case("hosts-name-space", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["bad name"]},
             "names[0]", "bad name"),
        Case("hosts-name-semicolon", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["x;reboot"]},
             "names[0]", "x;reboot"),
        Case("hosts-name-subshell", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["$(id)"]},
             "names[0]", "$(id)"),
        Case("hosts-name-newline-line", "etc_hosts_entry",
             {**hosts, "ip": "198.51.100.1", "names": ["a.test\n10.6.6.6 evil.test"]}, "names[0]",
             "a.test\n10.6.6.6 evil.test"),
        Case("hosts-name-trailing-newline", "etc_hosts_entry",
             {**hosts, "ip": "198.51.100.1", "names": ["a.test\n"]}, "names[0]", "a.test\n"),
        Case("hosts-name-hash", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a#b"]}, "names[0]",
             "a#b"),
        Case("hosts-marker-space", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a"],
                                                       "marker": "a b"}, "marker", "a b"),
        Case("hosts-marker-dotdot", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a"],
                                                        "marker": "../x"}, "marker", "../x"),
        Case("hosts-marker-newline", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a"],
                                                         "marker": "team\n"}, "marker", "team\n"),
        Case("hosts-on-conflict", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a"],
                                                      "on_conflict": "explode"}, "on_conflict", "explode"),
        Case("hosts-state", "etc_hosts_entry", {**hosts, "ip": "198.51.100.1", "names": ["a"], "state": "maybe"},
             "state", "maybe"),
        Case("hosts-ip-and-entries", "etc_hosts_entry",
             {**hosts, "ip": "198.51.100.1", "names": ["a"], "entries": [{"ip": "198.51.100.2", "names": ["b"]}]},
             "ip|entries"),
        Case("hosts-entry-unknown-key", "etc_hosts_entry",
             {**hosts, "entries": [{"ip": "198.51.100.2", "names": ["b"], "port": 80}]}, "port"),
        Case("hosts-name-two-addresses", "etc_hosts_entry",
             {**hosts, "entries": [{"ip": "198.51.100.1", "names": ["a.test"]},
                                   {"ip": "198.51.100.2", "names": ["a.test"]}]}, "entries[1].names[0]", "a.test"),
        Case("hosts-empty-entries", "etc_hosts_entry", {**hosts, "entries": []}, "entries"),
        Case("hosts-path-directory", "etc_hosts_entry", {**hosts, "path": w["etc"], "ip": "198.51.100.1",
                                                         "names": ["a"]}, "path", w["etc"]),
        Case("hosts-path-missing-dir", "etc_hosts_entry", {**hosts, "path": w["etc"] + "/nope/hosts",
                                                           "ip": "198.51.100.1", "names": ["a"]}, "path",
             w["etc"] + "/nope/hosts"),
        # lo0_alias (in the namespace)
        Case("lo-bad-ip", "lo0_alias", {"addresses": ["999.1.1.1"]}, "addresses[0]", "999.1.1.1"),
        Case("lo-multicast", "lo0_alias", {"addresses": ["198.51.100.1", "224.0.0.9"]}, "addresses[1]",
             "224.0.0.9"),
        Case("lo-prefix", "lo0_alias", {"addresses": ["198.51.100.1/33"]}, "addresses[0]", "198.51.100.1/33"),
        Case("lo-loopback-own", "lo0_alias", {"addresses": ["127.0.0.1"]}, "addresses[0]", "127.0.0.1"),
        Case("lo-unknown-interface", "lo0_alias", {"addresses": ["198.51.100.1"], "interface": "hb-nope0"},
             "interface", "hb-nope0"),
        Case("lo-interface-semicolon", "lo0_alias", {"addresses": ["198.51.100.1"], "interface": "lo;reboot"},
             "interface", "lo;reboot"),
        Case("lo-interface-newline", "lo0_alias", {"addresses": ["198.51.100.1"], "interface": "lo\n"},
             "interface", "lo\n"),
        Case("lo-within-everything", "lo0_alias", {"addresses": ["198.51.100.1"], "exclusive_within": "0.0.0.0/0"},
             "exclusive_within", "0.0.0.0/0"),
        Case("lo-within-garbage", "lo0_alias", {"addresses": ["198.51.100.1"], "exclusive_within": "banana"},
             "exclusive_within", "banana"),
        Case("lo-label-dotdot", "lo0_alias", {"addresses": ["198.51.100.1"], "persistent": True,
                                              "persistent_label": "../x"}, "persistent_label", "../x"),
        Case("lo-label-newline", "lo0_alias", {"addresses": ["198.51.100.1"], "persistent": True,
                                               "persistent_label": "com.example.x\n"}, "persistent_label",
             "com.example.x\n"),
        Case("lo-address-elsewhere", "lo0_alias", {"addresses": ["198.51.100.1", "198.51.100.77"]}, "addresses",
             "198.51.100.77"),
        Case("lo-no-addresses", "lo0_alias", {"state": "present"}, "addresses"),
        # hyperkit_shim
        Case("shim-missing-app", "hyperkit_shim", {"app_path": w["apps"] + "/Nope.app"}, "app_path",
             w["apps"] + "/Nope.app"),
        Case("shim-relative-app", "hyperkit_shim", {"app_path": "../x"}, "app_path", "../x"),
        # A bundle in a state we refuse: the message names the bundle and the problem (not the word app_path).
        Case("shim-no-hyperkit", "hyperkit_shim", {"app_path": w["vf_app"]}, "No hyperkit found in", w["vf_app"]),
        Case("shim-foreign-script", "hyperkit_shim", {"app_path": w["foreign_app"]},
             "is a script this module did not write", w["foreign_app"]),
        Case("shim-tuntap-osx", "hyperkit_shim", {"app_path": w["almir_app"]}, "docker-tuntap-osx",
             w["almir_app"]),
        Case("shim-symlink-out", "hyperkit_shim", {"app_path": w["symlink_app"]}, "app_path", w["symlink_app"]),
        Case("shim-tap256", "hyperkit_shim", {**good, "tap_device": "tap256"}, "tap_device", "tap256"),
        Case("shim-tap-dotdot", "hyperkit_shim", {**good, "tap_device": "../x"}, "tap_device", "../x"),
        Case("shim-tap-newline", "hyperkit_shim", {**good, "tap_device": "tap1\n"}, "tap_device", "tap1\n"),
        Case("shim-tap-subshell", "hyperkit_shim", {**good, "tap_device": "tap1$(reboot)"}, "tap_device",
             "tap1$(reboot)"),
        Case("shim-unknown-user", "hyperkit_shim", {**good, "user": "nosuchuser"}, "user", "nosuchuser"),
        Case("shim-user-subshell", "hyperkit_shim", {**good, "user": "$(id)"}, "user", "$(id)"),
        Case("shim-slot", "hyperkit_shim", {**good, "slot": "middle"}, "slot", "middle"),
        # tap_device (Linux, in the namespace)
        Case("tap-999", "tap_device", {"name": "tap999", "owner": "nobody"}, "name", "tap999"),
        Case("tap-dotdot", "tap_device", {"name": "../x", "owner": "nobody"}, "name", "../x"),
        Case("tap-semicolon", "tap_device", {"name": "tap1;reboot", "owner": "nobody"}, "name", "tap1;reboot"),
        Case("tap-newline", "tap_device", {"name": "tap1\n", "owner": "nobody"}, "name", "tap1\n"),
        Case("tap-unknown-owner", "tap_device", {"name": "tap1", "owner": "nosuchuser"}, "owner", "nosuchuser"),
        Case("tap-owner-newline", "tap_device", {"name": "tap1", "owner": "root\nx"}, "owner", "root\nx"),
        Case("tap-owner-missing", "tap_device", {"name": "tap1", "state": "present"}, "owner"),
        Case("tap-address-no-prefix", "tap_device", {"name": "tap1", "owner": "nobody", "address": "10.0.75.1"},
             "address", "10.0.75.1"),
        Case("tap-address-v6", "tap_device", {"name": "tap1", "owner": "nobody", "address": "fd00::1/64"},
             "address", "fd00::1/64"),
        Case("tap-address-prefix", "tap_device", {"name": "tap1", "owner": "nobody", "address": "10.0.75.1/33"},
             "address", "10.0.75.1/33"),
        Case("tap-not-a-tap", "tap_device", {"name": "tap7", "owner": "nobody"}, "tap7"),
        # bridge_facts
        Case("facts-tap999", "bridge_facts", {"tap_device": "tap999"}, "tap_device", "tap999"),
        Case("facts-tap-newline", "bridge_facts", {"tap_device": "tap1\n"}, "tap_device", "tap1\n"),
        Case("facts-unknown-user", "bridge_facts", {"user": "nosuchuser"}, "user", "nosuchuser"),
    ]


MODULE_CHILD = textwrap.dedent("""
    import importlib, json, sys
    sys.path[:0] = [{root!r} + "/.tmp/collections", {root!r} + "/.cache/collections"]
    from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import call_module, quiet_stdio
    from ansible_collections.dockermac.hostbridge.tests.reliability._snapshot import host

    cases = json.load(open(sys.argv[1]))
    watched = json.load(open(sys.argv[2]))
    results = []
    for case in cases:
        package = "ansible_collections.dockermac.hostbridge.plugins.modules."
        main = importlib.import_module(package + case["module"]).main
        before = host(watched)
        try:
            with quiet_stdio():
                result = call_module(main, case["args"])
        except Exception as exc:
            result = {{"failed": True, "msg": "unhandled %s: %s" % (type(exc).__name__, exc), "traceback": True}}
        after = host(watched)
        results.append({{"id": case["id"], "result": result, "same": before == after,
                        "changes": sorted(k for k in before if before[k] != after[k])}})
    print(json.dumps(results))
""")


def names_value(msg: str, value: t.Any) -> bool:
    return value is None or str(value) in msg or repr(value) in msg or repr(value)[1:-1] in msg


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[tuple[Netns, dict[str, str]]]:
    top = tmp_path_factory.mktemp("world")
    etc = top / "etc"
    etc.mkdir()
    (etc / "hosts").write_bytes(STOCK)
    apps = top / "apps"
    apps.mkdir()
    vf = apps / "VF Docker.app" / "Contents" / "MacOS"
    vf.mkdir(parents=True)
    (vf / "com.docker.backend").write_bytes(b"\xcf\xfa\xed\xfe backend")
    foreign = FakeBundle(apps / "f", name="Foreign.app")
    os.link(foreign.hyperkit, str(foreign.hyperkit) + ".real")
    foreign.hyperkit.unlink()
    foreign.hyperkit.write_text('#!/bin/sh\nexec "$0.real" "$@" -s 2:1,virtio-tap,tap1\n')
    almir = FakeBundle(apps / "a", name="Docker.app")
    Path(str(almir.hyperkit) + ".original").write_bytes(almir.original)
    outside = top / "outside"
    outside.mkdir()
    (outside / "hyperkit").write_bytes(b"\xcf\xfa\xed\xfe not in the bundle")
    linked = FakeBundle(apps / "s", name="Docker.app")
    linked.hyperkit.unlink()
    linked.hyperkit.symlink_to(outside / "hyperkit")
    good = FakeBundle(apps / "g", name="Good $(id) 'q' \"dq\" `x`.app")
    paths = {"top": str(top), "etc": str(etc), "hosts": str(etc / "hosts"), "apps": str(apps),
             "vf_app": str(apps / "VF Docker.app"), "foreign_app": str(foreign.app), "almir_app": str(almir.app),
             "symlink_app": str(linked.app), "good_app": str(good.app)}
    with Netns("badinput") as ns:
        ns.ip("link", "add", "hbv0", "type", "veth", "peer", "name", "hbv1")
        ns.ip("link", "set", "hbv0", "up")
        ns.ip("addr", "add", "198.51.100.77/24", "dev", "hbv0")
        ns.ip("link", "add", "tap7", "type", "veth", "peer", "name", "tap7p")  # named like a TAP, is not one
        ns.ip("tuntap", "add", "dev", "tap5", "mode", "tap", "user", "nobody")
        yield ns, paths


MODULE_CASE_IDS = [c.id for c in module_cases(dict.fromkeys(
    ("hosts", "good_app", "etc", "apps", "vf_app", "foreign_app", "almir_app", "symlink_app"), ""))]


@pytest.fixture(scope="module")
def module_outcomes(world: tuple[Netns, dict[str, str]], tmp_path_factory: pytest.TempPathFactory,
                    ) -> dict[str, tuple[Case, dict[str, t.Any]]]:
    """Every module case, run once in the namespace with a snapshot before and after each."""
    ns, w = world
    tmp = tmp_path_factory.mktemp("module-cases")
    cases = module_cases(w)
    (tmp / "cases.json").write_text(json.dumps([c._asdict() for c in cases]))
    (tmp / "watched.json").write_text(json.dumps([w["top"]]))
    proc = subprocess.run(hide_systemd(ns.exec_argv(sys.executable, "-c", MODULE_CHILD.format(root=ROOT),
                                                    str(tmp / "cases.json"), str(tmp / "watched.json"))),
                          capture_output=True, text=True, check=False, timeout=240)
    assert proc.returncode == 0, proc.stderr
    results = {r["id"]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])}
    FIGURES["bad input (modules)"] = {"cases": len(cases),
                                      "per_module": {m: sum(c.module == m for c in cases)
                                                     for m in sorted({c.module for c in cases})}}
    return {c.id: (c, results[c.id]) for c in cases}


@pytest.mark.parametrize("case_id", MODULE_CASE_IDS)
def test_module_refuses_bad_input_naming_field_and_value_and_changes_nothing(
        module_outcomes: dict[str, tuple[Case, dict[str, t.Any]]], case_id: str) -> None:
    case, got = module_outcomes[case_id]
    result = got["result"]
    msg = str(result.get("msg", ""))
    assert result.get("failed"), f"did not fail: {result}"
    assert not result.get("traceback"), f"crashed instead of a message: {msg}"
    assert case.field in msg, msg
    assert names_value(msg, case.value), msg
    assert got["same"], f"the host changed: {got['changes']}"


# --- roles ---------------------------------------------------------------------------------------------------
class RoleCase(t.NamedTuple):
    id: str
    role: str
    vars: dict[str, t.Any]
    field: str
    value: t.Any = None
    # The exact messages of the role's own check (one per bad field, all in the one failure): field, value as
    # Python writes it, what the rule wants and the rule's name. Empty where Ansible's argument spec or a module
    # refuses the value (their messages name field and value, checked above).
    says: tuple[str, ...] = ()
    # The bridge role with the facts already there (gathered earlier in the play), so bridge_facts does not run and
    # present.yml's check refuses the input; otherwise the case starts without them (meta: clear_facts).
    facts_known: bool = False


HOSTNAME = "is not a valid RFC 1123 host name (letters, digits, hyphens and dots only) (rule hostname)"
TAP = "must be a tap device name from tap0 to tap255 (rule tap_name)"
CIDR = "is not an IPv4 address with a /prefix such as 10.0.75.1/24 (rule ipv4_cidr)"
LABEL = ("is not a reverse-DNS label (letters, digits, '.', '_' and '-', starting with a letter or digit, no '..', "
         "not ending with '.', at most 200 characters) (rule launchd_label)")
SAFE_PATH = "is not an absolute path of letters, digits, '_', '.', '/' and '-' only (rule safe_path)"
IFNAME = ("is not an interface name (1-15 letters, digits, '_', '.' or '-', starting with a letter or digit) "
          "(rule interface_name)")
MARKER = "must be 1-100 characters of letters, digits and . _ : @ / + - (no spaces) (rule hosts_marker)"
BREW_FORMULA = ("is not a Homebrew formula (name or user/tap/name of letters, digits and _ . @ + -, not starting "
                "with '-') (rule brew_formula)")
BREW_TAP = "is not a Homebrew tap (user/repo of letters, digits and _ . @ + -, not starting with '-') (rule brew_tap)"


def role_cases() -> list[RoleCase]:
    def svc(n: int, **extra: t.Any) -> list[dict[str, t.Any]]:
        return [{"name": f"svc{n}.test", "ip": f"198.51.100.{n}", **extra}]

    return [
        RoleCase("loopback-bad-ip", "loopback", {"loopback_services": [{"name": "a.test", "ip": "999.1.1.1"}]},
                 "loopback_services[0].ip", "999.1.1.1",
                 ("loopback: loopback_services[0].ip: '999.1.1.1' is not a valid IPv4 or IPv6 address "
                  "(rule ip_address)",)),
        RoleCase("loopback-ip-newline", "loopback",
                 {"loopback_services": [{"name": "a.test", "ip": "198.51.100.1\n"}]},
                 "loopback_services[0].ip", "198.51.100.1\n",
                 ("loopback_services[0].ip: '198.51.100.1\\n' has surrounding whitespace (rule ip_address)",)),
        RoleCase("loopback-missing-name", "loopback", {"loopback_services": [{"ip": "198.51.100.2"}]}, "name"),
        RoleCase("loopback-prefix-type", "loopback", {"loopback_services": svc(3, prefix="abc")}, "prefix", "abc"),
        RoleCase("loopback-name-shell", "loopback", {"loopback_services": svc(4, name="x;rm -rf /")},
                 "loopback_services[0].name", "x;rm -rf /", (f"loopback_services[0].name: 'x;rm -rf /' {HOSTNAME}",)),
        RoleCase("loopback-name-newline", "loopback", {"loopback_services": svc(5, name="a.test\nevil")},
                 "loopback_services[0].name", "a.test\nevil",
                 (f"loopback_services[0].name: 'a.test\\nevil' {HOSTNAME}",)),
        RoleCase("loopback-name-trailing-newline", "loopback", {"loopback_services": svc(5, name="a.test\n")},
                 "loopback_services[0].name", "a.test\n", (f"loopback_services[0].name: 'a.test\\n' {HOSTNAME}",)),
        RoleCase("loopback-alias", "loopback", {"loopback_services": svc(6, aliases=["ok.test", "b#c"])},
                 "loopback_services[0].aliases[1]", "b#c", (f"loopback_services[0].aliases[1]: 'b#c' {HOSTNAME}",)),
        RoleCase("loopback-state", "loopback", {"loopback_state": "maybe"}, "loopback_state", "maybe"),
        RoleCase("loopback-interface", "loopback", {"loopback_services": svc(7), "loopback_interface": "hb-nope0"},
                 "interface", "hb-nope0"),
        RoleCase("loopback-marker", "loopback", {"loopback_services": svc(8), "loopback_hosts_marker": "a b"},
                 "loopback_hosts_marker", "a b", (f"loopback_hosts_marker: 'a b' {MARKER}",)),
        RoleCase("loopback-marker-newline", "loopback", {"loopback_services": svc(8), "loopback_hosts_marker": "a\n"},
                 "loopback_hosts_marker", "a\n", (f"loopback_hosts_marker: 'a\\n' {MARKER}",)),
        RoleCase("loopback-all-at-once", "loopback",
                 {"loopback_services": [*svc(10, name="-a"), *svc(11, name="b c")], "loopback_hosts_marker": "a b"},
                 "loopback_services[0].name", "-a",
                 (f"loopback_services[0].name: '-a' {HOSTNAME}", f"loopback_services[1].name: 'b c' {HOSTNAME}",
                  f"loopback_hosts_marker: 'a b' {MARKER}")),
        RoleCase("loopback-within", "loopback", {"loopback_services": svc(9), "loopback_exclusive_within": "0.0.0.0/0"},
                 "exclusive_within", "0.0.0.0/0"),
        RoleCase("loopback-on-conflict", "loopback", {"loopback_hosts_on_conflict": "explode"},
                 "loopback_hosts_on_conflict", "explode"),
        RoleCase("loopback-services-type", "loopback", {"loopback_services": "nginx.test"}, "loopback_services"),
        RoleCase("loopback-extra-ip", "loopback",
                 {"loopback_services": svc(12), "loopback_services_extra": [*svc(13), *svc(14, ip="198.51.100.256")]},
                 "loopback_services_extra[1].ip", "198.51.100.256",
                 ("loopback: loopback_services_extra[1].ip: '198.51.100.256' is not a valid IPv4 or IPv6 address "
                  "(rule ip_address)",)),
        RoleCase("loopback-drop-name", "loopback", {"loopback_services": svc(15), "loopback_services_drop": ["a b"]},
                 "loopback_services_drop[0]", "a b", (f"loopback_services_drop[0]: 'a b' {HOSTNAME}",)),
        RoleCase("tap-999", "tap_bridge", {"tap_bridge_device": "tap999"}, "tap_bridge_device", "tap999",
                 (f"tap_bridge: tap_bridge_device: 'tap999' {TAP}",)),
        RoleCase("tap-dotdot", "tap_bridge", {"tap_bridge_device": "../x"}, "tap_bridge_device", "../x",
                 (f"tap_bridge_device: '../x' {TAP}",)),
        RoleCase("tap-newline", "tap_bridge", {"tap_bridge_device": "tap1\nx"}, "tap_bridge_device", "tap1\nx",
                 (f"tap_bridge_device: 'tap1\\nx' {TAP}",)),
        RoleCase("tap-trailing-newline", "tap_bridge", {"tap_bridge_device": "tap1\n"}, "tap_bridge_device", "tap1\n",
                 (f"tap_bridge_device: 'tap1\\n' {TAP}",)),
        RoleCase("tap-reapply-dotdot", "tap_bridge", {"tap_bridge_reapply_path": "../x"}, "tap_bridge_reapply_path",
                 "../x", (f"tap_bridge_reapply_path: '../x' {SAFE_PATH}",)),
        RoleCase("tap-reapply-subshell", "tap_bridge", {"tap_bridge_reapply_path": "/usr/local/$(reboot)"},
                 "tap_bridge_reapply_path", "/usr/local/$(reboot)",
                 (f"tap_bridge_reapply_path: '/usr/local/$(reboot)' {SAFE_PATH}",)),
        RoleCase("tap-vm-interface", "tap_bridge", {"tap_bridge_vm_interface": "eth1;reboot"},
                 "tap_bridge_vm_interface", "eth1;reboot", (f"tap_bridge_vm_interface: 'eth1;reboot' {IFNAME}",)),
        RoleCase("tap-label", "tap_bridge", {"tap_bridge_reapply_label": "a b"}, "tap_bridge_reapply_label", "a b",
                 (f"tap_bridge_reapply_label: 'a b' {LABEL}",)),
        RoleCase("tap-label-newline", "tap_bridge", {"tap_bridge_reapply_label": "com.example.x\n"},
                 "tap_bridge_reapply_label", "com.example.x\n",
                 (f"tap_bridge_reapply_label: 'com.example.x\\n' {LABEL}",)),
        RoleCase("tap-host-address", "tap_bridge", {"tap_bridge_host_address": "10.0.75.1/33"},
                 "tap_bridge_host_address", "10.0.75.1/33", (f"tap_bridge_host_address: '10.0.75.1/33' {CIDR}",)),
        RoleCase("tap-subnet-newline", "tap_bridge", {"tap_bridge_network_subnet": "10.0.75.0/24\n"},
                 "tap_bridge_network_subnet", "10.0.75.0/24\n",
                 (f"tap_bridge_network_subnet: '10.0.75.0/24\\n' {CIDR}",)),
        RoleCase("tap-interval-zero", "tap_bridge", {"tap_bridge_reapply_interval": 0}, "tap_bridge_reapply_interval",
                 0, ("tap_bridge_reapply_interval: 0 must be an integer of at least 10 (rule integer_at_least)",)),
        RoleCase("tap-all-at-once", "tap_bridge",
                 {"tap_bridge_device": "tap256", "tap_bridge_network_ip_range": "10.0.75.128",
                  "tap_bridge_vm_interface": "-x"},
                 "tap_bridge_device", "tap256",
                 (f"tap_bridge_device: 'tap256' {TAP}", f"tap_bridge_network_ip_range: '10.0.75.128' {CIDR}",
                  f"tap_bridge_vm_interface: '-x' {IFNAME}")),
        RoleCase("tap-interval", "tap_bridge", {"tap_bridge_reapply_interval": "often"},
                 "tap_bridge_reapply_interval", "often"),
        RoleCase("tap-slot", "tap_bridge", {"tap_bridge_shim_slot": "middle"}, "tap_bridge_shim_slot", "middle"),
        RoleCase("tap-unknown-user", "tap_bridge", {"tap_bridge_user": "nosuchuser"}, "user", "nosuchuser"),
        RoleCase("tap-missing-app", "tap_bridge", {"tap_bridge_app_path": "/nonexistent/Docker.app"}, "app_path",
                 "/nonexistent/Docker.app"),
        RoleCase("pull-label-newline", "pull", {"pull_label": "com.example.pull\n"}, "pull_label",
                 "com.example.pull\n", (f"pull: pull_label: 'com.example.pull\\n' {LABEL}",)),
        RoleCase("pull-all-at-once", "pull",
                 {"pull_repo_url": None, "pull_interval": 5, "pull_checkout_dir": "pull",
                  "pull_extra_args": ["-v", "a\tb"]},
                 "pull_repo_url", None,
                 ("pull_repo_url: None must be set (rule non_empty)",
                  "pull_interval: 5 must be an integer of at least 60 (rule integer_at_least)",
                  "pull_checkout_dir: 'pull' is not an absolute path without control characters (rule abs_path)",
                  "pull_extra_args[1]: 'a\\tb' contains a control character (rule no_control_chars)")),
        RoleCase("pull-environment", "pull", {"pull_environment": {"HTTP_PROXY": "http://proxy\n"}},
                 "pull_environment[HTTP_PROXY]", "http://proxy\n",
                 ("pull_environment[HTTP_PROXY]: 'http://proxy\\n' contains a control character "
                  "(rule no_control_chars)",)),
        RoleCase("pull-venv-space", "pull", {"pull_venv": "/opt/my venv"}, "pull_venv", "/opt/my venv",
                 (f"pull: pull_venv: '/opt/my venv' {SAFE_PATH}",)),
        RoleCase("pull-verify-without-keys", "pull", {"pull_verify_commit": True, "pull_gpg_keys": []},
                 "pull_gpg_keys", [], ("pull_gpg_keys: [] must be set (rule non_empty)",)),
        RoleCase("pull-python-relative", "pull", {"pull_python": "python3"}, "pull_python", "python3",
                 ("pull_python: 'python3' is not an absolute path without control characters (rule abs_path)",)),
        # Trusted paths: a checkout that anyone could create first (a missing name in sticky, world-writable
        # /var/tmp) is refused before anything runs as root, naming the path and the fix.
        RoleCase("pull-checkout-untrusted", "pull", {"pull_checkout_dir": "/var/tmp/hb-not-yet-created/pull"},
                 "refusing", "/var/tmp/hb-not-yet-created",
                 ("/var/tmp/hb-not-yet-created (owner -, mode -) does not exist, in a directory others can write to",
                  "sudo mkdir -m 0755 /var/tmp/hb-not-yet-created")),
        RoleCase("routed-formula", "routed", {"routed_formula": "--force"}, "routed_formula", "--force",
                 (f"routed: routed_formula: '--force' {BREW_FORMULA}",)),
        RoleCase("routed-tap-newline", "routed", {"routed_tap": "chipmk/tap\n"}, "routed_tap", "chipmk/tap\n",
                 (f"routed_tap: 'chipmk/tap\\n' {BREW_TAP}",)),
        # Under the bridge role the parts' input is refused before bridge_facts reaches the host (its desired state,
        # the desired_state lookup), then named by the bridge role's check: each role's message, at once. With the
        # facts known bridge_facts does not run, and the same check refuses it before any role applies.
        RoleCase("bridge-loopback-ip", "bridge", {"loopback_services": [{"name": "a.test", "ip": "999.1.1.1"}]},
                 "loopback_services[0].ip", "999.1.1.1",
                 ("loopback: loopback_services[0].ip: '999.1.1.1' is not a valid IPv4 or IPv6 address "
                  "(rule ip_address)",)),
        RoleCase("bridge-loopback-missing-name", "bridge", {"loopback_services": [{"ip": "198.51.100.2"}]},
                 "loopback_services[0].name", None,
                 ("loopback: loopback_services[0].name: None must be a non-empty host name (rule hostname)",)),
        RoleCase("bridge-tap-and-loopback", "bridge",
                 {"bridge_strategy": "tap", "tap_bridge_device": "tap999", "loopback_hosts_marker": "a b"},
                 "tap_bridge_device", "tap999",
                 (f"loopback: loopback_hosts_marker: 'a b' {MARKER}; tap_bridge: tap_bridge_device: 'tap999' {TAP}",)),
        RoleCase("bridge-tap-and-loopback-facts-known", "bridge",
                 {"bridge_strategy": "tap", "tap_bridge_device": "tap999", "loopback_hosts_marker": "a b"},
                 "tap_bridge_device", "tap999",
                 (f"loopback: loopback_hosts_marker: 'a b' {MARKER}; tap_bridge: tap_bridge_device: 'tap999' {TAP}",),
                 facts_known=True),
        RoleCase("bridge-absent-loopback", "bridge", {"bridge_state": "absent", "loopback_hosts_marker": "a b"},
                 "loopback_hosts_marker", "a b", (f"loopback: loopback_hosts_marker: 'a b' {MARKER}",)),
        RoleCase("bridge-strategy", "bridge", {"bridge_strategy": "bogus"}, "bridge_strategy", "bogus"),
        RoleCase("bridge-state", "bridge", {"bridge_state": "gone"}, "bridge_state", "gone"),
    ]


@pytest.fixture(scope="module")
def role_outcomes(world: tuple[Netns, dict[str, str]], tmp_path_factory: pytest.TempPathFactory,
                  ) -> dict[str, dict[str, t.Any]]:
    """Every role case in one ansible-playbook run, a snapshot (pipe lookup, on this host) between cases."""
    ns, w = world
    tmp = tmp_path_factory.mktemp("role-cases")
    # Everything the roles could touch points into the test's world; switched off what needs Docker or systemd.
    safe = {"loopback_hosts_path": w["hosts"], "loopback_persistent": False, "loopback_flush_cache": False,
            "tap_bridge_app_path": w["good_app"], "tap_bridge_user": "nobody", "tap_bridge_network_manage": False,
            "tap_bridge_vm_link_manage": False, "tap_bridge_restart_docker": False,
            "tap_bridge_reapply_persistent": False, "tap_bridge_reapply_path": w["top"] + "/libexec/tap-reapply",
            "bridge_strategy": "loopback", "pull_repo_url": "file:///nonexistent", "pull_scheduler": "none",
            "pull_checkout_dir": w["top"] + "/pull", "pull_log_path": w["top"] + "/pull.log"}
    cases = role_cases()
    snap_cmd = f"{sys.executable} {SNAPSHOT} {w['top']}"

    def snapshot(n: int) -> dict[str, t.Any]:
        return {"name": f"snapshot {n}", "ansible.builtin.set_fact": {
            f"hb_snapshot_{n}": "{{ lookup('ansible.builtin.pipe', '" + snap_cmd + "') }}"}}

    tasks: list[dict[str, t.Any]] = [snapshot(0)]
    for n, case in enumerate(cases, start=1):
        if case.role == "bridge":
            tasks.append({"name": f"facts of {case.id}", "dockermac.hostbridge.bridge_facts": {}} if case.facts_known
                         else {"name": f"forget the facts before {case.id}", "ansible.builtin.meta": "clear_facts"})
        tasks.append({"name": f"case {case.id}", "block": [
            {"name": f"run {case.id}", "ansible.builtin.include_role": {"name": f"dockermac.hostbridge.{case.role}"},
             "vars": {**safe, **case.vars}}],
            "rescue": [{"name": f"rescued {case.id}", "ansible.builtin.debug": {"msg": "failed as expected"}}]})
        tasks.append(snapshot(n))
    output = run_playbook([{"name": "bad role variables", "hosts": "localhost", "gather_facts": False,
                            "tasks": tasks}], str(tmp), netns=ns.name)
    snapshots: list[t.Any] = []
    failures: dict[int, list[tuple[str, str]]] = {}
    rescued: set[int] = set()
    for name, result in task_results(output):
        if name.startswith("snapshot "):
            value = result["ansible_facts"][f"hb_snapshot_{len(snapshots)}"]
            snapshots.append(value if isinstance(value, dict) else json.loads(value))
        elif name.startswith("rescued "):
            rescued.add(len(snapshots))
        elif result.get("failed"):
            failures.setdefault(len(snapshots), []).append((name, str(result.get("msg", ""))))
    assert len(snapshots) == len(cases) + 1
    FIGURES["bad input (roles)"] = {"cases": len(cases),
                                    "per_role": {r: sum(c.role == r for c in cases)
                                                 for r in sorted({c.role for c in cases})}}
    return {case.id: {"case": case, "rescued": n in rescued, "failures": failures.get(n, []),
                      "before": snapshots[n - 1], "after": snapshots[n]}
            for n, case in enumerate(cases, start=1)}


@pytest.mark.parametrize("case_id", [
    c.id for c in role_cases()])
def test_role_refuses_bad_variables_naming_field_and_value_and_changes_nothing(
        role_outcomes: dict[str, dict[str, t.Any]], case_id: str) -> None:
    got = role_outcomes[case_id]
    case = got["case"]
    assert got["rescued"], "did not fail"
    assert got["failures"], "did not fail"
    if case.role == "bridge" and case.says:
        # bridge_facts' desired state refused the input on the controller (the same messages), and the bridge
        # role's own check of every part, not a role's, named it; with the facts known, or to unbridge (no desired
        # state), that check alone, before anything is undone
        failures = got["failures"]
        if not case.facts_known and case.vars.get("bridge_state", "present") == "present":
            (facts, refused), *failures = failures
            assert facts.endswith(" : Gather the host bridge facts and compare the desired state with the host"), facts
            assert "dockermac.hostbridge.desired_state' failed: " + "; ".join(case.says) in refused, refused
        ((task, msg),) = failures
        assert task.endswith(" : Check the input of every part"), task
    else:
        task, msg = got["failures"][0]
    assert case.field in msg, f"{task}: {msg}"
    assert names_value(msg, case.value), f"{task}: {msg}"
    for says in case.says:
        assert says in msg, f"{task}: {msg}"
    changed = [k for k in got["before"] if got["before"][k] != got["after"][k]]
    assert not changed, f"the host changed ({changed}) before {task!r} failed"
