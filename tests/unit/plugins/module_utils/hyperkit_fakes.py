"""Fabricated Docker.app bundles for the hyperkit_shim tests (shared by the module_utils and module tests)."""

from __future__ import annotations

import hashlib
import os
import typing as t
from pathlib import Path

from ansible_collections.dockermac.hostbridge.plugins.module_utils._hyperkit import LAYOUTS
from ansible_collections.dockermac.hostbridge.plugins.module_utils._shim_template import render_shim

MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01\x03\x00\x00\x00"  # 64-bit x86_64 Mach-O header start


def fake_binary(tag: str, size: int = 300_000) -> bytes:
    """Bytes that look like a Mach-O hyperkit (never a script), distinct per ``tag``."""
    block = hashlib.sha256(tag.encode()).digest() * (size // 32 + 1)
    return MACHO + block[: size - len(MACHO)]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeBundle:
    """``<root>/<name>`` with hyperkit in one of the three layouts (0: 17.03, 1: 17.04-17.12, 2: 18.03 on)."""

    def __init__(self, root: Path, *, layout: int = 2, name: str = "Docker Desktop.app", binary: bytes | None = None,
                 mode: int = 0o755) -> None:
        self.app = root / name
        self.hyperkit = self.app / LAYOUTS[layout][1]
        self.real = Path(str(self.hyperkit) + ".real")
        self.hyperkit.parent.mkdir(parents=True, exist_ok=True)
        (self.app / "Contents" / "Info.plist").write_text("<plist><dict></dict></plist>\n")
        self.original = fake_binary("original") if binary is None else binary
        self.hyperkit.write_bytes(self.original)
        self.hyperkit.chmod(mode)
        self.original_inode = self.hyperkit.stat().st_ino

    @property
    def bindir(self) -> Path:
        return self.hyperkit.parent

    def params(self, **overrides: t.Any) -> dict[str, t.Any]:
        args = {"app_path": str(self.app), "user": None, "tap_device": "tap1", "slot": "after_vpnkit",
                "state": "present", "backup": False}
        args.update(overrides)
        return args

    def shim_text(self, *, tap: str = "tap1", slot: str = "after_vpnkit", real_sha: str | None = None) -> str:
        return render_shim(tap=tap, slot=slot, real_name=self.real.name, real_sha256=real_sha or sha(self.original))

    def make_installed(self, **kwargs: t.Any) -> None:
        """The state our module leaves (built by hand, so tests of later states do not depend on install)."""
        os.link(self.hyperkit, self.real)
        tmp = self.bindir / "shim.tmp"
        tmp.write_text(self.shim_text(**kwargs))
        tmp.chmod(0o755)
        tmp.replace(self.hyperkit)

    def docker_update(self, tag: str = "new") -> bytes:
        """What Docker Desktop's updater does to files in place: a new real binary where the shim was."""
        new = fake_binary(tag)
        tmp = self.bindir / "update.tmp"
        tmp.write_bytes(new)
        tmp.chmod(0o755)
        tmp.replace(self.hyperkit)
        return new

    def files(self) -> dict[str, bytes]:
        """Every file in the bin folder and its bytes."""
        return {p.name: p.read_bytes() for p in sorted(self.bindir.iterdir())}

    def temps(self) -> list[str]:
        return [name for name in self.files() if name.endswith(".hostbridge.tmp")]


def apple_silicon_bundle(root: Path) -> Path:
    """A Docker.app as on Apple Silicon: the cask links com.docker.hyperkit only `on_intel` (Homebrew/homebrew-cask
    Casks/d/docker-desktop.rb), so the bin folder has the other binaries the cask links and no hyperkit."""
    app = root / "Docker.app"
    bindir = app / "Contents" / "Resources" / "bin"
    bindir.mkdir(parents=True)
    (app / "Contents" / "MacOS").mkdir()
    (app / "Contents" / "Info.plist").write_text("<plist><dict></dict></plist>\n")
    for name in ("docker", "docker-credential-desktop", "docker-credential-osxkeychain", "hub-tool", "kubectl"):
        (bindir / name).write_bytes(fake_binary(name, 4096))
    return app


def tree(root: Path) -> dict[str, tuple[int, int, bytes | None]]:
    """Every path under ``root`` with its mode, mtime and bytes: to prove nothing was touched."""
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.lstat().st_mtime_ns,
                                       p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}
