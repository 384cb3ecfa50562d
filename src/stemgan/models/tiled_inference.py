"""Whole-image inference with a tile-sized network: overlapping tiles, smooth blending, and
optional 8-fold rotation/flip averaging. Shared by translate (generators) and the FCN."""

from __future__ import annotations

import weakref
from typing import Callable

import numpy as np

from stemgan.data.tiles import cut_tiles

Predict = Callable[[np.ndarray], np.ndarray]  # (n, T, T, 1) -> (n, T, T, C)


_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_predict(model, tiles: np.ndarray, batch_size: int) -> np.ndarray:
    """`model(tiles)` in inference mode, `batch_size` tiles at a time, through one traced call kept per model.

    Keras `predict` builds a dataset and an iterator on every call (~0.1-0.25 s, as much as a 512² image's tiles
    cost to run); the same graph traced once gives the same numbers on the same batches."""
    import tensorflow as tf

    forward = _TRACED.get(model)
    if forward is None:
        weak = weakref.ref(model)  # the cache must not keep a model alive
        forward = _TRACED[model] = tf.function(lambda x: weak()(x, training=False), reduce_retracing=True)
    batches = [forward(tf.constant(tiles[i : i + batch_size])) for i in range(0, len(tiles), batch_size)]
    return np.concatenate([np.asarray(batch) for batch in batches])


def blend_window(tile: int) -> np.ndarray:
    """Separable taper, highest in the centre and never zero, so tile seams average out."""
    ramp = np.hanning(tile + 2)[1:-1]
    return np.outer(ramp, ramp).astype(np.float32)


def _symmetries(tiles: np.ndarray, index: int) -> np.ndarray:
    """The 8 symmetries of the square: rot90^k, then optionally a left-right flip, on (n, T, T, C)."""
    out = np.rot90(tiles, index % 4, axes=(1, 2))
    return out[:, :, ::-1] if index >= 4 else out


def _inverse_symmetry(tiles: np.ndarray, index: int) -> np.ndarray:
    out = tiles[:, :, ::-1] if index >= 4 else tiles
    return np.rot90(out, -(index % 4), axes=(1, 2))


# the symmetries that keep rows as rows (identity, rot180, left-right flip, up-down flip)
SCAN_PRESERVING_VIEWS = (0, 2, 4, 6)


def predict_tiled(
    predict: Predict, image: np.ndarray, tile: int, stride: int, tta: bool = False, scan_preserving: bool = False
) -> np.ndarray:
    """(H, W, C) prediction for a (H, W) image: tiles every `stride` px, window-weighted average.

    tta averages over the 8 symmetries, or over the 4 scan-preserving ones for a network trained
    only on those (so its row-wise scan artefacts are not averaged with column-wise copies)."""
    h, w = image.shape
    if h < tile or w < tile:  # every call sees (tile, tile): a model traced once serves images of any size
        padded = np.pad(
            np.asarray(image, dtype=np.float32), ((0, max(tile - h, 0)), (0, max(tile - w, 0))), mode="reflect"
        )
        return predict_tiled(predict, padded, tile, stride, tta, scan_preserving)[:h, :w]
    tiles, origins = cut_tiles(np.asarray(image, dtype=np.float32), tile, stride)
    tiles = tiles[..., None]
    views = (SCAN_PRESERVING_VIEWS if scan_preserving else range(8)) if tta else (0,)
    # one predict call for every view: per-call overhead (Keras predict: ~0.1 s) outweighs a 512² tile's compute
    viewed = np.asarray(predict(np.concatenate([_symmetries(tiles, v) for v in views])))
    per_view = np.split(viewed, len(views))
    outputs = sum(_inverse_symmetry(out, v) for out, v in zip(per_view, views)) / len(views)
    window = blend_window(tile)[..., None]
    total = np.zeros((h, w, outputs.shape[-1]), dtype=np.float64)
    weight = np.zeros((h, w, 1), dtype=np.float64)
    for (r, c), out in zip(origins, outputs):  # loops over tiles (tens), not pixels
        total[r : r + tile, c : c + tile] += out * window
        weight[r : r + tile, c : c + tile] += window
    return (total / weight).astype(np.float32)
