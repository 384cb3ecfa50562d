"""Nothing lost, no wrong answer: output folders, scores with nothing to score, pixel sizes, settings,
reruns and a quiet command line, each as a new user met it (real files, the real CLI)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from stemgan.config import IngestConfig
from stemgan.data.ingest import load_working_image, pixel_size_A
from stemgan.data.tiff_io import read_tiff, write_tiff
from stemgan.evaluation.scoring import ImageScore, bootstrap_f1, pooled, prf
from tests.conftest import BIN, ROOT, run_cli, tiny_params, write_params
from tests.test_ingest import PIXEL_A, assert_one_line_error, lattice_image

STRAY = ("oneDNN", "absl::InitializeLog", "UserWarning", "WARNING mlflow", "remapper failed", "Traceback")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under folder with its bytes: 'nothing written or deleted' is this staying equal."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def labelled(tmp_path) -> Path:
    """A user's hand-labelled folder: two real TIFFs and their label CSVs."""
    folder = tmp_path / "mine"
    for name, defects in (("a", [[30.0, 40.0]]), ("b", [[50.0, 60.0], [70.0, 20.0]])):
        write_tiff(folder / "images" / f"{name}.tif", lattice_image(96, PIXEL_A), PIXEL_A)
        (folder / "labels").mkdir(exist_ok=True)
        pd.DataFrame(defects, columns=["x_px", "y_px"]).to_csv(folder / "labels" / f"{name}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def untrained_fcn(tmp_path_factory) -> Path:
    """A real (untrained) res-unet saved as .keras: enough to run evaluate end to end."""
    from stemgan.models.fcn import res_unet

    path = tmp_path_factory.mktemp("model") / "fcn.keras"
    res_unet(None, (8, 16), 16, 0.0, 2).save(path)
    return path


# --------------------------------------------------------------------------- data loss
def test_evaluate_into_its_own_labelled_folder_is_refused(labelled, tiny_params_file):
    before = tree(labelled)
    proc = run_cli(
        "evaluate",
        "--model",
        "fcn.keras",
        "--labelled",
        labelled,
        "--out",
        labelled,
        "--params",
        tiny_params_file,
        check=False,
    )
    assert_one_line_error(proc, str(labelled), "would replace the input")
    assert tree(labelled) == before


def test_tile_over_the_raw_images_is_refused_even_with_force(labelled, tiny_params_file):
    images = labelled / "images"
    before = tree(labelled)
    for extra in ([], ["--force"]):
        proc = run_cli("tile", "--images", images, "--out", images, "--params", tiny_params_file, *extra, check=False)
        assert_one_line_error(proc, "would replace the input")
    assert tree(labelled) == before


def test_output_inside_an_input_needs_force(labelled, tiny_params_file):
    out = labelled / "images" / "tiles"
    proc = run_cli("tile", "--images", labelled / "images", "--out", out, "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, "lies inside the input folder", "--force")
    assert not out.exists()
    run_cli("tile", "--images", labelled / "images", "--out", out, "--params", tiny_params_file, "--force")
    assert (out / "index.csv").is_file() and (labelled / "images" / "a.tif").is_file()


def test_simulate_into_a_folder_of_user_files_is_refused_then_forced(tmp_path, tiny_params_file):
    folder = tmp_path / "session"
    write_tiff(folder / "my_best_image.tif", lattice_image(96, PIXEL_A), PIXEL_A)
    before = tree(folder)
    proc = run_cli("simulate", "--material", "wse2", "--out", folder, "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, "1 file(s) that stemgan did not write", "my_best_image.tif", "--force")
    assert tree(folder) == before and not list(tmp_path.glob(".session*"))
    run_cli("simulate", "--material", "wse2", "--out", folder, "--params", tiny_params_file, "--force")
    assert not (folder / "my_best_image.tif").exists() and (folder / "manifest.csv").is_file()


def test_stemgan_replaces_its_own_output_but_not_files_added_to_it(tmp_path, tiny_params_file):
    out = tmp_path / "sim"
    run_cli("simulate", "--material", "wse2", "--out", out, "--params", tiny_params_file)
    run_cli("simulate", "--material", "wse2", "--out", out, "--params", tiny_params_file)  # a rerun replaces it
    (out / "images" / "added_by_hand.tif").write_bytes(b"mine")
    proc = run_cli("simulate", "--material", "wse2", "--out", out, "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, "images/added_by_hand.tif")
    assert (out / "images" / "added_by_hand.tif").read_bytes() == b"mine"


def test_acquire_keeps_a_users_session_added_to_the_demo_data(tmp_path, tiny_params_file):
    data = tmp_path / "data"
    run_cli("acquire", "--out", data, "--params", tiny_params_file)
    mine = data / "wse2" / "my_session" / "unlabelled" / "scan_001.tif"
    write_tiff(mine, lattice_image(96, PIXEL_A), PIXEL_A)
    proc = run_cli("acquire", "--out", data, "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, "wse2/my_session/unlabelled/scan_001.tif")
    assert mine.is_file()


def test_out_naming_a_file_is_one_line_and_leaves_nothing(tmp_path, tiny_params_file):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    proc = run_cli("simulate", "--material", "wse2", "--out", target, "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, "is a file, not a folder")
    assert target.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == [
        "params.yaml",
        "report.txt",
    ]


def test_library_writers_refuse_a_foreign_folder_too(tmp_path):
    from stemgan.data.files import atomic_directory
    from stemgan.errors import StemganError

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.md").write_text("x")
    with pytest.raises(StemganError, match="did not write"):
        with atomic_directory(folder) as tmp:
            (tmp / "out.txt").write_text("y")
    assert (folder / "todo.md").read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["notes"]


# --------------------------------------------------------------------------- wrong answers
def test_labels_outside_the_image_are_an_error_before_the_model_is_loaded(labelled, tmp_path, tiny_params_file):
    pd.DataFrame({"x_px": [30.0 + 5000, 40.0], "y_px": [40.0, 20.0]}).to_csv(labelled / "labels" / "a.csv", index=False)
    proc = run_cli(
        "evaluate",
        "--model",
        tmp_path / "no_such_model.keras",
        "--labelled",
        labelled,
        "--out",
        tmp_path / "eval",
        "--params",
        tiny_params_file,
        check=False,
    )
    assert_one_line_error(proc, "a.csv", "1 of 2 label(s) lie outside the 96x96 px image")
    assert not (tmp_path / "eval").exists()


def test_header_only_labels_score_zero_true_defects_and_f1_is_undefined(
    labelled, tmp_path, tiny_params_file, untrained_fcn, mlflow_store
):
    for csv in (labelled / "labels").glob("*.csv"):
        csv.write_text("x_px,y_px,defect\n")  # images with no defects: legitimate
    out = tmp_path / "eval"
    proc = run_cli(
        "evaluate",
        "--model",
        untrained_fcn,
        "--labelled",
        labelled,
        "--out",
        out,
        "--threshold",
        "1",
        "--params",
        tiny_params_file,
    )
    assert "0 labelled and 0 detected defects" in proc.stdout and "F1 undefined" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_true"] == 0 and metrics["f1"] is None and metrics["precision"] is None
    assert not any(s in proc.stderr for s in STRAY), proc.stderr  # a quiet TensorFlow command


def test_one_f1_definition_for_scores_matches_and_bootstrap():
    from stemgan.evaluation.matching import match_points

    assert all(math.isnan(v) for v in prf(0, 0, 0))  # nothing to find, nothing claimed: undefined, not 100%
    assert prf(0, 3, 0)[2] == 0.0 and math.isnan(prf(0, 3, 0)[1])  # only false positives
    assert prf(0, 0, 3)[2] == 0.0 and math.isnan(prf(0, 0, 3)[0])  # all missed
    assert math.isnan(match_points(np.zeros((0, 2)), np.zeros((0, 2)), 1.0).f1)
    nothing = [ImageScore("a", 0, 0, 0), ImageScore("b", 0, 0, 0)]
    assert all(math.isnan(v) for v in bootstrap_f1(nothing, 50, seed=0))
    one = [ImageScore("a", 3, 4, 5)]
    assert bootstrap_f1(one, 50, seed=0) == pytest.approx((pooled(one)["f1"],) * 2)


def test_evaluate_handles_images_of_mixed_sizes(tmp_path, tiny_params_file, untrained_fcn, mlflow_store):
    """Three images whose working sizes differ and are all below the inference tile (the bug: a retrace
    with unknown spatial dimensions in UpSampling2D)."""
    params = tiny_params()
    params["fcn"]["scoring"]["tile_px"] = 128
    params_file = write_params(tmp_path / "mixed.yaml", params)
    folder = tmp_path / "mixed"
    for name, size in (("a", 100), ("b", 110), ("c", 121)):
        write_tiff(folder / "images" / f"{name}.tif", lattice_image(size, PIXEL_A), PIXEL_A)
        (folder / "labels").mkdir(exist_ok=True)
        pd.DataFrame({"x_px": [size / 2], "y_px": [size / 2]}).to_csv(folder / "labels" / f"{name}.csv", index=False)
    proc = run_cli(
        "evaluate", "--model", untrained_fcn, "--labelled", folder, "--out", tmp_path / "eval", "--params", params_file
    )
    assert "3 images" in proc.stdout
    assert len(pd.read_csv(tmp_path / "eval" / "per_image.csv")) == 3


# --------------------------------------------------------------------------- pixel sizes
def test_72_dpi_tiff_is_not_read_as_millimetres(tmp_path):
    path = tmp_path / "screenshot.tif"
    tifffile.imwrite(path, lattice_image(96, PIXEL_A), resolution=(72, 72), resolutionunit="INCH")
    from stemgan.errors import StemganError

    with pytest.raises(StemganError, match=r"3\.528e\+06 Å per pixel, outside the plausible 0\.005-2") as err:
        load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A))
    assert "sidecar screenshot.json" in str(err.value) and "default_pixel_size_A" in str(err.value)
    working = load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A, default_pixel_size_A=PIXEL_A))
    assert working.original_pixel_size_A == PIXEL_A
    (tmp_path / "screenshot.json").write_text(json.dumps({"pixel_size_A": 0.1037}))
    assert load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A)).original_pixel_size_A == 0.1037


