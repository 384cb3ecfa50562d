"""Calibration against a microscope whose settings we know: virtual images made with another Z exponent, probe
blur and a wrong pixel-size calibration must give those settings back."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from stemgan.calibration.calibrate import calibrate
from stemgan.config import Normal, load_params
from stemgan.data.normalize import normalize_image
from stemgan.data.tiff_io import write_tiff
from stemgan.errors import StemganError
from stemgan.seeding import item_rng
from stemgan.simulation.simulate import simulate_image
from tests.conftest import ROOT, run_cli

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
        counts = np.random.default_rng(i).poisson(np.clip(image, 0, None) / image.max() * 200).astype(np.float32)
        images.append(normalize_image(counts, params.tile.normalize))
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


def calibrate_cli(tmp_path, images, check=True):
    """The images written as a session folder of TIFFs, then `stemgan calibrate` on them as wse2."""
    for i, image in enumerate(images):
        write_tiff(tmp_path / "session" / f"{i}.tif", image, PIXEL_A)
    args = ["--images", tmp_path / "session", "--material", "wse2", "--out", tmp_path / "calibration.json"]
    return run_cli("calibrate", *args, "--params", ROOT / "params.yaml", check=check)


def test_wrong_material_is_a_one_line_error(tmp_path):
    params, images = microscope_images("graphene", 1.7, 1.0, 1.0, n=2)
    with pytest.raises(StemganError, match=r"no wse2 lattice \(spacing 2\.86 Å within 20%\) in any of the 2 images"):
        calibrate(images, PIXEL_A, params.material("wse2"), "wse2", params.optics)
    proc = calibrate_cli(tmp_path, images, check=False)
    assert proc.returncode == 2 and "no wse2 lattice" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "calibration.json").exists()


def test_calibrate_command_writes_what_it_found(tmp_path):
    _, images = microscope_images("wse2", 2.0, 1.0, 1.0, n=2)
    proc = calibrate_cli(tmp_path, images)
    found = json.loads((tmp_path / "calibration.json").read_text())
    assert found["z_exponent"] == pytest.approx(2.0, rel=0.05)
    assert f"Z exponent {found['z_exponent']:.2f}" in proc.stdout
    assert found["sublattice_ratio"] < found["sublattice_ratio_simulated"]  # dimmer Se2 than params' Z^1.7 gives
