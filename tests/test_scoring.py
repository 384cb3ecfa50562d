"""Defect scoring on hand-built coordinate sets: exact P/R/F1, ties, border exclusion, intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stemgan.evaluation.scoring import ImageScore, bootstrap_f1, defect_coordinates, pooled, prf, score_image
from tests.conftest import run_cli, tiny_params, write_params

SHAPE = (100, 100)


def test_exact_precision_recall_f1():
    true = np.array([[20, 20], [40, 40], [60, 60], [80, 80]], float)
    predicted = np.array([[21, 20], [40, 42.5], [70, 30]], float)  # 1 hit, 1 too far (2.5 > 2), 1 false
    score = score_image("a", predicted, true, SHAPE, border_px=0, radius_px=2.0)
    assert (score.tp, score.n_predicted, score.n_true) == (1, 3, 4)
    p, r, f = prf(score.tp, score.n_predicted, score.n_true)
    assert (p, r) == (pytest.approx(1 / 3), pytest.approx(1 / 4)) and f == pytest.approx(2 / 7)


def test_ties_match_one_to_one():
    true = np.array([[50, 50]], float)
    predicted = np.array([[49, 50], [51, 50]], float)  # equally close: one true positive, one false positive
    score = score_image("tie", predicted, true, SHAPE, border_px=0, radius_px=1.5)
    assert (score.tp, score.n_predicted, score.n_true) == (1, 2, 1)
    # two labels sharing one nearby prediction: still one match
    score = score_image("tie2", np.array([[50, 50]], float), np.array([[49, 50], [51, 50]], float), SHAPE, 0, 1.5)
    assert (score.tp, score.n_predicted, score.n_true) == (1, 1, 2)
    # the assignment maximises matches: greedy nearest would pair (50,50)-(50.5,50) and lose (51.8,50)
    predicted = np.array([[50, 50], [52.4, 50]], float)
    true = np.array([[50.5, 50], [51.8, 50]], float)
    assert score_image("opt", predicted, true, SHAPE, 0, 1.0).tp == 2


def test_border_band_is_excluded_from_both_sets():
    true = np.array([[5, 50], [50, 50], [96, 50]], float)
    predicted = np.array([[5, 50], [50, 50], [20, 97]], float)
    score = score_image("b", predicted, true, SHAPE, border_px=10, radius_px=2)
    assert (score.tp, score.n_predicted, score.n_true) == (1, 1, 1)


def test_empty_cases():
    assert np.isnan(prf(0, 0, 0)).all()  # nothing to find, nothing claimed: undefined, never 100%
    precision, recall, f1 = prf(0, 3, 0)  # only false positives: F1 0, recall undefined
    assert (precision, f1) == (0.0, 0.0) and np.isnan(recall)
    precision, recall, f1 = prf(0, 0, 3)  # all missed: F1 0, precision undefined
    assert (recall, f1) == (0.0, 0.0) and np.isnan(precision)


def test_pooled_counts_and_bootstrap_interval():
    scores = [ImageScore("a", 8, 10, 10), ImageScore("b", 2, 4, 8), ImageScore("c", 5, 5, 6)]
    pooled_scores = pooled(scores)
    assert (pooled_scores["tp"], pooled_scores["n_predicted"], pooled_scores["n_true"]) == (15, 19, 24)
    low, high = bootstrap_f1(scores, 2000, seed=0)
    assert low <= pooled_scores["f1"] <= high and low < high
    same = [ImageScore(str(i), 3, 4, 5) for i in range(4)]
    low, high = bootstrap_f1(same, 200, seed=0)
    assert low == pytest.approx(high) == pytest.approx(pooled(same)["f1"])


def test_defect_coordinates_from_probability_peaks():
    prob = np.zeros(SHAPE, np.float32)
    prob[30, 40] = 0.9
    prob[30, 42] = 0.8  # within min_distance of a stronger peak: suppressed
    prob[70, 20] = 0.6
    prob[10, 90] = 0.3  # below threshold
    coords, values = defect_coordinates(prob, threshold=0.5, min_distance_px=4)
    assert sorted(map(tuple, coords.tolist())) == [(20.0, 70.0), (40.0, 30.0)]  # (x, y)
    assert sorted(values.tolist()) == pytest.approx([0.6, 0.9])


def test_one_peak_search_scores_every_threshold_as_a_search_per_threshold_would():
    """ThresholdSweep's scores equal scores_at's (a fresh peak_local_max per threshold) at every threshold, on
    smooth random maps where peaks crowd within min_distance of each other and suppress one another."""
    from scipy.ndimage import gaussian_filter

    from stemgan.config import ScoringConfig
    from stemgan.data.labelled import LabelledImage
    from stemgan.evaluation.evaluate import ThresholdSweep, scores_at

    rng = np.random.default_rng(3)
    maps = [np.clip(gaussian_filter(rng.random((128, 128)), 2) * 9 - 4.0, 0, 1) for _ in range(3)]
    labels = [
        pd.DataFrame({"x_px": rng.uniform(0, 128, 40), "y_px": rng.uniform(0, 128, 40), "defect": "se_vacancy"})
        for _ in maps
    ]
    items = [LabelledImage(f"i{k}", m, lab) for k, (m, lab) in enumerate(zip(maps, labels))]
    scoring, thresholds = ScoringConfig(), [0.1, 0.25, 0.4, 0.55, 0.7, 0.85]
    sweep = ThresholdSweep(maps, thresholds, scoring, 0.2)
    for t in thresholds:
        assert sweep.scores(items, ("se_vacancy",), t) == scores_at(maps, items, ("se_vacancy",), t, scoring, 0.2)
    assert sum(s.n_predicted for s in sweep.scores(items, ("se_vacancy",), 0.1)) > 30  # crowded enough to test
    with pytest.raises(ValueError, match="below the sweep"):
        sweep.scores(items, ("se_vacancy",), 0.05)


def test_class_softmax_is_the_axis_formula_to_the_bit_and_stays_finite():
    from stemgan.evaluation.evaluate import softmax_over_classes

    rng = np.random.default_rng(4)
    for classes in (2, 3, 5):
        logits = (rng.normal(size=(4, 64, 48, classes)) * 8).astype(np.float32)
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        assert np.array_equal(softmax_over_classes(logits), e / e.sum(axis=-1, keepdims=True))
    huge = np.array([[[1000.0, 0.0, -1000.0]]], np.float32)  # no overflow: the largest logit is subtracted first
    assert np.allclose(softmax_over_classes(huge), [[[1.0, 0.0, 0.0]]])


def test_table1_adopts_cell_runs_and_names_those_tracked_in_another_store(tmp_path, mlflow_store):
    import json

    import mlflow

    from stemgan.evaluation.table1_report import write_table1
    from stemgan.tracking.mlflow_runs import setup_tracking

    setup_tracking()  # this test's store, not one an earlier test in this process set
    with mlflow.start_run(run_name="cell seed run") as here:
        pass
    foreign = "0" * 32  # a cell restored from a DVC cache filled by another machine's pipeline
    for name, run_id in (("no_noise-wse2_day_a", here.info.run_id), ("cyclegan-wse2_day_a", foreign)):
        cell = tmp_path / "cells" / name
        cell.mkdir(parents=True)
        source = name.split("-")[0]
        (cell / "cell.json").write_text(
            json.dumps(
                {
                    "source": source,
                    "set": "wse2_day_a",
                    "precision_mean": 0.9,
                    "recall_mean": 0.8,
                    "f1_mean": 0.85,
                    "f1_std": None,  # what table1-cell writes for one seed
                    "n_seeds": 1,
                    "seeds": [{"mlflow_run_id": run_id, "n_true": 20}],
                }
            )
        )
        (cell / "pr_curve.csv").write_text("threshold,precision,recall,f1\n0.5,0.9,0.8,0.85\n")
        (cell / "per_image.csv").write_text("image,tp,n_predicted,n_true,seed\na,8,9,10,0\nb,9,10,10,0\n")
    write_table1(
        tmp_path / "cells",
        tmp_path / "table1.md",
        tmp_path / "table1.json",
        tmp_path / "plots",
        ["wse2_day_a"],
        1,
        "stemgan-table1",
    )

    table = (tmp_path / "table1.md").read_text()
    assert "| 90 / 80 / 85 [15 / 83 / 25] |" in table and "one seed (no seed spread" in table  # not "85 ± 0"
    metrics = json.loads((tmp_path / "table1.json").read_text())
    assert set(metrics) == {"no_noise", "cyclegan", "cyclegan_vs_best_baseline"}
    assert metrics["cyclegan_vs_best_baseline"]["wse2_day_a"]["f1_difference"] == 0  # the same counts in both
    client = mlflow.MlflowClient()
    parent = client.search_runs([client.get_experiment_by_name("stemgan-table1").experiment_id])[0]
    assert client.get_run(here.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.tags["cell_runs_in_other_store"] == foreign


def test_table1_shows_a_seed_spread_only_where_there_are_seeds_to_spread():
    from stemgan.evaluation.table1_report import markdown

    cell = {"source": "cyclegan", "set": "wse2_day_a", "precision_mean": 0.9, "recall_mean": 0.8, "f1_mean": 0.85}
    two = markdown([{**cell, "f1_std": 0.014, "n_seeds": 2}], ["wse2_day_a"], 2)
    assert "| 90 / 80 / 85 ± 1 [85 / 79 / 82] |" in two and "mean over 2 seeds (F1 spread ± 1 std)" in two
    one = markdown([{**cell, "f1_std": None, "n_seeds": 1}], ["wse2_day_a"], 1)
    assert "| 90 / 80 / 85 [85 / 79 / 82] |" in one and "±" not in one.split("\n", 3)[3]


def test_paired_difference_interval_separates_a_consistent_gain_from_noise():
    from stemgan.evaluation.scoring import paired_f1_difference

    base = np.array([[20, 30, 25], [10, 12, 20], [30, 40, 31], [15, 15, 30], [22, 25, 24]])
    same = paired_f1_difference(base, base, 500, seed=1)
    assert same == (0.0, 0.0, 0.0)
    better = base + np.array([3, 0, 0])  # three more true positives on every image, same detections
    point, low, high = paired_f1_difference(better, base, 500, seed=1)
    expected = 2 * better[:, 0].sum() / (better[:, 1:].sum()) - 2 * base[:, 0].sum() / (base[:, 1:].sum())
    assert point == pytest.approx(expected) and 0 < low <= point <= high
    mixed = base + np.array([[8, 0, 0], [-8, 0, 0], [8, 0, 0], [-8, 0, 0], [0, 0, 0]])  # gains and losses
    _, low, high = paired_f1_difference(mixed, base, 500, seed=1)
    assert low < 0 < high
    with pytest.raises(ValueError):
        paired_f1_difference(base, base[:3], 10, seed=1)


def test_per_class_scores_count_each_class_against_its_own_labels():
    """Two classes: a peak given the wrong class is a hit in the pooled score and a miss (and a false detection)
    in each class's; with one class no per-class keys are written (they would repeat the pooled ones)."""
    from stemgan.config import ScoringConfig
    from stemgan.data.labelled import LabelledImage
    from stemgan.evaluation.evaluate import evaluate

    prob, kind = np.zeros((100, 100), np.float32), np.zeros((100, 100), np.int16)
    sites = {(20, 20): 0, (20, 60): 0, (60, 20): 1, (60, 60): 1, (80, 80): 1}  # (row, col): class given
    for (r, c), k in sites.items():
        prob[r - 1 : r + 2, c - 1 : c + 2] = 0.5
        prob[r, c] = 0.9
        kind[r - 2 : r + 3, c - 2 : c + 3] = k
    truth = pd.DataFrame(  # (80, 80) is labelled as class a but the model says b
        {"x_px": [20, 60, 20, 60, 80], "y_px": [20, 20, 60, 60, 80], "defect": ["a", "a", "b", "b", "a"]}
    )
    item = LabelledImage("one", prob, truth)
    scoring = ScoringConfig(border_A=0.0, bootstrap=10)
    m = evaluate([prob], [item], ("a", "b"), scoring, 0.2, threshold=0.5, kinds=[kind])
    assert (m.metrics["tp"], m.metrics["n_predicted"], m.metrics["n_true"]) == (5, 5, 5)
    assert (m.metrics["a_n_true"], m.metrics["a_n_predicted"], m.metrics["a_recall"]) == (3, 2, pytest.approx(2 / 3))
    assert (m.metrics["b_n_true"], m.metrics["b_n_predicted"], m.metrics["b_precision"]) == (2, 3, pytest.approx(2 / 3))
    assert m.metrics["a_f1"] == pytest.approx(0.8)
    single = evaluate([prob], [item], ("a",), scoring, 0.2, threshold=0.5, kinds=[kind])
    assert not any(key.startswith("a_") for key in single.metrics)


