"""One random field of view of a crystal: orientation, offset, defects; then its ADF image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from stemgan.config import MaterialConfig, OpticsConfig
from stemgan.simulation.defects import apply_defects, check_rules
from stemgan.simulation.incostem import render_adf
from stemgan.simulation.optics import ProbeDraw
from stemgan.simulation.structures import ColumnCrystal, project_columns, unit_cell

# Margin rendered around the field so circular convolution never wraps and edge columns still get
# their neighbours' probe tails (32 px = 6.6 Å at 0.2074 Å/px, beyond the probe's tails).
EDGE_PAD_PX = 32


@dataclass(frozen=True)
class Scene:
    """Columns of one field of view: xy (n, 2) Å in the padded frame, counts (n, S), defect names."""

    xy_A: np.ndarray
    counts: np.ndarray
    defect: np.ndarray
    site_counts: np.ndarray
    crystal: ColumnCrystal
    rotation_deg: float

    def weights(self, z_exponent: float) -> np.ndarray:
        """Scattering power of each column, sum over its atoms of Z^n (Incostem's linear model)."""
        return self.counts @ (self.crystal.atomic_numbers**z_exponent)


def crystal_for(material: MaterialConfig, where: str) -> ColumnCrystal:
    """The material's projected unit cell, with every defect substituent species present."""
    crystal = project_columns(unit_cell(material, where), material.n_cells_thick)
    crystal = crystal.with_species([r.substitute for r in material.defects if r.substitute])
    check_rules(material.defects, crystal.species, where)
    return crystal


def draw_scene(
    crystal: ColumnCrystal,
    material: MaterialConfig,
    extent_A: tuple[float, float],
    rng: np.random.Generator,
    random_orientation: bool,
) -> Scene:
    from stemgan.simulation.structures import tile_columns

    rotation = float(rng.uniform(0.0, 360.0)) if random_orientation else 0.0
    offset = rng.random(2) @ crystal.lattice_A
    xy, site_counts = tile_columns(crystal, extent_A, np.deg2rad(rotation), offset)
    counts, defect = apply_defects(site_counts, crystal.species, material.defects, rng)
    return Scene(xy, counts, defect, site_counts, crystal, rotation)


def padded_shape(size_px: int, pad_px: int) -> tuple[int, int]:
    n = scipy.fft.next_fast_len(size_px + 2 * pad_px, real=True)
    return n, n


def render_scene(
    scene: Scene,
    shape: tuple[int, int],
    pixel_size_A: float,
    probe: ProbeDraw,
    optics: OpticsConfig,
    extra_object: np.ndarray | None = None,
) -> np.ndarray:
    return render_adf(
        scene.xy_A,
        scene.weights(probe.z_exponent),
        shape,
        pixel_size_A,
        probe,
        optics.probe_window_px,
        optics.chromatic_quadrature_points,
        extra_object,
    )