@pytest.mark.parametrize(
    "value, needle",
    [
        (-0.2, "-0.2, not a positive number"),
        (0, "0, not a positive"),
        ("0.2", "'0.2', not a positive number"),
        (50.0, "outside the plausible"),
    ],
)
def test_bad_sidecar_pixel_sizes_say_what_is_wrong(tmp_path, tiny_params_file, value, needle):
    folder = tmp_path / "images"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", lattice_image(96, PIXEL_A))
    (folder / "a.json").write_text(json.dumps({"pixel_size_A": value}))
    proc = run_cli("tile", "--images", folder, "--out", tmp_path / "tiles", "--params", tiny_params_file, check=False)
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "tiles").exists()


def test_greek_mu_and_micro_sign_units_are_both_read(tmp_path):
    from stemgan.data.tiff_io import unit_to_A

    assert unit_to_A("\u03bcm") == unit_to_A("\u00b5m") == 1e4  # as rosettasciio returns DM/EMD axis units
    for code in ("03bc", "00b5", "03BC"):  # ImageJ's ASCII description escapes them
        path = tmp_path / f"{code}.tif"
        per_um = 1 / (PIXEL_A / 1e4)
        tifffile.imwrite(
            path, lattice_image(64, PIXEL_A), imagej=True, resolution=(per_um, per_um), metadata={"unit": f"\\u{code}m"}
        )
        assert read_tiff(path)[1] == pytest.approx(PIXEL_A, rel=1e-4)


