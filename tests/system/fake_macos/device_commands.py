"""The macOS commands the tap re-apply program runs, as a Linux test meets them: ``uname``, ``id``, ``stat``,
``chown`` and ``ifconfig``, installed under their Mac paths (``/usr/bin``, ``/usr/sbin``, ``/sbin``) by
``tests/reliability/test_reapply_darwin.py`` (overlays in a private mount namespace), each with a
``#!/usr/bin/python3`` line. One script, dispatched on the name it is called by; every call is appended to
``calls.jsonl`` in the state directory. Behaviour from Apple's sources (apple-oss-distributions, the commits in
tests/fixtures/darwin/SOURCES.md), fighting back where GNU habits differ:

- ``uname`` (shell_cmds ``uname/uname.c``): ``-s`` is ``Darwin``; options ``-amnoprsv``; a GNU long option is an
  illegal option, ``usage: uname [-amnoprsv]``, exit 1.
- ``id`` (shell_cmds ``id/id.c``, ``who()``): ``id -u [user]``, ``-g``, ``-n``; the user is a name, else a
  numeric uid; neither: ``id: <user>: no such user``, exit 1.
- ``stat`` (file_cmds ``stat/stat.c``): BSD formats ``-f FORMAT``: ``%u``/``%Su``, ``%g``/``%Sg``, ``%p``
  (octal st_mode), ``%Lp``/``%Mp``/``%Hp`` (low/middle/high pieces), ``%Sp`` (``crw-rw----``), ``%N``, ``%%``,
  ``%n``, ``%t``, width and ``-`` ``0`` flags; a datum it does not know is ``stat: %X: bad format``, exit 1; the
  GNU ``-c`` is ``stat: illegal option -- c`` and the usage line, exit 1. A user or group without a name is
  ``(N)``. lstat(2) unless ``-L``; a missing file is ``stat: F: stat: No such file or directory``, exit 1.
- ``chown`` (file_cmds ``chown/chown.c``): ``owner[:group]`` or ``:group``; a name first, else a number
  (``strtoul``, so a uid without an account is accepted), else ``chown: X: illegal user name`` (``group``),
  exit 1; ``user.group`` is not split (``SUPPORT_DOT`` is not defined on macOS); ``-n`` numeric only, ``-h``
  the link itself, ``-f`` silent; a missing file ``chown: F: No such file or directory``, exit 1.
- ``ifconfig`` (network_cmds ``ifconfig.tproj``): ``ifconfig NAME`` prints the interface in the format of the
  recorded ``ifconfig tap1`` (tests/fixtures/darwin/ifconfig_tap1_open.txt); a name that does not exist is
  ``ifconfig: interface NAME does not exist``, exit 1, also when setting. ``[inet] ADDR[/LEN] [netmask M]
  [up|down] [alias]``: ``ADDR/LEN`` sets the mask (``in_getaddr``; LEN over 32 or a name: ``ifconfig: X: bad
  value``, exit 1); without ``alias`` the first address is replaced (``clearaddr``); with no mask the classful
  one (xnu ``in_ifinit``), broadcast ``subnet | ~mask``; an address does not set ``UP`` on a running interface
  (xnu ``ether_inet_prmod_ioctl``): only ``up`` does.

Names: users through this Linux machine's passwd (a uid with no entry is a removed user); groups as macOS
names them (``/etc/group`` of macOS: wheel 0, everyone 12, staff 20). What is not modelled exits 3
with ``stand-in: ... not modelled``, so a test never passes on a guess.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import stat
import sys

STATE = "@STATE@"  # replaced by the test with its state directory
MAC_GROUPS = {"wheel": 0, "everyone": 12, "staff": 20}
IFF_BITS = ["UP", "BROADCAST", "DEBUG", "LOOPBACK", "POINTOPOINT", "SMART", "RUNNING", "NOARP", "PROMISC",
            "ALLMULTI", "OACTIVE", "SIMPLEX", "LINK0", "LINK1", "LINK2", "MULTICAST"]  # ifconfig.c IFFBITS
IFF_UP = 0x1


def log(argv: list[str]) -> None:
    with open(os.path.join(STATE, "calls.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": argv}) + "\n")


def fail(name: str, message: str, rc: int = 1) -> None:
    sys.stderr.write(f"{name}: {message}\n")
    sys.exit(rc)


def not_modelled(name: str, what: str) -> None:
    fail(name, f"stand-in: {what} not modelled", 3)


def usage_exit(usage: str) -> None:
    sys.stderr.write(usage + "\n")
    sys.exit(1)


def getopt(name: str, args: list[str], options: str, usage: str) -> tuple[dict[str, str], list[str]]:
    """BSD getopt(3): clustered flags, an argument after ``x:``, stops at ``--`` or the first operand; an
    unknown option: ``NAME: illegal option -- X`` then the usage line, exit 1."""
    found: dict[str, str] = {}
    while args and args[0].startswith("-") and args[0] != "-":
        word = args.pop(0)
        if word == "--":
            break
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            at = options.find(letter)
            if at < 0 or letter == ":":
                sys.stderr.write(f"{name}: illegal option -- {letter}\n")
                usage_exit(usage)
            if options[at + 1:at + 2] == ":":
                if not letters:
                    if not args:
                        sys.stderr.write(f"{name}: option requires an argument -- {letter}\n")
                        usage_exit(usage)
                    letters = args.pop(0)
                found[letter] = letters
                letters = ""
            else:
                found[letter] = ""
    return found, args


def user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def group_name(gid: int) -> str | None:
    return next((n for n, g in MAC_GROUPS.items() if g == gid), None)


# --- uname -----------------------------------------------------------------------------------------------------
def uname(args: list[str]) -> None:
    usage = "usage: uname [-amnoprsv]"
    flags, rest = getopt("uname", args, "amnoprsv", usage)
    if rest:
        usage_exit(usage)
    fields = {"s": "Darwin", "n": "mac.test", "r": "19.6.0", "m": "x86_64", "p": "i386",
              "v": "Darwin Kernel Version 19.6.0"}
    if "o" in flags:
        not_modelled("uname", "-o")
    wanted = "snrvm" if "a" in flags else "".join(f for f in "snrvmp" if f in flags) or "s"
    print(" ".join(fields[f] for f in wanted))


# --- id ---------------------------------------------------------------------------------------------------------
def who(user: str) -> pwd.struct_passwd:
    """id.c who(): the name, else a uid that has an account; else ``id: USER: no such user``."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        pass
    if re.fullmatch(r"-?[0-9]+", user):
        try:
            return pwd.getpwuid(int(user))
        except (KeyError, OverflowError):
            pass
    fail("id", f"{user}: no such user")
    raise AssertionError


