"""Defects found by an FCN in one image: positions on the file's own pixel grid, in Å, class and probability."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stemgan.config import ScoringConfig
from stemgan.data.ingest import WorkingImage
from stemgan.evaluation.evaluate import class_probabilities
from stemgan.evaluation.scoring import defect_coordinates, peak_pixels

COLUMNS = ["x_px", "y_px", "x_A", "y_A", "defect", "probability"]


def detect_defects(
    model,
    working: WorkingImage,
    normalised: np.ndarray,
    classes: tuple[str, ...],
    scoring: ScoringConfig,
    threshold: float,
    multiple: int,
) -> pd.DataFrame:
    """One row per defect: peaks of the summed defect probability (at the working sampling, as in training),
    each given the most probable class there, mapped back to the original pixel grid (pixel-centre aligned,
    the inverse of the resampling) and to Å (0 at the centre of pixel 0)."""
    probabilities = class_probabilities(model, normalised, multiple, scoring)
    total = probabilities[..., 1:].sum(axis=-1)
    min_distance = int(round(scoring.min_distance_A / working.pixel_size_A))
    xy, probability = defect_coordinates(total, threshold, min_distance)
    if not len(xy):
        return pd.DataFrame({c: pd.Series(dtype=float if c != "defect" else str) for c in COLUMNS})
    rows, cols = peak_pixels(xy, total.shape)
    kind = np.asarray(classes)[probabilities[rows, cols, 1:].argmax(axis=-1)]
    original = (xy + 0.5) / working.scale - 0.5
    h, w = working.original_shape  # the resampled grid is rounded to whole pixels: stay on the file's own extent
    original = np.clip(original, -0.5, [w - 0.5, h - 0.5])
    return pd.DataFrame(
        {
            "x_px": original[:, 0],
            "y_px": original[:, 1],
            "x_A": original[:, 0] * working.original_pixel_size_A,
            "y_A": original[:, 1] * working.original_pixel_size_A,
            "defect": kind,
            "probability": probability,
        }
    )


def summary_row(name: str, working: WorkingImage, detections: pd.DataFrame, classes: tuple[str, ...]) -> dict:
    """Image, pixel size, field of view (nm²), count and density (per nm²) per class."""
    h, w = working.original_shape
    area_nm2 = h * w * (working.original_pixel_size_A / 10.0) ** 2
    row = {
        "image": name,
        "pixel_size_A": working.original_pixel_size_A,
        "width_px": w,
        "height_px": h,
        "field_of_view_nm2": area_nm2,
        "defects": len(detections),
        "density_per_nm2": len(detections) / area_nm2,
    }
    for kind in classes:
        count = int((detections.defect == kind).sum())
        row[f"{kind}_count"] = count
        row[f"{kind}_per_nm2"] = count / area_nm2
    return row
