"""Calibration against a microscope whose settings we know: virtual images made with another Z exponent, probe
blur and a wrong pixel-size calibration must give those settings back."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from stemgan.calibration.calibrate import calibrate
from stemgan.config import Normal, load_params
from stemgan.data.tiff_io import write_tiff
from stemgan.errors import StemganError
from stemgan.seeding import item_rng
from stemgan.simulation.simulate import simulate_image
from tests.conftest import ROOT, project_params, run_cli, tiny_params, write_params

PIXEL_A = 0.2074


def microscope_images(material: str, z_exponent: float, source_fwhm_A: float, pixel_factor: float, n: int = 4):
    """Images of a microscope with these settings, whose files claim PIXEL_A while each pixel really is
    PIXEL_A * pixel_factor; shot noise at about 200 counts on the brightest column."""
    params = load_params(ROOT / "params.yaml")
    optics = dataclasses.replace(params.optics, z_exponent=z_exponent, source_fwhm_A=Normal(source_fwhm_A, 0.05))
    images = []
    for i in range(n):
        image, _, _ = simulate_image(
            params.material(material), optics, 512, PIXEL_A * pixel_factor, item_rng(99, "microscope", i)
        )
        counts = np.random.default_rng(i).poisson(np.clip(image, 0, None) / image.max() * 200)
        images.append(counts.astype(np.float32))  # as a detector gives them (calibrate reads raw intensities)
    return params, images


@pytest.mark.slow
@pytest.mark.parametrize(
    "z_exponent, source_fwhm_A, pixel_factor", [(2.0, 1.0, 0.95), (2.3, 1.0, 1.06), (1.7, 1.3, 1.0)]
)
def test_calibration_recovers_exponent_blur_and_sampling(z_exponent, source_fwhm_A, pixel_factor):
    params, images = microscope_images("wse2", z_exponent, source_fwhm_A, pixel_factor)
    found = calibrate(images, PIXEL_A, params.material("wse2"), "wse2", params.optics)
    assert found.sampling_correction == pytest.approx(pixel_factor, rel=0.01)
    assert found.source_fwhm_A == pytest.approx(source_fwhm_A, rel=0.10)
    assert found.z_exponent == pytest.approx(z_exponent, rel=0.05)
    assert found.n_columns > 4000 and found.z_exponent_params == 1.7


def calibrate_cli(tmp_path, images, check=True, params=ROOT / "params.yaml"):
    """The images written as a session folder of TIFFs, then `stemgan calibrate` on them as wse2 (-> cal/)."""
    for i, image in enumerate(images):
        write_tiff(tmp_path / "session" / f"{i}.tif", image, PIXEL_A)
    args = ["--images", tmp_path / "session", "--material", "wse2", "--out", tmp_path / "cal"]
    return run_cli("calibrate", *args, "--params", params, check=check)


def test_wrong_material_is_a_one_line_error(tmp_path):
    params, images = microscope_images("graphene", 1.7, 1.0, 1.0, n=2)
    with pytest.raises(StemganError, match=r"no wse2 lattice \(spacing 2\.86 Å within 20%\) in any of the 2 images"):
        calibrate(images, PIXEL_A, params.material("wse2"), "wse2", params.optics)
    proc = calibrate_cli(tmp_path, images, check=False)
    assert proc.returncode == 2 and "no wse2 lattice" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cal").exists()


def test_calibrate_command_writes_what_it_found(tmp_path):
    _, images = microscope_images("wse2", 2.0, 1.0, 1.0, n=2)
    proc = calibrate_cli(tmp_path, images)
    found = json.loads((tmp_path / "cal/calibration.json").read_text())
    assert found["z_exponent"] == pytest.approx(2.0, rel=0.05) and found["mode"] == "use"
    assert f"Z exponent {found['z_exponent']:.2f}" in proc.stdout
    assert found["sublattice_ratio"] < found["sublattice_ratio_simulated"]  # dimmer Se2 than params' Z^1.7 gives


def simulate_cli(tmp_path, n_images: int, params):
    """WSe2 simulations made with the calibration in tmp_path/cal."""
    calibration = ("--calibration", tmp_path / "cal", "--n-images", n_images)
    return run_cli("simulate", "--material", "wse2", *calibration, "--out", tmp_path / "sim", "--params", params)


def test_calibrated_simulations_show_what_the_microscope_shows(tmp_path):
    """simulate --calibration: the set's simulations measured as its images were give the images' column
    ratio and width, where params' own optics do not; with calibrate.mode report they stay uncalibrated."""
    _, images = microscope_images("wse2", 2.3, 1.2, 1.0, n=2)
    calibrate_cli(tmp_path, images)
    simulate_cli(tmp_path, 2, ROOT / "params.yaml")
    check = json.loads((tmp_path / "sim/calibration.json").read_text())
    exp, before, after = check["experiment"], check["before"], check["after"]
    assert after["sublattice_ratio"] == pytest.approx(exp["sublattice_ratio"], rel=0.05)
    assert after["column_sigma_A"] == pytest.approx(exp["column_sigma_A"], rel=0.05)
    assert abs(before["sublattice_ratio"] - exp["sublattice_ratio"]) > 0.1  # Z^1.7 against Z^2.3: far apart
    assert check["applied"]["z_exponent"] == pytest.approx(2.3, rel=0.05)

    params = project_params()
    params["calibrate"]["mode"] = "report"
    report = write_params(tmp_path / "report.yaml", params)
    calibrate_cli(tmp_path, images, params=report)
    proc = simulate_cli(tmp_path, 1, report)
    assert "uncalibrated" in proc.stdout and not (tmp_path / "sim/calibration.json").exists()


