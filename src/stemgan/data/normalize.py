"""The one intensity normalisation every stage uses (simulated, generated and experimental alike)."""

from __future__ import annotations

import numpy as np

from stemgan.config import NormalizeConfig
from stemgan.errors import StemganError


def normalize_image(image: np.ndarray, cfg: NormalizeConfig) -> np.ndarray:
    """Map an image to [-1, 1] (the generators' tanh range).

    percentile: low/high percentiles -> -1/1, clipped (robust: a few hot pixels or noise outliers
    cannot squeeze the lattice contrast); minmax: the paper's per-image min-max scaling.
    """
    image = np.asarray(image, dtype=np.float32)
    if cfg.method == "percentile":
        lo, hi = np.percentile(image, [cfg.low_percentile, cfg.high_percentile])
    elif cfg.method == "minmax":
        lo, hi = float(image.min()), float(image.max())
    else:
        raise StemganError(f"params.yaml: normalize.method '{cfg.method}' unknown; use percentile or minmax")
    if hi <= lo:
        return np.zeros_like(image)
    return np.clip(2.0 * (image - lo) / (hi - lo) - 1.0, -1.0, 1.0).astype(np.float32)