def test_sidecar_is_the_pixel_size_of_any_format(tmp_path):
    dm3 = tmp_path / "session.dm3"
    (tmp_path / "session.json").write_text(json.dumps({"pixel_size_A": 0.127}))
    assert pixel_size_A(dm3, 0.137, IngestConfig(working_pixel_size_A=PIXEL_A)) == 0.127  # the user's word wins


# --------------------------------------------------------------------------- settings
def tiny_params_with(keys: tuple[str, ...], value) -> dict:
    """The tiny params with one (nested) key set to a bad value."""
    params = tiny_params()
    node = params
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return params


BAD_SETTINGS = [
    ("tile", ("ingest", "working_pixel_size_A"), 0, "ingest.working_pixel_size_A: 0.0 is out of range; it must be > 0"),
    ("tile", ("tile", "normalize", "high_percentile"), 150, "high_percentile: 150.0 is out of range"),
    ("tile", ("tile", "normalize", "low_percentile"), 99.8, "low_percentile 99.8 must be below high_percentile"),
    ("tile", ("tile", "normalize", "method"), "zscore", "'zscore' is not one of percentile, minmax"),
    ("tile", ("ingest", "plausible_pixel_size_A"), [2.0, 0.005], "low < high"),
    ("simulate", ("optics", "voltage_kV"), -80, "optics.voltage_kV: -80.0 is out of range"),
    ("simulate", ("materials", "wse2", "a_A"), -3.3, "materials.wse2.a_A: -3.3 is out of range"),
    ("simulate", ("simulate", "n_images"), 0, "simulate.n_images: 0 is out of range; it must be >= 1"),
    ("simulate", ("optics", "source_fwhm_A"), {"mean": -1.0, "std": 0.1}, "source_fwhm_A: -1.0 is out of range"),
    ("simulate", ("optics", "defocus_A"), {"mean": 0.0, "std": -5.0}, "defocus_A.std: -5.0 is out of range"),
]


