"""The lattice's strongest Fourier peaks: the sampling check against the material's known lattice."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from stemgan.calibration.peaks import local_maxima
from stemgan.errors import StemganError

PAD = 2  # zero-padding factor of the FFT: finer frequency bins before the sub-bin fit


def fourier_amplitude(image: np.ndarray) -> tuple[np.ndarray, int]:
    """|FFT| of the Hann-windowed image, zero-padded to PAD x the larger side, origin centred; and its size."""
    h, w = image.shape
    windowed = (image - image.mean()) * np.outer(np.hanning(h), np.hanning(w))
    n = PAD * max(h, w)
    return np.fft.fftshift(np.abs(np.fft.fft2(windowed, s=(n, n)))), n


@lru_cache(maxsize=4)
def _frequency_radius(n: int, pixel_size_A: float) -> np.ndarray:
    """|k| (Å⁻¹) of each bin of a centred n x n transform (read-only: every image of a session shares it)."""
    centre = n // 2
    ky, kx = (np.mgrid[0:n, 0:n] - centre) / (n * pixel_size_A)
    k = np.hypot(kx, ky)
    k.flags.writeable = False
    return k


def _parabola_offset(minus: float, centre: float, plus: float) -> float:
    denominator = minus - 2 * centre + plus
    return 0.0 if denominator >= 0 else 0.5 * (minus - plus) / denominator


def strongest_peak_k(image: np.ndarray, pixel_size_A: float, k_low: float, k_high: float, n_peaks: int = 12) -> float:
    """Median radius (Å⁻¹) of the brightest Fourier peaks between k_low and k_high, each refined to a fraction
    of a bin by parabolas on log-amplitude. Raises a one-line error when no lattice peak stands out."""
    amplitude, n = fourier_amplitude(image)
    centre = n // 2
    k = _frequency_radius(n, pixel_size_A)
    in_band = (k >= k_low) & (k <= k_high)
    band = np.where(in_band, amplitude, 0.0)
    peaks = local_maxima(band, 2 * PAD, num_peaks=n_peaks, exclude_border=True)
    level = np.median(amplitude[in_band])
    # a lattice, not noise: at least two pairs of strong peaks (a 2-D lattice) on the brightest peak's ring, each
    # standing out of the band's median as a lattice does (its peaks grow with the side, the median's with its root)
    stands_out = max(4.0, 8.0 * max(image.shape) / 512)
    strong = [p for p in peaks if band[tuple(p)] > 0.3 * band[tuple(peaks[0])] and band[tuple(p)] > stands_out * level]
    log = np.log(amplitude + 1e-12)
    radii = []
    for r, c in strong:
        dy = _parabola_offset(log[r - 1, c], log[r, c], log[r + 1, c])
        dx = _parabola_offset(log[r, c - 1], log[r, c], log[r, c + 1])
        radii.append(np.hypot(c + dx - centre, r + dy - centre) / (n * pixel_size_A))
    ring = [radius for radius in radii if abs(radius - radii[0]) < 0.08 * radii[0]]
    if len(ring) < 4:
        raise StemganError("no lattice peak stands out in the Fourier transform")
    return float(np.median(ring))
