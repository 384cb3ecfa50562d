"""`stemgan detect` on images of any size, sampling and format (real microscope files included): coordinates on
the file's own grid, classes, counts; the same F1 as `evaluate`; bad input in one line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from skimage.transform import rescale

from stemgan.config import IngestConfig
from stemgan.data.ingest import load_working_image, read_any
from stemgan.data.tiff_io import write_tiff
from tests.conftest import run_cli, tiny_params, write_params
from tests.real_files import FILES, real_file
from tests.test_ingest import PIXEL_A, assert_one_line_error

keras = pytest.importorskip("keras")


def spot_model(path, classes=("dark_spot",)):
    """A fixed 1x1-convolution 'FCN' on min-max scaled images: logit 0 for background, -6 x - 4.5 for a dark spot
    (x near -1) and, with a second class, 6 x - 4.5 for a bright one; soft enough that the probability peaks at
    the spot's centre instead of saturating. Its folder's fcn.json names the classes and the scaling."""
    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(1 + len(classes), 1)
    model = keras.Model(inputs, conv(inputs))
    kernel = np.array([0.0, -6.0, 6.0][: 1 + len(classes)], np.float32).reshape(1, 1, 1, -1)
    conv.set_weights([kernel, np.array([0.0, -4.5, -4.5][: 1 + len(classes)], np.float32)])
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    (path.parent / "fcn.json").write_text(json.dumps({"classes": list(classes), "normalize": "minmax"}))
    return path


def spot_image(size, spots):
    """A flat field with Gaussian spots ((x, y, depth), sigma 2 px): negative depth darkens."""
    y, x = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size), np.float32)
    for sx, sy, depth in spots:
        image += depth * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 2.0**2))
    return image


@pytest.fixture
def params_file(tmp_path):
    return write_params(tmp_path / "params.yaml", tiny_params())


def test_a_defect_in_a_2x_upsampled_copy_lands_within_half_a_pixel(tmp_path, params_file):
    model = spot_model(tmp_path / "model" / "fcn.keras")
    spot = np.array([50.3, 70.6])
    image = spot_image(128, [(*spot, -1.0)])
    write_tiff(tmp_path / "images" / "original.tif", image, PIXEL_A)
    write_tiff(tmp_path / "images" / "upsampled.tif", rescale(image, 2, order=3).astype(np.float32), PIXEL_A / 2)
    proc = run_cli(
        "detect",
        "--model",
        model,
        "--images",
        tmp_path / "images",
        "--out",
        tmp_path / "found",
        "--params",
        params_file,
    )
    assert "2 images, 2 defects (2 dark_spot)" in proc.stdout
    for name, expected in (("original", spot), ("upsampled", (spot + 0.5) * 2 - 0.5)):
        found = pd.read_csv(tmp_path / "found" / f"{name}.csv")
        assert len(found) == 1 and found.defect[0] == "dark_spot"
        assert np.hypot(*(found[["x_px", "y_px"]].to_numpy()[0] - expected)) < 0.5, (name, found)
        pixel = PIXEL_A if name == "original" else PIXEL_A / 2
        assert found.x_A[0] == pytest.approx(found.x_px[0] * pixel, abs=2e-3)  # written to 0.001
    summary = pd.read_csv(tmp_path / "found" / "summary.csv")
    assert summary.dark_spot_count.tolist() == [1, 1]
    assert summary.field_of_view_nm2[0] == pytest.approx((128 * PIXEL_A / 10) ** 2, rel=1e-4)  # 5 digits
    assert (tmp_path / "found" / "original.png").stat().st_size > 1000


def test_each_detection_gets_its_class(tmp_path, params_file):
    model = spot_model(tmp_path / "model" / "fcn.keras", classes=("vacancy", "dopant"))
    image = spot_image(96, [(30, 30, -1.0), (60, 60, 1.0)])
    write_tiff(tmp_path / "images" / "a.tif", image, PIXEL_A)
    run_cli(
        "detect",
        "--model",
        model,
        "--images",
        tmp_path / "images" / "a.tif",
        "--out",
        tmp_path / "found",
        "--params",
        params_file,
    )
    found = pd.read_csv(tmp_path / "found" / "a.csv").sort_values("x_px")
    assert found.defect.tolist() == ["vacancy", "dopant"]
    assert np.allclose(found[["x_px", "y_px"]].to_numpy(), [[30, 30], [60, 60]], atol=0.5)


@pytest.mark.slow
def test_detections_score_as_evaluate_does(tmp_path, params_file, mlflow_store):
    """Detect on labelled images, scored against their labels with the same matching, gives evaluate's F1."""
    from stemgan.evaluation.scoring import pooled, score_image
    from stemgan.models.fcn import res_unet

    params = tiny_params()
    run_cli("acquire", "--out", tmp_path / "data", "--params", params_file)
    test = tmp_path / "data" / "wse2" / "day_b" / "test"
    model = tmp_path / "fcn.keras"
    res_unet(None, (8, 16), 16, 0.0, 2).save(model)
    for threshold in ("0.3", "0.5"):
        run_cli(
            "evaluate",
            "--model",
            model,
            "--labelled",
            test,
            "--out",
            tmp_path / f"eval{threshold}",
            "--threshold",
            threshold,
            "--classes",
            "se_vacancy_single",
            "--params",
            params_file,
        )
        run_cli(
            "detect",
            "--model",
            model,
            "--images",
            test / "images",
            "--out",
            tmp_path / f"found{threshold}",
            "--threshold",
            threshold,
            "--params",
            params_file,
        )
        scoring, scores = params["fcn"]["scoring"], []
        for labels in sorted((test / "labels").glob("*.csv")):
            truth = pd.read_csv(labels)
            truth = truth.loc[truth.defect == "se_vacancy_single", ["x_px", "y_px"]].to_numpy()
            found = pd.read_csv(tmp_path / f"found{threshold}" / labels.name)[["x_px", "y_px"]].to_numpy()
            shape = read_any(next((test / "images").glob(f"{labels.stem}.*")))[0].shape
            scores.append(
                score_image(
                    labels.stem, found, truth, shape, scoring["border_A"] / PIXEL_A, scoring["match_radius_A"] / PIXEL_A
                )
            )
        metrics = json.loads((tmp_path / f"eval{threshold}" / "metrics.json").read_text())
        assert {k: pooled(scores)[k] for k in ("tp", "n_predicted", "n_true")} == {
            k: metrics[k] for k in ("tp", "n_predicted", "n_true")
        }


