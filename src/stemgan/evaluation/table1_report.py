"""Table 1 from the cells: reports/table1.md (the paper's layout, paper numbers beside),
metrics/table1.json (DVC metrics), PR curves (DVC plots), one MLflow parent run over the cells."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from stemgan.data.files import atomic_write
from stemgan.errors import StemganError

PAPER = {  # Khan et al., Table 1 (P / R / F1, %), WSe2
    "no_noise": {"wse2_day_a": (15, 83, 25), "wse2_day_b": (66, 84, 74), "wse2_day_ab": (22, 83, 35)},
    "cyclegan": {"wse2_day_a": (85, 79, 82), "wse2_day_b": (87, 91, 89), "wse2_day_ab": (89, 63, 74)},
}
SOURCE_NAMES = {
    "no_noise": "simulation, no noise",
    "gaussian": "simulation + Gaussian noise (percentile scaling)",
    "gaussian_minmax": "simulation + Gaussian noise (paper's min-max scaling)",
    "matched_noise": "simulation + the cycleGAN's own input noise (no generator)",
    "cyclegan": "cycleGAN-generated",
    "cyclegan_nofft": "cycleGAN without FFT discriminators",
    "cyclegan_paper": "cycleGAN with the paper's generator (not residual, N(0, 0.1) input)",
}


def load_cells(cells_dir: Path) -> list[dict]:
    cells = [json.loads(p.read_text()) for p in sorted(Path(cells_dir).glob("*/cell.json"))]
    if not cells:
        raise StemganError(
            f"{cells_dir}: no Table 1 cells; run the train_fcn and table1_cells stages (dvc repro) first"
        )
    return cells


def spread_text(std: float | None) -> str:
    """' ± 7' (an F1 std in percentage points), or nothing where one seed has no spread."""
    return "" if std is None else f" ± {100 * std:.0f}"


def markdown(cells: list[dict], sets: list[str], n_seeds: int) -> str:
    by = {(c["source"], c["set"]): c for c in cells}
    present = {c["source"] for c in cells}
    sources = [s for s in SOURCE_NAMES if s in present] + sorted(present - set(SOURCE_NAMES))  # the paper's order
    head = "| training data | " + " | ".join(s.replace("wse2_", "").replace("_", " ") for s in sets) + " |"
    lines = [
        "# Table 1: defect finding on held-out labelled experimental images (WSe2, Se vacancies)",
        "",
        f"P / R / F1 in %, mean over {n_seeds} seeds (F1 spread ± 1 std); the paper's numbers in brackets."
        if n_seeds > 1
        else "P / R / F1 in %, one seed (no seed spread: table1.n_seeds 2 gives one); the paper's numbers in brackets.",
        "Each FCN is trained only on the row's source; its threshold is chosen on the set's validation",
        "images; it is scored on the set's test images, which nothing else touches.",
        "",
        head,
        "|" + "---|" * (len(sets) + 1),
    ]
    for source in sources:
        row = [SOURCE_NAMES.get(source, source)]
        for s in sets:
            c = by.get((source, s))
            cell = (
                "—"
                if c is None
                else (
                    f"{100 * c['precision_mean']:.0f} / {100 * c['recall_mean']:.0f} / "
                    f"{100 * c['f1_mean']:.0f}{spread_text(c['f1_std'])}"
                )
            )
            paper = PAPER.get(source, {}).get(s)
            row.append(cell + (f" [{paper[0]} / {paper[1]} / {paper[2]}]" if paper else ""))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


BASELINES = ("no_noise", "gaussian", "gaussian_minmax", "matched_noise")  # physics with or without noise: no G


def image_counts(cell_dir: Path) -> pd.DataFrame:
    """tp, n_predicted, n_true per test image, summed over the cell's seeds (one row per image, by name)."""
    per_image = pd.read_csv(Path(cell_dir) / "per_image.csv")
    return per_image.groupby("image")[["tp", "n_predicted", "n_true"]].sum().sort_index()


def comparisons(cells_dir: Path, cells: list[dict], sets: list[str], n_bootstrap: int) -> dict:
    """Per set: F1(cycleGAN) - F1(baseline), pooled over seeds and test images, with a paired bootstrap 95%
    interval over test images, against the baseline with the best mean F1 ("best") and against the cycleGAN's
    own input noise ("matched_noise": what the generator adds); `beats` only when the interval excludes 0."""
    from stemgan.evaluation.scoring import paired_f1_difference

    by = {(c["source"], c["set"]): c for c in cells}
    found: dict = {}
    for set_name in sets:
        baselines = [by[(b, set_name)] for b in BASELINES if (b, set_name) in by]
        if ("cyclegan", set_name) not in by or not baselines:
            continue
        ours = image_counts(Path(cells_dir) / f"cyclegan-{set_name}")
        best = max(baselines, key=lambda c: -1.0 if c["f1_mean"] != c["f1_mean"] else c["f1_mean"])
        versus = {"best_baseline": best}
        if ("matched_noise", set_name) in by:
            versus["matched_noise"] = by[("matched_noise", set_name)]
        for label, baseline in versus.items():
            theirs = image_counts(Path(cells_dir) / f"{baseline['source']}-{set_name}").reindex(ours.index)
            point, low, high = paired_f1_difference(ours.to_numpy(), theirs.to_numpy(), n_bootstrap, seed=0)
            found.setdefault(label, {})[set_name] = {
                "baseline": baseline["source"],
                "f1_difference": point,
                "low": low,
                "high": high,
                "beats": bool(low > 0),
                "loses": bool(high < 0),
                "n_test_images": len(ours),
                "n_true_per_seed": int(ours.n_true.sum() / by[("cyclegan", set_name)]["n_seeds"]),
            }
    return found


