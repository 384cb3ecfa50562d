"""Label CSV files: columns x_px, y_px (or x_A, y_A), optional site/column/defect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stemgan.data.files import atomic_write
from stemgan.errors import fail


def write_labels(path: Path | str, table: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.4f"))


def read_labels(path: Path | str, pixel_size_A: float | None = None) -> pd.DataFrame:
    """Read and check a label CSV; x_px/y_px are derived from x_A/y_A when only those are given."""
    path = Path(path)
    if not path.is_file():
        raise fail(path, "label file not found", "add it, or remove the image from the labelled folder")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise fail(
            path, f"not a readable CSV ({str(exc).splitlines()[0]})", "write a header row x_px,y_px[,defect]"
        ) from exc
    if {"x_px", "y_px"} - set(table.columns):
        if {"x_A", "y_A"} <= set(table.columns) and pixel_size_A:
            table["x_px"] = table["x_A"] / pixel_size_A
            table["y_px"] = table["y_A"] / pixel_size_A
        else:
            raise fail(
                path,
                f"has columns {list(table.columns)} but needs x_px and y_px (or x_A, y_A)",
                "rename the coordinate columns",
            )
    coords = table[["x_px", "y_px"]].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    if coords.isna().any().any() or not np.isfinite(coords.to_numpy()).all():
        bad = int(coords.isna().any(axis=1).sum())
        raise fail(path, f"{bad} row(s) with non-numeric or missing x_px/y_px", "fix or delete those rows")
    table[["x_px", "y_px"]] = coords
    if "defect" not in table.columns:
        table["defect"] = "defect"
    table["defect"] = table["defect"].fillna("none").astype(str)
    return table


def check_labels_inside(table: pd.DataFrame, shape: tuple[int, int], path: Path | str) -> None:
    """Labels must lie on the image (half a pixel of slack at the edges): one outside means wrong units,
    a wrong pixel size or the label file of another image, and would score as nothing to find."""
    h, w = shape
    x, y = table["x_px"].to_numpy(), table["y_px"].to_numpy()
    outside = (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)
    if outside.any():
        raise fail(
            path,
            f"{int(outside.sum())} of {len(table)} label(s) lie outside the {w}x{h} px image "
            f"(e.g. x_px {x[outside][0]:.1f}, y_px {y[outside][0]:.1f})",
            "give pixel coordinates of this image (x along the fast scan) or fix its pixel size",
        )
