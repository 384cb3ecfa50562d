"""`table1`: the cells assembled into the paper's Table 1 (Markdown, DVC metrics and plots, MLflow parent run)."""

from __future__ import annotations

from pathlib import Path

from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "table1",
        help="assemble Table 1 (report, DVC metrics and plots, MLflow parent run)",
        description="Collect the table1-cell outputs into the paper's Table 1: a Markdown report beside "
        "the paper's numbers, DVC metrics (JSON) and PR-curve plots, and one MLflow parent "
        "run that adopts the cells' runs.",
    )
    p.add_argument("--cells", type=Path, default=Path("artifacts/table1"), help="folder of table1-cell outputs")
    p.add_argument("--report", type=Path, default=Path("reports/table1.md"), help="Markdown table")
    p.add_argument("--metrics", type=Path, default=Path("metrics/table1.json"), help="DVC metrics (JSON)")
    p.add_argument("--plots", type=Path, default=Path("metrics/pr_curves"), help="DVC plots: one PR curve per cell")
    params_arg(p)
    p.set_defaults(handler=run)
    register_promote_fcn(sub)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.evaluation.table1_report import write_table1

    params = load_params(args.params)
    table = params.table1
    cells = write_table1(
        args.cells,
        args.report,
        args.metrics,
        args.plots,
        list(table.sets),
        table.n_seeds,
        table.experiment,
        params.fcn.scoring.bootstrap,
    )
    print(f"table1: {len(cells)} cells -> {args.report}, {args.metrics}, {args.plots}/")
    print(args.report.read_text())


def register_promote_fcn(sub) -> None:
    p = sub.add_parser(
        "promote-fcn",
        help="register each Table 1 set's best defect finder; alias `champion` only if its validation F1 is better",
        description="For each set of table1.sets: the FCN (any source, any seed) with the best validation F1 "
        "is registered as <material>-<set>-defect-finder with tags: val F1, the threshold chosen on the "
        "validation images, source, normalisation, classes, the set's calibration and the data hash; "
        "alias `champion` moves only if it beats the current champion.",
    )
    p.add_argument("--cells", type=Path, default=Path("artifacts/table1"), help="folder of table1-cell outputs")
    p.add_argument("--sim", type=Path, default=Path("artifacts/sim"), help="the sets' simulations (calibration)")
    params_arg(p)
    p.set_defaults(handler=run_promote_fcn)


def defect_finder_name(material: str, set_name: str) -> str:
    return f"{material}-{set_name.removeprefix(material + '_')}-defect-finder"


def best_defect_finder(cells: Path, set_name: str) -> tuple[dict, dict] | None:
    """(cell, seed entry) of the set's FCN with the best validation F1, or None when no cell has one."""
    import json
    import math

    found = []
    for path in sorted(Path(cells).glob("*/cell.json")):
        cell = json.loads(path.read_text())
        if cell["set"] == set_name:
            found += [
                (seed["val_f1"], cell, seed) for seed in cell["seeds"] if not math.isnan(seed.get("val_f1", math.nan))
            ]
    if not found:
        return None
    _, cell, seed = max(found, key=lambda item: item[0])
    return cell, seed


def run_promote_fcn(args) -> None:
    import json

    from stemgan.calibration.calibrate import CALIBRATION_FILE
    from stemgan.config import load_params
    from stemgan.tracking.registry import data_hash, promote
    from stemgan.training.fcn_sources import MANIFEST

    params = load_params(args.params)
    material = params.table1.material
    for set_name in params.table1.sets:
        best = best_defect_finder(args.cells, set_name)
        if best is None:
            print(f"promote-fcn: {set_name}: no cell with a validation F1 (no val/ images?); nothing registered")
            continue
        cell, seed = best
        manifest = json.loads((Path(cell["fcn_dir"]) / MANIFEST).read_text())
        trained = next(s for s in manifest["seeds"] if s["mlflow_run_id"] == seed["fcn_run_id"])
        calibration_file = args.sim / set_name / CALIBRATION_FILE
        calibration = json.loads(calibration_file.read_text())["applied"] if calibration_file.is_file() else {}
        tags = {
            "set": set_name,
            "source": cell["source"],
            "seed": str(seed["seed"]),
            "threshold": str(seed["threshold"]),
            "test_f1": str(seed["f1"]),
            "normalize": manifest["normalize"],
            "classes": ",".join(manifest["classes"]),
            "fcn_run_id": seed["fcn_run_id"],
            "calibration": json.dumps(calibration) if calibration else "none",
            "data_dvc_md5": data_hash(),
        }
        name = defect_finder_name(material, set_name)
        print(promote(trained["model_uri"], name, float(seed["val_f1"]), tags, "defect finder (stemgan FCN)").message())
