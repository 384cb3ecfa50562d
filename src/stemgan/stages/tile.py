"""`tile@<name>`: images (simulated or experimental) -> normalised tiles in .npy shards."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from stemgan.config import IngestConfig, TileConfig
from stemgan.stages.arguments import image_folders, images_or_set_args, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "tile",
        help="normalise images and cut tiles into .npy shards",
        description="Resample to ingest.working_pixel_size_A, normalise each image (tile.normalize), "
        "cut tile_size_px tiles every stride_px; several --images folders are pooled.",
    )
    images_or_set_args(p, "image folder (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output folder for tiles-*.npy and index.csv")
    params_arg(p)
    output_folder(p, "images", "data_root")
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params

    params = load_params(args.params)
    start = time.perf_counter()
    index = run_tile(image_folders(args, params), args.out, params.tile, params.ingest)
    print(
        f"tile: {len(index)} tiles of {params.tile.tile_size_px} px from {index.image.nunique()} images -> "
        f"{args.out} ({time.perf_counter() - start:.1f} s)"
    )


def run_tile(folders: list[Path], out_dir: Path, cfg: TileConfig, ingest: IngestConfig) -> pd.DataFrame:
    """Tile every image of `folders` (pooled, e.g. two days) into out_dir; returns the tile index."""
    from stemgan.data.files import atomic_directory
    from stemgan.data.ingest import list_images, load_working_image
    from stemgan.data.normalize import normalize_image
    from stemgan.data.tiles import cut_tiles, write_shards

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