def test_a_best_baseline_that_is_the_matched_noise_is_one_report_row():
    from stemgan.evaluation.table1_report import comparison_markdown

    row = {"f1_difference": 0.02, "low": -0.01, "high": 0.05, "beats": False, "loses": False}
    row |= {"n_test_images": 14, "n_true_per_seed": 320}
    found = {
        "best_baseline": {
            "wse2_day_a": {**row, "baseline": "matched_noise"},
            "wse2_day_b": {**row, "baseline": "no_noise"},
        },
        "matched_noise": {
            "wse2_day_a": {**row, "baseline": "matched_noise"},
            "wse2_day_b": {**row, "baseline": "matched_noise"},
        },
    }
    rows = [line for line in comparison_markdown(found).splitlines() if line.startswith("| day ")]
    assert [r.split(" | ")[0] for r in rows] == ["| day a", "| day b", "| day b"]
    assert "no difference shown" in rows[0] and "| 14 | 320 |" in rows[0]


def test_table1_cells_with_a_rows_fcns_missing_names_them_and_writes_no_cell(tmp_path):
    """Every cell's FCNs are checked before any scoring: one line naming the missing manifest and the command that
    makes it, exit 2, and no artifacts/table1 half-filled."""
    params = tiny_params()
    params["table1"]["sets"] = ["wse2_day_a"]
    write_params(tmp_path / "params.yaml", params)
    (tmp_path / "fcn/wse2_day_a/simulated/no_noise").mkdir(parents=True)
    proc = run_cli("table1-cells", "--fcn-root", "fcn", "--out", "table1", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "wse2_day_a/simulated/no_noise/fcn.json" in proc.stderr
    assert "stemgan train-fcn --source no_noise" in proc.stderr
    assert not (tmp_path / "table1").exists()
