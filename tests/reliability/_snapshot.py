"""A snapshot of the host state a test may touch, as JSON: files (digest, mode, owner, link target, device
numbers) under the paths given, ``ip -o addr`` and ``ip -d -o link`` of the current network namespace, and the
TAP/TUN device nodes. Run as a script (``python _snapshot.py PATH...``) by playbooks, or imported.

Standalone on purpose: playbook tasks run it with any Python, without the collection on the path.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import subprocess
import sys
import typing as t


def files(paths: t.Iterable[str]) -> dict[str, t.Any]:
    found: dict[str, t.Any] = {}

    def one(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            found[path] = None
            return
        entry: dict[str, t.Any] = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid}
        if stat.S_ISLNK(st.st_mode):
            entry["link"] = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as handle:
                entry["sha256"] = hashlib.sha256(handle.read()).hexdigest()
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            entry["rdev"] = st.st_rdev
        elif stat.S_ISDIR(st.st_mode):
            for child in sorted(os.listdir(path)):
                one(os.path.join(path, child))
        found[path] = entry

    for path in paths:
        one(path)
    return found


def host(paths: t.Iterable[str]) -> dict[str, t.Any]:
    def run(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    return {
        "files": files([*paths, "/etc/hosts"]),
        "devices": files(sorted(["/dev/net/tun", *glob.glob("/dev/tap*")])),
        "ip_addr": run("ip", "-o", "addr"),
        "ip_link": run("ip", "-d", "-o", "link"),
    }


if __name__ == "__main__":
    print(json.dumps(host(sys.argv[1:]), sort_keys=True))
