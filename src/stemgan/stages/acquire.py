"""`acquire` (run by `make data` when data/ is absent): the virtual microscope writes the demo experimental sets."""

from __future__ import annotations

import time
from pathlib import Path

from stemgan.stages.arguments import output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "acquire",
        help="the virtual microscope: write the demo experimental sets (data/)",
        description="Degrade fresh simulations like a real acquisition (dose, drift, jitter, "
        "contamination, probe changes, detector) per session preset (acquire section).",
    )
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder")
    params_arg(p)
    output_folder(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.microscope.acquire import run_acquire

    params = load_params(args.params)
    materials = {spec.material: params.material(spec.material) for spec in params.acquire.sets.values()}
    start = time.perf_counter()
    logs = run_acquire(params.acquire, materials, params.optics, params.ingest.working_pixel_size_A, args.out)
    n = sum(len(log) for log in logs.values())
    print(
        f"acquire: {n} images in {len(logs)} sets ({', '.join(logs)}) -> {args.out} "
        f"({time.perf_counter() - start:.1f} s)"
    )
