"""Labelled 1024^2 WSe2 images per second: compute only, and compute + TIFF/CSV writing.

python benchmarks/simulate_throughput.py [--size 1024] [--n 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from stemgan.config import load_params
from stemgan.data.labels_io import write_labels
from stemgan.data.tiff_io import write_tiff
from stemgan.seeding import item_rng
from stemgan.simulation.scene import crystal_for
from stemgan.simulation.simulate import simulate_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--material", default="wse2")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    material, optics, pixel = params.material(args.material), params.optics, params.simulate.pixel_size_A
    crystal = crystal_for(material, args.material)
    simulate_image(material, optics, args.size, pixel, item_rng(0, "warm"), crystal=crystal)  # warm FFT plans

    start = time.perf_counter()
    for i in range(args.n):
        image, labels, _ = simulate_image(material, optics, args.size, pixel, item_rng(0, "bench", i), crystal=crystal)
    compute = args.n / (time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for i in range(args.n):
            image, labels, meta = simulate_image(
                material, optics, args.size, pixel, item_rng(0, "bench", i), crystal=crystal
            )
            write_tiff(Path(tmp) / f"{i}.tif", image, pixel, meta)
            write_labels(Path(tmp) / f"{i}.csv", labels)
        with_io = args.n / (time.perf_counter() - start)
    print(
        f"{args.material} {args.size}x{args.size} px, {len(labels)} columns/image: "
        f"{compute:.1f} images/s compute, {with_io:.1f} images/s with TIFF+CSV writing"
    )


if __name__ == "__main__":
    main()
