"""Scan distortions: where on the sample the probe really was for every acquired pixel.

The field maps acquired pixel (row i, column j) to sample coordinates (px); labels move through its
inverse, so they follow the atoms exactly as the distorted image shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d, map_coordinates

from stemgan.config import ScanConfig


@dataclass(frozen=True)
class ScanField:
    """Sample positions (px, in the undistorted frame) and acquisition time (s) of every pixel."""

    x_px: np.ndarray
    y_px: np.ndarray
    time_s: np.ndarray

    @property
    def max_displacement_px(self) -> float:
        n_rows, n_cols = self.x_px.shape
        cols, rows = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
        return float(max(np.abs(self.x_px - cols).max(), np.abs(self.y_px - rows).max()))


def scan_field(size_px: int, pixel_size_A: float, scan: ScanConfig, rng: np.random.Generator) -> ScanField:
    """Drift, per-line jitter, flyback settling and mains pick-up on a raster scan."""
    rows, cols = np.meshgrid(np.arange(size_px, dtype=np.float64), np.arange(size_px, dtype=np.float64), indexing="ij")
    line_time_us = size_px * scan.dwell_us + scan.flyback_us
    time_s = (rows * line_time_us + cols * scan.dwell_us) * 1e-6
    speed = abs(scan.drift_A_per_s.draw(rng)) / pixel_size_A
    direction = rng.uniform(0.0, 2.0 * np.pi)
    jitter = rng.normal(0.0, scan.line_jitter_A / pixel_size_A, size=(size_px, 2))
    mains_phase = rng.uniform(0.0, 2.0 * np.pi)
    settle = (scan.flyback_amplitude_A / pixel_size_A) * np.exp(-cols * scan.dwell_us / scan.flyback_decay_us)
    mains = (scan.mains_amplitude_A / pixel_size_A) * np.sin(2.0 * np.pi * scan.mains_hz * time_s + mains_phase)
    x = cols + speed * np.cos(direction) * time_s + jitter[:, :1] + settle + mains
    # the slow-scan axis sees a fraction of the fast-axis jitter (coil cross-talk)
    y = rows + speed * np.sin(direction) * time_s + 0.3 * jitter[:, 1:]
    return ScanField(x, y, time_s)


def sample_positions_to_pixels(
    field: ScanField, xy_px: np.ndarray, blur_sigma_px: float = 0.0, iterations: int = 30
) -> np.ndarray:
    """Invert the field: acquired (x, y) px where sample positions xy_px (n, 2) appear.

    An atom is imaged over several scan lines, each with its own offset (jitter, mains), so it appears
    at the offsets averaged with its own intensity profile: the displacement is smoothed along the
    slow-scan axis by the atom image's Gaussian width `blur_sigma_px` before inversion. Fixed-point
    iteration then converges because the displacement changes far less than one pixel per pixel.
    """
    n_rows, n_cols = field.x_px.shape
    cols, rows = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    dx, dy = field.x_px - cols, field.y_px - rows
    if blur_sigma_px > 0:
        dx = gaussian_filter1d(dx, blur_sigma_px, axis=0, mode="nearest")
        dy = gaussian_filter1d(dy, blur_sigma_px, axis=0, mode="nearest")
    x, y = xy_px[:, 0].copy(), xy_px[:, 1].copy()
    for _ in range(iterations):
        at = np.stack([np.clip(y, 0, n_rows - 1), np.clip(x, 0, n_cols - 1)])
        x = xy_px[:, 0] - map_coordinates(dx, at, order=1, mode="nearest")
        y = xy_px[:, 1] - map_coordinates(dy, at, order=1, mode="nearest")
    return np.stack([x, y], axis=1)


def pixels_to_sample_positions(field: ScanField, xy_px: np.ndarray) -> np.ndarray:
    """Forward map (for checks): sample position seen at acquired (x, y) px."""
    at = np.stack([xy_px[:, 1], xy_px[:, 0]])
    return np.stack(
        [
            map_coordinates(field.x_px, at, order=1, mode="nearest"),
            map_coordinates(field.y_px, at, order=1, mode="nearest"),
        ],
        axis=1,
    )
