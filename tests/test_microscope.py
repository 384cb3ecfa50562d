"""Virtual microscope: labels follow the scan distortion; the acquire stage writes the demo layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import center_of_mass

from stemgan.config import (
    ContaminationConfig,
    DetectorConfig,
    MaterialConfig,
    Normal,
    OpticsConfig,
    PresetConfig,
    ScanConfig,
)
from stemgan.data.labels_io import read_labels
from stemgan.data.tiff_io import read_tiff
from stemgan.microscope.acquire import acquire_image
from stemgan.microscope.scan import pixels_to_sample_positions, sample_positions_to_pixels, scan_field
from stemgan.seeding import item_rng
from stemgan.simulation.scene import crystal_for
from tests.conftest import run_cli, tiny_params

PIXEL_A = 0.2074
STRONG_SCAN = ScanConfig(
    dwell_us=20.0,
    flyback_us=500.0,
    drift_A_per_s=Normal(3.0, 0.0),
    line_jitter_A=0.05,
    flyback_amplitude_A=1.0,
    flyback_decay_us=100.0,
    mains_amplitude_A=0.1,
)


def test_inverse_scan_mapping_round_trips():
    field = scan_field(256, PIXEL_A, STRONG_SCAN, np.random.default_rng(0))
    assert field.max_displacement_px > 5  # the distortion is strong enough to matter
    sample = np.random.default_rng(1).uniform(20, 230, size=(500, 2))
    acquired = sample_positions_to_pixels(field, sample)
    back = pixels_to_sample_positions(field, acquired)
    assert np.abs(back - sample).max() < 0.01


def test_labels_land_on_the_atoms_in_the_distorted_image():
    """Noise-free acquisition with drift, jitter, flyback and mains distortion: each labelled W column's
    intensity centroid in the acquired image is within 0.1 px of its mapped label. Columns in the first
    16 px, where this (exaggerated) flyback still squeezes an atom within its own width, are left out."""
    scan = STRONG_SCAN
    quiet = DetectorConfig(
        dose_e_per_A2=Normal(1e12),
        read_noise_adu=0.0,
        lag_px=0.0,
        line_gain_std=0.0,
        mains_intensity_fraction=0.0,
        gain_adu_per_e=1e-3,
        offset_adu=0.0,
        bit_depth=32,
    )
    preset = PresetConfig(scan=scan, detector=quiet, contamination=ContaminationConfig(coverage=0.0))
    material = MaterialConfig(builder="mx2", formula="WSe2", a_A=8.0, thickness_A=3.595)
    optics = OpticsConfig(defocus_A=Normal(0.0), cs3_mm=Normal(0.0), source_fwhm_A=Normal(0.0))
    image, labels, meta = acquire_image(
        material, crystal_for(material, "test"), optics, preset, 256, 48, PIXEL_A, item_rng(0, "map")
    )
    assert meta["max_scan_displacement_px"] > 5
    image = image.astype(np.float64)
    w = labels[(labels.column == "W") & labels.x_px.between(16, 247) & labels.y_px.between(8, 247)]
    assert len(w) > 20
    errors = []
    for x, y in zip(w.x_px, w.y_px):  # a few dozen columns; each needs its own window
        r0, c0 = int(round(y)) - 7, int(round(x)) - 7
        window = image[r0 : r0 + 15, c0 : c0 + 15]
        window = window - window.min()  # whole atom profile: it weights the scan lines as the eye does
        cy, cx = center_of_mass(window)
        errors.append(np.hypot(cx + c0 - x, cy + r0 - y))
    assert np.max(errors) < 0.1, f"max label error {np.max(errors):.3f} px"


def test_acquire_writes_labelled_splits_only(tmp_path, tiny_params_file):
    out = tmp_path / "data"
    proc = run_cli("acquire", "--out", out, "--params", tiny_params_file)
    assert "acquire: 12 images in 4 sets" in proc.stdout
    day_a = out / "wse2" / "day_a"
    unlabelled = sorted((day_a / "unlabelled").glob("*.tif"))
    assert len(unlabelled) == 2 and not list((day_a / "unlabelled").glob("*.csv"))
    image, pixel, _ = read_tiff(unlabelled[0])
    assert image.shape == (128, 128) and pixel == pytest.approx(PIXEL_A)
    assert (image > 0).all()  # offset keeps the ADC above zero
    for split in ("val", "test"):
        tifs = sorted((day_a / split / "images").glob("*.tif"))
        csvs = sorted((day_a / split / "labels").glob("*.csv"))
        assert [t.stem for t in tifs] == [c.stem for c in csvs] and len(tifs) == 1
        labels = read_labels(csvs[0])
        assert ((labels.x_px > -0.5) & (labels.x_px < 127.5) & (labels.y_px > -0.5) & (labels.y_px < 127.5)).all()
    assert (out / "README.md").is_file() and (day_a / "acquisition.csv").is_file()


def test_day_presets_differ_like_two_sessions(tmp_path, tiny_params_file):
    import pandas as pd

    out = tmp_path / "data"
    run_cli("acquire", "--out", out, "--params", tiny_params_file)
    a = pd.read_csv(out / "wse2/day_a/acquisition.csv")
    b = pd.read_csv(out / "wse2/day_b/acquisition.csv")
    assert a.dose_e_per_A2.mean() < 0.5 * b.dose_e_per_A2.mean()
    assert a.defocus_A.mean() > b.defocus_A.mean()
    presets = tiny_params()["acquire"]["presets"]
    relative_noise = []
    for day in ("day_a", "day_b"):
        image = read_tiff(sorted((out / "wse2" / day / "unlabelled").glob("*.tif"))[0])[0]
        signal = image.mean() - presets[day]["detector"]["offset_adu"]
        relative_noise.append(noise_std_beyond_probe_band(image) / signal)
    # lower dose: noisier relative to the signal (day A's longer detector lag smooths part of it away)
    assert relative_noise[0] > 1.2 * relative_noise[1]


def noise_std_beyond_probe_band(image: np.ndarray, k_min_per_A: float = 1.6) -> float:
    """The probe passes nothing beyond twice the aperture (1.2 Å^-1 at 80 kV, 25 mrad): the power
    there is noise alone (Parseval: per-pixel variance = mean |F|^2 / n)."""
    spectrum = np.abs(np.fft.fft2(image - image.mean())) ** 2 / image.size
    k = np.fft.fftfreq(image.shape[0], d=PIXEL_A)
    kr = np.hypot(*np.meshgrid(k, k))
    return float(np.sqrt(spectrum[kr > k_min_per_A].mean()))


def test_acquire_keeps_existing_data(tmp_path, tiny_params_file):
    out = tmp_path / "data"
    (out / "mine").mkdir(parents=True)
    (out / "mine" / "precious.tif").write_bytes(b"user data")
    proc = run_cli("acquire", "--out", out, "--params", tiny_params_file, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--force" in proc.stderr and str(out) in proc.stderr
    assert (out / "mine" / "precious.tif").read_bytes() == b"user data"


def test_diagnostic_sets_show_one_effect_each_on_the_same_atoms(tmp_path):
    """Each effect set is the base plus that effect alone; image i holds the same crystal and defects in each."""
    from dataclasses import asdict

    from stemgan.config import load_params
    from stemgan.microscope.diagnostic import EFFECTS, isolated_presets, write_effect_sets
    from tests.conftest import write_params

    params = load_params(write_params(tmp_path / "params.yaml", tiny_params(96)))
    preset = params.acquire.presets["day_a"]
    presets = isolated_presets(preset)
    assert list(presets) == list(EFFECTS)
    base = presets["base"]
    assert base.contamination.coverage == 0 and base.detector.lag_px == 0 and base.detector.line_gain_std == 0
    assert base.scan.drift_A_per_s.mean == 0 and base.scan.line_jitter_A == 0 and base.optics_overrides == {}
    assert base.detector.dose_e_per_A2 == preset.detector.dose_e_per_A2  # shot noise at the session's dose
    for effect, changed in (("probe", "optics_overrides"), ("contamination", "contamination"), ("scan", "scan")):
        differs = [k for k in asdict(base) if asdict(presets[effect])[k] != asdict(base)[k]]
        assert differs == [changed], effect
    assert presets["session"] == preset

    folders = write_effect_sets(
        "wse2", params.material("wse2"), params.optics, preset, 1, 96, 24, PIXEL_A, 31, tmp_path / "sets"
    )
    labels = {e: read_labels(next((f / "labels").glob("*.csv"))) for e, f in folders.items()}
    images = {e: read_tiff(next((f / "images").glob("*.tif")))[0] for e, f in folders.items()}
    for effect in ("probe", "contamination", "detector"):  # no scan distortion: the labels do not move
        assert labels[effect][["x_px", "y_px", "defect"]].equals(labels["base"][["x_px", "y_px", "defect"]])
    assert not np.allclose(labels["scan"].x_px.to_numpy()[:5], labels["base"].x_px.to_numpy()[:5])
    assert not np.array_equal(images["contamination"], images["base"])
