"""The fcn stage: table1.n_seeds FCNs trained on one training source, kept for every set that scores them.

Sources: no_noise (pristine simulations), gaussian (+ N(0, sigma) per crop), gaussian_minmax (the same with
the paper's min-max scaling for training and test images), cyclegan / cyclegan_nofft (translated by one
set's cycleGAN, FCN seed k on cycleGAN seed k). Simulation-trained FCNs do not depend on the experimental
set, so one training serves day A, day B and AB; only the scoring differs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from stemgan.config import FCNConfig, IngestConfig, NormalizeConfig
from stemgan.data.files import atomic_directory
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


def train_source(source: str, train_dir: Path, n_seeds: int, fcn: FCNConfig, normalize: NormalizeConfig,
                 ingest: IngestConfig, classes: tuple[str, ...], out_dir: Path) -> dict:
    """n_seeds FCNs, each in its own MLflow run with its model; out_dir gets fcn_seed_<k>.keras and fcn.json."""
    from stemgan.training.fcn_train import load_labelled, train_fcn

    norm, noise = source_settings(source, fcn, normalize)
    folders = seed_folders(Path(train_dir), n_seeds)
    trains = [load_labelled(folder, norm, ingest, fcn.tile_size_px) for folder in folders]  # input errors first

    import mlflow
    import mlflow.tensorflow

    from stemgan.tracking.mlflow_runs import MODEL_PIP_REQUIREMENTS, experiment_id, flatten

    exp_id, seeds, models = experiment_id(fcn.experiment), [], []
    for k, (folder, train) in enumerate(zip(folders, trains)):
        with mlflow.start_run(experiment_id=exp_id, run_name=f"fcn-{source}-seed{k}",
                              tags={"stage": "fcn", "source": source, "train": str(folder)}) as run:
            mlflow.log_params({**flatten(dataclasses.asdict(fcn)), "source": source, "seed": fcn.seed + k,
                               "normalize": norm.method, "training_noise_std": noise, "n_train_images": len(train)})
            model = train_fcn(fcn, train, classes, noise, fcn.seed + k, ingest.working_pixel_size_A, f"{source}_{k}")
            mlflow.tensorflow.log_model(model, name="fcn", pip_requirements=MODEL_PIP_REQUIREMENTS)
        models.append(model)
        seeds.append({"seed": fcn.seed + k, "mlflow_run_id": run.info.run_id, "train": str(folder),
                      "model": f"fcn_seed_{k}.keras"})
    manifest = {"source": source, "classes": list(classes), "normalize": norm.method, "training_noise_std": noise,
                "seeds": seeds}
    with atomic_directory(out_dir) as tmp:
        for k, model in enumerate(models):
            model.save(tmp / f"fcn_seed_{k}.keras")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def read_manifest(fcn_dir: Path, source: str, n_seeds: int) -> dict:
    """The fcn stage's manifest, checked against the cell that is about to score its models."""
    path = Path(fcn_dir) / MANIFEST
    if not path.is_file():
        raise fail(path, "no trained FCNs here", f"run `stemgan train-fcn --source {source} --out {fcn_dir}` (or dvc repro)")
    manifest = json.loads(path.read_text())
    if manifest["source"] != source:
        raise fail(path, f"FCNs trained on '{manifest['source']}', not '{source}'", "point --fcn at that source's folder")
    if len(manifest["seeds"]) < n_seeds:
        raise fail(path, f"{len(manifest['seeds'])} FCN seeds, table1.n_seeds wants {n_seeds}", "re-run train-fcn")
    return manifest
