"""`simulate@<material>`: labelled ADF-STEM simulations of one material (incoherent linear imaging, as Incostem)."""

from __future__ import annotations

import time
from pathlib import Path

from stemgan.stages.arguments import in_force, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="labelled ADF-STEM simulations of one material (incoherent linear model)",
        description="Simulate labelled ADF-STEM images (TIFF with pixel size in Å + label CSV "
        "per image) using params sections materials.<name>, optics and simulate.",
    )
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, manifest.csv)")
    p.add_argument("--n-images", type=int, help=f"number of images ({in_force('simulate.n_images')})")
    params_arg(p)
    output_folder(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    import dataclasses

    from stemgan.config import load_params
    from stemgan.simulation.simulate import run_simulate

    params = load_params(args.params)
    cfg = params.simulate if args.n_images is None else dataclasses.replace(params.simulate, n_images=args.n_images)
    start = time.perf_counter()
    manifest = run_simulate(args.material, params.material(args.material), params.optics, cfg, args.out)
    print(
        f"simulate: {len(manifest)} {args.material} images of {cfg.image_size_px} px at {cfg.pixel_size_A} Å/px, "
        f"{int(manifest.n_defects.sum())} defects -> {args.out} ({time.perf_counter() - start:.1f} s)"
    )