def comparison_markdown(found: dict) -> str:
    if not found:
        return ""
    lines = [
        "",
        "cycleGAN against the best baseline of each set and against its own input noise (what the generator",
        "adds): F1 difference pooled over seeds and test images, 95% interval from a paired bootstrap over test",
        "images; it beats a row only if the interval excludes 0.",
        "",
        "| set | against | F1 difference | 95% interval | test images | scored vacancies | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    shown = set()
    for per_set in found.values():
        for set_name, c in per_set.items():
            if (set_name, c["baseline"]) in shown:  # the best baseline is the matched noise: one row says both
                continue
            shown.add((set_name, c["baseline"]))
            verdict = "beats" if c["beats"] else "loses" if c["loses"] else "no difference shown"
            lines.append(
                f"| {set_name.replace('wse2_', '').replace('_', ' ')} "
                f"| {SOURCE_NAMES.get(c['baseline'], c['baseline'])} "
                f"| {100 * c['f1_difference']:+.1f} | {100 * c['low']:+.1f} to {100 * c['high']:+.1f} "
                f"| {c['n_test_images']} | {c['n_true_per_seed']} | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def write_table1(
    cells_dir: Path,
    report: Path,
    metrics: Path,
    plots_dir: Path,
    sets: list[str],
    n_seeds: int,
    experiment: str,
    n_bootstrap: int = 1000,
) -> list[dict]:
    cells = load_cells(cells_dir)
    found = comparisons(cells_dir, cells, sets, n_bootstrap)
    atomic_write(report, lambda tmp: tmp.write_text(markdown(cells, sets, n_seeds) + comparison_markdown(found)))
    nested: dict = {}
    for c in cells:
        nested.setdefault(c["source"], {})[c["set"]] = {k: c[f"{k}_mean"] for k in ("precision", "recall", "f1")} | {
            "f1_std": c["f1_std"],
            "n_true": int(sum(seed["n_true"] for seed in c["seeds"]) / max(len(c["seeds"]), 1)),
        }
    for label, per_set in found.items():
        nested[f"cyclegan_vs_{label}"] = per_set
    atomic_write(metrics, lambda tmp: tmp.write_text(json.dumps(nested, indent=2)))
    plots_dir.mkdir(parents=True, exist_ok=True)
    for cell_dir in sorted(Path(cells_dir).glob("*/")):
        if (cell_dir / "pr_curve.csv").is_file():
            curve = pd.read_csv(cell_dir / "pr_curve.csv")
            atomic_write(plots_dir / f"{cell_dir.name}.csv", lambda tmp, c=curve: c.to_csv(tmp, index=False))
    _track(cells, nested, report, experiment)
    return cells


def _track(cells: list[dict], nested: dict, report: Path, experiment: str) -> None:
    """One parent run per Table 1; the cells' seed runs become its children."""
    import mlflow

    from stemgan.tracking.mlflow_runs import experiment_id, log_metrics

    with mlflow.start_run(experiment_id=experiment_id(experiment), run_name="table1", tags={"stage": "table1"}) as run:
        log_metrics(
            {
                f"{src}.{s}.{k}": float(v)
                for src, per in nested.items()
                for s, vals in per.items()
                for k, v in vals.items()
                if isinstance(v, (int, float))
            },
            step=0,
        )
        mlflow.log_artifact(str(report))
        elsewhere = _adopt_cell_runs(cells, run.info.run_id)
        if elsewhere:
            # cells restored from a DVC cache or remote were tracked in another MLflow store
            mlflow.set_tag("cell_runs_in_other_store", ",".join(elsewhere))
            print(
                f"table1: {len(elsewhere)} cell run(s) are not in this MLflow store ({mlflow.get_tracking_uri()}); "
                "their IDs are in the parent run's tag cell_runs_in_other_store",
                file=sys.stderr,
            )


def _adopt_cell_runs(cells: list[dict], parent_run_id: str) -> list[str]:
    """Make the cells' seed runs children of the parent; returns the IDs this store does not hold."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client, elsewhere = mlflow.MlflowClient(), []
    for cell in cells:
        for seed in cell["seeds"]:
            try:
                client.set_tag(seed["mlflow_run_id"], "mlflow.parentRunId", parent_run_id)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
                elsewhere.append(seed["mlflow_run_id"])
    return elsewhere
