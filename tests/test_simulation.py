"""Physics checks of the incoherent linear ADF simulator, and its files read back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import map_coordinates

from stemgan.config import DefectRule, MaterialConfig, Normal, OpticsConfig
from stemgan.data.labels_io import read_labels
from stemgan.data.tiff_io import read_tiff
from stemgan.seeding import item_rng
from stemgan.simulation.optics import draw_probe, electron_wavelength_A, probe_fwhm_theory_A, probe_intensity
from stemgan.simulation.simulate import simulate_image
from tests.conftest import run_cli

PIXEL_A = 0.2074
WSE2 = MaterialConfig(builder="mx2", formula="WSe2", a_A=3.3, thickness_A=3.595)
IDEAL_OPTICS = OpticsConfig(defocus_A=Normal(0.0), cs3_mm=Normal(0.0), source_fwhm_A=Normal(0.0), thermal_rms_A=0.0)


def test_wavelength_80kV():
    assert electron_wavelength_A(80.0) == pytest.approx(0.04176, rel=1e-3)


def test_probe_fwhm_matches_diffraction_limit():
    """An aberration-free probe has FWHM 0.51 lambda/alpha (Airy disc)."""
    probe = draw_probe(IDEAL_OPTICS, np.random.default_rng(0))
    pixel = 0.01
    intensity = np.fft.fftshift(probe_intensity(probe, 512, pixel))
    profile = intensity[256, :] / intensity.max()
    above = np.where(profile >= 0.5)[0]
    # interpolate the half-maximum crossings on both flanks
    left, right = above[0], above[-1]
    x_left = left - (profile[left] - 0.5) / (profile[left] - profile[left - 1])
    x_right = right + (profile[right] - 0.5) / (profile[right] - profile[right + 1])
    fwhm = (x_right - x_left) * pixel
    assert fwhm == pytest.approx(probe_fwhm_theory_A(probe), rel=0.03)


def test_lattice_spacing_from_fft_peaks():
    """The strongest lattice reflections of WSe2 sit at 1/d100 with d100 = a*sqrt(3)/2."""
    image, _, _ = simulate_image(WSE2, IDEAL_OPTICS, 512, PIXEL_A, item_rng(0, "fft"), random_orientation=False)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(image - image.mean())))
    k = np.fft.fftshift(np.fft.fftfreq(512, d=PIXEL_A))
    kx, ky = np.meshgrid(k, k)
    kr = np.hypot(kx, ky)
    spectrum[kr < 0.1] = 0
    peak = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    d_measured = 1.0 / kr[peak]
    assert d_measured == pytest.approx(3.3 * np.sqrt(3) / 2, rel=0.01)


def test_column_intensities_follow_z_power():
    """Isolated columns (wide cell): W : Se2 : Se1 peak heights = 74^n : 2*34^n : 34^n."""
    wide = dataclasses.replace(WSE2, a_A=12.0, defects=(DefectRule("se_vacancy_single", "Se", 0.3, remove=1),))
    image, labels, _ = simulate_image(wide, IDEAL_OPTICS, 512, PIXEL_A, item_rng(0, "zn"), random_orientation=False)
    labels = labels[(labels.x_px > 5) & (labels.x_px < 506) & (labels.y_px > 5) & (labels.y_px < 506)]
    peaks = map_coordinates(image, [labels.y_px, labels.x_px], order=3)
    by_column = pd.Series(peaks).groupby(labels.column.to_numpy()).median()
    n = IDEAL_OPTICS.z_exponent
    assert by_column["W"] / by_column["Se"] == pytest.approx(74**n / 34**n, rel=0.03)
    assert by_column["Se2"] / by_column["Se"] == pytest.approx(2.0, rel=0.03)


def test_vacancy_labels_sit_at_intensity_minima():
    """At every single Se vacancy label the image is darker than at intact Se2 columns."""
    rules = (
        DefectRule("se_vacancy_single", "Se", 0.05, remove=1),
        DefectRule("se_vacancy_double", "Se", 0.02, remove=2),
    )
    material = dataclasses.replace(WSE2, defects=rules)
    image, labels, _ = simulate_image(material, OpticsConfig(), 256, PIXEL_A, item_rng(3, "vac"))
    values = map_coordinates(image, [labels.y_px, labels.x_px], order=1)
    se2 = np.median(values[(labels.column == "Se2").to_numpy()])
    single = values[(labels.defect == "se_vacancy_single").to_numpy()]
    double = values[(labels.defect == "se_vacancy_double").to_numpy()]
    assert len(single) > 5 and len(double) > 0
    assert np.all(single < 0.8 * se2)
    assert double.mean() < single.mean()


def test_defect_rate_matches_params():
    rules = (DefectRule("se_vacancy_single", "Se", 0.03, remove=1),)
    material = dataclasses.replace(WSE2, defects=rules)
    _, labels, _ = simulate_image(material, OpticsConfig(), 1024, PIXEL_A, item_rng(7, "rate"))
    se_sites = (labels.site == "Se2").sum()
    rate = (labels.defect == "se_vacancy_single").sum() / se_sites
    assert rate == pytest.approx(0.03, abs=4 * np.sqrt(0.03 / se_sites))


def test_same_seed_same_image_other_seed_differs():
    a, la, _ = simulate_image(WSE2, OpticsConfig(), 128, PIXEL_A, item_rng(1, "wse2", 0))
    b, lb, _ = simulate_image(WSE2, OpticsConfig(), 128, PIXEL_A, item_rng(1, "wse2", 0))
    c, _, _ = simulate_image(WSE2, OpticsConfig(), 128, PIXEL_A, item_rng(1, "wse2", 1))
    assert np.array_equal(a, b) and la.equals(lb)
    assert not np.allclose(a, c)


def test_simulate_cli_writes_tiff_and_labels(tmp_path, tiny_params_file):
    out = tmp_path / "sim"
    proc = run_cli("simulate", "--material", "wse2", "--out", out, "--params", tiny_params_file)
    assert "simulate: 2 wse2 images" in proc.stdout
    tiffs = sorted((out / "images").glob("*.tif"))
    assert len(tiffs) == 2
    image, pixel, meta = read_tiff(tiffs[0])
    assert image.shape == (128, 128) and image.dtype == np.float32 and np.isfinite(image).all()
    assert pixel == pytest.approx(PIXEL_A)
    assert meta["material"] == "wse2" and "defocus_A" in meta
    labels = read_labels(out / "labels" / (tiffs[0].stem + ".csv"))
    assert {"x_px", "y_px", "x_A", "y_A", "site", "column", "defect"} <= set(labels.columns)
    assert labels.x_A.to_numpy() == pytest.approx(labels.x_px.to_numpy() * PIXEL_A, abs=1e-3)
    assert ((labels.x_px > -0.5) & (labels.x_px < 127.5)).all()
    assert set(labels.site) == {"W", "Se2"}
    assert pd.read_csv(out / "manifest.csv").shape[0] == 2


def test_other_materials_and_structure_file(tmp_path):
    from ase.build import bulk

    for material, expected in [
        (MaterialConfig(builder="graphene", formula="C2", a_A=2.46), {"C"}),
        (MaterialConfig(builder="perovskite", formula="SrTiO3", a_A=3.905, n_cells_thick=4), {"Sr4", "O4", "O4Ti4"}),
    ]:
        _, labels, _ = simulate_image(material, OpticsConfig(), 64, PIXEL_A, item_rng(0, material.builder))
        assert set(labels.site) == expected
    cif = tmp_path / "cu.cif"
    bulk("Cu", "sc", a=3.0).write(cif)
    user = MaterialConfig(builder="file", structure_file=str(cif), n_cells_thick=5)
    _, labels, _ = simulate_image(user, OpticsConfig(), 64, PIXEL_A, item_rng(0, "file"))
    assert set(labels.column) == {"Cu5"} and len(labels) == pytest.approx((64 * PIXEL_A / 3.0) ** 2, rel=0.3)
