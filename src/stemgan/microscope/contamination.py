"""Patchy amorphous carbon contamination: random carbon atoms in smooth low-frequency patches."""

from __future__ import annotations

import numpy as np
import scipy.fft

from stemgan.config import ContaminationConfig


def contamination_thickness_A(
    shape: tuple[int, int], pixel_size_A: float, cfg: ContaminationConfig, rng: np.random.Generator
) -> np.ndarray:
    """Thickness map (Å): a Gaussian random field of correlation length correlation_A, thresholded so
    that `coverage` of the area is covered, with soft patch edges."""
    if cfg.coverage <= 0:
        return np.zeros(shape)
    noise = rng.standard_normal(shape)
    ky = scipy.fft.fftfreq(shape[0], d=pixel_size_A)[:, None]
    kx = scipy.fft.rfftfreq(shape[1], d=pixel_size_A)[None, :]
    smooth = np.exp(-2.0 * np.pi**2 * cfg.correlation_A**2 * (kx**2 + ky**2))
    field = scipy.fft.irfft2(scipy.fft.rfft2(noise, workers=-1) * smooth, s=shape, workers=-1)
    field = (field - field.mean()) / (field.std() + 1e-12)
    threshold = np.quantile(field, 1.0 - min(cfg.coverage, 1.0))
    thickness = max(cfg.thickness_A.draw(rng), 0.0)
    return thickness * np.clip((field - threshold) / 0.5, 0.0, 1.0)


def contamination_object(
    shape: tuple[int, int], pixel_size_A: float, cfg: ContaminationConfig, z_exponent: float, rng: np.random.Generator
) -> np.ndarray:
    """Scattering power per pixel: Poisson number of carbon atoms in each pixel's column x Z^n."""
    thickness = contamination_thickness_A(shape, pixel_size_A, cfg, rng)
    atoms = rng.poisson(cfg.atom_density_per_A3 * thickness * pixel_size_A**2)
    return atoms * float(cfg.z) ** z_exponent
