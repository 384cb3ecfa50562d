"""`calibrate`: measure a set's sampling, probe blur and Z contrast against simulations of its material.

Report only for now: it writes calibration.json and prints what it found; the simulations do not use it yet
(see the calibration issue). Not a dvc.yaml stage yet."""

from __future__ import annotations

import json
import time
from pathlib import Path

from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure sampling, probe blur and Z exponent of a set (report only)",
        description="From a set's unlabelled images and its material: the lattice's Fourier peak "
        "against the simulation's (sampling), the mean column width (probe blur, as the "
        "source size that simulations need), and the dim/bright column intensity ratio "
        "(as the effective ADF Z exponent), each by a short 1-D search over simulations.",
    )
    p.add_argument("--images", type=Path, action="append", required=True, help="image folder (repeatable)")
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="calibration.json to write")
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.calibration.calibrate import calibrate
    from stemgan.config import load_params
    from stemgan.data.files import atomic_write
    from stemgan.data.ingest import list_images, load_working_image
    from stemgan.data.normalize import normalize_image
    from stemgan.errors import StemganError

    params = load_params(args.params)
    material = params.material(args.material)
    paths = [p for folder in args.images for p in list_images(folder)]
    images = [normalize_image(load_working_image(p, params.ingest).image, params.tile.normalize) for p in paths]
    start = time.perf_counter()
    try:
        result = calibrate(images, params.ingest.working_pixel_size_A, material, args.material, params.optics)
    except StemganError as exc:
        raise StemganError(f"{args.images[0]}: {exc}") from exc
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(result.as_dict(), indent=2)))
    z = (
        "n/a (one kind of column)"
        if result.z_exponent is None
        else f"{result.z_exponent:.2f} ± {result.z_exponent_std:.2f} (params {result.z_exponent_params})"
    )
    print(
        f"calibrate: {args.material}, {len(images)} images, {result.n_columns} columns: pixel size x "
        f"{result.sampling_correction:.4f}, source FWHM {result.source_fwhm_A:.2f} Å (column sigma "
        f"{result.column_sigma_A:.3f} Å vs {result.column_sigma_A_simulated:.3f} simulated), Z exponent {z} "
        f"-> {args.out} ({time.perf_counter() - start:.1f} s)"
    )
