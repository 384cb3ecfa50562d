"""A stage's independent units in worker processes (stemgan.parallel): same outputs, one store, one-line errors."""

from __future__ import annotations

import json
import os

import pytest

from stemgan.errors import StemganError
from stemgan.parallel import cpu_cores, unit_workers, worker_count
from tests.conftest import run_cli, tiny_params, write_params


def _square_or_fail(n: int) -> int:
    if n < 0:
        raise StemganError(f"unit {n}: negative; give a count")
    if n == 99:
        os._exit(3)  # a worker killed mid-unit (out of memory looks like this)
    return n * n


def _worker_pid(_) -> tuple[int, str | None]:
    return os.getpid(), os.environ.get("TF_NUM_INTRAOP_THREADS")


def _imports_after_warm_up(_) -> tuple[bool, bool, list[str]]:
    """(Keras imported, scikit-learn imported by then, the names of modules the unit imports itself)."""
    import sys

    warmed, sklearn_then = "keras" in sys.modules, "sklearn" in sys.modules
    import matplotlib.pyplot
    import sklearn.svm

    return warmed, sklearn_then, [matplotlib.pyplot.__name__, sklearn.svm.__name__]


def _run(items: list[int], workers: int, function=_square_or_fail) -> list:
    with unit_workers(workers) as run_units:
        return run_units(function, items)


def test_units_keep_their_order_and_a_units_error_is_the_stages_error():
    assert _run([3, 1, 2], workers=2) == [9, 1, 4]
    assert _run([3], workers=1) == [9]
    assert {pid for pid, _ in _run([0, 1], workers=1, function=_worker_pid)} == {os.getpid()}  # this process
    in_workers = _run([0, 1, 2, 3], workers=2, function=_worker_pid)
    assert os.getpid() not in {pid for pid, _ in in_workers}
    assert {threads for _, threads in in_workers} == {str(max(1, cpu_cores() // 2))}  # each its share of the cores
    with pytest.raises(StemganError, match="unit -1: negative; give a count"):
        _run([2, -1], workers=2)
    with pytest.raises(StemganError, match="a worker process died.*compute.workers: 1"):
        _run([2, 99], workers=2)


def test_every_worker_starts_before_the_first_unit_is_handed_out():
    """They import TensorFlow while the stage reads its inputs: the second one must not wait for the map."""
    import multiprocessing

    before = set(multiprocessing.active_children())
    with unit_workers(2):
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2


def test_a_worker_warms_up_keras_without_what_no_unit_uses_and_a_unit_can_still_import_it():
    from stemgan.parallel import TENSORFLOW_UNITS

    with unit_workers(2, TENSORFLOW_UNITS) as run_units:
        found = run_units(_imports_after_warm_up, [0, 1])
    assert found == [(True, False, ["matplotlib.pyplot", "sklearn.svm"])] * 2


def test_worker_count_follows_the_setting_and_the_units():
    assert worker_count(1, 5) == 1
    assert worker_count(3, 2) == 2  # never more workers than units
    assert worker_count("auto", 1) == 1
    assert 1 <= worker_count("auto", 64) <= os.cpu_count()


def test_two_fcn_seeds_train_side_by_side_into_one_mlflow_store(tmp_path, mlflow_store):
    """compute.workers 2: both seeds' runs in the store, named progress lines, no library notices on stderr, and
    the same weights when run again (each worker's TensorFlow threads are fixed by the worker count)."""
    import mlflow
    import numpy as np

    from stemgan.models.io import FCN_MODEL, load_keras_model

    params = tiny_params(96)
    params["compute"] = {"workers": 2}
    params_file = write_params(tmp_path / "params.yaml", params)
    run_cli("simulate", "--material", "wse2", "--n-images", "1", "--out", tmp_path / "sim", "--params", params_file)

    def train(out: str):
        return run_cli(
            "train-fcn", "--source", "gaussian", "--train", tmp_path / "sim", "--seeds", "2", "--out", tmp_path / out,
            "--params", params_file,
        )  # fmt: skip

    trained = train("fcn")
    manifest = json.loads((tmp_path / "fcn" / "fcn.json").read_text())
    assert [s["seed"] for s in manifest["seeds"]] == [params["fcn"]["seed"], params["fcn"]["seed"] + 1]
    for k in (0, 1):
        assert f"fcn gaussian_{k}: epoch 10/10, loss" in trained.stdout
    assert "oneDNN" not in trained.stderr and "absl" not in trained.stderr
    client = mlflow.MlflowClient()
    runs = [client.get_run(s["mlflow_run_id"]) for s in manifest["seeds"]]
    assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
    assert all(len(client.get_metric_history(r.info.run_id, "fcn_loss")) == 10 for r in runs)

    train("fcn_again")
    for k in (0, 1):
        first, again = (
            load_keras_model(str(tmp_path / d / f"fcn_seed_{k}.keras"), FCN_MODEL) for d in ("fcn", "fcn_again")
        )
        assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), again.get_weights()))


def test_a_stage_parent_reads_its_workers_results_without_importing_tensorflow():
    """The parent process of a stage unpickles its units' results (a cycleGAN's InputNoise, a Table 1 cell's
    records) and uses translate's helpers; importing TensorFlow there cost a core ~4 s per stage."""
    import subprocess
    import sys

    probe = (
        "import pickle, sys\n"
        "import stemgan.stages.table1_cells, stemgan.stages.translate, stemgan.stages.train_cyclegan\n"
        "from stemgan.training.translation import generator_refs\n"
        "from stemgan.training.input_noise import InputNoise\n"
        "pickle.loads(pickle.dumps(InputNoise(0.1, 0.0, 1.0)))\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