def test_doctor_warns_of_missing_and_doubtful_calibrations(tmp_path):
    from stemgan.cli.doctor import calibration_warnings

    params = load_params(ROOT / "params.yaml")
    _, images = microscope_images("wse2", 1.7, 1.0, 1.15, n=2)  # files that claim a 15% wrong pixel size
    calibrate_cli(tmp_path, images)
    (tmp_path / "calibration" / "wse2_day_a").mkdir(parents=True)
    (tmp_path / "cal/calibration.json").rename(tmp_path / "calibration/wse2_day_a/calibration.json")
    warnings = calibration_warnings(params, tmp_path / "calibration")
    assert any(w.startswith("wse2_day_a: the files' pixel size is off by +15%") for w in warnings), warnings
    assert any(w.startswith("wse2_day_b: not calibrated yet") for w in warnings)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fcn_trained_on_calibrated_simulations_beats_uncalibrated_on_another_microscope(tmp_path, mlflow_store):
    """A microscope whose ADF exponent is 2.3 (params say 1.7): calibrate on its unlabelled images, then the same
    FCN recipe (Gaussian noise source) on calibrated and on params' simulations, scored on its labelled images."""
    import pandas as pd

    from stemgan.data.labels_io import write_labels

    params = tiny_params()
    params["simulate"].update(n_images=6, image_size_px=256)
    params["fcn"].update(steps=300)
    params["fcn"]["scoring"].update(
        tile_px=128, stride_px=64, border_A=3.0, pr_thresholds=project_params()["fcn"]["scoring"]["pr_thresholds"]
    )
    params_file = write_params(tmp_path / "params.yaml", params)
    _, unlabelled = microscope_images("wse2", 2.3, 1.0, 1.0, n=2)
    for i, image in enumerate(unlabelled):
        write_tiff(tmp_path / "session" / f"{i}.tif", image, PIXEL_A)
    optics = dataclasses.replace(load_params(params_file).optics, z_exponent=2.3)
    material = load_params(params_file).material("wse2")
    for i in range(3):  # labelled images of the same microscope, at its dose
        image, labels, _ = simulate_image(material, optics, 256, PIXEL_A, item_rng(5, "labelled", i))
        counts = np.random.default_rng(50 + i).poisson(np.clip(image, 0, None) / image.max() * 200)
        write_tiff(tmp_path / "test/images" / f"{i}.tif", counts.astype(np.float32), PIXEL_A)
        write_labels(tmp_path / "test/labels" / f"{i}.csv", labels)

    def cli(*args):
        return run_cli(*args, "--params", params_file, cwd=tmp_path)

    cli("calibrate", "--images", "session", "--material", "wse2", "--out", "cal")
    f1 = {}
    for name, extra in (("params", []), ("calibrated", ["--calibration", "cal"])):
        cli("simulate", "--material", "wse2", *extra, "--out", f"sim_{name}")
        cli("train-fcn", "--source", "gaussian", "--train", f"sim_{name}", "--out", f"fcn_{name}")
        cli("evaluate", "--model", f"fcn_{name}/fcn_seed_0.keras", "--labelled", "test", "--out", f"eval_{name}")
        f1[name] = pd.read_csv(tmp_path / f"eval_{name}/pr_curve.csv").f1.max()  # each at its best threshold
    # params' Z^1.7 simulations: every Se2 column of a Z^2.3 microscope looks half way to a vacancy
    assert f1["calibrated"] > f1["params"] + 0.15, f1


def test_real_mos2_image_is_calibrated_and_its_file_sampling_found_off(tmp_path):
    """temul-toolkit's Se-implanted MoS2 DM3 (60 kV, 0.127 Å/px by its metadata): the MoS2 lattice is found, the
    metadata's pixel size is a few per cent small (the {100} spacing reads 2.6 Å against 2.74 Å), and the
    Mo/S2 columns give an exponent in the physical range."""
    from tests.real_files import real_file

    real = real_file("mos2_dm3", tmp_path / "session")
    proc = run_cli(
        "calibrate",
        "--images",
        real.parent,
        "--material",
        "mos2",
        "--out",
        tmp_path / "cal",
        "--params",
        ROOT / "params.yaml",
    )
    found = json.loads((tmp_path / "cal/calibration.json").read_text())
    assert 1.02 < found["sampling_correction"] < 1.10 and found["n_columns"] > 2000
    assert 1.2 < found["z_exponent"] < 2.6 and "mos2: 1 images" in proc.stdout


def test_local_maxima_are_exactly_peak_local_max_with_and_without_ties():
    """The fast path (no spacing pass) and the tie fallback both return what skimage returns, in its order."""
    from scipy.ndimage import gaussian_filter
    from skimage.feature import peak_local_max

    from stemgan.calibration.peaks import local_maxima

    rng = np.random.default_rng(5)
    smooth = gaussian_filter(rng.random((96, 80)), 1.5)
    plateaus = np.round(smooth * 20) / 20  # equal-valued neighbours: the spacing pass has work to do
    for image in (smooth, plateaus):
        for distance, border, rel, peaks in ((1, True, None, np.inf), (3, True, 0.05, np.inf), (4, 7, None, 12)):
            expected = peak_local_max(
                image, min_distance=distance, threshold_rel=rel, exclude_border=border, num_peaks=peaks
            )
            found = local_maxima(image, distance, threshold_rel=rel, exclude_border=border, num_peaks=peaks)
            np.testing.assert_array_equal(found, expected)
            assert len(found) > 3
