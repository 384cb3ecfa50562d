"""Tiles: cut normalised images into tile_size_px squares with a stride; store .npy shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stemgan.data.files import atomic_write
from stemgan.errors import StemganError

INDEX_FILE = "index.csv"


def tile_origins(size: int, tile: int, stride: int) -> np.ndarray:
    """Tile start offsets along one axis; the last tile is flush with the edge so nothing is lost."""
    starts = np.arange(0, size - tile + 1, stride)
    if starts[-1] != size - tile:
        starts = np.append(starts, size - tile)
    return starts


def cut_tiles(image: np.ndarray, tile: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, tile, tile) tiles and their (row, col) origins."""
    h, w = image.shape
    if h < tile or w < tile:
        raise StemganError(f"image of {w}x{h} px is smaller than one {tile} px tile")
    rows, cols = tile_origins(h, tile, stride), tile_origins(w, tile, stride)
    windows = np.lib.stride_tricks.sliding_window_view(image, (tile, tile))
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    return windows[rr.ravel(), cc.ravel()].copy(), np.stack([rr.ravel(), cc.ravel()], axis=1)


def write_shards(out_dir: Path, tiles: np.ndarray, index: pd.DataFrame, shard_size: int) -> list[Path]:
    """tiles-00000.npy ... (float32, n x tile x tile) and index.csv (source image, origin, shard)."""
    paths = []
    shard_of = np.arange(len(tiles)) // shard_size
    for shard in range(int(shard_of.max()) + 1 if len(tiles) else 0):
        path = out_dir / f"tiles-{shard:05d}.npy"
        atomic_write(path, lambda tmp, s=shard: np.save(tmp, tiles[shard_of == s].astype(np.float32)))
        paths.append(path)
    index = index.assign(shard=shard_of)
    atomic_write(out_dir / INDEX_FILE, lambda tmp: index.to_csv(tmp, index=False))
    return paths


def load_tiles(tile_dir: Path | str) -> np.ndarray:
    """All tiles of a tile folder (memory-mapped shards concatenated)."""
    tile_dir = Path(tile_dir)
    shards = sorted(tile_dir.glob("tiles-*.npy"))
    if not shards:
        raise StemganError(f"{tile_dir}: no tile shards; run `stemgan tile` (or `dvc repro`) first")
    return np.concatenate([np.load(p, mmap_mode="r") for p in shards])