@pytest.mark.parametrize("command, keys, value, needle", BAD_SETTINGS, ids=[".".join(c[1]) for c in BAD_SETTINGS])
def test_out_of_range_settings_are_one_line_and_write_nothing(tmp_path, command, keys, value, needle):
    params = tiny_params_with(keys, value)
    params_file = write_params(tmp_path / "bad.yaml", params)
    images = tmp_path / "images"
    write_tiff(images / "a.tif", lattice_image(96, PIXEL_A), PIXEL_A)
    args = ["tile", "--images", images] if command == "tile" else ["simulate", "--material", "wse2"]
    proc = run_cli(*args, "--out", tmp_path / "out", "--params", params_file, check=False)
    assert_one_line_error(proc, "bad.yaml", needle)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "keys, value, needle",
    [
        (("cyclegan", "lr"), -0.002, "cyclegan.lr: -0.002 is out of range"),
        (("fcn", "scoring", "match_radius_A"), -1.5, "match_radius_A: -1.5 is out of range"),
        (("translate", "match_radius_A"), -0.5, "translate.match_radius_A: -0.5 is out of range"),
        (("tune", "lr"), {"low": 0.01, "high": 0.001, "log": True}, "need low <= high"),
        (("fcn", "scoring", "pr_thresholds"), [0.5, 1.5], "pr_thresholds[1]: 1.5 is out of range"),
        (("cyclegan", "sim_noise_field", "sigma"), -0.1, "sim_noise_field.sigma: -0.1 is out of range"),
        (("fcn", "scoring", "tta_views"), "octal", "tta_views is 'octal'; use dihedral or scan_preserving"),
    ],
)
def test_every_section_is_range_checked_in_one_place(tmp_path, keys, value, needle):
    from stemgan.config import validate_params
    from stemgan.errors import StemganError

    params = tiny_params_with(keys, value)
    with pytest.raises(StemganError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        validate_params(params, "params.yaml")


def test_doctor_uses_the_stages_validation(tmp_path):
    params = tiny_params_with(("cyclegan", "lr"), -0.002)
    proc = run_cli("doctor", "--params", write_params(tmp_path / "bad.yaml", params), cwd=tmp_path, check=False)
    line = next(line for line in proc.stdout.splitlines() if "params:" in line)
    assert line.startswith("[FIX]") and "cyclegan.lr: -0.002 is out of range; it must be > 0" in line, proc.stdout
    assert proc.returncode == 1


def dvc_repo(tmp_path: Path, params_text: str, stage: dict) -> tuple[Path, dict]:
    """A real git + DVC repo with params.yaml and one stage, committed; and the environment to run dvc in."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text(params_text)
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"stage": stage}}))
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "DVC_NO_ANALYTICS": "1",
        "HOME": str(tmp_path),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "DVC_SITE_CACHE_DIR": str(tmp_path / "site"),
    }
    for cmd in ("git init -q", "dvc init -q", "git add -A", "git commit -qm init"):
        subprocess.run(cmd.split(), cwd=repo, env=env, check=True, capture_output=True)
    return repo, env


@pytest.mark.parametrize("profile", sorted((ROOT / "profiles").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_profile_runs_through_dvc_exp_run(tmp_path, profile):
    """The README's `dvc exp run $(stemgan profile-args PROFILE)`, in a real git + DVC repo: dvc accepts
    the options and params.yaml becomes the profile's, mappings replaced (quick's one set), not merged."""
    from stemgan.cli.profiles import apply_profile, read_profile

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    repo, env = dvc_repo(tmp_path, yaml.safe_dump(params), {"cmd": "echo ok", "params": list(read_profile(profile))})
    options = run_cli("profile-args", profile, "--params", repo / "params.yaml").stdout.split()
    proc = subprocess.run([str(BIN / "dvc"), "exp", "run", *options], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert yaml.safe_load((repo / "params.yaml").read_text()) == apply_profile(params, profile)


def test_make_quick_runs_the_quick_profile_and_gives_params_yaml_back(tmp_path):
    """`make quick` is `stemgan profile-run profiles/quick.yaml`: in a real git + DVC repo the stage reads the
    profile's settings (one set, one seed), and the user's params.yaml (comments, layout) comes back byte for
    byte, after a failed stage too, which exits non-zero with one line."""
    from stemgan.cli.profiles import apply_profile

    profile = ROOT / "profiles" / "quick.yaml"
    original = (ROOT / "params.yaml").read_bytes()
    stage = {"cmd": "cp params.yaml seen.yaml", "params": ["sets", "table1", "tune"], "outs": ["seen.yaml"]}
    repo, env = dvc_repo(tmp_path, original.decode(), stage)
    run = [sys.executable, "-m", "stemgan", "profile-run", str(profile)]
    proc = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = yaml.safe_load((repo / "seen.yaml").read_text())
    assert seen == apply_profile(yaml.safe_load(original), profile)
    assert list(seen["sets"]) == ["wse2_day_a"] and seen["table1"]["n_seeds"] == 1 and not seen["table1"]["ablations"]
    assert (repo / "params.yaml").read_bytes() == original

    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"stage": {**stage, "cmd": "exit 3"}}}))
    proc = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("stemgan: error: profile-run: dvc exp run under")
    assert (repo / "params.yaml").read_bytes() == original


# --------------------------------------------------------------------------- reruns and resumes
def test_history_continues_after_a_kill_between_row_and_checkpoint(tmp_path):
    from stemgan.training.history import append_epoch, read_history

    path = tmp_path / "history.csv"
    append_epoch(path, 1, {"cycle": 0.5})
    append_epoch(path, 2, {"cycle": 0.4})
    append_epoch(path, 3, {"cycle": 0.3})  # the row was written, then the process died before the checkpoint
    resumed = read_history(path, up_to_epoch=2)
    assert resumed.epoch.tolist() == [1, 2]
    append_epoch(path, 3, {"cycle": 0.35})  # epoch 3 trained again
    history = read_history(path, up_to_epoch=3)
    assert history.epoch.tolist() == [1, 2, 3] and history.cycle.tolist() == [0.5, 0.4, 0.35]


def test_resumed_run_backfills_steps_without_duplicates(tmp_path, mlflow_store):
    import mlflow

    from stemgan.tracking.mlflow_runs import backfill_metrics, log_metrics, start_or_resume

    run, _ = start_or_resume("stemgan-test", "toy", tmp_path)
    with run:
        log_metrics({"cycle": 0.5}, step=1)  # epoch 2 was checkpointed, but the process died before logging it
    history = pd.DataFrame({"epoch": [1, 2], "cycle": [0.5, 0.4]})
    run, resumed = start_or_resume("stemgan-test", "toy", tmp_path)
    with run:
        backfill_metrics(run.info.run_id, history)
    steps = [m.step for m in mlflow.MlflowClient(mlflow_store).get_metric_history(run.info.run_id, "cycle")]
    assert resumed and sorted(steps) == [1, 2]


def test_abandoned_killed_run_is_marked_killed(tmp_path, mlflow_store):
    import mlflow

    from stemgan.tracking.mlflow_runs import RUN_ID_FILE
    from stemgan.training.cyclegan_train import FINGERPRINT_FILE, prepare_checkpoint_dir

    client = mlflow.MlflowClient(mlflow_store)
    experiment = client.create_experiment("stemgan-test")
    killed = client.create_run(experiment)  # a SIGKILLed training leaves its run RUNNING
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / RUN_ID_FILE).write_text(killed.info.run_id)
    (ckpt / FINGERPRINT_FILE).write_text(json.dumps({"fingerprint": "old settings"}))
    prepare_checkpoint_dir(ckpt, print_fn=lambda *_: None, fingerprint_value="new settings")
    run = client.get_run(killed.info.run_id)
    assert run.info.status == "KILLED" and "settings or data changed" in run.data.tags["stemgan.abandoned"]
    assert not (ckpt / RUN_ID_FILE).exists()


# --------------------------------------------------------------------------- a quiet, helpful command line
def test_help_lists_commands_in_pipeline_order_each_with_a_description():
    from stemgan.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices)[:10] == [
        "acquire",
        "calibrate",
        "simulate",
        "tile",
        "train-cyclegan",
        "translate",
        "train-fcn",
        "table1-cells",
        "table1-cell",
        "table1",
    ]
    for name, command in sub.choices.items():
        assert command.description, f"{name} has no description"
        text = command.format_help()
        assert "override" not in text, name


def test_a_stage_process_registers_only_its_own_command_and_it_is_the_same_parser():
    """cli/main.py's COMMANDS table (which module registers which command) against what the modules register."""
    import argparse
    import importlib

    from stemgan.cli.main import COMMANDS, build_parser

    for module, commands in COMMANDS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        assert tuple(sub.choices) == commands, module
    full = next(a for a in build_parser()._actions if a.dest == "command").choices
    for _, commands in COMMANDS:
        alone = next(a for a in build_parser(commands[0])._actions if a.dest == "command").choices
        assert set(alone) == set(commands)
        assert alone[commands[0]].format_help() == full[commands[0]].format_help()


