"""The defect-finding FCN: it can fit one image exactly, and `evaluate` scores a user's labelled folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from stemgan.config import (
    DefectRule,
    FCNConfig,
    MaterialConfig,
    NormalizeConfig,
    OpticsConfig,
    ScoringConfig,
)
from stemgan.data.labelled import LabelledImage
from stemgan.data.normalize import normalize_image
from stemgan.evaluation.evaluate import defect_probability, evaluate
from stemgan.seeding import item_rng
from stemgan.simulation.simulate import simulate_image
from stemgan.training.fcn_train import train_fcn
from tests.conftest import run_cli, tiny_params, write_params

PIXEL_A = 0.2074
CLASSES = ("se_vacancy_single",)
SCORING = ScoringConfig(tile_px=128, stride_px=64, tta=False, bootstrap=100, border_A=1.0)
TINY_FCN = FCNConfig(
    seed=0,
    tile_size_px=64,
    filters=(8, 16),
    bottleneck=16,
    dropout=0.0,
    batch_size=8,
    steps=300,
    lr=0.003,
    scoring=SCORING,
)


@pytest.fixture(scope="module")
def one_image():
    material = MaterialConfig(
        builder="mx2",
        formula="WSe2",
        a_A=3.3,
        thickness_A=3.595,
        defects=(DefectRule("se_vacancy_single", "Se", 0.08, remove=1),),
    )
    image, labels, _ = simulate_image(material, OpticsConfig(), 128, PIXEL_A, item_rng(5, "fcn"))
    return LabelledImage("one", normalize_image(image, NormalizeConfig()), labels)


@pytest.mark.slow
def test_fcn_overfits_one_image_then_evaluate_scores_a_user_folder(one_image, tmp_path):
    model = train_fcn(TINY_FCN, [one_image], CLASSES, noise_std=0.0, seed=0, pixel_size_A=PIXEL_A, run_name="overfit")
    probability = defect_probability(model, one_image.image, 4, SCORING)
    result = evaluate([probability], [one_image], CLASSES, SCORING, PIXEL_A, threshold=0.5)
    n_true = result.metrics["n_true"]
    assert n_true >= 3
    assert result.metrics["f1"] == 1.0, result.metrics

    # a user's folder: raw TIFF with a sidecar pixel size, hand labels with only x_px, y_px
    import tifffile

    folder = tmp_path / "my_images"
    (folder / "labels").mkdir(parents=True)
    (folder / "images").mkdir()
    tifffile.imwrite(folder / "images" / "scan01.tif", (one_image.image * 1000 + 5000).astype(np.uint16))
    (folder / "images" / "scan01.json").write_text(json.dumps({"pixel_size_A": PIXEL_A}))
    vacancies = one_image.labels[one_image.labels.defect == "se_vacancy_single"][["x_px", "y_px"]]
    vacancies.to_csv(folder / "labels" / "scan01.csv", index=False)
    model.save(tmp_path / "fcn.keras")
    params = tmp_path / "params.yaml"
    p = tiny_params()
    p["fcn"].update(
        filters=[8, 16],
        bottleneck=16,
        tile_size_px=64,
        scoring={
            **p["fcn"]["scoring"],
            "tile_px": 128,
            "stride_px": 64,
            "tta": False,
            "bootstrap": 100,
            "border_A": 1.0,
        },
    )
    write_params(params, p)
    proc = run_cli(
        "evaluate",
        "--model",
        tmp_path / "fcn.keras",
        "--labelled",
        folder,
        "--out",
        tmp_path / "scores",
        "--params",
        params,
    )
    metrics = json.loads((tmp_path / "scores" / "metrics.json").read_text())
    assert metrics["f1"] == 1.0 and metrics["n_true"] == n_true, proc.stdout
    assert "F1 100.0%" in proc.stdout
    assert (tmp_path / "scores" / "pr_curve.csv").is_file() and (tmp_path / "scores" / "per_image.csv").is_file()


def test_targets_paint_discs_at_defects():
    import pandas as pd

    from stemgan.training.targets import defect_targets

    labels = pd.DataFrame({"x_px": [10.0, 30.4], "y_px": [12.0, 5.6], "defect": ["a", "none"]})
    target = defect_targets(labels, (40, 40), ("a",), radius_px=2.0)
    assert target.shape == (40, 40, 2)
    assert target[12, 10, 1] == 1 and target[12, 12, 1] == 1 and target[12, 13, 1] == 0
    assert target[..., 1].sum() == 13  # lattice points within radius 2 of an integer centre
    assert np.allclose(target.sum(axis=-1), 1.0)
    soft = defect_targets(labels, (40, 40), ("a",), radius_px=2.0, kind="gaussian")
    assert soft[12, 10, 1] == pytest.approx(1.0) and 0 < soft[12, 12, 1] < 1


def test_train_fcn_learns_the_classes_of_the_material_it_is_given(tmp_path, mlflow_store):
    """A MoS2 set's FCN finds MoS2's defects (S vacancies), not table1.material's (WSe2's Se vacancies)."""
    params = write_params(tmp_path / "params.yaml", tiny_params(96))
    run_cli("simulate", "--material", "mos2", "--n-images", "1", "--out", tmp_path / "sim", "--params", params)

    def train(out: str, *options: str, check: bool = True):
        source = ("--source", "no_noise", "--train", tmp_path / "sim", "--out", tmp_path / out)
        return run_cli("train-fcn", *source, *options, "--params", params, check=check)

    train("fcn_mos2", "--material", "mos2", "--seeds", "1")
    manifest = json.loads((tmp_path / "fcn_mos2" / "fcn.json").read_text())
    assert (manifest["material"], manifest["classes"]) == ("mos2", ["s_vacancy_single", "se_substitution"])
    assert sorted(p.name for p in (tmp_path / "fcn_mos2").glob("*.keras")) == ["fcn_seed_0.keras"]
    # scored per class too (the MoS2 image has both kinds of defect)
    classes = ("s_vacancy_single", "se_substitution")
    model = ("--model", tmp_path / "fcn_mos2" / "fcn_seed_0.keras", "--classes", *classes)
    scored = run_cli("evaluate", *model, "--labelled", tmp_path / "sim", "--out", tmp_path / "ev", "--params", params)
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert sum(metrics[f"{c}_n_true"] for c in classes) == metrics["n_true"] > 0
    assert "per class: s_vacancy_single F1" in scored.stdout

    train("fcn_default")
    assert json.loads((tmp_path / "fcn_default" / "fcn.json").read_text())["classes"] == ["se_vacancy_single"]

    bad = train("fcn_0", "--seeds", "0", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--seeds 0" in bad.stderr
    assert not (tmp_path / "fcn_0").exists()


def test_a_sets_table1_rows_train_in_one_process_each_as_it_would_alone(tmp_path, mlflow_store):
    """train-fcn --table1-rows: every row of the group into OUT/<source>/, the folders Table 1 reads, and each
    source's FCN the same to the bit as that source trained alone (one process: nothing leaks between units)."""
    from stemgan.config import load_params
    from stemgan.models.io import FCN_MODEL, load_keras_model

    raw = tiny_params(96)
    raw["compute"] = {"workers": 1}
    raw["table1"]["simulation_sources"] = ["no_noise", "gaussian_minmax"]
    params = write_params(tmp_path / "params.yaml", raw)
    run_cli("simulate", "--material", "wse2", "--n-images", "1", "--out", tmp_path / "sim", "--params", params)
    rows = tmp_path / "fcn/wse2_day_a/simulated"
    run_cli("train-fcn", "--table1-rows", "simulated", "--train", tmp_path / "sim", "--out", rows, "--params", params)
    table1 = load_params(params).table1
    for source in ("no_noise", "gaussian_minmax"):
        assert table1.fcn_folder(tmp_path / "fcn", source, "wse2_day_a") == rows / source
        manifest = json.loads((rows / source / "fcn.json").read_text())
        assert manifest["source"] == source and len(manifest["seeds"]) == raw["table1"]["n_seeds"]
    assert manifest["normalize"] == "minmax"  # each row keeps its own normalisation
    assert sorted(p.name for p in rows.iterdir() if p.is_dir()) == ["gaussian_minmax", "no_noise"]

    alone = tmp_path / "alone"
    run_cli("train-fcn", "--source", "gaussian_minmax", "--train", tmp_path / "sim", "--out", alone, "--params", params)
    together, by_itself = (load_keras_model(str(d / "fcn_seed_0.keras"), FCN_MODEL) for d in (rows / source, alone))
    assert all(np.array_equal(a, b) for a, b in zip(together.get_weights(), by_itself.get_weights()))


