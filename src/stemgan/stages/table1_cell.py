"""`table1_cell@<source>-<set>`: one Table 1 cell, a source's trained FCNs scored on one set's test images.

The detection threshold is chosen on the set's validation images; the test images are touched only here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path

import pandas as pd

from stemgan.config import Params
from stemgan.stages.arguments import output_folder, params_arg

METRICS = ("precision", "recall", "f1")


def register(sub) -> None:
    p = sub.add_parser(
        "table1-cell",
        help="one Table 1 cell: a source's FCNs scored on a set's test images",
        description="Load the FCNs of `train-fcn`, pick the threshold on the set's val images, score "
        "on its test images (one-to-one matching within fcn.scoring.match_radius_A).",
    )
    p.add_argument("--source", required=True, help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft")
    p.add_argument("--set", dest="set_name", required=True, help="one of table1.sets, e.g. wse2_day_a")
    p.add_argument(
        "--fcn", type=Path, required=True, help="train-fcn output folder, e.g. artifacts/fcn/no_noise-wse2_day_a"
    )
    p.add_argument(
        "--data",
        type=Path,
        default=Path("data"),
        help="the experimental data folder (`sets` name folders inside it)",
    )
    p.add_argument("--out", type=Path, required=True, help="cell folder (cell.json, pr_curve.csv, per_image.csv)")
    params_arg(p)
    output_folder(p, "fcn", "data")
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.evaluation.table1_report import spread_text

    start = time.perf_counter()
    cell = run_cell(
        source=args.source,
        set_name=args.set_name,
        fcn_dir=args.fcn,
        params=load_params(args.params),
        data_root=args.data,
        out_dir=args.out,
    )
    print(
        f"table1-cell: {args.source} x {args.set_name}: P {100 * cell['precision_mean']:.0f}% "
        f"R {100 * cell['recall_mean']:.0f}% F1 {100 * cell['f1_mean']:.0f}{spread_text(cell['f1_std'])}% "
        f"over {cell['n_seeds']} seed(s) -> {args.out} ({time.perf_counter() - start:.0f} s)"
    )


def run_cell(*, source: str, set_name: str, fcn_dir: Path, params: Params, data_root: Path, out_dir: Path) -> dict:
    from stemgan.data.files import atomic_directory
    from stemgan.data.labelled import load_labelled
    from stemgan.errors import StemganError
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.training.fcn_sources import read_manifest, source_settings

    classes = params.material(params.table1.material).label_defects
    if set_name not in params.table1.sets:
        raise StemganError(f"params.yaml: table1.sets has no '{set_name}' (known: {', '.join(params.table1.sets)})")
    manifest = read_manifest(fcn_dir, source, params.table1.n_seeds)
    trained = manifest["seeds"][: params.table1.n_seeds]
    norm, _ = source_settings(source, params.fcn, params.tile.normalize)
    folders = [data_root / f for f in params.experimental_set(set_name).data]
    # each seed's FCN is scored side by side in compute.workers processes
    with unit_workers(worker_count(params.compute.workers, len(trained)), TENSORFLOW_UNITS) as run_units:
        val, test = (
            [item for f in folders for item in load_labelled(f / split, norm, params.ingest, params.fcn.tile_size_px)]
            for split in ("val", "test")
        )
        unit = functools.partial(
            _score_seed,
            source=source,
            set_name=set_name,
            fcn_dir=Path(fcn_dir),
            val=val,
            test=test,
            classes=classes,
            params=params,
            experiment=experiment_id(params.table1.experiment),  # made here, not by two workers at once
        )
        results = run_units(unit, list(enumerate(trained)))
    seeds = [seed for seed, _, _ in results]
    curves = [curve.assign(seed=k) for k, (_, curve, _) in enumerate(results)]
    images = [per_image.assign(seed=k) for k, (_, _, per_image) in enumerate(results)]
    frame = pd.DataFrame(seeds)
    summary = {
        "source": source,
        "set": set_name,
        "n_seeds": len(seeds),
        "fcn_dir": str(fcn_dir),
        **{f"{m}_mean": float(frame[m].mean(skipna=False)) for m in METRICS},
        # one seed has no spread: null, not a std of 0
        **{f"{m}_std": float(frame[m].std(ddof=0, skipna=False)) if len(seeds) > 1 else None for m in METRICS},
        "seeds": seeds,
    }
    with atomic_directory(out_dir) as tmp:
        (tmp / "cell.json").write_text(json.dumps(summary, indent=2))
        pd.concat(curves).groupby("threshold", as_index=False)[["precision", "recall", "f1"]].mean().to_csv(
            tmp / "pr_curve.csv", index=False
        )
        pd.concat(images).to_csv(tmp / "per_image.csv", index=False)
    return summary


def _score_seed(unit, *, source, set_name, fcn_dir: Path, val, test, classes, params: Params, experiment: str):
    """Seed k's FCN: threshold on the val images, scored on the test images, in its own MLflow run (a
    stemgan.parallel unit). Returns (the seed's record, its PR curve, its per-image scores)."""
    import mlflow

    from stemgan.evaluation.evaluate import validate_then_score
    from stemgan.models.io import FCN_MODEL, load_keras_model
    from stemgan.tracking.mlflow_runs import flatten, log_metrics, setup_tracking

    k, trained = unit
    setup_tracking()
    model = load_keras_model(str(fcn_dir / trained["model"]), FCN_MODEL)
    with mlflow.start_run(
        experiment_id=experiment,
        run_name=f"{source}-{set_name}-seed{k}",
        tags={"stage": "table1-cell", "source": source, "set": set_name, "fcn_run_id": trained["mlflow_run_id"]},
    ) as run:
        mlflow.log_params(
            {
                **flatten({"scoring": dataclasses.asdict(params.fcn.scoring)}),
                "source": source,
                "set": set_name,
                "seed": trained["seed"],
                "fcn_model": str(fcn_dir / trained["model"]),
                "n_val_images": len(val),
                "n_test_images": len(test),
            }
        )
        result = validate_then_score(
            model,
            val,
            test,
            classes,
            params.fcn.scoring,
            params.ingest.working_pixel_size_A,
            2 ** len(params.fcn.filters),
            seed=trained["seed"],
        )
        log_metrics({f"test_{key}": v for key, v in result.metrics.items()}, step=0)
        mlflow.log_table(result.pr_curve, "pr_curve.json")
    record = {"seed": trained["seed"], "mlflow_run_id": run.info.run_id, "fcn_run_id": trained["mlflow_run_id"]}
    return {**record, **result.metrics}, result.pr_curve, result.per_image
