"""Label tables: one row per atom column (pristine site, actual composition, defect), px and Å."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stemgan.simulation.structures import column_names

LABEL_COLUMNS = ["x_px", "y_px", "x_A", "y_A", "site", "column", "defect"]


def label_table(
    xy_px: np.ndarray,
    pixel_size_A: float,
    site_counts: np.ndarray,
    counts: np.ndarray,
    defect: np.ndarray,
    species: tuple[str, ...],
) -> pd.DataFrame:
    """Pixel centres sit at integer px; 0 Å is the centre of pixel 0."""
    return pd.DataFrame(
        {
            "x_px": xy_px[:, 0].astype(np.float64),
            "y_px": xy_px[:, 1].astype(np.float64),
            "x_A": xy_px[:, 0] * pixel_size_A,
            "y_A": xy_px[:, 1] * pixel_size_A,
            "site": column_names(site_counts, species),
            "column": column_names(counts, species),
            "defect": defect.astype(str),
        },
        columns=LABEL_COLUMNS,
    )


def inside_field(xy_px: np.ndarray, size_px: int) -> np.ndarray:
    """Columns whose centre lies on the image (within half a pixel of its edge pixels)."""
    return np.all((xy_px >= -0.5) & (xy_px < size_px - 0.5), axis=1)
