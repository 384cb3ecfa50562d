"""CycleGAN training, resume after a kill, MLflow tracking, and translate with label preservation."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

tf = pytest.importorskip("tensorflow")

from stemgan.config import validate_params
from stemgan.data.tiff_io import read_tiff
from tests.conftest import BIN, run_cli, tiny_params, write_params
from tests.test_models import lattice_tiles


def tiny_cyclegan_config(**changes):
    params = tiny_params()
    cfg = validate_params(params, "tiny").cyclegan
    return dataclasses.replace(cfg, **changes)


def test_train_step_decreases_cycle_loss_on_toy_domains():
    """sim: clean lattices; exp: the same lattices blurred, dimmed and noisy. Cycle loss must fall."""
    import keras

    from stemgan.training.cyclegan_train import build_cyclegan

    keras.utils.set_random_seed(0)
    cfg = tiny_cyclegan_config(lr=0.002, pool_size=4)
    sim = lattice_tiles(16, 32, 0)
    rng = np.random.default_rng(1)
    exp = np.clip(0.6 * lattice_tiles(16, 32, 2) + rng.normal(0, 0.2, sim.shape), -1, 1).astype(np.float32)
    model = build_cyclegan(cfg, tile_size=32, steps_per_epoch=100)
    cycle = []
    for _step in range(40):
        idx = rng.integers(0, 16, 4)
        logs = model.train_step((tf.constant(sim[idx]), tf.constant(exp[idx])))
        cycle.append(float(logs["cycle"]))
        for tracker in model.metrics:
            tracker.reset_state()
    assert np.isfinite(cycle).all()
    assert np.mean(cycle[-8:]) < 0.6 * np.mean(cycle[:4]), cycle


def test_fft_switch_removes_fourier_discriminators():
    from stemgan.models.cyclegan import CycleGAN

    with_fft = CycleGAN(tiny_cyclegan_config(), 32)
    without = CycleGAN(tiny_cyclegan_config(fft_discriminators=False), 32)
    assert len(with_fft.discriminators) == 4 and len(without.discriminators) == 2
    assert any("fourier_amplitude" in layer.name for layer in with_fft.disc_exp_fft.layers)


def make_tiles(tmp_path: Path, params_file: Path) -> tuple[Path, Path]:
    run_cli("acquire", "--out", tmp_path / "data", "--params", params_file)
    run_cli("simulate", "--material", "wse2", "--out", tmp_path / "sim", "--params", params_file)
    sim_tiles, exp_tiles = tmp_path / "tiles_sim", tmp_path / "tiles_exp"
    run_cli("tile", "--images", tmp_path / "sim/images", "--out", sim_tiles, "--params", params_file)
    run_cli("tile", "--images", tmp_path / "data/wse2/day_a/unlabelled", "--out", exp_tiles, "--params", params_file)
    return sim_tiles, exp_tiles


@pytest.mark.slow
def test_killed_training_resumes_into_the_same_mlflow_run(tmp_path, mlflow_store):
    import mlflow

    params = tiny_params()
    params["cyclegan"].update(epochs=3, steps_per_epoch=2)
    params_file = write_params(tmp_path / "params.yaml", params)
    sim_tiles, exp_tiles = make_tiles(tmp_path, params_file)
    ckpt, out = tmp_path / "ckpt", tmp_path / "gan"
    args = [
        sys.executable,
        "-m",
        "stemgan",
        "train-cyclegan",
        "--sim-tiles",
        sim_tiles,
        "--exp-tiles",
        exp_tiles,
        "--out",
        out,
        "--name",
        "toy",
        "--checkpoint-dir",
        ckpt,
        "--params",
        params_file,
    ]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        list(map(str, args)), env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 240
    while not list(ckpt.glob("seed_0/ckpt/ckpt-1.index")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # a hard kill, as a lost node would be
    proc.wait()
    assert list(ckpt.glob("seed_0/ckpt/ckpt-1.index")) and not (out / "seed_0").exists()  # no partial output
    run_id = (ckpt / "seed_0" / "mlflow_run_id").read_text().strip()

    done = run_cli(*args[3:], cwd=tmp_path)
    assert f"MLflow run {run_id}" in done.stdout and "3 epochs" in done.stdout
    assert pd.read_csv(out / "seed_0" / "history.csv").epoch.tolist() == [1, 2, 3]  # history continues after the kill
    client = mlflow.MlflowClient(mlflow_store)
    steps = [m.step for m in client.get_metric_history(run_id, "cycle")]
    assert sorted(steps) == [1, 2, 3]  # each epoch once
    run = client.get_run(run_id)
    assert run.data.params["lambda_cycle"] == "10.0" and "data_dvc_md5" not in run.data.tags  # no data.dvc here
    assert run.data.tags["tiles_md5"]
    assert "spectrum_distance" in run.data.metrics and "lr" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run_id, "samples")}
    assert "samples/epoch_0003.png" in artifacts
    models = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert any(m.source_run_id == run_id and m.name == "generator_sim2exp" for m in models)
    metrics = json.loads((out / "seed_0" / "metrics.json").read_text())
    assert metrics["mlflow_run_id"] == run_id and metrics["epochs"] == 3

    # a rerun of the finished, unchanged training is a no-op: same bytes, no second model in the run
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    again = run_cli(*args[3:], cwd=tmp_path)
    assert "nothing to do" in again.stdout and f"MLflow run {run_id}" in again.stdout
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    models_after = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert len(models_after) == len(models)

    # the trained generator translates whole simulations; labels travel unchanged
    translated = tmp_path / "generated"
    report = run_cli(
        "translate", "--generator", out, "--sim", tmp_path / "sim", "--out", translated, "--params", params_file
    )
    assert "atom columns shift" in report.stdout
    translated = translated / "seed_0"
    first = sorted((translated / "images").glob("*.tif"))[0]
    image, pixel, _ = read_tiff(first)
    assert image.shape == (128, 128) and np.isfinite(image).all()
    # the default residual G(x) = x + tanh(U(x)) may leave [-1, 1]; it must still show the simulated lattice
    simulated, _, _ = read_tiff(tmp_path / "sim/images" / first.name)
    assert np.corrcoef(image.ravel(), simulated.ravel())[0, 1] > 0.3
    assert (translated / "labels" / f"{first.stem}.csv").read_bytes() == (
        tmp_path / "sim/labels" / f"{first.stem}.csv"
    ).read_bytes()


def test_translate_with_identity_generator_preserves_labels(tmp_path, tiny_params_file, mlflow_store):
    """An identity generator must leave every atom column where its label says (pristine sims)."""
    import keras

    run_cli("simulate", "--material", "wse2", "--out", tmp_path / "sim", "--params", tiny_params_file)
    inputs = keras.Input((64, 64, 1))
    keras.Model(inputs, keras.layers.Identity()(inputs)).save(tmp_path / "identity.keras")
    params = tiny_params()
    params["cyclegan"]["sim_noise_sigma"] = 0.0
    params_file = write_params(tmp_path / "p.yaml", params)
    run_cli(
        "translate",
        "--generator",
        tmp_path / "identity.keras",
        "--sim",
        tmp_path / "sim",
        "--out",
        tmp_path / "gen",
        "--params",
        params_file,
    )
    report = json.loads((tmp_path / "gen/label_preservation.json").read_text())
    assert report["generated_fraction_found"] == pytest.approx(report["sim_fraction_found"], abs=1e-9)
    assert report["generated_fraction_found"] > 0.9 and report["generated_mean_shift_pm"] < 5.0
    assert report["generated_p95_shift_pm"] < 10.0
    # with input noise, an identity generator's output is its noisy input: the same columns are found
    params["cyclegan"]["sim_noise_sigma"] = 0.1
    run_cli(
        "translate",
        "--generator",
        tmp_path / "identity.keras",
        "--sim",
        tmp_path / "sim",
        "--out",
        tmp_path / "gen_noisy",
        "--params",
        write_params(tmp_path / "p_noisy.yaml", params),
    )
    noisy = json.loads((tmp_path / "gen_noisy/label_preservation.json").read_text())
    assert noisy["generated_mean_shift_pm"] == pytest.approx(noisy["input_mean_shift_pm"], abs=1e-6)
    assert noisy["input_mean_shift_pm"] > report["generated_mean_shift_pm"]
    labels = pd.read_csv(tmp_path / "gen/labels" / "wse2_sim_00000.csv")
    image, _, _ = read_tiff(tmp_path / "gen/images/wse2_sim_00000.tif")
    vacancies = labels[labels.defect == "se_vacancy_single"]
    se2 = labels[labels.column == "Se2"]
    from scipy.ndimage import map_coordinates

    at = lambda t: map_coordinates(image, [t.y_px, t.x_px], order=1)  # noqa: E731
    if len(vacancies):
        assert at(vacancies).max() < np.median(at(se2))
    # the smooth input field is drawn per whole image: an identity generator passes on a field that
    # is smooth everywhere, seams between translate tiles included
    params["cyclegan"]["sim_noise_sigma"] = 0.0
    params["cyclegan"]["sim_noise_field"] = {"sigma": 0.1, "correlation_A": 4.0}
    run_cli(
        "translate",
        "--generator",
        tmp_path / "identity.keras",
        "--sim",
        tmp_path / "sim",
        "--out",
        tmp_path / "gen_field",
        "--params",
        write_params(tmp_path / "p_field.yaml", params),
    )
    with_field, _, _ = read_tiff(tmp_path / "gen_field/images/wse2_sim_00000.tif")
    field = with_field - image
    assert 0.05 < field.std() < 0.3
    step = np.abs(np.diff(field, axis=1))
    assert step.max() < 0.05 * np.ptp(field)


def test_bad_generator_reference_is_one_line(tmp_path, tiny_params_file, mlflow_store):
    run_cli("simulate", "--material", "wse2", "--out", tmp_path / "sim", "--params", tiny_params_file)
    proc = run_cli(
        "translate",
        "--generator",
        tmp_path / "nope.keras",
        "--sim",
        tmp_path / "sim",
        "--out",
        tmp_path / "gen",
        "--params",
        tiny_params_file,
        check=False,
    )
    assert proc.returncode == 2 and "model not found" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(
        "translate",
        "--generator",
        "models:/no-such-model@champion",
        "--sim",
        tmp_path / "sim",
        "--out",
        tmp_path / "gen",
        "--params",
        tiny_params_file,
        check=False,
    )
    assert proc.returncode == 2 and "cannot load the model" in proc.stderr
    assert not (tmp_path / "gen").exists()


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_train_step_is_finite_and_leaves_the_global_policy(precision):
    """The GPU setting (mixed_float16 + loss scaling) and the AMX CPU one (mixed_bfloat16, no scaling: bfloat16 has
    float32's range) run and stay finite; outputs stay float32; an FCN built afterwards is float32 again."""
    import keras

    from stemgan.training.cyclegan_train import build_cyclegan

    model = build_cyclegan(tiny_cyclegan_config(precision=precision), 32, 10)
    tiles = tf.constant(lattice_tiles(4, 32, 0))
    logs = model.train_step((tiles, tiles))
    assert all(np.isfinite(float(v)) for v in logs.values())
    scaled = isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16")
    assert model.gen_sim2exp.output.dtype == "float32"
    assert any(layer.compute_dtype == precision.removeprefix("mixed_") for layer in model.gen_sim2exp.layers)
    assert keras.mixed_precision.global_policy().name == "float32"


def test_auto_precision_follows_the_cpu_flags(tmp_path):
    from stemgan.models.precision import cpu_flags, cpu_precision, cpu_vendor, resolve_precision

    cpus = {  # (vendor_id, flags), as /proc/cpuinfo writes them
        "amx": ("GenuineIntel", "fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile"),
        "intel_avx512_bf16": ("GenuineIntel", "fpu avx2 avx512f avx512_bf16"),  # slower than float32 (measured)
        "zen4": ("AuthenticAMD", "fpu avx2 avx512f avx512_bf16"),  # faster than float32 (measured)
        "zen3": ("AuthenticAMD", "fpu avx2 fma"),
        "avx2": ("GenuineIntel", "fpu avx2 fma"),
    }
    for name, (vendor, flags) in cpus.items():
        block = f"vendor_id\t: {vendor}\nflags\t\t: {flags}\n"
        (tmp_path / name).write_text(f"processor\t: 0\n{block}processor\t: 1\n{block}")
    chosen = {name: cpu_precision(cpu_flags(tmp_path / name), cpu_vendor(tmp_path / name)) for name in cpus}
    assert chosen == {
        "amx": "mixed_bfloat16",
        "intel_avx512_bf16": "float32",
        "zen4": "mixed_bfloat16",
        "zen3": "float32",
        "avx2": "float32",
    }
    assert cpu_vendor(tmp_path / "missing") == ""
    assert cpu_flags(tmp_path / "missing") == set()
    assert resolve_precision("auto") in ("float32", "mixed_bfloat16")  # this CPU, no GPU in the suite
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("float8")


def test_instance_normalization_matches_group_normalization_with_a_group_per_channel():
    """The fused layer computes what GroupNormalization(groups=-1) did (old generators still load with that)."""
    import keras

    from stemgan.models.blocks import InstanceNormalization

    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (3, 16, 16, 8)).astype(np.float32))
    ours, reference = InstanceNormalization(), keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    ours.build(x.shape)
    reference.build(x.shape)
    gamma, beta = np.linspace(0.5, 2.0, 8), np.linspace(-1.0, 1.0, 8)
    ours.set_weights([gamma, beta])
    reference.set_weights([gamma, beta])
    np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), atol=1e-4)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_paper_profile_builds_and_trains_one_step_on_this_cpu():
    """The GPU profile (54M-parameter generators at 256², automatic mixed precision, XLA) as a GPU user would run
    it, one step at batch 1: a GPU node is not the first to find out that it does not build. A subprocess: XLA
    and a 54M model are heavy for the suite's own process."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    command = [sys.executable, str(ROOT / "benchmarks/train_throughput.py"), "--profile", "profiles/paper.yaml"]
    proc = subprocess.run(
        [*command, "--steps", "1", "--warmup", "1", "--batch-size", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tile 256px batch 1" in proc.stdout and "xla=True" in proc.stdout and "precision=" in proc.stdout
    g_params = float(proc.stdout.split(" G ")[1].split("M params")[0])
    assert g_params > 50  # the paper's 8-level, 64-filter U-net, not the CPU default
