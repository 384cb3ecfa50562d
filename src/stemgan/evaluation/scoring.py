"""Defect coordinates from probability maps, and precision/recall/F1 against labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from skimage.feature import peak_local_max

from stemgan.evaluation.matching import match_points, prf


def defect_coordinates(
    probability: np.ndarray, threshold: float, min_distance_px: int
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) px of local maxima of the defect probability above threshold, refined to a fraction of a pixel,
    and their probabilities. Every score (evaluate, Table 1) and `detect` use these same positions."""
    peaks = peak_local_max(
        probability, min_distance=max(int(min_distance_px), 1), threshold_abs=threshold, exclude_border=False
    )
    if len(peaks) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    return subpixel_peaks(probability, peaks[:, 0], peaks[:, 1]), probability[peaks[:, 0], peaks[:, 1]]


def peak_pixels(xy: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the pixels the sub-pixel peaks (x, y) fall in: where a peak's class is read."""
    h, w = shape
    return np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1), np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)


def subpixel_peaks(probability: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(x, y) of each peak refined by a parabola through it and its two neighbours along each axis (at most
    half a pixel: a coarse working grid would otherwise cost up to a whole pixel of a finer original grid)."""
    padded = np.pad(probability, 1, mode="edge")
    r, c = rows + 1, cols + 1

    def offset(minus, centre, plus):
        curvature = minus - 2 * centre + plus
        safe = np.where(curvature < 0, curvature, -1.0)
        return np.where(curvature < 0, np.clip(0.5 * (minus - plus) / safe, -0.5, 0.5), 0.0)

    dx = offset(padded[r, c - 1], padded[r, c], padded[r, c + 1])
    dy = offset(padded[r - 1, c], padded[r, c], padded[r + 1, c])
    return np.stack([cols + dx, rows + dy], axis=1).astype(np.float64)


def inside(points: np.ndarray, shape: tuple[int, int], border_px: float) -> np.ndarray:
    h, w = shape
    return (
        (points[:, 0] >= border_px)
        & (points[:, 0] <= w - 1 - border_px)
        & (points[:, 1] >= border_px)
        & (points[:, 1] <= h - 1 - border_px)
    )


@dataclass(frozen=True)
class ImageScore:
    image: str
    tp: int
    n_predicted: int
    n_true: int


def score_image(
    name: str, predicted: np.ndarray, true: np.ndarray, shape, border_px: float, radius_px: float
) -> ImageScore:
    """Both sets lose their points in the border band before matching (as the paper's 32 px)."""
    predicted = predicted[inside(predicted, shape, border_px)] if len(predicted) else predicted
    true = true[inside(true, shape, border_px)] if len(true) else true
    m = match_points(predicted, true, radius_px)
    return ImageScore(name, m.true_positives, len(predicted), len(true))


def pooled(scores: list[ImageScore]) -> dict[str, float]:
    tp, n_pred, n_true = (sum(getattr(s, k) for s in scores) for k in ("tp", "n_predicted", "n_true"))
    p, r, f = prf(tp, n_pred, n_true)
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "n_predicted": n_pred, "n_true": n_true}


def bootstrap_f1(scores: list[ImageScore], n: int, seed: int) -> tuple[float, float]:
    """95% interval of pooled F1 resampling images with replacement (resamples where F1 is undefined,
    with no true defects and no detections, are left out; NaN when every resample is)."""
    if not scores or n <= 0:
        return float("nan"), float("nan")
    counts = np.array([[s.tp, s.n_predicted, s.n_true] for s in scores], dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(scores), size=(n, len(scores)))
    tp, n_pred, n_true = counts[picks].sum(axis=1).T
    f1 = prf(tp, n_pred, n_true)[2]
    if np.isnan(f1).all():
        return float("nan"), float("nan")
    return float(np.nanpercentile(f1, 2.5)), float(np.nanpercentile(f1, 97.5))


def paired_f1_difference(a: np.ndarray, b: np.ndarray, n: int, seed: int) -> tuple[float, float, float]:
    """F1(a) - F1(b), each pooled over the same test images, and its 95% interval from resampling the images
    with replacement, the same picks for both (paired: an image that is hard for both moves neither).
    a, b: (images, 3) counts tp, n_predicted, n_true, rows in the same image order."""
    if len(a) != len(b) or not len(a):
        raise ValueError("paired_f1_difference needs counts of the same, non-empty list of images")
    picks = np.random.default_rng(seed).integers(0, len(a), size=(n, len(a)))
    f1_a, f1_b = (prf(*counts[picks].sum(axis=1).T)[2] for counts in (np.asarray(a, float), np.asarray(b, float)))
    difference = f1_a - f1_b
    point = prf(*np.asarray(a, float).sum(axis=0))[2] - prf(*np.asarray(b, float).sum(axis=0))[2]
    if np.isnan(difference).all():
        return float(point), float("nan"), float("nan")
    return float(point), float(np.nanpercentile(difference, 2.5)), float(np.nanpercentile(difference, 97.5))


def per_image_table(scores: list[ImageScore]) -> pd.DataFrame:
    rows = []
    for s in scores:
        p, r, f = prf(s.tp, s.n_predicted, s.n_true)
        rows.append(
            {
                "image": s.image,
                "tp": s.tp,
                "n_predicted": s.n_predicted,
                "n_true": s.n_true,
                "precision": p,
                "recall": r,
                "f1": f,
            }
        )
    return pd.DataFrame(rows)
