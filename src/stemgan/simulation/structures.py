"""Crystals seen along the beam: unit cells (built with ase) reduced to projected atom columns.

A `ColumnCrystal` holds the 2-D lattice vectors and, per column of the unit cell, its position and
how many atoms of each species it holds; `tile_columns` repeats it over a field of view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

from stemgan.config import MaterialConfig
from stemgan.errors import StemganError

COLUMN_TOLERANCE_A = 0.1


@dataclass(frozen=True)
class ColumnCrystal:
    """Projected unit cell: lattice (2x2, rows = a1, a2 in Å), column xy (m, 2) Å, counts (m, S)."""

    lattice_A: np.ndarray
    column_xy_A: np.ndarray
    counts: np.ndarray
    species: tuple[str, ...]

    @property
    def atomic_numbers(self) -> np.ndarray:
        return np.array([atomic_numbers[s] for s in self.species], dtype=np.float64)

    def with_species(self, extra: list[str]) -> "ColumnCrystal":
        """Same crystal with zero-count species appended (substituents that defects bring in)."""
        new = [s for s in extra if s not in self.species]
        if not new:
            return self
        counts = np.concatenate([self.counts, np.zeros((len(self.counts), len(new)), self.counts.dtype)], axis=1)
        return ColumnCrystal(self.lattice_A, self.column_xy_A, counts, self.species + tuple(new))


def unit_cell(material: MaterialConfig, where: str = "materials") -> Atoms:
    """The material's unit cell as ase Atoms, beam along z."""
    from ase.build import graphene, mx2

    if material.builder == "mx2":
        return mx2(formula=material.formula, kind="2H", a=material.a_A, thickness=material.thickness_A)
    if material.builder == "graphene":
        return graphene(formula=material.formula or "C2", a=material.a_A)
    if material.builder == "perovskite":
        return _perovskite(material.formula, material.a_A)
    if material.builder == "file":
        return _read_structure(material.structure_file, where)
    raise StemganError(f"{where}: unknown builder '{material.builder}'; use mx2, graphene, perovskite or file")


def _perovskite(formula: str, a_A: float) -> Atoms:
    """ABO3 cubic perovskite (e.g. SrTiO3) for the [001] zone axis."""
    from ase.formula import Formula

    a_site, b_site = [s for s in Formula(formula).count() if s != "O"][:2]
    scaled = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    return Atoms([a_site, b_site, "O", "O", "O"], scaled_positions=scaled, cell=[a_A] * 3, pbc=True)


def _read_structure(path: str | None, where: str) -> Atoms:
    import ase.io

    if not path or not Path(path).is_file():
        raise StemganError(f"{where}.structure_file: '{path}' not found; give a CIF or XYZ file path")
    try:
        atoms = ase.io.read(path)
    except Exception as exc:  # ase raises many types for malformed files
        raise StemganError(f"{path}: cannot read structure ({exc}); give a valid CIF or extended XYZ") from exc
    if not atoms.cell.any():
        raise StemganError(f"{path}: structure has no unit cell; use a CIF or extended XYZ with a Lattice")
    return atoms


def project_columns(atoms: Atoms, n_cells_thick: int = 1) -> ColumnCrystal:
    """Group the cell's atoms into columns along z; counts scale with the cells stacked along the beam."""
    lattice = np.asarray(atoms.cell.array)[:2, :2]
    xy = atoms.positions[:, :2]
    frac = np.linalg.solve(lattice.T, xy.T).T % 1.0
    frac[np.isclose(frac, 1.0, atol=1e-6)] = 0.0
    keys = np.round(frac @ lattice / COLUMN_TOLERANCE_A).astype(np.int64)
    (
        _,
        column_of_atom,
    ) = np.unique(keys, axis=0, return_inverse=True)[:2]
    column_of_atom = column_of_atom.ravel()
    species = tuple(sorted(set(atoms.get_chemical_symbols())))
    species_index = np.array([species.index(s) for s in atoms.get_chemical_symbols()])
    n_columns = column_of_atom.max() + 1
    counts = np.zeros((n_columns, len(species)), dtype=np.int32)
    np.add.at(counts, (column_of_atom, species_index), n_cells_thick)
    column_xy = np.zeros((n_columns, 2))
    column_xy[column_of_atom] = frac @ lattice
    return ColumnCrystal(lattice, column_xy, counts, species)


def tile_columns(
    crystal: ColumnCrystal, extent_A: tuple[float, float], rotation_rad: float, offset_A: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Columns covering [0, extent_x) x [0, extent_y) Å: positions (n, 2) as (x, y) and counts (n, S)."""
    rot = np.array([[np.cos(rotation_rad), -np.sin(rotation_rad)], [np.sin(rotation_rad), np.cos(rotation_rad)]])
    lattice = crystal.lattice_A @ rot.T
    corners = np.array([[0, 0], [extent_A[0], 0], [0, extent_A[1]], [extent_A[0], extent_A[1]]]) - offset_A
    frac = np.linalg.solve(lattice.T, corners.T).T
    lo = np.floor(frac.min(axis=0)).astype(int) - 1
    hi = np.ceil(frac.max(axis=0)).astype(int) + 1
    n1, n2 = np.meshgrid(np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), indexing="ij")
    cells = np.stack([n1.ravel(), n2.ravel()], axis=1) @ lattice + offset_A
    basis = crystal.column_xy_A @ rot.T
    xy = (cells[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    counts = np.broadcast_to(crystal.counts, (len(cells),) + crystal.counts.shape).reshape(-1, len(crystal.species))
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < extent_A[0]) & (xy[:, 1] >= 0) & (xy[:, 1] < extent_A[1])
    return xy[inside], counts[inside].copy()


def column_names(counts: np.ndarray, species: tuple[str, ...]) -> np.ndarray:
    """Composition labels such as 'W', 'Se2', 'Se1', 'MoSe' ... ('' for an empty column)."""
    unique, inverse = np.unique(counts, axis=0, return_inverse=True)
    names = []
    for row in unique:  # loops over distinct compositions only (a handful), not over columns
        parts = [f"{s}{n if n > 1 else ''}" for s, n in zip(species, row) if n > 0]
        names.append("".join(parts) or "empty")
    return np.asarray(names, dtype=object)[inverse.ravel()]