def test_model_errors_name_the_right_command(tmp_path, labelled, tiny_params_file):
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    for model, needles in (
        (tmp_path / "missing.keras", ("FCN model not found", "train-fcn")),
        (corrupt, ("is not a readable Keras FCN model",)),
    ):
        args = ["evaluate", "--model", model, "--labelled", labelled, "--out", tmp_path / "e"]
        assert_one_line_error(run_cli(*args, "--params", tiny_params_file, check=False), *needles)
    assert not (tmp_path / "e").exists()


def test_doctor_counts_every_image_format(tmp_path, tiny_params_file):
    unlabelled = tmp_path / "data" / "mos2" / "session" / "unlabelled"
    unlabelled.mkdir(parents=True)
    for name in ("a.dm3", "b.emd", "c.tif", "notes.txt"):
        (unlabelled / name).write_bytes(b"")
    proc = run_cli("doctor", "--params", tiny_params_file, cwd=tmp_path, check=False)
    assert "[ok] data: 3 unlabelled experimental images" in proc.stdout
    from stemgan.models.precision import resolve_precision

    assert f"the cycleGAN trains in {resolve_precision('auto')}" in proc.stdout  # the tiny params say auto
    from stemgan.parallel import worker_count

    assert f"a stage's two seeds run in {worker_count('auto', 2)} process(es)" in proc.stdout
    assert "CPU kernels: oneDNN" in proc.stdout  # stemgan turns them on (TensorFlow's default: AVX-512 CPUs only)


