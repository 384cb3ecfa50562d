"""The FCN training sources, and the manifest of the FCNs trained on one (written by the train_fcn stage).

Sources: no_noise (pristine simulations), gaussian (+ N(0, sigma) per crop), gaussian_minmax (the same with
the paper's min-max scaling for training and test images), matched_noise (the cycleGAN's own input:
simulations + the noise the set's cycleGAN was fed, same draws, no generator; its difference to cyclegan is
what the generator adds), cyclegan / cyclegan_nofft / cyclegan_paper (translated by one set's cycleGAN, its
no-FFT ablation or the paper's generator; FCN seed k on cycleGAN seed k). Every source trains on the set's
own calibrated simulations.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from stemgan.config import FCNConfig, NormalizeConfig
from stemgan.errors import StemganError, fail

SOURCES = ("no_noise", "gaussian", "gaussian_minmax", "matched_noise", "cyclegan", "cyclegan_nofft", "cyclegan_paper")
MATCHED_NOISE = "matched_noise"  # translate's folder of the generator's inputs, in each seed_<k>/
MANIFEST = "fcn.json"


def source_settings(source: str, fcn: FCNConfig, normalize: NormalizeConfig) -> tuple[NormalizeConfig, float]:
    """(normalisation, training noise std on the [-1, 1] scale) of a training source."""
    if source not in SOURCES:
        raise StemganError(f"unknown training source '{source}'; use one of {', '.join(SOURCES)}")
    norm = dataclasses.replace(normalize, method="minmax") if source == "gaussian_minmax" else normalize
    noise = 2.0 * fcn.gaussian_noise_sigma if source.startswith("gaussian") else 0.0
    return norm, noise


def seed_folders(train_dir: Path, n_seeds: int, source: str = "") -> list[Path]:
    """Generated sets have seed_<k>/ subfolders (one per cycleGAN seed; matched_noise: their generator inputs,
    seed_<k>/matched_noise/); simulations serve every seed."""
    inner = MATCHED_NOISE if source == MATCHED_NOISE else ""
    seeded = [train_dir / f"seed_{k}" / inner if inner else train_dir / f"seed_{k}" for k in range(n_seeds)]
    if inner and not (train_dir / "seed_0").is_dir():
        raise StemganError(f"{train_dir}: no seed_<k>/ folders; matched_noise trains on a translate output")
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
