"""The real example: a real public MoS2 image (temul-toolkit's DM3, no labels) through the whole chain to
`detect`, as `dvc repro real_example@mos2_real` runs it; `real_example.examples: {}` removes the stage."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import project_params, tiny_params, write_params
from tests.real_files import FILES, wheel
from tests.test_pipeline import repo, sh  # noqa: F401  (the temp git + DVC repo fixture)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_real_example_runs_from_the_pinned_wheel_to_detections(repo, mlflow_store):  # noqa: F811
    wheel(FILES["mos2_dm3"][0])  # skips when PyPI cannot be reached
    params = tiny_params()
    params["real_example"] = project_params()["real_example"]
    write_params(repo / "params.yaml", params)
    sh("dvc", "repro", "real_example@mos2_real", cwd=repo)

    image = repo / "artifacts/real/mos2_real/unlabelled/example_Se_implanted_MoS2.dm3"
    assert image.stat().st_size > 4_000_000
    assert sh("git", "check-ignore", "artifacts/real/mos2_real", cwd=repo).strip() == "artifacts/real/mos2_real"
    calibration = json.loads((repo / "artifacts/calibration/mos2_real/calibration.json").read_text())
    assert calibration["optics"] == {"voltage_kV": 60} and calibration["material"] == "mos2"
    assert 1.02 < calibration["sampling_correction"] < 1.09  # the file's 0.127 Å/px reads ~5% small
    manifest = pd.read_csv(repo / "artifacts/sim/mos2_real/manifest.csv")
    assert (manifest.voltage_kV == 60).all() and (manifest.z_exponent == calibration["z_exponent"]).all()
    fcn = json.loads((repo / "artifacts/real_fcn/cyclegan-mos2_real/fcn.json").read_text())
    assert (fcn["material"], fcn["classes"], len(fcn["seeds"])) == ("mos2", ["s_vacancy_single", "se_substitution"], 1)

    summary = pd.read_csv(repo / "artifacts/detect/mos2_real/summary.csv")
    assert list(summary.image) == [image.name]
    assert summary.pixel_size_A.iloc[0] == pytest.approx(0.127, rel=1e-3)  # the file's own grid
    assert (summary.width_px.iloc[0], summary.height_px.iloc[0]) == (1024, 1024)
    found = pd.read_csv(repo / "artifacts/detect/mos2_real" / f"{image.stem}.csv")
    assert set(found.defect) <= {"s_vacancy_single", "se_substitution"}
    assert found.x_px.between(0, 1024).all() and found.y_px.between(0, 1024).all()
    assert (repo / "artifacts/detect/mos2_real" / f"{image.stem}.png").is_file()
    realism = json.loads((repo / "metrics/realism/mos2_real.json").read_text())
    assert 0 <= realism["generated"]["c2st_auc"] <= 1
    assert "real_example@mos2_real" not in sh("dvc", "status", "real_example@mos2_real", cwd=repo)

    params["real_example"]["examples"] = {}
    write_params(repo / "params.yaml", params)
    assert "real_example" not in sh("dvc", "stage", "list", cwd=repo)


def test_fetch_example_errors_are_one_line_and_write_nothing(tmp_path):
    from stemgan.errors import StemganError
    from stemgan.microscope.public_images import FetchError, fetch_wheel
    from tests.conftest import run_cli

    wheel_name = "temul_toolkit-0.1.9-py3-none-any.whl"
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / wheel_name).write_bytes(b"not the pinned wheel")
    with pytest.raises(StemganError, match="is not the pinned") as caught:
        fetch_wheel("temul-toolkit==0.1.9", wheel_name, "0" * 64, tmp_path / "cache")
    assert not isinstance(caught.value, FetchError)
    assert not (tmp_path / "cache" / wheel_name).exists()  # stemgan's own cache entry, written by its pip call

    with pytest.raises(FetchError, match=r"could not be fetched.*real_example.examples: \{\}"):
        fetch_wheel("temul-toolkit==0.0.0.999", "temul_toolkit-0.0.0.999-py3-none-any.whl", "0" * 64, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # pip's private download folder is gone too

    params = write_params(tmp_path / "params.yaml", tiny_params())
    proc = run_cli("fetch-example", "--name", "nope", "--out", tmp_path / "real", "--params", params, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "'nope' not in real_example.examples" in proc.stderr and not (tmp_path / "real").exists()


def test_the_chain_in_one_process_keeps_each_steps_folder_rule_and_stops_at_the_first_refusal(tmp_path):
    from tests.conftest import run_cli

    params = tiny_params()
    params["real_example"] = project_params()["real_example"]
    params = write_params(tmp_path / "params.yaml", params)
    features = tmp_path / "fcn_seed_0.keras"
    common = ["--features", features, "--artifacts", tmp_path / "artifacts", "--metrics", tmp_path / "metrics"]
    common += ["--params", params]
    proc = run_cli("real-example", "--name", "nope", *common, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "'nope' not in real_example.examples" in proc.stderr

    notes = tmp_path / "artifacts/real/mos2_real/notes.txt"  # the user's own file where the first step writes
    notes.parent.mkdir(parents=True)
    notes.write_text("mine")
    proc = run_cli("real-example", "--name", "mos2_real", *common, check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "--force" in proc.stderr
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == ["real"]  # no later step ran
    assert not (tmp_path / "metrics").exists()


def test_fetches_at_the_same_time_each_get_the_whole_pinned_wheel(tmp_path):
    """Two fetch-example runs at once (two dvc stages, two test workers): neither reads the other's partial file."""
    from concurrent.futures import ThreadPoolExecutor

    from stemgan.microscope.public_images import FetchError, fetch_wheel
    from tests.real_files import WHEELS

    name, sha256 = WHEELS["atomap==0.4.2"]
    try:
        with ThreadPoolExecutor(2) as pool:
            paths = list(pool.map(lambda _: fetch_wheel("atomap==0.4.2", name, sha256, tmp_path), range(2)))
    except FetchError as exc:
        pytest.skip(str(exc))
    assert paths == [tmp_path / name] * 2 and sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_real_example_is_a_set_with_its_own_optics_and_never_a_table1_column(tmp_path):
    from stemgan.config import load_params
    from stemgan.errors import StemganError

    params = tiny_params()
    params["real_example"] = project_params()["real_example"]
    loaded = load_params(write_params(tmp_path / "params.yaml", params))
    assert loaded.experimental_set("mos2_real").material == "mos2"
    assert (loaded.set_optics("mos2_real").voltage_kV, loaded.set_optics("wse2_day_a").voltage_kV) == (60, 80)

    params["real_example"]["examples"]["mos2_real"]["optics"] = {"voltage_kv": 60}
    with pytest.raises(StemganError, match=r"real_example.examples.mos2_real.optics: unknown optics key"):
        load_params(write_params(tmp_path / "typo.yaml", params))
    params["real_example"] = project_params()["real_example"]
    params["table1"]["sets"] = ["wse2_day_a", "mos2_real"]
    with pytest.raises(StemganError, match="is a real example \\(no labels\\)"):
        load_params(write_params(tmp_path / "table1.yaml", params))
