"""`dvc repro` of the real dvc.yaml in a temporary git repo with tiny params."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from stemgan.data.tiles import load_tiles
from tests.conftest import BIN, ROOT, run_cli, tiny_params, write_params


def sh(*args, cwd):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(list(map(str, args)), cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout + proc.stderr


def pipeline_params() -> dict:
    """tiny_params with Table 1's columns cut to the two sessions: the pooled set is still calibrated, simulated,
    tiled, given cycleGANs, translated and measured for realism, but its 5 FCNs and 5 cells (each a process that
    starts TensorFlow: ~10 s) would run the same foreach stages as the other columns'."""
    params = tiny_params()
    params["table1"]["sets"] = ["wse2_day_a", "wse2_day_b"]
    return params


@pytest.fixture
def repo(tmp_path):
    """A git + DVC repo holding the project's dvc.yaml and code, tiny params and demo data."""
    path = tmp_path / "repo"
    path.mkdir()
    shutil.copy(ROOT / "dvc.yaml", path)
    shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    write_params(path / "params.yaml", tiny_params())
    sh("git", "init", "-q", cwd=path)
    sh("git", "config", "user.email", "test@example.com", cwd=path)
    sh("git", "config", "user.name", "test", cwd=path)
    sh("dvc", "init", "-q", cwd=path)
    run_cli("acquire", "--out", "data", cwd=path)
    sh("dvc", "add", "-q", "data", cwd=path)
    return path


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~4 min alone; the whole tiny pipeline, with room for a loaded 2-core machine
def test_dvc_repro_runs_the_whole_pipeline_and_tracks_what_changed(repo, mlflow_store):
    """calibrate -> simulate -> tile -> train_cyclegan -> translate -> train_fcn (Table 1 cells) -> table1, tiny."""
    import json

    write_params(repo / "params.yaml", pipeline_params())
    sh("dvc", "repro", cwd=repo)
    assert len(list((repo / "artifacts/sim/wse2_day_a/images").glob("*.tif"))) == 2
    assert len(list((repo / "artifacts/sim/srtio3_session_1/labels").glob("*.csv"))) == 2
    for name in ("wse2_day_a", "wse2_day_ab", "graphene_session_1"):  # each set calibrated, its simulations use it
        measured = json.loads((repo / "artifacts/calibration" / name / "calibration.json").read_text())
        applied = json.loads((repo / "artifacts/sim" / name / "calibration.json").read_text())["applied"]
        assert measured["mode"] == "use" and applied["source_fwhm_A"] == measured["source_fwhm_A"]
        assert abs(measured["sampling_correction"] - 1) < 0.05  # the demo files' pixel sizes are right
    assert (
        json.loads((repo / "artifacts/calibration/graphene_session_1/calibration.json").read_text())["z_exponent"]
        is None
    )  # one kind of column: nothing to match
    tiles = load_tiles(repo / "artifacts/tiles/exp_wse2_day_a")
    assert tiles.shape == (8, 64, 64) and tiles.min() >= -1 and tiles.max() <= 1 and np.isfinite(tiles).all()
    assert load_tiles(repo / "artifacts/tiles/exp_wse2_day_ab").shape == (16, 64, 64)  # both days pooled
    assert (repo / "artifacts/cyclegan/wse2_day_ab/seed_0/generator_sim2exp.keras").is_file()
    assert len(list((repo / "artifacts/generated/wse2_day_b/seed_0/images").glob("*.tif"))) == 2
    assert len(list((repo / "artifacts/generated/wse2_day_b/seed_0/matched_noise/labels").glob("*.csv"))) == 2

    table = (repo / "reports/table1.md").read_text()
    for row in (
        "simulation, no noise",
        "Gaussian noise (percentile",
        "min-max",
        "cycleGAN-generated",
        "cycleGAN without FFT",
        "the cycleGAN's own input noise",
        "the paper's generator",
    ):
        assert row in table
    assert "[15 / 83 / 25]" in table  # the paper's numbers beside ours
    metrics = json.loads((repo / "metrics/table1.json").read_text())
    best, matched = metrics.pop("cyclegan_vs_best_baseline"), metrics.pop("cyclegan_vs_matched_noise")
    ablations = {"cyclegan_nofft", "cyclegan_paper"}
    assert set(metrics) == {"no_noise", "gaussian", "gaussian_minmax", "matched_noise", "cyclegan", *ablations}
    assert set(best) == set(matched) == {"wse2_day_a", "wse2_day_b"}
    for found in (*best.values(), *matched.values()):  # a paired interval around the difference, beats above 0
        assert found["baseline"] in ("no_noise", "gaussian", "gaussian_minmax", "matched_noise")
        assert found["beats"] == (found["low"] > 0) and found["low"] <= found["f1_difference"] <= found["high"]
    assert {found["baseline"] for found in matched.values()} == {"matched_noise"}
    assert "cycleGAN against the best baseline" in table
    assert set(metrics["cyclegan"]) == {"wse2_day_a", "wse2_day_b"}
    assert all(0 <= v["f1"] <= 1 and v["n_true"] >= 0 for per in metrics.values() for v in per.values())
    assert all(v["f1_std"] is None for per in metrics.values() for v in per.values())  # one seed: no spread, not 0
    assert set(metrics["cyclegan_nofft"]) == set(metrics["cyclegan_paper"]) == {"wse2_day_a"}  # ablations: day A
    assert len(list((repo / "metrics/pr_curves").glob("*.csv"))) == 12
    assert "table1.json" in sh("dvc", "metrics", "show", cwd=repo)
    assert "up to date" in sh("dvc", "status", cwd=repo)

    import mlflow

    client = mlflow.MlflowClient(mlflow_store)
    parent = client.search_runs(
        [client.get_experiment_by_name("stemgan-table1").experiment_id], "tags.stage = 'table1'"
    )[0]
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 12  # one child run per cell (and seed)
    fcn_runs = client.search_runs([client.get_experiment_by_name("stemgan-fcn").experiment_id], "tags.stage = 'fcn'")
    assert len(fcn_runs) == 12  # 5 sources x 2 sets (each set's own calibrated simulations), 2 ablations
    cells = {
        c: json.loads((repo / "artifacts/table1" / c / "cell.json").read_text())
        for c in ("no_noise-wse2_day_a", "no_noise-wse2_day_b")
    }
    assert len({c["seeds"][0]["fcn_run_id"] for c in cells.values()}) == 2  # one FCN per set's simulations

    realism = json.loads((repo / "metrics/realism/wse2_day_a.json").read_text())
    assert set(realism) == {"generated", "matched_noise", "pristine", "gaussian"}  # G against its own input too
    assert all(0 <= m["c2st_auc"] <= 1 and m["spectrum_distance"] >= 0 and "kid" in m for m in realism.values())
    assert "generated_mean_shift_pm" in realism["generated"] and "input_mean_shift_pm" in realism["generated"]
    import re

    import matplotlib.image

    readme = (repo / "reports/README.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert {"figure2.png", "power_spectra.png", "histograms.png", "training_curves.png"} <= set(links)
    for link in links:
        assert (repo / "reports" / link).is_file(), link
    figure = matplotlib.image.imread(repo / "reports/figure2.png")
    assert figure.shape[1] == 18 * 72 and figure.shape[0] == round(3.1 * 5 * 72)  # 3 WSe2 sets + graphene + SrTiO3
    spectra = matplotlib.image.imread(repo / "reports/power_spectra.png")
    assert spectra.shape[:2] == (4 * 72, 2 * 5 * 72)  # a panel per Table 1 set
    assert "| wse2_day_a | generated |" in readme and "Table 1" in readme
    assert "| graphene_session_1 | generated |" in readme and "| srtio3_session_1 | generated |" in readme
    assert "## Calibration of each set's simulations" in readme and "| wse2_day_b | " in readme

    # the per-effect diagnostic: every day A source on each effect's own labelled set, in the report
    diagnostic = json.loads((repo / "metrics/diagnostic.json").read_text())
    assert diagnostic["effects"] == ["base", "probe", "contamination", "scan", "detector", "session"]
    assert set(diagnostic["sources"]) == {*metrics} and diagnostic["preset"] == "day_a"
    for per_effect in diagnostic["sources"].values():
        assert all(v["f1"] is None or 0 <= v["f1"] <= 1 for v in per_effect.values())
        assert all(v["f1_seeds"] == [v["f1"]] for v in per_effect.values())  # each FCN its unit, back to its source
    assert all(n >= 0 for n in diagnostic["n_true"].values())
    assert "diagnostic.png" in links and "| cyclegan | " in readme.split("## What each microscope effect")[1]
    assert "(no real example: real_example.examples is empty)" in readme

    summary = json.loads((repo / "reports/tune/study_summary.json").read_text())
    assert sum(summary["trials"].values()) == 2
    from stemgan.models.io import load_generator

    assert load_generator("models:/wse2-day_a-generator@champion").input_shape[1] == 64

    # each Table 1 set's best defect finder (validation F1) is the registry's champion, and detect takes it
    # with the threshold it was selected with
    from stemgan.tracking.registry import version_tags

    tags = version_tags("models:/wse2-day_b-defect-finder@champion")
    cell = json.loads((repo / f"artifacts/table1/{tags['source']}-wse2_day_b/cell.json").read_text())
    chosen = next(seed for seed in cell["seeds"] if seed["fcn_run_id"] == tags["fcn_run_id"])
    assert float(tags["threshold"]) == chosen["threshold"] and json.loads(tags["calibration"])["z_exponent"] > 1
    detect = [
        "detect",
        "--model",
        "models:/wse2-day_b-defect-finder@champion",
        "--images",
        "data/wse2/day_b/test/images",
    ]
    run_cli(*detect, "--out", "detections", cwd=repo)
    used = json.loads((repo / "detections/model.json").read_text())
    assert used["threshold"] == chosen["threshold"] and used["calibration"] == tags["calibration"]

    params = pipeline_params()
    params["tile"]["stride_px"] = 32
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert "tile@wse2_day_a" in status and "simulate@wse2_day_a" not in status

    # a scoring change rescores the cells and retrains no FCN
    params = pipeline_params()
    params["fcn"]["scoring"]["tta"] = not params["fcn"]["scoring"]["tta"]
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert "table1_cells:" in status
    assert "train_fcn" not in status and "train_cyclegan" not in status


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_new_session_is_one_params_entry_and_its_stages_appear_and_run(repo, mlflow_store):
    """Bring your own images: copy a session into data/, declare it in `sets` (and `table1.sets` for its
    Table 1 column and defect finder), `dvc add data`: every per-set stage exists for it, and they run."""
    import json

    shutil.copytree(repo / "data/wse2/day_b", repo / "data/wse2/day_c")
    params = tiny_params()
    params["sets"]["wse2_day_c"] = {"material": "wse2", "data": ["wse2/day_c"]}
    params["table1"]["sets"].append("wse2_day_c")
    write_params(repo / "params.yaml", params)
    sh("dvc", "add", "-q", "data", cwd=repo)

    listed = sh("dvc", "stage", "list", cwd=repo)
    for stage in ("calibrate", "simulate", "tile", "train_cyclegan", "translate", "realism"):
        assert f"{stage}@wse2_day_c " in listed
    assert "train_fcn@wse2_day_c " in listed and "train_fcn_translated@wse2_day_c " in listed  # its rows' FCNs
    assert "nofft-wse2_day_c" not in listed and "train_cyclegan_ablation@nofft " in listed  # ablations: one set

    from stemgan.config import load_params

    # its column is in the one scoring stage's cells
    assert "table1_cells " in listed and ("cyclegan", "wse2_day_c") in load_params(repo / "params.yaml").table1.cells

    sh("dvc", "repro", "train_fcn_translated@wse2_day_c", cwd=repo)
    cell_args = ["--source", "cyclegan", "--set", "wse2_day_c", "--fcn", "artifacts/fcn/wse2_day_c/translated/cyclegan"]
    run_cli("table1-cell", *cell_args, "--out", "artifacts/table1/cyclegan-wse2_day_c", cwd=repo)
    calibration = json.loads((repo / "artifacts/calibration/wse2_day_c/calibration.json").read_text())
    assert calibration["mode"] == "use" and calibration["z_exponent"] > 1
    assert (repo / "artifacts/cyclegan/wse2_day_c/seed_0/generator_sim2exp.keras").is_file()
    assert not (repo / "artifacts/cyclegan/wse2_day_c/seed_1").exists()  # table1.n_seeds = 1 in tiny params
    cell = json.loads((repo / "artifacts/table1/cyclegan-wse2_day_c/cell.json").read_text())
    assert cell["set"] == "wse2_day_c" and cell["source"] == "cyclegan" and 0 <= cell["f1_mean"] <= 1
    assert not (repo / "artifacts/sim/wse2_day_a").exists()  # only what the new cell needs ran
    assert (repo / "data/wse2/day_c/test/images").is_dir()  # the user's copy is untouched
