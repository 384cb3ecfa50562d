"""The calibration of one experimental set: sampling, effective Z exponent and source size (probe blur).

Each quantity is measured the same way on the user's images and on noise-free simulations of the material
(the project's own simulator), and the simulation's setting is searched on a 1-D grid until the two agree:
- sampling: the strongest lattice peak of the Fourier transform against the simulation's (the files'
  pixel size times `sampling_correction` is the true one);
- probe blur: the Gaussian width of the mean bright column, matched by the source size (source_fwhm_A);
- Z contrast: median dim/bright column intensity ratio, matched by optics.z_exponent (materials whose
  columns are all alike, such as graphene, have none).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from stemgan.calibration.columns import column_sigma_px, find_columns, sublattice_ratio
from stemgan.calibration.lattice import strongest_peak_k
from stemgan.config import MaterialConfig, Normal, OpticsConfig
from stemgan.errors import StemganError
from stemgan.seeding import item_rng
from stemgan.simulation.scene import crystal_for
from stemgan.simulation.simulate import simulate_image

SOURCE_FWHM_GRID_A = np.round(np.arange(0.4, 2.81, 0.3), 2)  # the source sizes a search may land on
Z_EXPONENT_GRID = np.round(np.arange(1.0, 3.01, 0.2), 2)  # ADF exponents from low-angle to Rutherford-like
CALIBRATION_FILE = "calibration.json"  # in a calibrate output, and beside calibrated simulations
SAMPLING_TOLERANCE = 0.2  # a file's calibration may be this far off and its lattice still be found


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` measured on a set (values with their spread over images), and the settings it found."""

    material: str
    n_images: int
    n_columns: int
    sampling_correction: float  # multiply the files' pixel size by this
    sampling_correction_std: float
    lattice_spacing_A: float  # the material's strongest spacing, from the simulation
    column_sigma_A: float  # measured on the images, at the corrected sampling
    column_sigma_A_simulated: float  # the same measurement on simulations with params' own optics
    source_fwhm_A: float  # the source size whose simulations give column_sigma_A
    source_fwhm_A_std: float
    sublattice_ratio: float | None  # dim/bright column intensity, measured
    sublattice_ratio_simulated: float | None  # with params' own z_exponent
    z_exponent: float | None  # the exponent whose simulations give sublattice_ratio
    z_exponent_std: float | None
    z_exponent_params: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Calibration:
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls)})

    def applied_to(self, optics: OpticsConfig) -> OpticsConfig:
        """params' optics with the measured source size (its spread kept) and Z exponent (where measured)."""
        source = Normal(self.source_fwhm_A, optics.source_fwhm_A.std)
        z = optics.z_exponent if self.z_exponent is None else self.z_exponent
        return dataclasses.replace(optics, source_fwhm_A=source, z_exponent=z)

    def warnings(self) -> list[str]:
        """What makes this calibration doubtful, one phrase each (empty: plausible)."""
        found = []
        if abs(self.sampling_correction - 1) > 0.1:
            found.append(
                f"the files' pixel size is off by {self.sampling_correction - 1:+.0%}: check their calibration"
            )
        if self.n_columns < 100:
            found.append(f"only {self.n_columns} columns measured")
        if not SOURCE_FWHM_GRID_A[0] < self.source_fwhm_A < SOURCE_FWHM_GRID_A[-1]:
            found.append(
                f"source size {self.source_fwhm_A:.2f} Å at the edge of the search (columns unlike the model's)"
            )
        if self.z_exponent is not None and not Z_EXPONENT_GRID[0] < self.z_exponent < Z_EXPONENT_GRID[-1]:
            found.append(
                f"Z exponent {self.z_exponent:.2f} at the edge of the search (intensity ratio unlike the model's)"
            )
        return found


def _references(
    material: MaterialConfig, name: str, optics: OpticsConfig, pixel_size_A: float, size_px: int, n: int, seed: int
) -> list[np.ndarray]:
    """Noise-free simulations of the material: the same scenes (seeded) for every setting of a search."""
    crystal = crystal_for(material, name)
    return [
        simulate_image(material, optics, size_px, pixel_size_A, item_rng(seed, "calibrate", i), crystal=crystal)[0]
        for i in range(n)
    ]


def _measure(image: np.ndarray, pixel_size_A: float, spacing_A: float) -> tuple[float, float, int]:
    """(column sigma Å, sublattice ratio, columns) of one image at the given sampling."""
    columns = find_columns(image, pixel_size_A, spacing_A)
    ratio, n = sublattice_ratio(columns.intensity)
    return column_sigma_px(image, columns) * pixel_size_A, ratio, n


def measure_columns(images: list[np.ndarray], pixel_size_A: float, spacing_A: float) -> tuple[float, float | None]:
    """Median column sigma (Å) and dim/bright ratio (None for one kind of column) of images at their sampling:
    the check that calibrated simulations show what was measured on the experiment."""
    measured = np.array([_measure(image, pixel_size_A, spacing_A)[:2] for image in images])
    ratio = np.nanmedian(measured[:, 1]) if np.isfinite(measured[:, 1]).any() else None
    return float(np.nanmedian(measured[:, 0])), None if ratio is None else float(ratio)


