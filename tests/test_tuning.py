"""Optuna studies with real storages (sqlite, a private PostgreSQL server) and the MLflow registry."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
optuna = pytest.importorskip("optuna")

from tests.conftest import BIN, run_cli, tiny_params, write_params

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def tune_params(**tune_changes) -> dict:
    params = tiny_params()
    params["tune"].update(
        {
            "n_trials": 3,
            "cyclegan_epochs": 2,
            "cyclegan_steps_per_epoch": 2,
            "fcn_steps": 10,
            "pruner_startup_trials": 5,
            "heartbeat_interval_s": 1,
            "grace_period_s": 3,
            **tune_changes,
        }
    )
    return params


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Tiny simulations, tiles and demo data, shared by the tuning tests (made once)."""
    root = tmp_path_factory.mktemp("tune_inputs")
    params_file = write_params(root / "params.yaml", tune_params())
    run_cli("acquire", "--out", root / "data", "--params", params_file)
    run_cli("simulate", "--material", "wse2", "--out", root / "sim", "--params", params_file)
    run_cli("tile", "--images", root / "sim/images", "--out", root / "tiles_sim", "--params", params_file)
    run_cli(
        "tile", "--images", root / "data/wse2/day_a/unlabelled", "--out", root / "tiles_exp", "--params", params_file
    )
    return root


def tune_args(inputs: Path, storage: str, out: Path, params_file: Path, *extra) -> list[str]:
    return [
        "tune",
        "--sim",
        inputs / "sim",
        "--sim-tiles",
        inputs / "tiles_sim",
        "--exp-tiles",
        inputs / "tiles_exp",
        "--storage",
        storage,
        "--out",
        out,
        "--params",
        params_file,
        *extra,
    ]


def workspace(tmp_path: Path, inputs: Path, **tune_changes) -> Path:
    """A working folder holding data/ (val images are read from ./data) and its params file."""
    (tmp_path / "data").symlink_to(inputs / "data")
    return write_params(tmp_path / "params.yaml", tune_params(**tune_changes))


