"""FCN targets from label tables: disc masks of a radius in Å, or Gaussian heatmaps, one class each."""

from __future__ import annotations

import numpy as np
import pandas as pd


def defect_targets(
    labels: pd.DataFrame, shape: tuple[int, int], classes: tuple[str, ...], radius_px: float, kind: str = "disc"
) -> np.ndarray:
    """(H, W, 1 + len(classes)) one-hot (disc) or soft (gaussian) target; channel 0 = background.

    Each defect paints the pixels within radius_px of it; vectorised over a local window per defect.
    """
    h, w = shape
    target = np.zeros((h, w, 1 + len(classes)), dtype=np.float32)
    reach = int(np.ceil(3 * radius_px if kind == "gaussian" else radius_px)) + 1
    offsets = np.arange(-reach, reach + 1)
    dy, dx = np.meshgrid(offsets, offsets, indexing="ij")
    for c, name in enumerate(classes, start=1):  # a handful of classes
        points = labels.loc[labels.defect == name, ["x_px", "y_px"]].to_numpy()
        if len(points) == 0:
            continue
        cx, cy = np.rint(points[:, 0]).astype(int), np.rint(points[:, 1]).astype(int)
        xx, yy = cx[:, None, None] + dx, cy[:, None, None] + dy
        d2 = (xx - points[:, 0, None, None]) ** 2 + (yy - points[:, 1, None, None]) ** 2
        value = (d2 <= radius_px**2).astype(np.float32) if kind == "disc" else np.exp(-d2 / (2 * radius_px**2))
        ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        np.maximum.at(target[..., c], (yy[ok], xx[ok]), value[ok].astype(np.float32))
    target[..., 0] = np.clip(1.0 - target[..., 1:].sum(axis=-1), 0.0, 1.0)
    return target
