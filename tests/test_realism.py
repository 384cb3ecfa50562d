"""Realism metrics on constructed cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stemgan.evaluation.realism import (
    ReferenceSet,
    classifier_two_sample_test,
    histogram_distance,
    kernel_inception_distance,
    roc_auc,
    spectral_metrics,
)
from tests.test_models import lattice_tiles

PIXEL_A = 0.2074


def structured(n: int, seed: int, size: int = 128) -> np.ndarray:
    """Lattice tiles; 128 px (26 Å) so that the low-frequency band (< 0.05 Å^-1) exists."""
    rng = np.random.default_rng(seed)
    return (lattice_tiles(n, size, seed)[..., 0] + rng.normal(0, 0.05, (n, size, size))).astype(np.float32)


def test_identical_sets_score_as_identical():
    a = structured(40, 0)
    metrics = spectral_metrics(a, a.copy(), PIXEL_A)
    assert metrics["spectrum_distance"] == 0.0
    assert metrics["noise_floor_ratio"] == pytest.approx(1.0) and metrics["low_frequency_ratio"] == pytest.approx(1.0)
    assert histogram_distance(a, a.copy()) == pytest.approx(0.0, abs=1e-9)


def test_white_noise_against_structure_scores_far():
    a, noise = structured(40, 0), np.random.default_rng(1).normal(0, 0.7, (40, 128, 128)).astype(np.float32)
    same_kind = spectral_metrics(a, structured(40, 5), PIXEL_A)["spectrum_distance"]
    different = spectral_metrics(noise, a, PIXEL_A)
    assert different["spectrum_distance"] > 5 * max(same_kind, 0.05)
    assert different["noise_floor_ratio"] > 10  # white noise fills the band the probe leaves empty
    assert histogram_distance(noise, a) > 5 * histogram_distance(structured(40, 5), a)


def test_reference_set_computed_once_gives_the_pairwise_figures_exactly():
    """realism compares every source with one experimental set, whose spectra and quantiles it keeps: the same
    numbers to the bit as each pair computed afresh, also for a source of smaller images (coarser bins)."""
    experimental = structured(12, 0)
    reference = ReferenceSet(experimental, PIXEL_A)
    for source in (
        structured(10, 3),
        structured(10, 4, size=64),
        np.random.default_rng(5).normal(0, 0.5, (8, 128, 128)),
    ):
        expected = {**spectral_metrics(source, experimental, PIXEL_A)}
        expected["histogram_distance"] = histogram_distance(source, experimental)
        assert reference.histogram_and_spectra(source) == expected
    assert sorted(reference._spectra) == [32, 64]  # one spectrum of the experimental set per bin count


def test_kid_is_near_zero_for_one_distribution_and_large_for_two():
    rng = np.random.default_rng(0)
    fa, fb, fc = rng.normal(0, 1, (200, 16)), rng.normal(0, 1, (200, 16)), rng.normal(1.5, 1, (200, 16))
    same, different = kernel_inception_distance(fa, fb), kernel_inception_distance(fa, fc)
    assert abs(same) < 0.05 and different > 1.0


def test_roc_auc_exact():
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


def test_classifier_two_sample_test():
    pytest.importorskip("tensorflow")
    a, b = structured(64, 0, 32), structured(64, 7, 32)
    alike = classifier_two_sample_test(a, b, seed=0, epochs=3)
    assert alike.auc_low <= 0.5 + 0.1 and alike.auc < 0.8  # cannot tell two draws of one kind apart
    noise = np.random.default_rng(2).normal(0, 0.7, (64, 32, 32)).astype(np.float32)
    apart = classifier_two_sample_test(a, noise, seed=0, epochs=3)
    assert apart.auc > 0.95 and apart.auc_low > 0.8


def test_report_shows_what_detect_found_in_a_real_example_and_no_f1(tmp_path):
    """The real example's section: detect's counts and densities, its overlay beside the README, and no score."""
    import pandas as pd

    from stemgan.evaluation.report import detections_section, load_detections

    folder = tmp_path / "detect" / "mos2_real"
    folder.mkdir(parents=True)
    row = {"image": "real.dm3", "pixel_size_A": 0.127, "width_px": 1024, "height_px": 1024}
    row |= {"field_of_view_nm2": 169.1, "defects": 12, "density_per_nm2": 0.071}
    row |= {"s_vacancy_single_count": 12, "s_vacancy_single_per_nm2": 0.071}
    pd.DataFrame([row]).to_csv(folder / "summary.csv", index=False)
    (folder / "model.json").write_text('{"threshold": 0.5}')
    (folder / "real.png").write_bytes(b"\x89PNG overlay")
    out = tmp_path / "reports"
    out.mkdir()

    found = load_detections({"mos2_real": "mos2", "not_run_yet": "mos2"}, tmp_path / "detect", out)
    text = detections_section(found)

    assert list(found) == ["mos2_real"]  # an example whose stage has not run is left out, not invented
    assert (out / "detections_mos2_real_real.png").read_bytes() == b"\x89PNG overlay"
    assert "12 s_vacancy_single" in text and "0.0710 s_vacancy_single" in text and "169.1" in text
    assert "no precision, recall or F1" in text and "F1 " not in text.replace("or F1 is", "")
    assert "threshold is 0.5" in text
    assert "real_example.examples is empty" in detections_section({})


def test_report_diagnostic_table_reads_the_stage_json_and_says_when_it_has_not_run(tmp_path):
    from stemgan.evaluation.report import diagnostic_section

    assert "has not run" in diagnostic_section(tmp_path / "none.json", "diagnostic.png")
    found = {
        "set": "wse2_day_a",
        "n_images": 4,
        "effects": ["base", "contamination"],
        "n_true": {"base": 120, "contamination": 118},
        "sources": {
            "no_noise": {"base": {"f1": 0.95}, "contamination": {"f1": 0.5}},
            "cyclegan": {"base": {"f1": 0.97}, "contamination": {"f1": None}},
        },
    }
    path = tmp_path / "diagnostic.json"
    path.write_text(json.dumps(found))
    text = diagnostic_section(path, "diagnostic.png")
    assert "| training source | base (120) | contamination (118) |" in text
    assert "| no_noise | 95.0 | 50.0 |" in text and "| cyclegan | 97.0 | – |" in text  # undefined is not 0 or 100
    assert "![diagnostic](diagnostic.png)" in text