def id_(args: list[str]) -> None:
    flags, rest = getopt("id", args, "AFGMPagnpru", "usage: id [user]")
    if set(flags) - {"u", "g", "n"} or ("u" in flags) == ("g" in flags) or len(rest) > 1:
        not_modelled("id", f"id {' '.join(args)}")
    entry = who(rest[0]) if rest else pwd.getpwuid(os.geteuid())
    if "u" in flags:
        print(entry.pw_name if "n" in flags else entry.pw_uid)
    else:
        name = group_name(entry.pw_gid)
        print(name if "n" in flags and name else entry.pw_gid)


# --- stat -------------------------------------------------------------------------------------------------------
STAT_USAGE = "usage: stat [-FLnq] [-f format | -l | -r | -s | -x] [-t timefmt] [file ...]"
FORMAT = re.compile(r"%(?P<flags>[-#+ 0]*)(?P<size>[0-9]*)(?:\.(?P<prec>[0-9]*))?(?P<ofmt>[DOUXFS]?)"
                    r"(?P<hilo>[HML]?)(?P<what>.?)")
KNOWN = set("RdipAlugramcBzbkfvYTNZ")  # every datum of stat.c; those below are modelled


def stat_owner(what: str, ofmt: str, st: os.stat_result) -> str:
    """%u and %g: the number, or with S the name (``(N)`` when there is none)."""
    number = st.st_uid if what == "u" else st.st_gid
    if ofmt == "S":
        return (user_name if what == "u" else group_name)(number) or f"({number})"
    if ofmt not in ("", "D", "U"):
        not_modelled("stat", f"%{ofmt}{what}")
    return str(number)


def stat_mode(ofmt: str, hilo: str, mode: int) -> str:
    """%p: octal st_mode, or with S as ls prints it; H, M, L: the type and suid bits, the owner's, the rest."""
    if ofmt == "S":
        text = stat.filemode(mode)
        return {"H": text[1:4], "M": text[4:7], "L": text[7:10]}.get(hilo, text)
    if ofmt not in ("", "O"):
        not_modelled("stat", f"%{ofmt}p")
    return format({"H": mode >> 12, "M": (mode >> 9) & 0o7, "L": mode & 0o777}.get(hilo, mode), "o")


