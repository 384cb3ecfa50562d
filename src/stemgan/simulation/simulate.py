"""The `simulate` stage: labelled ADF-STEM images of one material as TIFF + label CSV."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from stemgan.config import MaterialConfig, OpticsConfig, SimulateConfig
from stemgan.data.files import atomic_directory, atomic_write
from stemgan.data.labels_io import write_labels
from stemgan.data.tiff_io import write_tiff
from stemgan.errors import StemganError
from stemgan.seeding import item_rng
from stemgan.simulation.labels import inside_field, label_table
from stemgan.simulation.optics import draw_probe
from stemgan.simulation.scene import EDGE_PAD_PX, crystal_for, draw_scene, padded_shape, render_scene


def simulate_image(
    material: MaterialConfig,
    optics: OpticsConfig,
    size_px: int,
    pixel_size_A: float,
    rng: np.random.Generator,
    random_orientation: bool = True,
    crystal=None,
    where: str = "materials",
):
    """One noise-free labelled image: (image float32 (size, size), labels DataFrame, metadata dict)."""
    crystal = crystal if crystal is not None else crystal_for(material, where)
    shape = padded_shape(size_px, EDGE_PAD_PX)
    extent = (shape[1] * pixel_size_A, shape[0] * pixel_size_A)
    scene = draw_scene(crystal, material, extent, rng, random_orientation)
    probe = draw_probe(optics, rng)
    image = render_scene(scene, shape, pixel_size_A, probe, optics)
    image = image[EDGE_PAD_PX : EDGE_PAD_PX + size_px, EDGE_PAD_PX : EDGE_PAD_PX + size_px]
    xy_px = scene.xy_A / pixel_size_A - EDGE_PAD_PX
    keep = inside_field(xy_px, size_px)
    labels = label_table(
        xy_px[keep], pixel_size_A, scene.site_counts[keep], scene.counts[keep], scene.defect[keep], crystal.species
    )
    meta = {**asdict(probe), "rotation_deg": scene.rotation_deg}
    return np.ascontiguousarray(image), labels, meta


def check_simulate(cfg: SimulateConfig, where: str) -> None:
    if cfg.n_images < 1 or cfg.image_size_px < 16 or cfg.pixel_size_A <= 0:
        raise StemganError(f"{where}: need n_images >= 1, image_size_px >= 16 and pixel_size_A > 0")


def run_simulate(
    material_name: str,
    material: MaterialConfig,
    optics: OpticsConfig,
    cfg: SimulateConfig,
    out_dir: Path,
    sampling_correction: float = 1.0,
    finish: Callable[[Path], None] | None = None,
) -> pd.DataFrame:
    """Write out_dir/images/*.tif, out_dir/labels/*.csv and out_dir/manifest.csv; return the manifest.

    sampling_correction: the set's true pixel size over its files' (calibration); the physics is simulated at
    cfg.pixel_size_A x that while the files carry cfg.pixel_size_A, so a lattice spacing spans as many pixels
    as in the set's images. finish(folder) may add files to the output before it is committed."""
    check_simulate(cfg, "params.yaml: simulate")
    crystal = crystal_for(material, f"params.yaml: materials.{material_name}")
    rows = []
    with atomic_directory(out_dir) as tmp:
        for i in tqdm(range(cfg.n_images), desc=f"simulate {material_name}", unit="img"):
            rng = item_rng(cfg.seed, material_name, i)
            image, labels, meta = simulate_image(
                material,
                optics,
                cfg.image_size_px,
                cfg.pixel_size_A * sampling_correction,
                rng,
                cfg.random_orientation,
                crystal,
            )
            name = f"{material_name}_sim_{i:05d}"
            write_tiff(tmp / "images" / f"{name}.tif", image, cfg.pixel_size_A, {"material": material_name, **meta})
            write_labels(tmp / "labels" / f"{name}.csv", labels)
            rows.append(
                {"image": name, "n_columns": len(labels), "n_defects": int((labels.defect != "none").sum()), **meta}
            )
        manifest = pd.DataFrame(rows)
        atomic_write(tmp / "manifest.csv", lambda p: manifest.to_csv(p, index=False))
        if finish is not None:
            finish(tmp)
    return manifest