def test_an_fcn_trained_after_another_in_one_process_is_the_one_it_would_be_first(one_image):
    """train_fcn reuses its process's compiled trainer (its traced step): the second FCN equals, to the bit, that
    seed trained first; dropout's seed states included. The first FCN keeps its weights when the second trains."""
    import dataclasses

    from stemgan.training import fcn_train

    cfg = dataclasses.replace(TINY_FCN, dropout=0.1, steps=20)
    fcn_train._TRAINERS.clear()
    first = train_fcn(cfg, [one_image], CLASSES, noise_std=0.1, seed=1, pixel_size_A=PIXEL_A, run_name="first")
    first_weights = [w.copy() for w in first.get_weights()]
    second = train_fcn(cfg, [one_image], CLASSES, noise_std=0.1, seed=2, pixel_size_A=PIXEL_A, run_name="second")
    assert len(fcn_train._TRAINERS) == 1  # the second trained on the first's trainer
    fcn_train._TRAINERS.clear()
    alone = train_fcn(cfg, [one_image], CLASSES, noise_std=0.1, seed=2, pixel_size_A=PIXEL_A, run_name="alone")
    assert all(np.array_equal(a, b) for a, b in zip(second.get_weights(), alone.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(second.optimizer.variables, alone.optimizer.variables))
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), first_weights))
    assert not all(np.array_equal(a, b) for a, b in zip(first.get_weights(), second.get_weights()))


def test_fused_batch_normalization_computes_what_keras_batch_normalization_does(tmp_path):
    """Same output in training, same moving statistics after updates, same inference; and it saves and loads."""
    import keras

    from stemgan.models.fcn import FusedBatchNormalization
    from stemgan.models.io import FCN_MODEL, load_keras_model

    x = tf.constant(np.random.default_rng(0).normal(1.5, 2.0, (4, 8, 8, 3)).astype(np.float32))
    ours, reference = FusedBatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    for _ in range(3):
        np.testing.assert_allclose(ours(x, training=True), reference(x, training=True), atol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), reference.moving_variance.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_mean.numpy(), reference.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5)
    model = keras.Sequential([keras.Input((8, 8, 3)), ours])
    model.save(tmp_path / "bn.keras")
    np.testing.assert_allclose(load_keras_model(str(tmp_path / "bn.keras"), FCN_MODEL)(x), ours(x), atol=1e-6)
