"""Score an FCN on labelled images: stitched probabilities, defect peaks, P/R/F1, interval, PR curve."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stemgan.config import ScoringConfig
from stemgan.evaluation.scoring import (
    ImageScore,
    bootstrap_f1,
    defect_coordinates,
    peak_pixels,
    per_image_table,
    pooled,
    score_image,
)
from stemgan.models.tiled_inference import predict_tiled, traced_predict


@dataclass
class Evaluation:
    metrics: dict
    per_image: pd.DataFrame
    pr_curve: pd.DataFrame


def inference_tile(scoring: ScoringConfig, multiple: int) -> int:
    """scoring.tile_px rounded down to the U-net's pooling levels: the one tile shape of every image, whatever
    its size (smaller images are padded), so a model traced once serves images of mixed sizes."""
    return max(scoring.tile_px - scoring.tile_px % multiple, multiple)


def softmax_over_classes(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, a few classes long, computed plane by plane: numpy reduces a 2-long last axis
    ~7x slower than it combines two planes (a quarter of a Table 1 cell's inference). The same numbers as
    `max`/`sum` over that axis: under 8 classes numpy adds them in order, as here."""
    planes = [logits[..., c] for c in range(logits.shape[-1])]
    e = np.exp(logits - functools.reduce(np.maximum, planes)[..., None])
    return e / functools.reduce(np.add, [e[..., c] for c in range(e.shape[-1])])[..., None]


def class_probabilities(model, image: np.ndarray, multiple: int, scoring: ScoringConfig) -> np.ndarray:
    """(H, W, 1 + classes) softmax of the FCN over the whole image: overlapping tiles, blended, optional TTA."""
    tile = inference_tile(scoring, multiple)

    def predict(tiles):
        return softmax_over_classes(traced_predict(model, tiles, batch_size=8))

    scan_preserving = scoring.tta_views == "scan_preserving"
    return predict_tiled(predict, image, tile, min(scoring.stride_px, tile), scoring.tta, scan_preserving)


