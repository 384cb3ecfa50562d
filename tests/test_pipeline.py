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
def test_dvc_repro_runs_the_stages_and_reruns_only_what_changed(repo):
    sh("dvc", "repro", cwd=repo)
    assert len(list((repo / "artifacts/sim/wse2/images").glob("*.tif"))) == 2
    assert len(list((repo / "artifacts/sim/srtio3/labels").glob("*.csv"))) == 2
    tiles = load_tiles(repo / "artifacts/tiles/exp_wse2_day_a")
    assert tiles.shape == (8, 64, 64) and tiles.min() >= -1 and tiles.max() <= 1
    assert np.isfinite(tiles).all()
    assert "up to date" in sh("dvc", "status", cwd=repo)

    params = tiny_params()
    params["tile"]["stride_px"] = 32
    write_params(repo / "params.yaml", params)
    status = sh("dvc", "status", cwd=repo)
    assert "tile@exp_wse2_day_a" in status and "simulate@wse2" not in status
    out = sh("dvc", "repro", cwd=repo)
    assert "Running stage 'simulate@wse2'" not in out and "Running stage 'tile@sim_wse2'" in out
    assert load_tiles(repo / "artifacts/tiles/exp_wse2_day_a").shape == (2 * 9, 64, 64)
