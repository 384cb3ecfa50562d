"""Labelled images: folder/images/* with folder/labels/<stem>.csv, at the working pixel size, normalised."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stemgan.config import IngestConfig, NormalizeConfig
from stemgan.data.ingest import list_images, load_working_image, rescale_labels
from stemgan.data.labels_io import check_labels_inside, read_labels
from stemgan.data.normalize import normalize_image
from stemgan.errors import fail


@dataclass
class LabelledImage:
    name: str
    image: np.ndarray  # normalised to [-1, 1]
    labels: pd.DataFrame


def load_labelled(
    folder: Path, normalize: NormalizeConfig, ingest: IngestConfig, min_size_px: int = 1
) -> list[LabelledImage]:
    """folder/images/* with folder/labels/<stem>.csv: resampled to the working pixel size, normalised."""
    folder = Path(folder)
    items = []
    for path in list_images(folder / "images"):
        working = load_working_image(path, ingest, min_size_px)
        label_file = folder / "labels" / f"{path.stem}.csv"
        if not label_file.is_file():
            raise fail(label_file, f"missing labels for {path.name}", "add the CSV or remove the image")
        original = read_labels(label_file, working.pixel_size_A / working.scale)
        check_labels_inside(original, working.original_shape, label_file)
        labels = rescale_labels(original, working.scale, working.pixel_size_A)
        items.append(LabelledImage(path.stem, normalize_image(working.image, normalize), labels))
    return items


@functools.lru_cache(maxsize=None)
def load_labelled_once(
    folder: Path, normalize: NormalizeConfig, ingest: IngestConfig, min_size_px: int = 1
) -> tuple[LabelledImage, ...]:
    """`load_labelled`, once per process for each folder and setting: for stages whose units (one per FCN) each
    score the same folders. Shared between callers, so read-only: a tuple, and no caller writes to its arrays."""
    return tuple(load_labelled(folder, normalize, ingest, min_size_px))
