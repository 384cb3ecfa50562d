"""The FCN training sources, and the manifest of the FCNs trained on one (written by the train_fcn stage).

Sources: no_noise (pristine simulations), gaussian (+ N(0, sigma) per crop), gaussian_minmax (the same with
the paper's min-max scaling for training and test images), cyclegan / cyclegan_nofft (translated by one
set's cycleGAN, FCN seed k on cycleGAN seed k). Simulation-trained FCNs do not depend on the experimental
set, so one training serves day A, day B and AB; only the scoring differs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from stemgan.config import FCNConfig, NormalizeConfig
from stemgan.errors import StemganError, fail

SOURCES = ("no_noise", "gaussian", "gaussian_minmax", "cyclegan", "cyclegan_nofft")
MANIFEST = "fcn.json"


def source_settings(source: str, fcn: FCNConfig, normalize: NormalizeConfig) -> tuple[NormalizeConfig, float]:
    """(normalisation, training noise std on the [-1, 1] scale) of a training source."""
    if source not in SOURCES:
        raise StemganError(f"unknown training source '{source}'; use one of {', '.join(SOURCES)}")
    norm = dataclasses.replace(normalize, method="minmax") if source == "gaussian_minmax" else normalize
    noise = 2.0 * fcn.gaussian_noise_sigma if source.startswith("gaussian") else 0.0
    return norm, noise


def seed_folders(train_dir: Path, n_seeds: int) -> list[Path]:
    """Generated sets have seed_<k>/ subfolders (one per cycleGAN seed); simulations serve every seed."""
    seeded = [train_dir / f"seed_{k}" for k in range(n_seeds)]
    if (train_dir / "seed_0").is_dir():
        missing = [p for p in seeded if not p.is_dir()]
        if missing:
            raise StemganError(f"{missing[0]}: missing; train and translate {n_seeds} cycleGAN seeds (table1.n_seeds)")
        return seeded
    return [train_dir] * n_seeds


def read_manifest(fcn_dir: Path, source: str, n_seeds: int) -> dict:
    """The train_fcn stage's manifest, checked against the cell that is about to score its models."""
    path = Path(fcn_dir) / MANIFEST
    if not path.is_file():
        raise fail(
            path, "no trained FCNs here", f"run `stemgan train-fcn --source {source} --out {fcn_dir}` (or dvc repro)"
        )
    manifest = json.loads(path.read_text())
    if manifest["source"] != source:
        raise fail(
            path, f"FCNs trained on '{manifest['source']}', not '{source}'", "point --fcn at that source's folder"
        )
    if len(manifest["seeds"]) < n_seeds:
        raise fail(path, f"{len(manifest['seeds'])} FCN seeds, table1.n_seeds wants {n_seeds}", "re-run train-fcn")
    return manifest