def monotonic_run(values: np.ndarray) -> slice:
    """The longest stretch of the curve that is strictly monotonic: where the measurement of a setting failed
    (a sublattice too dim to find, two too alike to split) the curve jumps, and a search must not land there."""
    steps = np.sign(np.diff(values))
    best, start = slice(0, 1), 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] == 0 or steps[i] != steps[start] or not np.isfinite(values[i + 1]):
            if steps[start] != 0 and i + 1 - start > best.stop - best.start:
                best = slice(start, i + 1)
            start = i
    return best


def _invert(grid: np.ndarray, values: np.ndarray, target: float) -> float:
    """The grid setting whose (monotonic, interpolated) measured value equals target, clipped to the valid part
    of the grid."""
    run = monotonic_run(values)
    grid, values = grid[run], values[run]
    order = np.argsort(values)
    return float(np.interp(target, values[order], grid[order]))


def calibrate(
    images: list[np.ndarray],
    pixel_size_A: float,
    material: MaterialConfig,
    name: str,
    optics: OpticsConfig,
    seed: int = 0,
    reference_size_px: int = 384,
    n_references: int = 2,
) -> Calibration:
    """Calibrate the simulation to `images` (normalised, at `pixel_size_A` by the files' own calibration)."""
    fixed = dataclasses.replace(optics, source_fwhm_A=Normal(optics.source_fwhm_A.mean, 0.0))

    def refs(pixel: float, **changes):
        return _references(
            material, name, dataclasses.replace(fixed, **changes), pixel, reference_size_px, n_references, seed
        )

    k_ref = float(np.median([strongest_peak_k(r, pixel_size_A, 0.1, 1.5) for r in refs(pixel_size_A)]))
    spacing = 1.0 / k_ref
    corrections = []
    for image in images:
        try:
            k = strongest_peak_k(
                image, pixel_size_A, k_ref * (1 - SAMPLING_TOLERANCE), k_ref * (1 + SAMPLING_TOLERANCE)
            )
            corrections.append(k / k_ref)
        except StemganError:
            continue
    if not corrections:
        raise StemganError(
            f"no {name} lattice (spacing {spacing:.2f} Å within {SAMPLING_TOLERANCE:.0%}) in any of "
            f"the {len(images)} images: wrong material, an amorphous area, or a pixel size that is off "
            "by more than that"
        )
    correction = float(np.median(corrections))
    true_pixel = pixel_size_A * correction  # from here on, references are simulated at the images' true sampling
    baseline = [_measure(r, true_pixel, spacing) for r in refs(true_pixel)]  # params' own optics, measured once
    measured = [_measure(image, true_pixel, spacing) for image in images]
    sigma_exp = float(np.nanmedian([m[0] for m in measured]))
    ratios = np.array([m[1] for m in measured])
    n_columns = int(sum(m[2] for m in measured))

    def sigma_of(references):
        return float(np.nanmedian([_measure(r, true_pixel, spacing)[0] for r in references]))

    sigma_curve = np.array(
        [sigma_of(refs(true_pixel, source_fwhm_A=Normal(float(s), 0.0))) for s in SOURCE_FWHM_GRID_A]
    )
    per_image_source = [_invert(SOURCE_FWHM_GRID_A, sigma_curve, m[0]) for m in measured if np.isfinite(m[0])]
    source = _invert(SOURCE_FWHM_GRID_A, sigma_curve, sigma_exp)
    single_sublattice = len(np.unique(crystal_for(material, name).counts, axis=0)) < 2
    z, z_std, ratio_exp, ratio_before = None, None, None, None
    if not single_sublattice and np.isfinite(ratios).any():
        ratio_exp = float(np.nanmedian(ratios))
        calibrated = Normal(source, 0.0)

        def ratio_of(references):
            return float(np.nanmedian([_measure(r, true_pixel, spacing)[1] for r in references]))

        ratio_curve = np.array(
            [ratio_of(refs(true_pixel, source_fwhm_A=calibrated, z_exponent=float(n))) for n in Z_EXPONENT_GRID]
        )
        z = _invert(Z_EXPONENT_GRID, ratio_curve, ratio_exp)
        z_std = float(np.std([_invert(Z_EXPONENT_GRID, ratio_curve, r) for r in ratios[np.isfinite(ratios)]]))
        ratio_before = float(np.nanmedian([m[1] for m in baseline]))
    return Calibration(
        material=name,
        n_images=len(images),
        n_columns=n_columns,
        sampling_correction=correction,
        sampling_correction_std=float(np.std(corrections)),
        lattice_spacing_A=spacing,
        column_sigma_A=sigma_exp,
        column_sigma_A_simulated=float(np.nanmedian([m[0] for m in baseline])),
        source_fwhm_A=source,
        source_fwhm_A_std=float(np.std(per_image_source)) if per_image_source else float("nan"),
        sublattice_ratio=ratio_exp,
        sublattice_ratio_simulated=ratio_before,
        z_exponent=z,
        z_exponent_std=z_std,
        z_exponent_params=optics.z_exponent,
    )