def defect_maps(model, image: np.ndarray, multiple: int, scoring: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    """Probability of any defect class per pixel, and the index (into the model's defect classes) of the most
    probable one: a peak's class, as `detect` reports it."""
    probabilities = class_probabilities(model, image, multiple, scoring)[..., 1:]
    return probabilities.sum(axis=-1), probabilities.argmax(axis=-1).astype(np.int16)


def defect_probability(model, image: np.ndarray, multiple: int, scoring: ScoringConfig) -> np.ndarray:
    """Probability of any defect class per pixel."""
    return defect_maps(model, image, multiple, scoring)[0]


def defect_classes_of(model) -> int:
    """How many defect classes the FCN tells apart (its logits: background + classes)."""
    return int(model.output_shape[-1]) - 1


def tells_apart(model, classes: tuple[str, ...]) -> bool:
    """Whether the FCN's own classes are the scored ones (several): then each is scored on its own too."""
    return defect_classes_of(model) == len(classes) > 1


def scoring_maps(model, items, classes: tuple[str, ...], multiple: int, scoring: ScoringConfig):
    """What evaluate() scores, per image: the defect probability, and each pixel's most probable class where
    the FCN tells the scored classes apart (else None for all)."""
    maps = [defect_maps(model, item.image, multiple, scoring) for item in items]
    probabilities = [probability for probability, _ in maps]
    return probabilities, ([kind for _, kind in maps] if tells_apart(model, classes) else None)


def true_defects(labels: pd.DataFrame, classes: tuple[str, ...]) -> np.ndarray:
    return labels.loc[labels.defect.isin(classes), ["x_px", "y_px"]].to_numpy()


def _scores(predicted, shapes, items, classes, scoring: ScoringConfig, pixel_size_A: float) -> list[ImageScore]:
    border, radius = scoring.border_A / pixel_size_A, scoring.match_radius_A / pixel_size_A
    return [
        score_image(item.name, xy, true_defects(item.labels, classes), shape, border, radius)
        for xy, shape, item in zip(predicted, shapes, items)
    ]


def scores_at(
    probabilities, items, classes, threshold: float, scoring: ScoringConfig, pixel_size_A: float
) -> list[ImageScore]:
    min_distance = int(round(scoring.min_distance_A / pixel_size_A))
    predicted = [defect_coordinates(prob, threshold, min_distance)[0] for prob in probabilities]
    return _scores(predicted, [p.shape for p in probabilities], items, classes, scoring, pixel_size_A)


class ThresholdSweep:
    """Each image's defect peaks searched once, above the lowest threshold, then scored at any higher one.

    Exactly the peaks of `defect_coordinates` at that threshold: peak_local_max keeps the maxima in falling order
    of probability, each unless a kept one lies within min_distance, so a higher threshold only cuts the tail of
    that order. One maximum filter per image instead of one per threshold (the PR curve has nine)."""

    def __init__(self, probabilities, thresholds, scoring: ScoringConfig, pixel_size_A: float, kinds=None):
        self.lowest = float(min(thresholds))
        self.scoring, self.pixel_size_A = scoring, pixel_size_A
        min_distance = int(round(scoring.min_distance_A / pixel_size_A))
        self.peaks = [defect_coordinates(prob, self.lowest, min_distance) for prob in probabilities]
        self.shapes = [prob.shape for prob in probabilities]
        self.peak_kinds = None
        if kinds is not None:
            self.peak_kinds = [kind[peak_pixels(xy, kind.shape)] for (xy, _), kind in zip(self.peaks, kinds)]

    def scores(self, items, classes, threshold: float) -> list[ImageScore]:
        if threshold < self.lowest:
            raise ValueError(f"threshold {threshold} is below the sweep's lowest, {self.lowest}")
        predicted = [xy[value > threshold] for xy, value in self.peaks]
        return _scores(predicted, self.shapes, items, classes, self.scoring, self.pixel_size_A)

    def class_scores(self, items, classes, threshold: float) -> dict[str, list[ImageScore]]:
        """Per defect class (in the model's class order): the peaks given that class against the labels of it."""
        if self.peak_kinds is None:
            raise ValueError("per-class scores need the class maps (kinds) of the images")
        found = {}
        for index, name in enumerate(classes):
            predicted = [
                xy[(value > threshold) & (kind == index)] for (xy, value), kind in zip(self.peaks, self.peak_kinds)
            ]
            found[name] = _scores(predicted, self.shapes, items, (name,), self.scoring, self.pixel_size_A)
        return found


def best_threshold(probabilities, items, classes, scoring: ScoringConfig, pixel_size_A: float) -> tuple[float, float]:
    """The threshold with the highest pooled F1 and that F1 (call it on validation images, never on test images);
    scoring.threshold and NaN when nothing is labelled or found at any threshold: no evidence to choose by."""
    sweep = ThresholdSweep(probabilities, scoring.pr_thresholds, scoring, pixel_size_A)
    f1 = [pooled(sweep.scores(items, classes, t))["f1"] for t in scoring.pr_thresholds]
    if np.isnan(f1).all():
        return scoring.threshold, float("nan")
    best = int(np.nanargmax(f1))
    return float(scoring.pr_thresholds[best]), float(f1[best])


def evaluate(
    probabilities: list[np.ndarray],
    items,
    classes: tuple[str, ...],
    scoring: ScoringConfig,
    pixel_size_A: float,
    threshold: float,
    seed: int = 0,
    kinds: list[np.ndarray] | None = None,
) -> Evaluation:
    """Pooled P/R/F1 (a defect found is a defect found, whatever class it is given), its interval, the PR curve;
    with `kinds` (the images' class maps, in the order of `classes`) and several classes, also
    `<class>_precision`, `_recall`, `_f1`, `_n_true`, `_n_predicted`: each class's peaks against its own labels."""
    sweep = ThresholdSweep(probabilities, [*scoring.pr_thresholds, threshold], scoring, pixel_size_A, kinds)
    scores = sweep.scores(items, classes, threshold)
    low, high = bootstrap_f1(scores, scoring.bootstrap, seed)
    metrics = {**pooled(scores), "f1_ci_low": low, "f1_ci_high": high, "threshold": threshold, "n_images": len(items)}
    if kinds is not None and len(classes) > 1:
        for name, class_scores in sweep.class_scores(items, classes, threshold).items():
            counts = pooled(class_scores)
            metrics.update({f"{name}_{k}": counts[k] for k in ("precision", "recall", "f1", "n_true", "n_predicted")})
    curve = []
    for t in scoring.pr_thresholds:
        p = pooled(sweep.scores(items, classes, t))
        curve.append({"threshold": t, "precision": p["precision"], "recall": p["recall"], "f1": p["f1"]})
    return Evaluation(metrics, per_image_table(scores), pd.DataFrame(curve))


def validate_then_score(
    model,
    val,
    scored,
    classes: tuple[str, ...],
    scoring: ScoringConfig,
    pixel_size_A: float,
    multiple: int,
    seed: int = 0,
) -> Evaluation:
    """The threshold with the best pooled F1 on `val` (scoring.threshold when there is none), applied to `scored`.

    Table 1 scores test images this way; a tuning trial passes its validation images as both.
    """
    val_probabilities = [defect_probability(model, item.image, multiple, scoring) for item in val]
    threshold, val_f1 = (
        best_threshold(val_probabilities, val, classes, scoring, pixel_size_A)
        if val
        else (scoring.threshold, float("nan"))
    )
    if scored is val and not tells_apart(model, classes):  # a tuning trial: the maps are already made
        probabilities, kinds = val_probabilities, None
    else:
        probabilities, kinds = scoring_maps(model, scored, classes, multiple, scoring)
    result = evaluate(probabilities, scored, classes, scoring, pixel_size_A, threshold, seed, kinds)
    result.metrics["val_f1"] = val_f1  # what a model is selected by (test F1 never is)
    return result
