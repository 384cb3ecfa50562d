"""Radially averaged power spectra, and the distance between two sets' spectra (a realism metric)."""

from __future__ import annotations

import numpy as np


def radial_power_spectrum(
    images: np.ndarray, pixel_size_A: float, n_bins: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(k in Å^-1, mean power) over (N, H, W) images: Hann-windowed |FFT|^2, radially averaged."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images[..., 0]
    n, h, w = images.shape
    window = np.hanning(h)[:, None] * np.hanning(w)[None, :]
    centred = (images - images.mean(axis=(1, 2), keepdims=True)) * window
    power = (np.abs(np.fft.fft2(centred)) ** 2).mean(axis=0) / (h * w)
    ky, kx = np.meshgrid(np.fft.fftfreq(h, d=pixel_size_A), np.fft.fftfreq(w, d=pixel_size_A), indexing="ij")
    kr = np.hypot(kx, ky)
    k_max = 0.5 / pixel_size_A
    n_bins = n_bins or min(h, w) // 2
    edges = np.linspace(0.0, k_max, n_bins + 1)
    which = np.digitize(kr.ravel(), edges) - 1
    ok = (which >= 0) & (which < n_bins)
    sums = np.bincount(which[ok], weights=power.ravel()[ok], minlength=n_bins)
    counts = np.bincount(which[ok], minlength=n_bins)
    return 0.5 * (edges[1:] + edges[:-1]), sums / np.maximum(counts, 1)


def spectrum_distance(
    a: np.ndarray, b: np.ndarray, pixel_size_A: float, k_band: tuple[float, float] = (0.05, 2.4)
) -> float:
    """Mean |log10 P_a(k) - log10 P_b(k)| over the band (decades): 0 for identical sets. Sets of
    different image sizes are compared on the coarser set's k bins."""
    return spectra_distance(*paired_spectra(a, b, pixel_size_A), k_band)


def paired_spectra(a: np.ndarray, b: np.ndarray, pixel_size_A: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k in Å^-1, P_a, P_b): both sets' radial power spectra on the coarser set's k bins."""
    n_bins = shared_bins(a, b)
    k, pa = radial_power_spectrum(a, pixel_size_A, n_bins)
    _, pb = radial_power_spectrum(b, pixel_size_A, n_bins)
    return k, pa, pb


def shared_bins(a: np.ndarray, b: np.ndarray) -> int:
    """Radial bins that both (N, H, W) sets resolve: half the smallest image side of either."""
    return min(np.shape(a)[1], np.shape(a)[2], np.shape(b)[1], np.shape(b)[2]) // 2


def spectra_distance(k: np.ndarray, pa: np.ndarray, pb: np.ndarray, k_band: tuple[float, float] = (0.05, 2.4)) -> float:
    """spectrum_distance of two radial power spectra on the same k bins (Å^-1)."""
    band = (k >= k_band[0]) & (k <= k_band[1])
    return float(np.mean(np.abs(np.log10(pa[band] + 1e-12) - np.log10(pb[band] + 1e-12))))
