"""Label preservation: are the labelled atom columns still where the labels say, after translation?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from skimage.feature import peak_local_max

from stemgan.evaluation.matching import match_points


@dataclass(frozen=True)
class Preservation:
    mean_shift_pm: float
    p95_shift_pm: float
    fraction_found: float
    n_columns: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {
            f"{prefix}mean_shift_pm": self.mean_shift_pm,
            f"{prefix}p95_shift_pm": self.p95_shift_pm,
            f"{prefix}fraction_found": self.fraction_found,
        }


def find_columns(image: np.ndarray, min_separation_px: int) -> np.ndarray:
    """Bright atom columns: local maxima refined to sub-pixel by a 3x3 intensity centroid; (x, y) px."""
    peaks = peak_local_max(
        image, min_distance=max(min_separation_px, 1), exclude_border=1, threshold_abs=float(np.percentile(image, 50))
    )
    if len(peaks) == 0:
        return np.zeros((0, 2))
    offsets = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    rows = peaks[:, None, 0] + offsets[None, :, 0]
    cols = peaks[:, None, 1] + offsets[None, :, 1]
    values = image[rows, cols] - image[rows, cols].min(axis=1, keepdims=True)
    weight = values.sum(axis=1) + 1e-12
    y = (rows * values).sum(axis=1) / weight
    x = (cols * values).sum(axis=1) / weight
    return np.stack([x, y], axis=1)


def column_preservation(
    images: list[np.ndarray],
    labels: list[pd.DataFrame],
    pixel_size_A: float,
    min_separation_A: float,
    match_radius_A: float,
    border_px: int = 4,
) -> Preservation:
    """Shift (pm) between labelled non-empty columns and columns found in the images; fraction found."""
    shifts, found, total = [], 0, 0
    for image, table in zip(images, labels):  # per image, each vectorised inside
        h, w = image.shape
        keep = (
            (table.column != "empty")
            & table.x_px.between(border_px, w - 1 - border_px)
            & table.y_px.between(border_px, h - 1 - border_px)
        )
        truth = table.loc[keep, ["x_px", "y_px"]].to_numpy()
        detected = find_columns(image, int(round(min_separation_A / pixel_size_A)))
        matches = match_points(detected, truth, match_radius_A / pixel_size_A)
        shifts.append(matches.distance * pixel_size_A * 100.0)
        found += matches.true_positives
        total += len(truth)
    all_shifts = np.concatenate(shifts) if shifts else np.array([])
    if len(all_shifts) == 0:
        return Preservation(float("nan"), float("nan"), 0.0, total)
    return Preservation(float(all_shifts.mean()), float(np.percentile(all_shifts, 95)), found / max(total, 1), total)
