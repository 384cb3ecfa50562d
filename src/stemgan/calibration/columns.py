"""Atom columns of an ADF image: positions, background-subtracted intensities, sublattice ratio, and width."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi
from scipy.optimize import curve_fit
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu

from stemgan.calibration.peaks import local_maxima

BLOB_A = 0.4  # width (Å) of the blob filter that finds columns: about an ADF column's
SMOOTH_A = 0.25  # Gaussian smoothing before peak finding and intensity reading: shot noise down, columns kept


@dataclass(frozen=True)
class Columns:
    xy_px: np.ndarray  # (n, 2) sub-pixel positions, x then y
    intensity: np.ndarray  # background-subtracted, smoothed peak value
    neighbour_px: float  # median nearest-column distance


def local_background(smoothed: np.ndarray, spacing_px: float) -> np.ndarray:
    """A smooth floor under the columns: the minimum over about one lattice spacing, then blurred (contamination
    and detector offset differ across an image; the same floor is taken off simulations and experiment)."""
    floor = ndi.minimum_filter(smoothed, size=max(int(round(1.2 * spacing_px)), 3))
    return ndi.gaussian_filter(floor, spacing_px)


def find_columns(image: np.ndarray, pixel_size_A: float, spacing_A: float) -> Columns:
    """Local maxima at least a quarter lattice spacing apart (peak_local_max suppresses within a square, whose
    corners reach into a brighter neighbour's core at larger distances), away from the border, refined by a 3x3
    centroid."""
    spacing_px = spacing_A / pixel_size_A
    smoothed = ndi.gaussian_filter(image.astype(np.float64), SMOOTH_A / pixel_size_A)
    signal = smoothed - local_background(smoothed, spacing_px)
    border = int(np.ceil(2 * spacing_px))
    # found on the blob response (-Laplacian of Gaussian at a column's width): a dim column on a bright
    # neighbour's tail is a shoulder, not a maximum, of the image, but a maximum of this response
    blobs = -ndi.gaussian_laplace(image.astype(np.float64), BLOB_A / pixel_size_A)
    peaks = local_maxima(blobs, max(int(0.25 * spacing_px), 1), threshold_rel=0.05, exclude_border=border)
    if len(peaks) < 8:
        return Columns(np.zeros((0, 2)), np.zeros(0), float("nan"))
    window = np.stack([signal[peaks[:, 0] + dy, peaks[:, 1] + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=1)
    weights = np.clip(window - window.min(axis=1, keepdims=True), 0, None) + 1e-12
    offsets = np.array([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.float64)
    xy = peaks[:, ::-1] + (weights @ offsets) / weights.sum(axis=1, keepdims=True)
    distance, _ = cKDTree(xy).query(xy, k=2)
    neighbour = float(np.median(distance[:, 1]))
    return Columns(xy, disc_means(signal, xy, 0.25 * neighbour), neighbour)


def sample_around(image: np.ndarray, xy_px: np.ndarray, radius_px: float, step_px: float):
    """Bilinear samples of `image` on a square grid (spacing step_px, half-width radius_px) centred on each
    sub-pixel position: (values (n, G, G), grid x offsets (G, G), grid y offsets (G, G))."""
    grid = np.arange(-radius_px, radius_px + step_px / 2, step_px)
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    coords = np.stack([xy_px[:, 1, None, None] + gy, xy_px[:, 0, None, None] + gx])  # (2, n, G, G)
    values = ndi.map_coordinates(image.astype(np.float64), coords.reshape(2, -1), order=1)
    return values.reshape(coords.shape[1:]), gx, gy


def disc_means(signal: np.ndarray, xy_px: np.ndarray, radius_px: float) -> np.ndarray:
    """Mean of `signal` within radius_px of each sub-pixel position: read at a noisy maximum, a dim column
    would look brighter than it is (the maximum of noise is biased up); a disc mean is not."""
    values, gx, gy = sample_around(signal, xy_px, radius_px, 0.5)
    return values[:, np.hypot(gx, gy) <= radius_px].mean(axis=1)


def sublattice_ratio(intensity: np.ndarray) -> tuple[float, int]:
    """Median of the dimmer columns over median of the brighter ones (split by Otsu's threshold), and the
    number of columns used. Medians keep vacancies and contamination from moving it."""
    if len(intensity) < 8:
        return float("nan"), 0
    split = threshold_otsu(intensity)
    low, high = intensity[intensity <= split], intensity[intensity > split]
    if len(low) < 4 or len(high) < 4:
        return float("nan"), 0
    return float(np.median(low) / np.median(high)), int(len(intensity))


def _gaussian_plus_floor(r, amplitude, sigma, floor):
    return amplitude * np.exp(-(r**2) / (2 * sigma**2)) + floor


def column_sigma_px(image: np.ndarray, columns: Columns, bright_only: bool = True) -> float:
    """Gaussian sigma (px) of the mean column profile: columns averaged at their sub-pixel positions, fitted
    within 0.45 nearest-neighbour distances (the neighbours' tails are the same in simulation and experiment)."""
    if len(columns.intensity) < 8:
        return float("nan")
    chosen = columns.xy_px
    if bright_only:
        chosen = chosen[columns.intensity > threshold_otsu(columns.intensity)]
    radius = 0.45 * columns.neighbour_px
    patches, gx, gy = sample_around(image, chosen, radius, 0.25)
    mean = patches.mean(axis=0)
    r = np.hypot(gx, gy).ravel()
    inside = r <= radius
    try:
        (_, sigma, _), _ = curve_fit(
            _gaussian_plus_floor,
            r[inside],
            mean.ravel()[inside],
            p0=(mean.max() - mean.min(), radius / 3, mean.min()),
            maxfev=5000,
        )
    except RuntimeError:
        return float("nan")
    return float(abs(sigma))