def test_bad_input_to_detect_is_one_line_and_writes_nothing(tmp_path, params_file):
    model = spot_model(tmp_path / "model" / "fcn.keras")
    images = tmp_path / "images"
    write_tiff(images / "good.tif", spot_image(96, [(40, 40, -1.0)]), PIXEL_A)
    corrupt = images / "broken.tif"
    corrupt.write_bytes(b"II*\x00" + b"\x17" * 200)
    args = ["detect", "--model", model, "--params", params_file]
    assert_one_line_error(
        run_cli(*args, "--images", images, "--out", tmp_path / "o", check=False), "broken.tif", "not a readable TIFF"
    )
    corrupt.unlink()
    import tifffile

    tifffile.imwrite(images / "uncalibrated.tif", spot_image(96, []))
    assert_one_line_error(
        run_cli(*args, "--images", images, "--out", tmp_path / "o", check=False),
        "uncalibrated.tif",
        "no pixel size",
        "sidecar",
    )
    (images / "uncalibrated.tif").unlink()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "session.txt").write_text("mine")
    assert_one_line_error(run_cli(*args, "--images", images, "--out", notes, check=False), "did not write")
    assert_one_line_error(
        run_cli(*args, "--images", images, "--out", images / "found", check=False), "inside the input folder"
    )
    assert not (tmp_path / "o").exists() and (notes / "session.txt").read_text() == "mine"
    assert sorted(p.name for p in images.iterdir()) == ["good.tif"]


# --------------------------------------------------------------------------- real microscope files
@pytest.mark.parametrize("name", ["mos2_dm3", "au_emd"])
def test_real_dm3_and_emd_files_give_their_pixel_size(tmp_path, name):
    _, _, pixel_A, shape = FILES[name]
    image, found = read_any(real_file(name, tmp_path))
    assert image.shape == shape and np.isfinite(image).all()
    assert found == pytest.approx(pixel_A, abs=0.001)


