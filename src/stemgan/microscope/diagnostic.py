"""Labelled test sets that each show one effect of a microscope session: what each effect does to a defect finder.

The base is what no acquisition avoids: shot and read noise at the session's dose, with the simulation's own
probe. Each effect is added alone on top of it; `session` has them all (the distribution of the set's own test
images). Image i has the same crystal and defects in every effect (the scene is the first draw of its seed),
so the effects are compared on the same atoms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from stemgan.config import MaterialConfig, Normal, OpticsConfig, PresetConfig, merged_optics
from stemgan.data.files import atomic_directory
from stemgan.data.labels_io import write_labels
from stemgan.data.tiff_io import write_tiff
from stemgan.microscope.acquire import acquire_image
from stemgan.seeding import item_rng
from stemgan.simulation.scene import crystal_for

EFFECTS = {
    "base": "shot + read noise at the session's dose, the simulation's probe",
    "probe": "+ the session's aberrations, defocus spread and source size",
    "contamination": "+ amorphous contamination patches",
    "scan": "+ drift, line jitter, flyback settling, mains pick-up",
    "detector": "+ detector lag, per-line gain, mains intensity ripple",
    "session": "every effect of the session (as its own test images)",
}


def isolated_presets(preset: PresetConfig) -> dict[str, PresetConfig]:
    """The session's preset as one preset per effect, each the base plus that effect alone."""
    quiet_scan = replace(
        preset.scan, drift_A_per_s=Normal(0.0), line_jitter_A=0.0, flyback_amplitude_A=0.0, mains_amplitude_A=0.0
    )
    quiet_detector = replace(preset.detector, lag_px=0.0, line_gain_std=0.0, mains_intensity_fraction=0.0)
    base = PresetConfig({}, quiet_scan, quiet_detector, replace(preset.contamination, coverage=0.0))
    return {
        "base": base,
        "probe": replace(base, optics_overrides=preset.optics_overrides),
        "contamination": replace(base, contamination=preset.contamination),
        "scan": replace(base, scan=preset.scan),
        "detector": replace(base, detector=preset.detector),
        "session": preset,
    }


def write_effect_sets(
    material_name: str,
    material: MaterialConfig,
    optics: OpticsConfig,
    preset: PresetConfig,
    n_images: int,
    size_px: int,
    pad_px: int,
    pixel_size_A: float,
    seed: int,
    out_dir: Path,
) -> dict[str, Path]:
    """out_dir/<effect>/images/*.tif + labels/*.csv for every effect; returns effect -> folder."""
    crystal = crystal_for(material, f"params.yaml: materials.{material_name}")
    presets = isolated_presets(preset)
    jobs = [(effect, i) for effect in presets for i in range(n_images)]
    with atomic_directory(out_dir) as tmp:
        for effect, i in tqdm(jobs, desc="diagnostic sets", unit="img"):
            effect_optics = merged_optics(optics, presets[effect].optics_overrides, f"diagnostic {effect} optics")
            rng = item_rng(seed, "diagnostic", i)  # the same scene for image i in every effect
            image, labels, _ = acquire_image(
                material, crystal, effect_optics, presets[effect], size_px, pad_px, pixel_size_A, rng
            )
            write_tiff(tmp / effect / "images" / f"{effect}_{i:04d}.tif", image, pixel_size_A)
            write_labels(tmp / effect / "labels" / f"{effect}_{i:04d}.csv", labels)
    return {effect: Path(out_dir) / effect for effect in presets}
