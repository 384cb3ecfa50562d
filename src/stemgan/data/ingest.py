"""Experimental images from what the instrument wrote (TIFF, Gatan DM3/DM4, Velox EMD), resampled
to the working pixel size so that models trained at one sampling work on images from another."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stemgan.config import IngestConfig
from stemgan.data.tiff_io import check_image, read_tiff, sidecar_pixel_A, unit_to_A
from stemgan.errors import fail

TIFF_SUFFIXES = (".tif", ".tiff")
HYPERSPY_SUFFIXES = (".hspy", ".hdf5")  # HyperSpy's own format (older versions wrote .hdf5)
RSCIIO_SUFFIXES = (".dm3", ".dm4", ".emd", *HYPERSPY_SUFFIXES)
IMAGE_SUFFIXES = TIFF_SUFFIXES + RSCIIO_SUFFIXES


@dataclass(frozen=True)
class WorkingImage:
    """An image at the working pixel size; `scale` = working px per original px."""

    path: Path
    image: np.ndarray
    pixel_size_A: float
    scale: float
    original_shape: tuple[int, int]  # (rows, columns) of the file's own pixel grid
    original_pixel_size_A: float


def list_images(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise fail(folder, "folder not found", "create it and put the images there (see data/README.md)")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not paths:
        raise fail(folder, f"holds no {'/'.join(IMAGE_SUFFIXES)} images", "add images or point to the right folder")
    return paths


def read_any(path: Path) -> tuple[np.ndarray, float | None]:
    """(2-D float32 image, pixel size Å or None) from TIFF, DM3/DM4 or EMD."""
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        image, pixel, _ = read_tiff(path)
        return image, pixel
    if suffix in RSCIIO_SUFFIXES:
        return _read_rsciio(path)
    raise fail(path, f"unsupported file type '{suffix}'", f"use one of {', '.join(IMAGE_SUFFIXES)}")


def _read_rsciio(path: Path) -> tuple[np.ndarray, float | None]:
    """An image and its pixel size from the axes; an axis without a length unit gives none (HyperSpy files
    may store a bare scale: nm or Å cannot be told apart, so the sidecar or default must say)."""
    if path.suffix.lower() == ".emd":
        from rsciio.emd import file_reader
    elif path.suffix.lower() in HYPERSPY_SUFFIXES:
        from rsciio.hspy import file_reader
    else:
        from rsciio.digitalmicrograph import file_reader
    try:
        signals = file_reader(str(path))
    except Exception as exc:  # the readers raise many types on malformed files
        raise fail(path, f"cannot be read ({exc})", "re-export it from the acquisition software") from exc
    images = [s for s in signals if np.asarray(s["data"]).ndim == 2]
    if not images:
        raise fail(path, "holds no 2-D image", "export a single image (not a spectrum or stack)")
    signal = images[0]
    image = check_image(np.asarray(signal["data"]), path)
    axis = signal["axes"][-1]
    scale = unit_to_A(axis.get("units") or "")
    return image, (float(axis["scale"]) * scale if scale else None)


def pixel_size_A(path: Path, from_file: float | None, cfg: IngestConfig) -> float:
    """The pixel size (Å) of one image: its sidecar, else its metadata, else ingest.default_pixel_size_A.

    A metadata value outside ingest.plausible_pixel_size_A is not believed: writers put 72 dpi in TIFFs
    that carry no calibration (3.5e7 Å per pixel)."""
    low, high = cfg.plausible_pixel_size_A
    sidecar = path.with_suffix(".json").name
    fix = f'add a sidecar {sidecar} with {{"pixel_size_A": ...}} or set ingest.default_pixel_size_A in params.yaml'
    value, source = sidecar_pixel_A(path), f"its sidecar {sidecar}"
    if value is None and from_file is not None and low <= from_file <= high:
        value, source = from_file, "its metadata"
    if value is None and cfg.default_pixel_size_A is not None:
        value, source = cfg.default_pixel_size_A, "ingest.default_pixel_size_A"
    if value is None and from_file is not None:
        raise fail(
            path,
            f"its metadata give {from_file:.4g} Å per pixel, outside the plausible {low}-{high} Å of "
            "atomic-resolution STEM (ingest.plausible_pixel_size_A)",
            fix,
        )
    if value is None:
        raise fail(path, "has no pixel size in its metadata", fix)
    if not low <= value <= high:
        raise fail(
            path,
            f"{source} gives {value:.4g} Å per pixel, outside the plausible {low}-{high} Å "
            "(ingest.plausible_pixel_size_A)",
            "correct the value, or widen the range in params.yaml",
        )
    return value


def load_working_image(path: Path | str, cfg: IngestConfig, min_size_px: int = 1) -> WorkingImage:
    """Read, check and resample one experimental image to cfg.working_pixel_size_A."""
    from skimage.transform import rescale

    path = Path(path)
    original, from_file = read_any(path)
    pixel = pixel_size_A(path, from_file, cfg)
    scale = pixel / cfg.working_pixel_size_A
    if abs(scale - 1.0) > 1e-3:
        image = rescale(original, scale, order=3, anti_aliasing=scale < 1, preserve_range=True).astype(np.float32)
    else:
        image, scale = original, 1.0
    if min(image.shape) < min_size_px:
        raise fail(
            path,
            f"is {image.shape[1]}x{image.shape[0]} px at {cfg.working_pixel_size_A} Å/px, smaller than "
            f"one {min_size_px} px tile",
            "use larger images or a smaller tile.tile_size_px",
        )
    return WorkingImage(path, image, cfg.working_pixel_size_A, scale, original.shape, pixel)


def rescale_labels(labels: pd.DataFrame, scale: float, pixel_size_A: float) -> pd.DataFrame:
    """Label px coordinates after resampling by `scale` (pixel-centre aligned, as skimage resamples)."""
    out = labels.copy()
    for axis in ("x", "y"):
        out[f"{axis}_px"] = (labels[f"{axis}_px"] + 0.5) * scale - 0.5
        out[f"{axis}_A"] = out[f"{axis}_px"] * pixel_size_A
    return out
