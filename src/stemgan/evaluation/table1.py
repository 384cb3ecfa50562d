"""Table 1 cells: one source's trained FCNs scored on one experimental set's test images.

The detection threshold is chosen on the set's validation images; the test images are touched only here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd

from stemgan.config import FCNConfig, IngestConfig, NormalizeConfig, Table1Config
from stemgan.data.files import atomic_directory
from stemgan.errors import StemganError
from stemgan.training.fcn_stage import read_manifest, source_settings


def run_cell(source: str, set_name: str, fcn_dir: Path, table: Table1Config, fcn: FCNConfig,
             normalize: NormalizeConfig, ingest: IngestConfig, classes: tuple[str, ...], out_dir: Path) -> dict:
    import mlflow

    from stemgan.evaluation.evaluate import validate_then_score
    from stemgan.models.translate import FCN_MODEL, load_keras_model
    from stemgan.tracking.mlflow_runs import experiment_id, flatten, log_metrics
    from stemgan.training.fcn_train import load_labelled

    if set_name not in table.sets:
        raise StemganError(f"params.yaml: table1.sets has no '{set_name}' (known: {', '.join(table.sets)})")
    manifest = read_manifest(fcn_dir, source, table.n_seeds)
    norm, _ = source_settings(source, fcn, normalize)
    folders = [Path("data") / f for f in table.sets[set_name]]
    val = [item for f in folders for item in load_labelled(f / "val", norm, ingest, fcn.tile_size_px)]
    test = [item for f in folders for item in load_labelled(f / "test", norm, ingest, fcn.tile_size_px)]
    seeds, curves, images = [], [], []
    for k, trained in enumerate(manifest["seeds"][:table.n_seeds]):
        model = load_keras_model(str(Path(fcn_dir) / trained["model"]), FCN_MODEL)
        with mlflow.start_run(experiment_id=experiment_id(table.experiment), run_name=f"{source}-{set_name}-seed{k}",
                              tags={"stage": "table1-cell", "source": source, "set": set_name,
                                    "fcn_run_id": trained["mlflow_run_id"]}) as run:
            mlflow.log_params({**flatten({"scoring": dataclasses.asdict(fcn.scoring)}), "source": source, "set": set_name,
                               "seed": trained["seed"], "fcn_model": str(Path(fcn_dir) / trained["model"]),
                               "n_val_images": len(val), "n_test_images": len(test)})
            result = validate_then_score(model, val, test, classes, fcn.scoring, ingest.working_pixel_size_A,
                                         2 ** len(fcn.filters), seed=trained["seed"])
            log_metrics({f"test_{key}": v for key, v in result.metrics.items()}, step=0)
            mlflow.log_table(result.pr_curve, "pr_curve.json")
        seeds.append({"seed": trained["seed"], "mlflow_run_id": run.info.run_id,
                      "fcn_run_id": trained["mlflow_run_id"], **result.metrics})
        curves.append(result.pr_curve.assign(seed=k))
        images.append(result.per_image.assign(seed=k))
    frame = pd.DataFrame(seeds)
    summary = {"source": source, "set": set_name, "n_seeds": len(seeds), "fcn_dir": str(fcn_dir),
               **{f"{m}_mean": float(frame[m].mean(skipna=False)) for m in ("precision", "recall", "f1")},
               **{f"{m}_std": float(frame[m].std(ddof=0, skipna=False)) for m in ("precision", "recall", "f1")},
               "seeds": seeds}
    with atomic_directory(out_dir) as tmp:
        (tmp / "cell.json").write_text(json.dumps(summary, indent=2))
        pd.concat(curves).groupby("threshold", as_index=False)[["precision", "recall", "f1"]].mean() \
            .to_csv(tmp / "pr_curve.csv", index=False)
        pd.concat(images).to_csv(tmp / "per_image.csv", index=False)
    return summary
