"""Probe-forming optics: electron wavelength, aberration phase, probe intensity, per-image draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from stemgan.config import OpticsConfig

ELECTRON_REST_ENERGY_KEV = 510.99895
HC_KEV_A = 12.398419843  # h*c in keV*Å


def electron_wavelength_A(voltage_kV: float) -> float:
    """Relativistic electron wavelength in Å (0.0418 Å at 80 kV)."""
    return HC_KEV_A / np.sqrt(voltage_kV * (2.0 * ELECTRON_REST_ENERGY_KEV + voltage_kV))


@dataclass(frozen=True)
class ProbeDraw:
    """The optics of one image (values drawn from OpticsConfig's distributions)."""

    voltage_kV: float
    convergence_semiangle_mrad: float
    defocus_A: float
    cs3_mm: float
    cs5_mm: float
    astigmatism_A: float
    astigmatism_angle_rad: float
    chromatic_defocus_fwhm_A: float
    source_fwhm_A: float
    thermal_rms_A: float
    z_exponent: float

    @property
    def wavelength_A(self) -> float:
        return electron_wavelength_A(self.voltage_kV)


def draw_probe(optics: OpticsConfig, rng: np.random.Generator) -> ProbeDraw:
    """One image's optics; every random number comes from `rng`."""
    return ProbeDraw(
        voltage_kV=optics.voltage_kV,
        convergence_semiangle_mrad=optics.convergence_semiangle_mrad,
        defocus_A=optics.defocus_A.draw(rng),
        cs3_mm=optics.cs3_mm.draw(rng),
        cs5_mm=optics.cs5_mm.draw(rng),
        astigmatism_A=abs(optics.astigmatism_A.draw(rng)),
        astigmatism_angle_rad=float(rng.uniform(0.0, np.pi)),
        chromatic_defocus_fwhm_A=abs(optics.chromatic_defocus_fwhm_A.draw(rng)),
        source_fwhm_A=abs(optics.source_fwhm_A.draw(rng)),
        thermal_rms_A=optics.thermal_rms_A,
        z_exponent=optics.z_exponent,
    )


def aberration_phase(kx: np.ndarray, ky: np.ndarray, probe: ProbeDraw, defocus_A: float) -> np.ndarray:
    """chi(k) in rad; positive defocus = overfocus convention C1 = -defocus (Kirkland's sign)."""
    lam = probe.wavelength_A
    k2 = kx**2 + ky**2
    phi = np.arctan2(ky, kx)
    a2 = (lam**2) * k2  # (lambda k)^2 = theta^2
    chi = (-defocus_A / 2.0) * a2
    chi = chi + (probe.cs3_mm * 1e7 / 4.0) * a2**2 + (probe.cs5_mm * 1e7 / 6.0) * a2**3
    chi = chi + (probe.astigmatism_A / 2.0) * a2 * np.cos(2.0 * (phi - probe.astigmatism_angle_rad))
    return (2.0 * np.pi / lam) * chi


def probe_intensity(probe: ProbeDraw, window_px: int, pixel_size_A: float, quadrature_points: int = 7) -> np.ndarray:
    """Probe intensity on a window_px^2 grid centred at pixel (0, 0) (FFT layout), summing to 1.

    The chromatic defocus spread is an incoherent sum over defocus values (Gauss-Hermite quadrature).
    """
    k = scipy.fft.fftfreq(window_px, d=pixel_size_A).astype(np.float64)
    kx, ky = np.meshgrid(k, k, indexing="xy")
    k_aperture = probe.convergence_semiangle_mrad * 1e-3 / probe.wavelength_A
    aperture = (kx**2 + ky**2) <= k_aperture**2
    sigma = probe.chromatic_defocus_fwhm_A / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    if sigma > 0 and quadrature_points > 1:
        nodes, weights = np.polynomial.hermite.hermgauss(quadrature_points)
        defocus = probe.defocus_A + np.sqrt(2.0) * sigma * nodes
        weights = weights / weights.sum()
    else:
        defocus, weights = np.array([probe.defocus_A]), np.array([1.0])
    chi = np.stack([aberration_phase(kx, ky, probe, df) for df in defocus])
    waves = scipy.fft.ifft2(aperture * np.exp(-1j * chi), axes=(-2, -1), workers=-1)
    intensity = np.tensordot(weights, np.abs(waves) ** 2, axes=1)
    return (intensity / intensity.sum()).astype(np.float32)


def atom_image_sigma_A(probe: ProbeDraw) -> float:
    """Gaussian width (Å) of one column's image: probe core, source size and thermal smearing."""
    fwhm_to_sigma = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return float(
        np.sqrt(
            (probe_fwhm_theory_A(probe) * fwhm_to_sigma) ** 2
            + (probe.source_fwhm_A * fwhm_to_sigma) ** 2
            + probe.thermal_rms_A**2
        )
    )


def probe_fwhm_theory_A(probe: ProbeDraw) -> float:
    """Diffraction-limited probe FWHM, 0.51 lambda / alpha (Å)."""
    return 0.51 * probe.wavelength_A / (probe.convergence_semiangle_mrad * 1e-3)
