"""Incoherent linear ADF-STEM image formation (the Incostem model).

image = (sum_i Z_i^n delta(r - r_i)) * probe_intensity * source * thermal, done as one FFT
convolution: atoms are deposited bilinearly on the pixel grid, and the transfer function divides
out the bilinear kernel's damping so column profiles do not depend on sub-pixel position.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from stemgan.simulation.optics import ProbeDraw, probe_intensity

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def deposit_bilinear(xy_px: np.ndarray, weights: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Scatter weights at fractional pixel positions (x, y) onto a grid (bilinear, wrap-free)."""
    h, w = shape
    x0 = np.floor(xy_px[:, 0]).astype(np.int64)
    y0 = np.floor(xy_px[:, 1]).astype(np.int64)
    fx = xy_px[:, 0] - x0
    fy = xy_px[:, 1] - y0
    grid = np.zeros(h * w, dtype=np.float64)
    for dy, dx, share in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        grid += np.bincount(yy[ok] * w + xx[ok], weights=(weights * share)[ok], minlength=h * w)
    return grid.reshape(h, w)


def transfer_function(
    shape: tuple[int, int], pixel_size_A: float, probe: ProbeDraw, window_px: int, quadrature_points: int
) -> np.ndarray:
    """rfft2-layout transfer function: probe intensity x source x thermal / bilinear-kernel damping."""
    h, w = shape
    window = min(window_px, h, w)
    kernel = probe_intensity(probe, window, pixel_size_A, quadrature_points)
    embedded = np.zeros(shape, dtype=np.float32)
    half = window // 2
    shifted = np.roll(kernel, (half, half), axis=(0, 1))  # centre the probe in the window
    embedded[:window, :window] = shifted
    embedded = np.roll(embedded, (-half, -half), axis=(0, 1))  # back to the FFT origin at (0, 0)
    probe_tf = scipy.fft.rfft2(embedded, workers=-1)
    ky = scipy.fft.fftfreq(h, d=pixel_size_A)[:, None]
    kx = scipy.fft.rfftfreq(w, d=pixel_size_A)[None, :]
    sigma2 = (probe.source_fwhm_A / FWHM_PER_SIGMA) ** 2 + probe.thermal_rms_A**2
    blur = np.exp(-2.0 * np.pi**2 * sigma2 * (kx**2 + ky**2))
    bilinear = (np.sinc(kx * pixel_size_A) * np.sinc(ky * pixel_size_A)) ** 2
    return (probe_tf * blur / bilinear).astype(np.complex64)


def render_adf(
    xy_A: np.ndarray,
    weights: np.ndarray,
    shape: tuple[int, int],
    pixel_size_A: float,
    probe: ProbeDraw,
    window_px: int = 256,
    quadrature_points: int = 7,
    extra_object: np.ndarray | None = None,
) -> np.ndarray:
    """ADF image (float32, units of Z^n per column) of point scatterers at xy_A with `weights`.

    `extra_object` adds a scattering-power map (per pixel) to the object before the probe blurs it
    (amorphous contamination). The caller pads the field so circular convolution does not wrap.
    """
    obj = deposit_bilinear(xy_A / pixel_size_A, weights, shape)
    if extra_object is not None:
        obj += extra_object
    tf = transfer_function(shape, pixel_size_A, probe, window_px, quadrature_points)
    image = scipy.fft.irfft2(scipy.fft.rfft2(obj.astype(np.float32), workers=-1) * tf, s=shape, workers=-1)
    return image.astype(np.float32)
