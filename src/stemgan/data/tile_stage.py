"""The `tile` stage: images (simulated or experimental) -> normalised tiles in .npy shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from stemgan.config import IngestConfig, TileConfig
from stemgan.data.files import atomic_directory
from stemgan.data.ingest import list_images, load_working_image
from stemgan.data.normalize import normalize_image
from stemgan.data.tiles import cut_tiles, write_shards
from stemgan.errors import StemganError


def check_tile_config(cfg: TileConfig) -> None:
    if cfg.tile_size_px < 8 or cfg.stride_px < 1 or cfg.shard_size < 1:
        raise StemganError("params.yaml: tile needs tile_size_px >= 8, stride_px >= 1 and shard_size >= 1")


def run_tile(folders: list[Path], out_dir: Path, cfg: TileConfig, ingest: IngestConfig) -> pd.DataFrame:
    """Tile every image of `folders` (pooled, e.g. two days) into out_dir; returns the tile index."""
    check_tile_config(cfg)
    paths = [p for folder in folders for p in list_images(folder)]
    all_tiles, rows = [], []
    for path in tqdm(paths, desc=f"tile -> {out_dir}", unit="img"):
        working = load_working_image(path, ingest, min_size_px=cfg.tile_size_px)
        tiles, origins = cut_tiles(normalize_image(working.image, cfg.normalize), cfg.tile_size_px, cfg.stride_px)
        all_tiles.append(tiles)
        rows.append(pd.DataFrame({"image": str(path), "row": origins[:, 0], "col": origins[:, 1]}))
    tiles = np.concatenate(all_tiles)
    index = pd.concat(rows, ignore_index=True)
    with atomic_directory(out_dir) as tmp:
        write_shards(tmp, tiles, index, cfg.shard_size)
    return index
