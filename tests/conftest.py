"""Shared helpers: run the real CLI, tiny params derived from the project's params.yaml."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import stemgan  # noqa: E402, F401 (before any test module imports TensorFlow: it turns oneDNN on, as for users)

# started first, so that pytest-xdist's other workers run the rest of the suite beside it (the whole tiny
# `dvc repro`: 12-15 of the suite's serial minutes, ~60 stages each paying its process start-up)
LONGEST_FIRST = ("tests/test_pipeline.py::test_dvc_repro_runs_the_whole_pipeline_and_tracks_what_changed",)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.nodeid not in LONGEST_FIRST)  # stable: the rest keep their order


def run_cli(*args, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `stemgan ARGS` as a user would; returns the completed process (text output)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-m", "stemgan", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"stemgan {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def project_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def tiny_params(image_size_px: int = 128) -> dict:
    """The project's params with sizes cut down for tests (same structure, same physics)."""
    p = copy.deepcopy(project_params())
    p["simulate"].update(n_images=2, image_size_px=image_size_px)
    p["acquire"].update(image_size_px=image_size_px, pad_px=24)
    p["acquire"]["sets"] = {
        "wse2/day_a": {"material": "wse2", "preset": "day_a", "n_unlabelled": 2, "n_val": 1, "n_test": 1},
        "wse2/day_b": {"material": "wse2", "preset": "day_b", "n_unlabelled": 2, "n_val": 1, "n_test": 1},
        "graphene/session_1": {"material": "graphene", "preset": "day_b", "n_unlabelled": 1, "n_val": 0, "n_test": 1},
        "srtio3/session_1": {"material": "srtio3", "preset": "day_a", "n_unlabelled": 1, "n_val": 0, "n_test": 1},
    }
    for preset in p["acquire"]["presets"].values():  # short frames drift less; keep the margin honest
        preset["scan"]["drift_A_per_s"] = {"mean": 0.5, "std": 0.1}
    p["tile"].update(tile_size_px=64, stride_px=64)
    p["cyclegan"].update(epochs=2, steps_per_epoch=3, batch_size=2, pool_size=4, monitor_tiles=4, sample_every_epochs=1)
    p["cyclegan"]["generator"].update(depth=3, base_filters=8, max_filters=16)  # keys, not sections: the defaults
    p["cyclegan"]["discriminator"].update(base_filters=8, n_layers=2)  # (e.g. residual G) stay in force
    p["fcn"].update(tile_size_px=32, filters=[8, 16], bottleneck=16, steps=20, batch_size=8)
    p["fcn"]["scoring"].update(
        tile_px=64, stride_px=32, tta=False, bootstrap=20, border_A=1.0, pr_thresholds=[0.3, 0.5, 0.7]
    )
    p["table1"]["n_seeds"] = 1
    p["real_example"]["examples"] = {}  # off: its own test fetches it (tests/test_real_example.py)
    p["diagnose"]["n_images"] = 1
    p["tune"].update(n_trials=2, cyclegan_epochs=2, cyclegan_steps_per_epoch=2, fcn_steps=10)
    return p


def write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """A real MLflow sqlite store in a temp folder, used by the CLI and by in-process code."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("STEMGAN_ARTIFACT_ROOT", str(tmp_path / "mlartifacts"))
    # in-process stemgan code sets MLflow's global URI, which outranks the variable: a pytest-xdist worker would
    # otherwise carry an earlier test's store into this one
    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture
def tiny_params_file(tmp_path) -> Path:
    return write_params(tmp_path / "params.yaml", tiny_params())