def stat_datum(match: re.Match[str], st: os.stat_result, path: str) -> str:
    what, ofmt, hilo, flags = match["what"], match["ofmt"], match["hilo"], match["flags"]
    if what not in KNOWN:
        fail("stat", f"{match.group(0)}: bad format")
    if set(flags) & set("#+ ") or match["prec"] is not None:
        not_modelled("stat", f"the flags of {match.group(0)}")
    if what == "N":
        text = path
    elif what in "ug":
        text = stat_owner(what, ofmt, st)
    elif what == "p":
        text = stat_mode(ofmt, hilo, st.st_mode)
    else:
        not_modelled("stat", f"%{what}")
    size = int(match["size"] or 0)
    if "-" in flags:
        return text.ljust(size)
    return text.rjust(size, "0" if "0" in flags and ofmt != "S" else " ")


def stat_(args: list[str]) -> None:
    flags, files = getopt("stat", args, "f:FlLnqrst:x", STAT_USAGE)
    if set(flags) - {"f", "L", "n", "q"} or "f" not in flags:
        not_modelled("stat", f"stat {' '.join(args)}")
    if not files:
        not_modelled("stat", "stat of stdin")
    rc = 0
    for path in files:
        try:
            st = os.stat(path) if "L" in flags else os.lstat(path)
        except OSError as exc:
            if "q" not in flags:
                sys.stderr.write(f"stat: {path}: stat: {exc.strerror}\n")
            rc = 1
            continue
        out, fmt = [], flags["f"]
        while fmt:
            if not fmt.startswith("%"):
                out.append(fmt[0])
                fmt = fmt[1:]
                continue
            simple = {"%n": "\n", "%t": "\t", "%%": "%"}.get(fmt[:2])
            if simple is not None:
                out.append(simple)
                fmt = fmt[2:]
                continue
            match = FORMAT.match(fmt)
            out.append(stat_datum(match, st, path))
            fmt = fmt[match.end():]
        text = "".join(out)
        sys.stdout.write(text if "n" in flags or text.endswith("\n") else text + "\n")
    sys.exit(rc)


# --- chown ------------------------------------------------------------------------------------------------------
def chown_id(text: str, kind: str, numeric: bool) -> int:
    """chown.c a_uid/a_gid then id(): a name (unless -n), else a number, else ``X: illegal <kind> name``."""
    if not numeric:
        if kind == "user":
            try:
                return pwd.getpwnam(text).pw_uid
            except KeyError:
                pass
        elif text in MAC_GROUPS:
            return MAC_GROUPS[text]
    if re.fullmatch(r"[0-9]+", text) and int(text) <= 0xFFFFFFFF:
        return int(text)
    fail("chown", f"{text}: illegal {kind} name")
    raise AssertionError


def chown(args: list[str]) -> None:
    usage = "usage: chown [-fhnvx] [-R [-H | -L | -P]] owner[:group] file ..."
    flags, rest = getopt("chown", args, "HLPRfhnvx", usage)
    if set(flags) - {"f", "h", "n"}:
        not_modelled("chown", f"chown {' '.join(args)}")
    if len(rest) < 2:
        sys.stderr.write(usage + "\n       chown [-fhnvx] [-R [-H | -L | -P]] :group file ...\n")
        sys.exit(1)
    owner, _colon, group = rest[0].partition(":")
    uid = chown_id(owner, "user", "n" in flags) if owner else -1
    gid = chown_id(group, "group", "n" in flags) if group else -1
    rc = 0
    for path in rest[1:]:
        try:
            (os.lchown if "h" in flags else os.chown)(path, uid, gid)
        except OSError as exc:
            if "f" not in flags:
                sys.stderr.write(f"chown: {path}: {exc.strerror}\n")
                rc = 1
    sys.exit(rc)


# --- ifconfig ---------------------------------------------------------------------------------------------------
def interfaces() -> dict[str, dict]:
    with open(os.path.join(STATE, "interfaces.json"), encoding="utf-8") as handle:
        return json.load(handle)


