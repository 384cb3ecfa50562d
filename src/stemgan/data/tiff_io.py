"""TIFF images with their pixel size (Å): written by the simulator/microscope, read from users."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import tifffile

from stemgan.data.files import atomic_write
from stemgan.errors import fail

# µ: the micro sign (U+00B5) and the Greek mu (U+03BC) both occur in instrument files
_UNIT_TO_A = {
    "a": 1.0,
    "å": 1.0,
    "angstrom": 1.0,
    "nm": 10.0,
    "pm": 0.01,
    "um": 1e4,
    "\u00b5m": 1e4,
    "\u03bcm": 1e4,
    "micron": 1e4,
}


def write_tiff(path: Path | str, image: np.ndarray, pixel_size_A: float, metadata: dict | None = None) -> Path:
    """Write a 2-D image; pixel size goes in the JSON description and the resolution tags (cm)."""
    meta = {"pixel_size_A": float(pixel_size_A), **(metadata or {})}
    per_cm = 1e8 / pixel_size_A

    def write(tmp: Path) -> None:
        tifffile.imwrite(tmp, image, metadata=meta, resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")

    return atomic_write(path, write)


def read_tiff(path: Path | str) -> tuple[np.ndarray, float | None, dict]:
    """A 2-D float32 image, its pixel size in Å from the file (None when it does not say), and its metadata.

    A sidecar `<name>.json` is read by `pixel_size_A` in data/ingest.py, for every file format."""
    path = Path(path)
    if not path.is_file():
        raise fail(path, "file not found", "check the path")
    try:
        with tifffile.TiffFile(path) as tif:
            image = tif.asarray()
            page = tif.pages[0]
            meta = dict(tif.shaped_metadata[0]) if tif.shaped_metadata else {}
            imagej = tif.imagej_metadata or {}
            resolution = _resolution(page)
    except (tifffile.TiffFileError, ValueError, OSError, KeyError, IndexError) as exc:
        raise fail(path, f"not a readable TIFF ({exc})", "re-export it as a single-channel TIFF") from exc
    image = check_image(np.squeeze(image), path)
    pixel = meta.get("pixel_size_A") or _pixel_size_from_tags(resolution, imagej)
    return image, (float(pixel) if pixel else None), meta


def check_image(image: np.ndarray, path) -> np.ndarray:
    """Reject what is not one grayscale frame of finite numbers; return float32."""
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        raise fail(path, f"is an RGB/RGBA image {image.shape}", "export the raw single-channel detector image")
    if image.ndim != 2:
        raise fail(path, f"is {image.ndim}-D with shape {image.shape}", "save one 2-D frame per file (split stacks)")
    if image.dtype.kind not in "uif":
        raise fail(path, f"has pixel type {image.dtype}", "save integer or float pixels")
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise fail(path, f"contains {int((~np.isfinite(image)).sum())} NaN/Inf pixels", "fix or crop them out")
    return image


def _resolution(page) -> tuple[float, int] | None:
    """(pixels per unit, TIFF ResolutionUnit code) or None."""
    tags = page.tags
    if "XResolution" not in tags:
        return None
    num, den = tags["XResolution"].value
    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    return (num / den, unit) if num and den else None


def _pixel_size_from_tags(resolution: tuple[float, int] | None, imagej: dict) -> float | None:
    """ImageJ: 'unit' in its description, pixels per unit in the tag; else TIFF inch (2) / cm (3)."""
    if resolution is None:
        return None
    per_unit, code = resolution
    # ImageJ's description is ASCII: it writes Å, µ and μ as \uXXXX escapes
    unit = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), str(imagej.get("unit", "")))
    scale = unit_to_A(unit)
    if scale:
        return scale / per_unit
    if code in (2, 3):
        return (2.54e8 if code == 2 else 1e8) / per_unit
    return None


def sidecar_pixel_A(path: Path) -> float | None:
    """A '<name>.json' next to the image with {"pixel_size_A": ...}: the user's word on the pixel size."""
    sidecar = Path(path).with_suffix(".json")
    if not sidecar.is_file():
        return None
    fix = 'write {"pixel_size_A": <Å per pixel, a positive number>}'
    try:
        value = json.loads(sidecar.read_text())["pixel_size_A"]
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(sidecar, f"unreadable sidecar ({exc})", fix) from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise fail(sidecar, f"pixel_size_A is {value!r}, not a positive number of Å per pixel", fix)
    return float(value)


def unit_to_A(unit: str) -> float | None:
    return _UNIT_TO_A.get(str(unit).strip().lower())
