"""A folder of images as one normalised stack, for the metrics and figures that compare image sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemgan.config import IngestConfig, NormalizeConfig
from stemgan.data.ingest import list_images, load_working_image
from stemgan.data.normalize import normalize_image


def load_set(folder: Path, normalize: NormalizeConfig, ingest: IngestConfig, limit: int) -> np.ndarray:
    """(n, H, W) normalised images of a folder (the first `limit`), at the working pixel size."""
    images = [normalize_image(load_working_image(p, ingest).image, normalize) for p in list_images(folder)[:limit]]
    size = min(min(i.shape) for i in images)
    return np.stack([i[:size, :size] for i in images])