def dotted(number: int) -> str:
    return ".".join(str((number >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def inet_aton(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(re.fullmatch(r"[0-9]{1,3}", p) and int(p) < 256 for p in parts):
        return None  # the shorter forms inet_aton also takes are not modelled: refused as a name
    return int.from_bytes(bytes(int(p) for p in parts), "big")


def classful(address: int) -> int:
    """in.c in_ifinit: the class A, B or C mask when none was given."""
    if address >> 31 == 0:
        return 0xFF000000
    return 0xFFFF0000 if address >> 30 == 0b10 else 0xFFFFFF00


def ifconfig_status(name: str, iface: dict) -> str:
    flags = iface["flags"]
    names = ",".join(bit for n, bit in enumerate(IFF_BITS) if flags & (1 << n))
    lines = [f"{name}: flags={flags:x}<{names}> mtu {iface['mtu']}", f"\tether {iface['ether']}"]
    for text, mask in iface["inet"]:
        line = f"\tinet {text} netmask 0x{mask:x}"
        if flags & 0x2:  # IFF_BROADCAST
            line += f" broadcast {dotted((inet_aton(text) & mask) | (~mask & 0xFFFFFFFF))}"
        lines.append(line)
    lines += ["\tmedia: autoselect", "\tstatus: active"]
    if iface.get("open_pid"):
        lines.append(f"\topen (pid {iface['open_pid']})")  # tuntaposx SIOCGIFSTATUS
    return "\n".join(lines) + "\n"


def ifconfig_address(word: str) -> tuple[int, int | None]:
    """af_inet.c in_getaddr: ``ADDR`` or ``ADDR/LEN`` (the mask); a name or LEN over 32: ``X: bad value``."""
    text, slash, length = word.partition("/")
    mask = None
    if slash:
        if not re.fullmatch(r"[0-9]+", length) or int(length) > 32:
            fail("ifconfig", f"{word}: bad value")
        mask = (0xFFFFFFFF << (32 - int(length))) & 0xFFFFFFFF
    address = inet_aton(text)
    if address is None:
        fail("ifconfig", f"{word}: bad value")
    return address, mask


def ifconfig_set(iface: dict, words: list[str]) -> None:
    """``[inet] ADDR[/LEN] [netmask M] [up|down] [alias]``, applied to ``iface``."""
    if words[0] == "inet":
        words = words[1:]
    address = mask = None
    alias = False
    while words:
        word = words.pop(0)
        if word in ("up", "down"):
            iface["flags"] = iface["flags"] | IFF_UP if word == "up" else iface["flags"] & ~IFF_UP
        elif word == "alias":
            alias = True
        elif word == "netmask" and words:
            given = words.pop(0)
            mask = int(given, 16) if given.startswith("0x") else inet_aton(given)
            if mask is None:
                fail("ifconfig", f"{given}: bad value")
        elif word in NOT_MODELLED_WORDS:
            not_modelled("ifconfig", word)
        else:  # ifconfig's default command: the address
            address, length_mask = ifconfig_address(word)
            mask = length_mask if length_mask is not None else mask
    if address is None:
        if mask is not None:
            not_modelled("ifconfig", "a netmask alone")
        return
    if not alias and iface["inet"]:
        iface["inet"].pop(0)  # clearaddr: SIOCDIFADDR of the first address
    text = dotted(address)
    iface["inet"] = [a for a in iface["inet"] if a[0] != text] + [[text, classful(address) if mask is None else mask]]


NOT_MODELLED_WORDS = ("inet6", "link", "ether", "-alias", "delete", "broadcast", "netmask", "mtu", "create",
                      "destroy")


def ifconfig(args: list[str]) -> None:
    if not args or args[0].startswith("-"):
        not_modelled("ifconfig", f"ifconfig {' '.join(args)}")
    name, words = args[0], args[1:]
    state = interfaces()
    if name not in state:
        fail("ifconfig", f"interface {name} does not exist")
    if not words:
        sys.stdout.write(ifconfig_status(name, state[name]))
        return
    ifconfig_set(state[name], words)
    with open(os.path.join(STATE, "interfaces.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle)


COMMANDS = {"uname": uname, "id": id_, "stat": stat_, "chown": chown, "ifconfig": ifconfig}


if __name__ == "__main__":
    command = os.path.basename(sys.argv[0])
    log([command, *sys.argv[1:]])
    COMMANDS[command](sys.argv[1:])
