"""Real public ADF-STEM images, shipped inside PyPI wheels: fetched at run time by pinned version and sha256
(`pip download --no-deps`), the image read out of the wheel. Never committed or redistributed: their packages
carry their own licences (GPL-3 for temul-toolkit and atomap)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from stemgan.errors import StemganError

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stemgan" / "wheels"


class FetchError(StemganError):
    """The wheel could not be had from the package index (no network, no such version)."""


def fetch_wheel(requirement: str, wheel: str, sha256: str, cache: Path = CACHE) -> Path:
    """The pinned wheel in `cache`, downloaded once; a file whose sha256 differs is removed (stemgan wrote it)."""
    path = Path(cache) / wheel
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # pip writes into a private folder, then the whole wheel is renamed into place: a second fetch at the
        # same time, or a killed one, never leaves or reads a half-written wheel
        with tempfile.TemporaryDirectory(prefix=".download-", dir=path.parent) as partial:
            downloaded = _pip_download(requirement, Path(partial) / wheel)
            os.replace(downloaded, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        path.unlink()
        raise StemganError(
            f"{path}: sha256 {digest[:16]}... is not the pinned {sha256[:16]}...; removed from stemgan's cache, "
            "run again to fetch it afresh (or fix real_example's sha256 if the pin changed)"
        )
    return path


def _pip_download(requirement: str, path: Path) -> Path:
    """`pip download` of one wheel into path's folder; `path` once pip has written it, else a FetchError."""
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check"]
    try:
        proc = subprocess.run(
            [*command, requirement, "-d", str(path.parent)], capture_output=True, text=True, timeout=300
        )
        reason = (proc.stderr.strip().splitlines() or ["pip wrote no wheel"])[-1][:160]
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc, reason = None, str(exc).splitlines()[0][:160]
    if proc is None or proc.returncode != 0 or not path.is_file():
        raise FetchError(
            f"{requirement}: could not be fetched from the package index ({reason}); check the network, "
            "or turn the real example off in params.yaml (real_example.examples: {})"
        )
    return path


def read_member(wheel: Path, member: str) -> bytes:
    """One file of the wheel, read in place."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)
    except KeyError as exc:
        raise StemganError(f"{wheel}: has no {member}; fix real_example's member (the path inside the wheel)") from exc
    except zipfile.BadZipFile as exc:
        raise StemganError(f"{wheel}: not a readable wheel ({exc}); remove it and run again") from exc
