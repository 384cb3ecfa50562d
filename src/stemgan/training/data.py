"""tf.data pipelines over tile shards: shuffled, augmented (rot90, flips), seeded, prefetched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from stemgan.data.tiles import load_tiles
from stemgan.training.input_noise import InputNoise

FIELD_CANVAS_TILES = 4  # the smooth input field is drawn on a 4x4-tile canvas: about a whole image


def without_autotune_thread(ds: tf.data.Dataset) -> tf.data.Dataset:
    """The pipeline with tf.data's autotuning off: no model thread, so dropping its iterator returns at once.

    Autotuning runs a thread per iterator that re-optimises at a period doubling up to 60 s; when Keras' `fit`
    drops its iterator, the destructor can wait for that thread's next wake-up: from 0 to about half the fit's
    length, at random (7.8 s after a 13 s fit, 13.9 s after a 27 s one; a 2-seed stage once lost 40 s; the other
    worker runs alone meanwhile, issue 14). Without it, AUTOTUNE map parallelism is the runner pool's size and
    prefetch sizes its buffer as before autotuning existed; elements and their order do not depend on either
    (deterministic map, stateless draws)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def load_tile_sets(folders: list[Path]) -> np.ndarray:
    """Tiles of several tile folders pooled (e.g. day A + day B), as (n, T, T, 1) float32."""
    return np.concatenate([np.asarray(load_tiles(f), dtype=np.float32) for f in folders])[..., None]


def augment(
    tile: tf.Tensor, seed: tf.Tensor, noise: InputNoise | None = None, symmetries: str = "dihedral"
) -> tf.Tensor:
    """A random symmetry of the square and optional input noise (white, smooth field), stateless.

    `dihedral`: rot90^k and a flip (all 8, the paper's). `scan_preserving`: only the 4 that keep rows
    as rows (identity, flips, rot180), so row-wise scan artefacts of experimental tiles keep their
    direction instead of being shown to the discriminator as column artefacts half of the time.
    """
    k = tf.random.stateless_uniform([], seed, 0, 4, dtype=tf.int32)
    if symmetries == "scan_preserving":
        k = 2 * (k // 2)
    tile = tf.image.rot90(tile, k)
    flip = tf.random.stateless_uniform([], seed + 1) < 0.5
    tile = tf.cond(flip, lambda: tf.image.flip_left_right(tile), lambda: tile)
    if noise is not None and noise.adds_noise:
        field_white = None
        if noise.has_field:
            grid = noise.field_grid(FIELD_CANVAS_TILES * tile.shape[0], FIELD_CANVAS_TILES * tile.shape[1])
            field_white = tf.random.stateless_normal((*grid, 1), seed + 3)
        tile = noise.apply(tile, tf.random.stateless_normal(tf.shape(tile), seed + 2), field_white)
    return tile


def tile_stream(
    tiles: np.ndarray, batch_size: int, seed: int, noise: InputNoise | None = None, symmetries: str = "dihedral"
) -> tf.data.Dataset:
    """Endless shuffled, augmented batches of tiles; every random draw derives from `seed`."""
    ds = tf.data.Dataset.from_tensor_slices(tiles).shuffle(len(tiles), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat()
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    ds = tf.data.Dataset.zip(ds, seeds).map(
        lambda t, s: augment(t, s, noise, symmetries), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return ds.batch(batch_size, drop_remainder=True)


def unpaired_stream(
    sim_tiles: np.ndarray,
    exp_tiles: np.ndarray,
    batch_size: int,
    seed: int,
    sim_noise: InputNoise,
    symmetries: str = "dihedral",
) -> tf.data.Dataset:
    """(sim batch + noise, experimental batch) pairs, unaligned, for the cycleGAN."""
    sim = tile_stream(sim_tiles, batch_size, seed, sim_noise, symmetries)
    exp = tile_stream(exp_tiles, batch_size, seed + 1, None, symmetries)
    return without_autotune_thread(tf.data.Dataset.zip(sim, exp).prefetch(tf.data.AUTOTUNE))