def test_real_hyperspy_file_without_units_needs_a_sidecar(tmp_path):
    from stemgan.errors import StemganError

    path = real_file("perovskite_hspy", tmp_path)
    image, found = read_any(path)
    assert image.shape == FILES["perovskite_hspy"][3] and found is None  # its axes have a scale but no unit
    with pytest.raises(StemganError, match="has no pixel size in its metadata"):
        load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A))
    path.with_suffix(".json").write_text(json.dumps({"pixel_size_A": 0.093}))
    working = load_working_image(path, IngestConfig(working_pixel_size_A=PIXEL_A))
    assert working.original_pixel_size_A == 0.093 and working.image.shape == (179, 170)


@pytest.mark.slow
def test_detect_runs_on_a_real_dm3(tmp_path, params_file):
    real = real_file("mos2_dm3", tmp_path / "session")
    model = spot_model(tmp_path / "model" / "fcn.keras")
    proc = run_cli("detect", "--model", model, "--images", real, "--out", tmp_path / "found", "--params", params_file)
    assert "1 images" in proc.stdout
    summary = pd.read_csv(tmp_path / "found" / "summary.csv")
    assert summary.pixel_size_A[0] == pytest.approx(0.127, abs=0.001) and summary.width_px[0] == 1024
    found = pd.read_csv(tmp_path / "found" / f"{real.stem}.csv")
    assert ((found.x_px >= -0.5) & (found.x_px <= 1023.5)).all()  # on the file's own 1024 px grid


@pytest.mark.timeout(600)
def test_registered_defect_finder_brings_its_threshold_to_detect(tmp_path, params_file, mlflow_store):
    """An FCN as train-fcn logs it (compiled with the project's loss), registered as promote-fcn does: detect
    loads models:/NAME@champion and uses the threshold and classes of its tags."""
    from stemgan.tracking.registry import promote

    run_cli("simulate", "--material", "wse2", "--n-images", 2, "--out", tmp_path / "sim", "--params", params_file)
    run_cli(
        "train-fcn",
        "--source",
        "gaussian",
        "--train",
        tmp_path / "sim",
        "--out",
        tmp_path / "fcn",
        "--params",
        params_file,
    )
    trained = json.loads((tmp_path / "fcn" / "fcn.json").read_text())
    tags = {"threshold": "0.7", "normalize": "percentile", "classes": "se_vacancy_single", "calibration": "none"}
    assert promote(trained["seeds"][0]["model_uri"], "wse2-test-defect-finder", 0.5, tags, "test").promoted
    run_cli(
        "detect",
        "--model",
        "models:/wse2-test-defect-finder@champion",
        "--images",
        tmp_path / "sim/images",
        "--out",
        tmp_path / "found",
        "--params",
        params_file,
    )
    used = json.loads((tmp_path / "found" / "model.json").read_text())
    assert used["threshold"] == 0.7 and used["classes"] == ["se_vacancy_single"] and used["calibration"] == "none"
    for detections in (tmp_path / "found").glob("wse2_sim_*.csv"):
        assert (pd.read_csv(detections).probability >= 0.7).all()


def test_an_unreachable_registry_is_one_line_and_writes_nothing(tmp_path, params_file, monkeypatch):
    """models:/ with the tracking server down: the error says the server cannot be reached (not that the model is
    missing), names the fix, and detect writes nothing."""
    write_tiff(tmp_path / "images" / "a.tif", spot_image(96, [(40, 40, -1.0)]), PIXEL_A)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    proc = run_cli(
        "detect",
        "--model",
        "models:/wse2-day_a-defect-finder@champion",
        "--images",
        tmp_path / "images",
        "--out",
        tmp_path / "o",
        "--params",
        params_file,
        check=False,
    )
    assert_one_line_error(proc, "cannot be reached", "http://127.0.0.1:9", "MLFLOW_TRACKING_URI")
    assert not (tmp_path / "o").exists()
