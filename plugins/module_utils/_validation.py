# Copyright (c) dockermac.hostbridge contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks shared by every module and by the roles. Each error names the field, the offending value and the
rule, and is raised before anything on the host is touched.

This is the one source of the rules: the modules call these functions, and the collection's Jinja tests
(``plugins/test/``) and the ``invalid_fields`` filter (``plugins/filter/``) that the roles' checks use import them
through ``RULES``. Every pattern is matched against the whole value (``fullmatch``: no trailing newline)."""

from __future__ import annotations

import ipaddress
import pwd
import re
import typing as t

from ansible_collections.dockermac.hostbridge.plugins.module_utils._errors import HostbridgeError

IPAddress = t.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPInterface = t.Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]

# RFC 1123 host names: labels of letters, digits and inner hyphens, 1-63 characters, 253 in all.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TAP_NAME = re.compile(r"^tap([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$")
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_IPV4_CIDR = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}/(?:3[0-2]|[12]?[0-9])")
_LAUNCHD_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_HOSTS_MARKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,99}")
_IFNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")
_IFNAME_COLON = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}")
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Homebrew names reach brew's argument list: no leading '-'.
_BREW_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*"
_BREW_FORMULA = re.compile(rf"(?:{_BREW_NAME}/{_BREW_NAME}/)?{_BREW_NAME}")
_BREW_TAP = re.compile(rf"{_BREW_NAME}/{_BREW_NAME}")


def bad(field: str, value: t.Any, why: str) -> HostbridgeError:
    return HostbridgeError(f"{field}: {value!r} {why}", field=field, value=value)


def ip_address(value: t.Any, *, field: str) -> IPAddress:
    """A unicast host address (IPv4 or IPv6) without prefix."""
    try:
        address = ipaddress.ip_address(str(value).strip() if isinstance(value, str) else value)
    except ValueError:
        raise bad(field, value, "is not a valid IPv4 or IPv6 address") from None
    if isinstance(value, str) and value != value.strip():
        raise bad(field, value, "has surrounding whitespace")
    return address


def host_interface(value: t.Any, *, field: str, allow_loopback: bool = True) -> IPInterface:
    """An address with an optional prefix length (``198.51.100.1/24``) usable as an interface alias.

    Rejects multicast, unspecified, the limited broadcast, link-local-only oddities are allowed.
    Without a prefix the address gets a host prefix (/32 or /128).
    """
    text = str(value)
    if text != text.strip() or not text:
        raise bad(field, value, "is not an IP address with an optional /prefix")
    addr_text, _sep, prefix = text.partition("/")
    address = ip_address(addr_text, field=field)
    if prefix:
        if not prefix.isdigit() or int(prefix) > address.max_prefixlen or (prefix != str(int(prefix))):
            raise bad(field, value, f"has a prefix length out of range 0-{address.max_prefixlen}")
        if int(prefix) == 0:
            raise bad(field, value, "has prefix length 0, which would claim every address")
    iface = ipaddress.ip_interface(f"{address}/{prefix or address.max_prefixlen}")
    if address.is_multicast:
        raise bad(field, value, "is a multicast address")
    if address.is_unspecified:
        raise bad(field, value, "is the unspecified address")
    if isinstance(address, ipaddress.IPv4Address):
        if address == ipaddress.IPv4Address("255.255.255.255"):
            raise bad(field, value, "is the broadcast address")
        if iface.network.prefixlen < 31 and address == iface.network.broadcast_address:
            raise bad(field, value, f"is the broadcast address of {iface.network}")
        if iface.network.prefixlen < 31 and address == iface.network.network_address:
            raise bad(field, value, f"is the network address of {iface.network}")
    if not allow_loopback and address.is_loopback:
        raise bad(field, value, "is a loopback address")
    return iface


def network(value: t.Any, *, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise bad(field, value, "is not a valid CIDR network such as 198.51.100.0/24") from None


def hostname(value: t.Any, *, field: str) -> str:
    """An RFC 1123 host name (no whitespace, no '#', no empty labels); returned unchanged."""
    if not isinstance(value, str) or not value:
        raise bad(field, value, "must be a non-empty host name")
    if len(value) > 253:
        raise bad(field, value, "is longer than 253 characters")
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise bad(field, value, "is not a valid RFC 1123 host name (letters, digits, hyphens and dots only)")
    return value


def tap_name(value: t.Any, *, field: str) -> str:
    if not isinstance(value, str) or not _TAP_NAME.fullmatch(value):
        raise bad(field, value, "must be a tap device name from tap0 to tap255")
    return value


def user_name(value: t.Any, *, field: str) -> pwd.struct_passwd:
    """An existing local user, by name or numeric uid."""
    text = str(value)
    try:
        if text.isdigit():
            return pwd.getpwuid(int(text))
        if not _USER_NAME.fullmatch(text):
            raise KeyError(text)
        return pwd.getpwnam(text)
    except KeyError:
        raise bad(field, value, "is not a user on this host") from None


def ipv4_address(value: t.Any, *, field: str) -> str:
    """A dotted-quad IPv4 address (no leading zeros, no prefix); returned unchanged."""
    if not isinstance(value, str) or not _IPV4.fullmatch(value):
        raise bad(field, value, "is not an IPv4 address such as 10.0.75.1")
    return value


def ipv4_cidr(value: t.Any, *, field: str) -> str:
    """An IPv4 address or network with a prefix length 0-32 (``10.0.75.1/24``); returned unchanged."""
    if not isinstance(value, str) or not _IPV4_CIDR.fullmatch(value):
        raise bad(field, value, "is not an IPv4 address with a /prefix such as 10.0.75.1/24")
    return value


def launchd_label(value: t.Any, *, field: str) -> str:
    """A reverse-DNS job label (``com.example.thing``), also the base name of a plist and a systemd unit."""
    if not isinstance(value, str) or not _LAUNCHD_LABEL.fullmatch(value) or ".." in value or value.endswith("."):
        raise bad(field, value, "is not a reverse-DNS label (letters, digits, '.', '_' and '-', starting with a "
                                "letter or digit, no '..', not ending with '.', at most 200 characters)")
    return value


def hosts_marker(value: t.Any, *, field: str) -> str:
    """The name in the BEGIN/END lines of a managed hosts block."""
    if not isinstance(value, str) or not _HOSTS_MARKER.fullmatch(value):
        raise bad(field, value, "must be 1-100 characters of letters, digits and . _ : @ / + - (no spaces)")
    return value


def interface_name(value: t.Any, *, field: str, allow_colon: bool = False) -> str:
    """A network interface name: 1-15 letters, digits, '_', '.', '-' (and ':' with ``allow_colon``, for a
    local interface label), starting with a letter or digit."""
    pattern = _IFNAME_COLON if allow_colon else _IFNAME
    if not isinstance(value, str) or not pattern.fullmatch(value):
        chars = "letters, digits, '_', '.', ':' or '-'" if allow_colon else "letters, digits, '_', '.' or '-'"
        raise bad(field, value, f"is not an interface name (1-15 {chars}, starting with a letter or digit)")
    return value


def abs_path(value: t.Any, *, field: str) -> str:
    """An absolute path without control characters."""
    if not isinstance(value, str) or not value.startswith("/") or _CONTROL.search(value):
        raise bad(field, value, "is not an absolute path without control characters")
    return value


def safe_path(value: t.Any, *, field: str) -> str:
    """An absolute path of letters, digits, '_', '.', '/' and '-' only (safe in a shell script and a unit)."""
    if not isinstance(value, str) or not _SAFE_PATH.fullmatch(value):
        raise bad(field, value, "is not an absolute path of letters, digits, '_', '.', '/' and '-' only")
    return value


def no_control_chars(value: t.Any, *, field: str) -> t.Any:
    """Text (or a number) without control characters (newline, tab, NUL, DEL, ...)."""
    if _CONTROL.search(str(value)):
        raise bad(field, value, "contains a control character")
    return value


def non_empty(value: t.Any, *, field: str) -> t.Any:
    if value is None or (isinstance(value, (str, list, dict)) and not value):
        raise bad(field, value, "must be set")
    return value


def integer_at_least(value: t.Any, *, field: str, minimum: int) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise bad(field, value, f"must be an integer of at least {minimum}")
    return number


def brew_formula(value: t.Any, *, field: str) -> str:
    """A Homebrew formula, ``name`` or ``user/tap/name``; no part starts with '-'."""
    if not isinstance(value, str) or not _BREW_FORMULA.fullmatch(value):
        raise bad(field, value, "is not a Homebrew formula (name or user/tap/name of letters, digits and _ . @ + -, "
                                "not starting with '-')")
    return value


def brew_tap(value: t.Any, *, field: str) -> str:
    """A Homebrew tap, ``user/repo``; no part starts with '-'."""
    if not isinstance(value, str) or not _BREW_TAP.fullmatch(value):
        raise bad(field, value, "is not a Homebrew tap (user/repo of letters, digits and _ . @ + -, "
                                "not starting with '-')")
    return value


# Every rule by name, for the Jinja tests and the invalid_fields filter: name -> function(value, *, field, **options).
RULES: dict[str, t.Callable[..., t.Any]] = {
    "abs_path": abs_path,
    "brew_formula": brew_formula,
    "brew_tap": brew_tap,
    "hostname": hostname,
    "hosts_marker": hosts_marker,
    "integer_at_least": integer_at_least,
    "interface_name": interface_name,
    "ip_address": ip_address,
    "ipv4_address": ipv4_address,
    "ipv4_cidr": ipv4_cidr,
    "launchd_label": launchd_label,
    "network": network,
    "no_control_chars": no_control_chars,
    "non_empty": non_empty,
    "safe_path": safe_path,
    "tap_name": tap_name,
}


def is_valid(rule: str, value: t.Any, **options: t.Any) -> bool:
    """Whether ``value`` passes the rule named ``rule`` (the Jinja tests)."""
    try:
        RULES[rule](value, field="value", **options)
    except HostbridgeError:
        return False
    return True


def jinja_tests(*rules: str) -> dict[str, t.Callable[..., bool]]:
    """The Jinja tests of the named rules (``plugins/test/<rule>.py``; options as each test documents them)."""

    def test_of(rule: str) -> t.Callable[..., bool]:
        def passes(value: t.Any, **options: t.Any) -> bool:
            return is_valid(rule, value, **options)

        passes.__name__ = rule
        return passes

    return {rule: test_of(rule) for rule in rules}


def _rule_specs(spec: t.Any, field: str) -> list[tuple[str, dict[str, t.Any]]]:
    """``"rule"``, ``{"rule": "name", option: value, ...}``, or a list of those, as (name, options) pairs."""
    out = []
    for item in spec if isinstance(spec, list) else [spec]:
        options = dict(item) if isinstance(item, dict) else {"rule": item}
        name = options.pop("rule", None)
        if not isinstance(name, str) or name.rstrip("?[]") not in RULES:
            raise ValueError(f"{field}: unknown rule {item!r} (known: {', '.join(sorted(RULES))})")
        out.append((name, options))
    return out


def invalid_fields(values: t.Mapping[str, t.Any], rules: t.Mapping[str, t.Any]) -> list[str]:
    """One message per field of ``values`` that breaks its rule in ``rules`` (field name -> rule spec), in the
    order of ``values``: ``"<field>: <value repr> <what the rule wants> (rule <name>)"``.

    A rule name ending in ``?`` lets an unset value (null or empty) through; ending in ``[]`` applies the rule to
    each item of a list (``field[0]``, ...) or each value of a mapping (``field[key]``). A field with a list of
    rules is reported for the first one it breaks. A field without a rule is an error of the caller."""
    problems = []
    for field, value in values.items():
        if field not in rules:
            raise ValueError(f"{field}: no rule given")
        for spec, options in _rule_specs(rules[field], field):
            name = spec.rstrip("?[]")
            if spec.endswith("[]"):
                items = (list(value.items()) if isinstance(value, t.Mapping)
                         else list(enumerate(value)) if isinstance(value, (list, tuple)) else None)
                if items is None:
                    problems.append(f"{field}: {value!r} must be a list (rule {name})")
                    break
                checked = [_check(name, f"{field}[{key}]", item, options) for key, item in items]
            else:
                optional = spec.endswith("?")
                checked = [] if optional and value in (None, "") else [_check(name, field, value, options)]
            found = [msg for msg in checked if msg]
            if found:
                problems.extend(found)
                break
    return problems


def _check(name: str, field: str, value: t.Any, options: dict[str, t.Any]) -> str | None:
    try:
        RULES[name](value, field=field, **options)
    except HostbridgeError as exc:
        return f"{exc.msg} (rule {name})"
    return None
