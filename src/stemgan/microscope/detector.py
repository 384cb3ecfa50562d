"""The ADF detector chain: electrons (shot noise) -> lag -> gain flicker -> gain/offset/read noise -> ADC."""

from __future__ import annotations

import numpy as np
import scipy.signal

from stemgan.config import DetectorConfig


def detect(
    signal: np.ndarray,
    crystal_mean_signal: float,
    time_s: np.ndarray,
    pixel_size_A: float,
    cfg: DetectorConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict]:
    """Stored detector values (uint16 for bit_depth <= 16) and the draws that made them.

    Mean electrons per pixel = dose x pixel area x collection fraction, scaled by the signal relative
    to the clean crystal's mean signal (contamination then scatters extra electrons on top).
    """
    dose = max(cfg.dose_e_per_A2.draw(rng), 0.0)
    electrons_at_mean = dose * pixel_size_A**2 * cfg.adf_collection_fraction
    mains_phase = rng.uniform(0.0, 2.0 * np.pi)
    expected = np.clip(signal, 0.0, None) * (electrons_at_mean / crystal_mean_signal)
    expected *= 1.0 + cfg.mains_intensity_fraction * np.sin(2.0 * np.pi * 50.0 * time_s + mains_phase)
    electrons = rng.poisson(expected).astype(np.float64)
    if cfg.lag_px > 0:  # slow scintillator/PMT decay smears each pixel into the next along the fast scan
        a = np.exp(-1.0 / cfg.lag_px)
        zi = scipy.signal.lfilter_zi([1 - a], [1, -a])[None, :] * electrons[:, :1]
        electrons = scipy.signal.lfilter([1 - a], [1, -a], electrons, axis=1, zi=zi)[0]
    line_gain = 1.0 + rng.normal(0.0, cfg.line_gain_std, size=(signal.shape[0], 1))
    adu = cfg.gain_adu_per_e * electrons * line_gain + cfg.offset_adu
    adu += rng.normal(0.0, cfg.read_noise_adu, size=signal.shape)
    top = 2**cfg.bit_depth - 1
    stored = np.clip(np.rint(adu), 0, top)
    dtype = np.uint16 if cfg.bit_depth <= 16 else np.uint32
    return stored.astype(dtype), {"dose_e_per_A2": dose, "electrons_per_px_at_mean": electrons_at_mean}
