"""`table1_cells`: every Table 1 cell, each source's trained FCNs scored on a set's test images, in one process.

A cell's detection threshold is chosen on its set's validation images; the test images are touched only here.
All cells are one stage, not one each: a stage process spends ~10 s on imports and MLflow before its first image,
and Table 1 has 17 cells of ~6 s of scoring each (issue 14). `table1-cell` scores one cell alone.
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


@dataclasses.dataclass(frozen=True)
class Cell:
    """One Table 1 cell: the FCNs of `source` (a train-fcn folder) scored on the images of `set_name`."""

    source: str
    set_name: str
    fcn_dir: Path

    @property
    def name(self) -> str:
        return cell_name(self.source, self.set_name)


def cell_name(source: str, set_name: str) -> str:
    """A cell's folder name under artifacts/table1 (its scores); its FCNs are at Table1Config.fcn_folder."""
    return f"{source}-{set_name}"


def register(sub) -> None:
    p = sub.add_parser(
        "table1-cells",
        help="every Table 1 cell: each source's FCNs scored on each set's test images",
        description="For each cell of params.yaml table1 (its sources x sets, and its ablations on their set): load "
        "the FCNs of `train-fcn` from FCN_ROOT/<set>/<group>/<source>, pick the threshold on the set's val images, "
        "score on its test images (one-to-one matching within fcn.scoring.match_radius_A), into OUT/<source>-<set>.",
    )
    p.add_argument(
        "--fcn-root", type=Path, default=Path("artifacts/fcn"), help="train-fcn outputs, <set>/<group>/<source>/"
    )
    data_arg(p)
    p.add_argument("--out", type=Path, required=True, help="folder of cells: <source>-<set>/ each")
    params_arg(p)
    output_folder(p, "fcn_root", "data")
    p.set_defaults(handler=run_all)

    p = sub.add_parser(
        "table1-cell",
        help="one Table 1 cell: a source's FCNs scored on a set's test images",
        description="Load the FCNs of `train-fcn`, pick the threshold on the set's val images, score "
        "on its test images (one-to-one matching within fcn.scoring.match_radius_A).",
    )
    p.add_argument("--source", required=True, help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft")
    p.add_argument("--set", dest="set_name", required=True, help="one of table1.sets, e.g. wse2_day_a")
    p.add_argument(
        "--fcn",
        type=Path,
        required=True,
        help="train-fcn output folder, e.g. artifacts/fcn/wse2_day_a/simulated/no_noise",
    )
    data_arg(p)
    p.add_argument("--out", type=Path, required=True, help="cell folder (cell.json, pr_curve.csv, per_image.csv)")
    params_arg(p)
    output_folder(p, "fcn", "data")
    p.set_defaults(handler=run)


def data_arg(p) -> None:
    p.add_argument(
        "--data", type=Path, default=Path("data"), help="the experimental data folder (`sets` name folders inside it)"
    )


def run_all(args) -> None:
    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory
    from stemgan.errors import StemganError

    params = load_params(args.params)
    cells = [
        Cell(source, set_name, params.table1.fcn_folder(args.fcn_root, source, set_name))
        for source, set_name in params.table1.cells
    ]
    if not cells:
        raise StemganError(f"{args.params}: table1 has no cells (table1.sets or its sources are empty); name a set")
    start = time.perf_counter()
    scored_cells = score_cells(cells, params, args.data)
    with atomic_directory(args.out) as tmp:
        for cell, scored in zip(cells, scored_cells):
            write_cell(tmp / cell.name, *scored)
    for cell, scored in zip(cells, scored_cells):
        print_cell(cell, scored[0], args.out / cell.name)
    print(f"table1-cells: {len(cells)} cells -> {args.out} ({time.perf_counter() - start:.0f} s)")


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory

    start = time.perf_counter()
    cell = Cell(args.source, args.set_name, args.fcn)
    (scored,) = score_cells([cell], load_params(args.params), args.data)
    with atomic_directory(args.out) as tmp:
        write_cell(tmp, *scored)
    print_cell(cell, scored[0], args.out, time.perf_counter() - start)


def print_cell(cell: Cell, summary: dict, out: Path, seconds: float | None = None) -> None:
    from stemgan.evaluation.table1_report import spread_text

    print(
        f"table1-cell: {cell.source} x {cell.set_name}: P {100 * summary['precision_mean']:.0f}% "
        f"R {100 * summary['recall_mean']:.0f}% F1 {100 * summary['f1_mean']:.0f}{spread_text(summary['f1_std'])}% "
        f"over {summary['n_seeds']} seed(s) -> {out}" + ("" if seconds is None else f" ({seconds:.0f} s)")
    )


def score_cells(cells: list[Cell], params: Params, data_root: Path) -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """Each cell's (summary, mean PR curve, per-image scores). Every seed of every cell is one unit of
    compute.workers processes; the manifests and sets are checked here, before any worker starts work."""
    from stemgan.errors import StemganError
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.training.fcn_sources import read_manifest

    for cell in cells:
        if cell.set_name not in params.table1.sets:
            raise StemganError(
                f"params.yaml: table1.sets has no '{cell.set_name}' (known: {', '.join(params.table1.sets)})"
            )
    n_seeds = params.table1.n_seeds
    units = [
        (cell, k, trained)
        for cell in cells
        for k, trained in enumerate(read_manifest(cell.fcn_dir, cell.source, n_seeds)["seeds"][:n_seeds])
    ]
    with unit_workers(worker_count(params.compute.workers, len(units)), TENSORFLOW_UNITS) as run_units:
        unit = functools.partial(
            _score_seed,
            params=params,
            data_root=Path(data_root),
            experiment=experiment_id(params.table1.experiment),  # made here, not by two workers at once
        )
        results = run_units(unit, units)
    return [
        summarise(cell, [result for (owner, _, _), result in zip(units, results) if owner == cell]) for cell in cells
    ]


def summarise(cell: Cell, results: list) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    seeds = [seed for seed, _, _ in results]
    frame = pd.DataFrame(seeds)
    summary = {
        "source": cell.source,
        "set": cell.set_name,
        "n_seeds": len(seeds),
        "fcn_dir": str(cell.fcn_dir),
        **{f"{m}_mean": float(frame[m].mean(skipna=False)) for m in METRICS},
        # one seed has no spread: null, not a std of 0
        **{f"{m}_std": float(frame[m].std(ddof=0, skipna=False)) if len(seeds) > 1 else None for m in METRICS},
        "seeds": seeds,
    }
    curves = pd.concat([curve.assign(seed=k) for k, (_, curve, _) in enumerate(results)])
    curve = curves.groupby("threshold", as_index=False)[["precision", "recall", "f1"]].mean()
    per_image = pd.concat([per_image.assign(seed=k) for k, (_, _, per_image) in enumerate(results)])
    return summary, curve, per_image


def write_cell(folder: Path, summary: dict, curve: pd.DataFrame, per_image: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cell.json").write_text(json.dumps(summary, indent=2))
    curve.to_csv(folder / "pr_curve.csv", index=False)
    per_image.to_csv(folder / "per_image.csv", index=False)


def labelled_splits(folders: tuple[Path, ...], norm, ingest, tile_size_px: int) -> tuple[list, list]:
    """A set's (val, test) images under one normalisation, each folder loaded once per process (cells share)."""
    from stemgan.data.labelled import load_labelled_once

    val, test = (
        [item for f in folders for item in load_labelled_once(f / split, norm, ingest, tile_size_px)]
        for split in ("val", "test")
    )
    return val, test


def _score_seed(unit, *, params: Params, data_root: Path, experiment: str):
    """One seed's FCN of one cell: threshold on the val images, scored on the test images, in its own MLflow run
    (a stemgan.parallel unit). Returns (the seed's record, its PR curve, its per-image scores)."""
    import mlflow

    from stemgan.evaluation.evaluate import validate_then_score
    from stemgan.models.io import FCN_MODEL, load_keras_model
    from stemgan.tracking.mlflow_runs import flatten, log_metrics, setup_tracking
    from stemgan.training.fcn_sources import source_settings

    cell, k, trained = unit
    norm, _ = source_settings(cell.source, params.fcn, params.tile.normalize)
    folders = tuple(data_root / f for f in params.experimental_set(cell.set_name).data)
    val, test = labelled_splits(folders, norm, params.ingest, params.fcn.tile_size_px)
    setup_tracking()
    model = load_keras_model(str(cell.fcn_dir / trained["model"]), FCN_MODEL)
    tags = {"stage": "table1-cell", "source": cell.source, "set": cell.set_name, "fcn_run_id": trained["mlflow_run_id"]}
    with mlflow.start_run(experiment_id=experiment, run_name=f"{cell.name}-seed{k}", tags=tags) as run:
        mlflow.log_params(
            {
                **flatten({"scoring": dataclasses.asdict(params.fcn.scoring)}),
                "source": cell.source,
                "set": cell.set_name,
                "seed": trained["seed"],
                "fcn_model": str(cell.fcn_dir / trained["model"]),
                "n_val_images": len(val),
                "n_test_images": len(test),
            }
        )
        result = validate_then_score(
            model,
            val,
            test,
            params.material(params.table1.material).label_defects,
            params.fcn.scoring,
            params.ingest.working_pixel_size_A,
            2 ** len(params.fcn.filters),
            seed=trained["seed"],
        )
        log_metrics({f"test_{key}": v for key, v in result.metrics.items()}, step=0)
        mlflow.log_table(result.pr_curve, "pr_curve.json")
    record = {"seed": trained["seed"], "mlflow_run_id": run.info.run_id, "fcn_run_id": trained["mlflow_run_id"]}
    return {**record, **result.metrics}, result.pr_curve, result.per_image
