"""Table 1 cells: train FCNs on one source for one experimental set, score on that set's test images.

Sources: no_noise (pristine simulations), gaussian (+ N(0, sigma) per crop), gaussian_minmax (the same
with the paper's min-max scaling for training and test images), cyclegan (translated by that set's
cycleGAN, seed k for FCN seed k). The detection threshold is chosen on the set's validation images.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from stemgan.config import FCNConfig, IngestConfig, NormalizeConfig, Table1Config
from stemgan.data.files import atomic_directory
from stemgan.errors import StemganError

SOURCES = ("no_noise", "gaussian", "gaussian_minmax", "cyclegan", "cyclegan_nofft")


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


def run_cell(source: str, set_name: str, train_dir: Path, table: Table1Config, fcn: FCNConfig,
             normalize: NormalizeConfig, ingest: IngestConfig, classes: tuple[str, ...], out_dir: Path) -> dict:
    import mlflow
    import mlflow.tensorflow

    from stemgan.evaluation.evaluate import best_threshold, defect_probability, evaluate
    from stemgan.tracking.mlflow_runs import MODEL_PIP_REQUIREMENTS, experiment_id, flatten, log_metrics
    from stemgan.training.fcn_train import load_labelled, train_fcn

    if set_name not in table.sets:
        raise StemganError(f"params.yaml: table1.sets has no '{set_name}' (known: {', '.join(table.sets)})")
    norm, noise = source_settings(source, fcn, normalize)
    pixel = ingest.working_pixel_size_A
    folders = [Path("data") / f for f in table.sets[set_name]]
    val = [item for f in folders for item in load_labelled(f / "val", norm, ingest, fcn.tile_size_px)]
    test = [item for f in folders for item in load_labelled(f / "test", norm, ingest, fcn.tile_size_px)]
    tile, multiple = fcn.tile_size_px, 2 ** len(fcn.filters)
    seeds, curves, images, models = [], [], [], []
    exp_id = experiment_id(table.experiment)
    for k, folder in enumerate(seed_folders(Path(train_dir), table.n_seeds)):
        train = load_labelled(folder, norm, ingest, tile)
        with mlflow.start_run(experiment_id=exp_id, run_name=f"{source}-{set_name}-seed{k}",
                              tags={"stage": "table1-cell", "source": source, "set": set_name, "train": str(folder)}) as run:
            mlflow.log_params({**flatten(dataclasses.asdict(fcn)), "source": source, "set": set_name, "seed": fcn.seed + k,
                               "n_train_images": len(train), "n_val_images": len(val), "n_test_images": len(test)})
            model = train_fcn(fcn, train, classes, noise, fcn.seed + k, pixel, f"{source}_{k}")
            threshold = best_threshold([defect_probability(model, v.image, multiple, fcn.scoring) for v in val], val,
                                       classes, fcn.scoring, pixel) if val else fcn.scoring.threshold
            probabilities = [defect_probability(model, t.image, multiple, fcn.scoring) for t in test]
            result = evaluate(probabilities, test, classes, fcn.scoring, pixel, threshold, seed=fcn.seed + k)
            log_metrics({f"test_{key}": v for key, v in result.metrics.items()}, step=0)
            mlflow.log_table(result.pr_curve, "pr_curve.json")
            mlflow.tensorflow.log_model(model, name="fcn", pip_requirements=MODEL_PIP_REQUIREMENTS)
            models.append(model)
            seeds.append({"seed": fcn.seed + k, "mlflow_run_id": run.info.run_id, **result.metrics})
            curves.append(result.pr_curve.assign(seed=k))
            images.append(result.per_image.assign(seed=k))
    frame = pd.DataFrame(seeds)
    summary = {"source": source, "set": set_name, "n_seeds": len(seeds),
               **{f"{m}_mean": float(frame[m].mean()) for m in ("precision", "recall", "f1")},
               **{f"{m}_std": float(frame[m].std(ddof=0)) for m in ("precision", "recall", "f1")},
               "seeds": seeds}
    with atomic_directory(out_dir) as tmp:
        (tmp / "cell.json").write_text(json.dumps(summary, indent=2))
        for k, model in enumerate(models):  # for `stemgan evaluate` on one's own labelled images
            model.save(tmp / f"fcn_seed_{k}.keras")
        pd.concat(curves).groupby("threshold", as_index=False)[["precision", "recall", "f1"]].mean() \
            .to_csv(tmp / "pr_curve.csv", index=False)
        pd.concat(images).to_csv(tmp / "per_image.csv", index=False)
    return summary
