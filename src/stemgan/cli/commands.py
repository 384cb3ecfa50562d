"""Subcommands: each registers its arguments and a handler that calls one stage function."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

PARAMS_HELP = "settings file (default: params.yaml)"


def _params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help=PARAMS_HELP)


def register_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="labelled ADF-STEM simulations of one material (incoherent linear model)",
                       description="Simulate labelled ADF-STEM images (TIFF with pixel size in Å + label CSV "
                                   "per image) using params sections materials.<name>, optics and simulate.")
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, manifest.csv)")
    p.add_argument("--n-images", type=int, help="override simulate.n_images")
    _params_arg(p)
    p.set_defaults(handler=_simulate)


def _simulate(args) -> None:
    import dataclasses

    from stemgan.config import load_material, load_section, read_params
    from stemgan.simulation.simulate import run_simulate

    params = read_params(args.params)
    cfg = load_section("simulate", args.params, params)
    if args.n_images is not None:
        cfg = dataclasses.replace(cfg, n_images=args.n_images)
    start = time.perf_counter()
    manifest = run_simulate(args.material, load_material(args.material, args.params, params),
                            load_section("optics", args.params, params), cfg, args.out)
    print(f"simulate: {len(manifest)} {args.material} images of {cfg.image_size_px} px at {cfg.pixel_size_A} Å/px, "
          f"{int(manifest.n_defects.sum())} defects -> {args.out} ({time.perf_counter() - start:.1f} s)")


def register_acquire(sub) -> None:
    p = sub.add_parser("acquire", help="the virtual microscope: write the demo experimental sets (data/)",
                       description="Degrade fresh simulations like a real acquisition (dose, drift, jitter, "
                                   "contamination, probe changes, detector) per session preset (acquire section).")
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--force", action="store_true", help="replace an existing, non-empty output folder")
    _params_arg(p)
    p.set_defaults(handler=_acquire)


def _acquire(args) -> None:
    from stemgan.config import load_material, load_section, read_params
    from stemgan.microscope.acquire import run_acquire

    params = read_params(args.params)
    cfg = load_section("acquire", args.params, params)
    materials = {s.material: load_material(s.material, args.params, params) for s in cfg.sets.values()}
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    start = time.perf_counter()
    logs = run_acquire(cfg, materials, load_section("optics", args.params, params), pixel, args.out, args.force)
    n = sum(len(log) for log in logs.values())
    print(f"acquire: {n} images in {len(logs)} sets ({', '.join(logs)}) -> {args.out} "
          f"({time.perf_counter() - start:.1f} s)")


def register_tile(sub) -> None:
    p = sub.add_parser("tile", help="normalise images and cut tiles into .npy shards",
                       description="Resample to ingest.working_pixel_size_A, normalise each image (tile.normalize), "
                                   "cut tile_size_px tiles every stride_px; several --images folders are pooled.")
    p.add_argument("--images", type=Path, action="append", required=True, help="image folder (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output folder for tiles-*.npy and index.csv")
    _params_arg(p)
    p.set_defaults(handler=_tile)


def _tile(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.data.tile_stage import run_tile

    params = read_params(args.params)
    cfg = load_section("tile", args.params, params)
    start = time.perf_counter()
    index = run_tile(args.images, args.out, cfg, load_section("ingest", args.params, params))
    print(f"tile: {len(index)} tiles of {cfg.tile_size_px} px from {index.image.nunique()} images -> {args.out} "
          f"({time.perf_counter() - start:.1f} s)")


REGISTRY = [register_simulate, register_acquire, register_tile]
