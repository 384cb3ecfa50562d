"""The `acquire` stage: the virtual microscope's demo experimental sets in data/.

Per set: unlabelled images for cycleGAN training, and small labelled val/test splits (labels in
their own folder) used only for tuning and scoring.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import map_coordinates
from tqdm import tqdm

from stemgan.config import AcquireConfig, MaterialConfig, OpticsConfig, PresetConfig, merged_optics
from stemgan.data.files import atomic_directory, atomic_write
from stemgan.data.labels_io import write_labels
from stemgan.data.tiff_io import write_tiff
from stemgan.errors import StemganError
from stemgan.microscope.contamination import contamination_object
from stemgan.microscope.detector import detect
from stemgan.microscope.scan import sample_positions_to_pixels, scan_field
from stemgan.seeding import item_rng
from stemgan.simulation.labels import inside_field, label_table
from stemgan.simulation.optics import atom_image_sigma_A, draw_probe
from stemgan.simulation.scene import EDGE_PAD_PX, crystal_for, draw_scene, padded_shape, render_scene

SPLITS = ("unlabelled", "val", "test")


def acquire_image(
    material: MaterialConfig,
    crystal,
    optics: OpticsConfig,
    preset: PresetConfig,
    size_px: int,
    pad_px: int,
    pixel_size_A: float,
    rng: np.random.Generator,
):
    """One experiment-like image: (stored image, labels moved through the scan distortion, metadata)."""
    margin = pad_px + EDGE_PAD_PX
    shape = padded_shape(size_px, margin)
    extent = (shape[1] * pixel_size_A, shape[0] * pixel_size_A)
    scene = draw_scene(crystal, material, extent, rng, random_orientation=True)
    probe = draw_probe(optics, rng)
    dirt = contamination_object(shape, pixel_size_A, preset.contamination, probe.z_exponent, rng)
    ideal = render_scene(scene, shape, pixel_size_A, probe, optics, extra_object=dirt)
    field = scan_field(size_px, pixel_size_A, preset.scan, rng)
    if field.max_displacement_px > pad_px:
        raise StemganError(
            f"params.yaml: acquire.pad_px = {pad_px} is smaller than the scan distortion "
            f"({field.max_displacement_px:.1f} px); raise pad_px or lower the drift"
        )
    sampled = map_coordinates(ideal, [field.y_px + margin, field.x_px + margin], order=3, mode="nearest")
    crystal_mean = scene.weights(probe.z_exponent).sum() / (shape[0] * shape[1])
    image, detector_draws = detect(sampled, crystal_mean, field.time_s, pixel_size_A, preset.detector, rng)
    xy_px = sample_positions_to_pixels(
        field, scene.xy_A / pixel_size_A - margin, blur_sigma_px=atom_image_sigma_A(probe) / pixel_size_A
    )
    keep = inside_field(xy_px, size_px)
    labels = label_table(
        xy_px[keep], pixel_size_A, scene.site_counts[keep], scene.counts[keep], scene.defect[keep], crystal.species
    )
    meta = {
        **asdict(probe),
        **detector_draws,
        "rotation_deg": scene.rotation_deg,
        "max_scan_displacement_px": field.max_displacement_px,
    }
    return image, labels, meta


def acquire_set(
    set_name: str,
    material_name: str,
    material: MaterialConfig,
    optics: OpticsConfig,
    cfg: AcquireConfig,
    pixel_size_A: float,
    out_dir: Path,
) -> pd.DataFrame:
    """Write one experimental set under out_dir/<set_name>/; return its acquisition log."""
    spec = cfg.sets[set_name]
    if spec.preset not in cfg.presets:
        raise StemganError(f"params.yaml: acquire.sets.{set_name}.preset '{spec.preset}' is not in acquire.presets")
    preset = cfg.presets[spec.preset]
    optics = merged_optics(
        optics, preset.optics_overrides, f"params.yaml: acquire.presets.{spec.preset}.optics_overrides"
    )
    crystal = crystal_for(material, f"params.yaml: materials.{material_name}")
    counts = {"unlabelled": spec.n_unlabelled, "val": spec.n_val, "test": spec.n_test}
    rows = []
    set_dir = out_dir / set_name
    jobs = [(split, i) for split in SPLITS for i in range(counts[split])]
    for split, i in tqdm(jobs, desc=f"acquire {set_name}", unit="img"):
        rng = item_rng(cfg.seed, set_name, split, i)
        image, labels, meta = acquire_image(
            material, crystal, optics, preset, cfg.image_size_px, cfg.pad_px, pixel_size_A, rng
        )
        name = f"{set_name.replace('/', '_')}_{split}_{i:04d}"
        if split == "unlabelled":
            write_tiff(set_dir / split / f"{name}.tif", image, pixel_size_A)
        else:  # labelled images: labels in their own folder, used only for tuning (val) and scoring (test)
            write_tiff(set_dir / split / "images" / f"{name}.tif", image, pixel_size_A)
            write_labels(set_dir / split / "labels" / f"{name}.csv", labels)
        rows.append({"image": name, "split": split, "preset": spec.preset, **meta})
    log = pd.DataFrame(rows)
    atomic_write(set_dir / "acquisition.csv", lambda p: log.to_csv(p, index=False))
    return log


def run_acquire(
    cfg: AcquireConfig, materials: dict[str, MaterialConfig], optics: OpticsConfig, pixel_size_A: float, out_dir: Path
) -> dict[str, pd.DataFrame]:
    """Write every configured set into out_dir (atomically); a folder of the user's own data is kept
    (data/files.py: only folders stemgan wrote are replaced)."""
    out_dir = Path(out_dir)
    logs = {}
    with atomic_directory(out_dir) as tmp:
        for set_name, spec in cfg.sets.items():
            logs[set_name] = acquire_set(
                set_name, spec.material, materials[spec.material], optics, cfg, pixel_size_A, tmp
            )
        atomic_write(tmp / "README.md", lambda p: p.write_text(DATA_README))
    return logs


DATA_README = """# Demo experimental data (made by `stemgan acquire`, the virtual microscope)

Each set `<material>/<session>/` holds:
- `unlabelled/*.tif` - images for cycleGAN training (their labels are never written);
- `val/images/*.tif` + `val/labels/*.csv` - labelled images for tuning and checkpoint choice;
- `test/images/*.tif` + `test/labels/*.csv` - labelled images used only for scoring (Table 1);
- `acquisition.csv` - the microscope settings drawn for each image.

Label CSV columns: x_px, y_px (pixel centres at integer px, x along the fast scan), x_A, y_A,
site (pristine column), column (actual composition), defect (`none` or the defect name).
Replace these folders with your own TIFFs in the same layout, then `dvc add data` and `dvc repro`.
"""