def test_makefile_finds_a_supported_python(tmp_path):
    """`make` picks the first of python3.13, python3.12, python3.11 that runs (a shim that fails is skipped)."""
    shim = tmp_path / "python3.13"
    shim.write_text("#!/bin/sh\nexit 127\n")
    shim.chmod(0o755)
    probe = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "--eval", "p: ; @echo $(PYTHON)", "p"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:{Path(sys.executable).parent}:/usr/bin:/bin"},
    )
    chosen = probe.stdout.strip()
    assert probe.returncode == 0 and chosen in ("python3.12", "python3.11")  # not the failing python3.13


# --------------------------------------------------------------------------- the house
def test_layout_check_finds_an_upward_import_and_a_stage_without_module(tmp_path, monkeypatch):
    """The check behind `make lint` passes on the tree, and would fail on a breach of either rule."""
    from stemgan.tools import check_layout

    assert check_layout.upward_imports() == [] and check_layout.stages_without_module(ROOT / "dvc.yaml") == []
    package = tmp_path / "stemgan"
    for name, text in {
        "data/io.py": "from stemgan.training import fcn_train\n",
        "training/fcn_train.py": "",
        "stages/tile.py": "",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(f"def f():\n    {text or 'pass'}\n")
    monkeypatch.setattr(check_layout, "PACKAGE", package)
    assert check_layout.upward_imports() == ["stemgan/data/io.py: data imports training, a higher floor"]
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text(
        "stages:\n  tile: {cmd: x}\n  detect: {cmd: y}\n"
        "  tile_more: {foreach: [a], do: {cmd: 'stemgan tile --x ${item}'}}\n  tile_less: {cmd: stemgan detect}\n"
    )
    assert check_layout.stages_without_module(dvc_yaml) == [  # a stage family may run another stage's module
        f"{dvc_yaml}: stage '{name}' has no module stemgan/stages/{name}.py (nor has its command)"
        for name in ("detect", "tile_less")
    ]


def test_layout_check_finds_a_lock_entry_of_a_stage_dvc_yaml_no_longer_has(tmp_path):
    """DVC keeps a renamed stage's dvc.lock entry, and rewrites the whole lock after every stage it runs."""
    from stemgan.tools import check_layout

    assert check_layout.stale_lock_entries(ROOT / "dvc.yaml") == []
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "params.yaml").write_text("sets: {a: 1, b: 2}\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  tile:\n    foreach: ${sets}\n    do:\n      cmd: stemgan tile ${key}\n"
    )
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  tile@a: {cmd: stemgan tile a}\n  tile_old@b: {cmd: stemgan tile b}\n"
    )
    assert check_layout.stale_lock_entries(tmp_path / "dvc.yaml") == [
        f"{tmp_path / 'dvc.lock'}: stage 'tile_old@b' is not in dvc.yaml (renamed or removed): delete its entry"
    ]