@pytest.mark.slow
def test_tiny_study_end_to_end_with_mlflow_and_resume(tmp_path, inputs, mlflow_store):
    import mlflow

    params_file = workspace(tmp_path, inputs)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    proc = run_cli(*tune_args(inputs, storage, tmp_path / "tune", params_file), cwd=tmp_path)
    assert "best val F1" in proc.stdout
    study = optuna.load_study(study_name="stemgan-wse2_day_a", storage=storage)
    assert len(study.trials) == 3 and all(t.state.is_finished() for t in study.trials)
    summary = json.loads((tmp_path / "tune/stemgan-wse2_day_a/summary/study_summary.json").read_text())
    assert set(summary["best_params"]) == {"lambda_cycle", "lambda_identity_fraction", "lr"}
    assert (tmp_path / "tune/stemgan-wse2_day_a/summary/optimization_history.png").is_file()

    client = mlflow.MlflowClient(mlflow_store)
    exp = client.get_experiment_by_name("stemgan-tune").experiment_id
    parent = client.search_runs([exp], "tags.stage = 'tune'")[0]
    trials = client.search_runs(
        [client.get_experiment_by_name("stemgan-cyclegan").experiment_id],
        f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(trials) == 3
    assert all("val_f1" in run.data.metrics and "lambda_cycle" in run.data.params for run in trials)
    assert "study/study_summary.json" in {a.path for a in client.list_artifacts(parent.info.run_id, "study")}

    # re-running resumes the same study; a larger budget adds exactly the missing trials
    run_cli(*tune_args(inputs, storage, tmp_path / "tune", params_file, "--n-trials", "4"), cwd=tmp_path)
    assert len(optuna.load_study(study_name="stemgan-wse2_day_a", storage=storage).trials) == 4

    # promotion: the best trial's generator becomes the champion and is loadable by alias
    promoted = run_cli("promote", "--storage", storage, "--params", params_file, cwd=tmp_path)
    assert "is now @champion" in promoted.stdout
    from stemgan.config import load_params
    from stemgan.models.io import load_generator
    from stemgan.training.input_noise import generator_input_noise

    assert load_generator("models:/wse2-day_a-generator@champion").input_shape[1] == 64
    # translate adds the noise the champion was trained with, read from its training run
    champion = client.get_model_version_by_alias("wse2-day_a-generator", "champion")
    logged = client.get_run(champion.run_id).data.params
    noise = generator_input_noise("models:/wse2-day_a-generator@champion", load_params(params_file).cyclegan, 0.2074)
    assert noise.field_std == pytest.approx(float(logged["input_noise.field_std"]))
    assert noise.white_std == pytest.approx(float(logged["input_noise.white_std"]))
    # params leave the white amplitude null: estimated from the tiles' noise floor, not the paper's 0.1
    assert noise.white_std > 0 and noise.white_std != pytest.approx(0.2)


@pytest.mark.slow
def test_nan_trial_is_recorded_and_the_study_goes_on(tmp_path, inputs, mlflow_store):
    from stemgan.config import load_params
    from stemgan.tuning.objective import TrialContext
    from stemgan.tuning.study import open_study, optimize

    params_file = workspace(tmp_path, inputs, n_trials=2)
    params = load_params(params_file)
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = open_study(storage, "nan", params.tune.seed, params.tune)
    study.enqueue_trial({"lambda_cycle": 10.0, "lambda_identity_fraction": 0.5, "lr": 1e12}, skip_if_exists=False)
    ctx = TrialContext(
        params=params,
        sim_dir=inputs / "sim",
        sim_tiles=inputs / "tiles_sim",
        exp_tiles=inputs / "tiles_exp",
        data_root=Path("data"),
        work_dir=tmp_path / "tune",
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        optimize(ctx, storage, "nan")
    finally:
        os.chdir(cwd)
    states = [t.state.name for t in optuna.load_study(study_name="nan", storage=storage).trials]
    assert states == ["FAIL", "COMPLETE"], states


def test_promotion_moves_the_alias_only_on_improvement(tmp_path, mlflow_store):
    import keras
    import mlflow
    import mlflow.tensorflow

    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.tracking.registry import promote

    uris = []
    for _k in range(3):
        inputs = keras.Input((32, 32, 1))
        model = keras.Model(inputs, keras.layers.Identity()(inputs))
        with mlflow.start_run(experiment_id=experiment_id("promote-test")):
            uris.append(
                mlflow.tensorflow.log_model(model, name="generator_sim2exp", pip_requirements=["keras"]).model_uri
            )
    first = promote(uris[0], "toy-generator", 0.5, {"study": "s"})
    worse = promote(uris[1], "toy-generator", 0.4, {"study": "s"})
    better = promote(uris[2], "toy-generator", 0.7, {"study": "s"})
    assert first.promoted and not worse.promoted and better.promoted
    assert "stays v1" in worse.message()
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias("toy-generator", "champion")
    assert str(champion.version) == better.version == "3" and champion.tags["val_f1"] == "0.7"


# --------------------------------------------------------------------------- PostgreSQL, several workers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A private PostgreSQL 15 cluster on 127.0.0.1 (initdb runs as the `postgres` user: it refuses root)."""
    if not (PG_BIN / "initdb").exists() and os.environ.get("CI") and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], capture_output=True)
    if not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL 15 server binaries not found (apt-get install postgresql)")
    import tempfile

    # its own folder under /tmp: pytest's temp folders are root-only, and the server runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="stemgan-pg-"))
    data = root / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-h 127.0.0.1 -p {port} -k {root}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN.parent / "bin" / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "optuna",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    subprocess.run(
        [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
    )
    shutil.rmtree(root, ignore_errors=True)


def start_worker(inputs, storage, out, params_file, cwd, worker: int, study: str, n_trials: int):
    args = tune_args(
        inputs, storage, out, params_file, "--worker", str(worker), "--study-name", study, "--n-trials", str(n_trials)
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.Popen(
        [sys.executable, "-m", "stemgan", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_two_workers_share_a_postgres_study_and_a_killed_trial_is_retried(tmp_path, inputs, postgres, mlflow_store):
    import mlflow
    from optuna.storages import RetryFailedTrialCallback

    params_file = workspace(tmp_path, inputs)
    # the tracking store exists before workers start (in a cluster: the tracking server owns its schema)
    mlflow.MlflowClient(mlflow_store).search_experiments()
    workers = [start_worker(inputs, postgres, tmp_path / "tune", params_file, tmp_path, w, "shared", 4) for w in (0, 1)]
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    trials = optuna.load_study(study_name="shared", storage=postgres).trials
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers)) and len(trials) >= 4  # unique numbers; both workers stop at 4 done
    assert all(t.state.is_finished() for t in trials)
    assert all(t.datetime_complete is not None for t in trials)  # every trial ended: none left RUNNING

    # a worker killed mid-trial: its trial goes stale; the next worker's heartbeat check fails it and retries it
    victim = start_worker(inputs, postgres, tmp_path / "tune", params_file, tmp_path, 2, "killed", 2)
    deadline = time.time() + 300
    running = []
    while time.time() < deadline and not running:
        time.sleep(0.5)
        try:
            running = [
                t
                for t in optuna.load_study(study_name="killed", storage=postgres).trials
                if t.state.name == "RUNNING" and t.params
            ]  # mid-trial: its values are drawn
        except KeyError:
            pass  # the study is not created yet
    assert running, "the first worker never started a trial"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    time.sleep(4)  # past the grace period: the trial's heartbeat is stale
    rescuer = start_worker(inputs, postgres, tmp_path / "tune", params_file, tmp_path, 3, "killed", 2)
    assert rescuer.wait(timeout=600) == 0, rescuer.stdout.read()
    trials = optuna.load_study(study_name="killed", storage=postgres).trials
    killed = [t for t in trials if t.number == running[0].number][0]
    assert killed.state.name == "FAIL"
    retried = [t for t in trials if RetryFailedTrialCallback.retried_trial_number(t) == killed.number]
    assert retried and retried[0].state.name in ("COMPLETE", "PRUNED")
    assert retried[0].params == killed.params