def test_layout_check_finds_an_fcn_key_that_no_training_stage_lists(tmp_path):
    """train_fcn lists fcn keys by hand (scoring left out); a new key left off the list is a breach."""
    from stemgan.tools import check_layout

    assert check_layout.unlisted_fcn_keys(ROOT / "dvc.yaml", ROOT / "params.yaml") == []
    (tmp_path / "params.yaml").write_text("fcn: {seed: 1, steps: 2, scoring: {tta: true}}\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  train_fcn: {cmd: stemgan train-fcn, params: [fcn.seed, fcn.steps]}\n"
        "  train_fcn_more: {foreach: [a], do: {cmd: 'stemgan train-fcn --x ${item}', params: [fcn.seed]}}\n"
    )
    assert check_layout.unlisted_fcn_keys(tmp_path / "dvc.yaml", tmp_path / "params.yaml") == [
        f"{tmp_path / 'dvc.yaml'}: stage 'train_fcn_more' does not list params key fcn.steps"
    ]


def test_dataclass_defaults_agree_with_params_yaml():
    """params.yaml is the single source of values: a default in config.py may only repeat it."""
    import dataclasses

    from stemgan.config import Params, load_params

    def compare(config, where):
        for field in dataclasses.fields(config):
            value = getattr(config, field.name)
            if field.default is not dataclasses.MISSING and field.name != "path":
                assert value == field.default, f"{where}.{field.name}: params.yaml {value!r}, default {field.default!r}"
            elif dataclasses.is_dataclass(value):
                compare(value, f"{where}.{field.name}")

    params = load_params(ROOT / "params.yaml")
    for field in dataclasses.fields(Params):
        section = getattr(params, field.name)
        if dataclasses.is_dataclass(section):
            compare(section, field.name)
