"""Seconds for `stemgan calibrate` on a session of twenty 1024² WSe2 images (the calibration issue's figure).

    python benchmarks/calibrate_speed.py [--n 20] [--size 1024] [--max-images N]

The images come from the project's simulator with another Z exponent (2.1) and shot noise, written as TIFFs;
the command runs as a user runs it (reading, resampling, the 1-D searches over simulations). Prints the wall
time of the whole command and what it found. calibrate.max_images (default 12) caps the images measured;
--max-images 20 measures all twenty.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--max-images", type=int, help="calibrate.max_images for the run")
    args = parser.parse_args()

    import numpy as np

    from stemgan.config import load_params, read_params
    from stemgan.data.tiff_io import write_tiff
    from stemgan.seeding import item_rng
    from stemgan.simulation.simulate import simulate_image

    params = load_params(args.params)
    optics = dataclasses.replace(params.optics, z_exponent=2.1)
    with tempfile.TemporaryDirectory() as tmp:
        session = Path(tmp) / "session"
        for i in range(args.n):
            image, _, _ = simulate_image(
                params.material("wse2"), optics, args.size, 0.2074, item_rng(1, "benchmark", i)
            )
            counts = np.random.default_rng(i).poisson(np.clip(image, 0, None) / image.max() * 300)
            write_tiff(session / f"{i:02d}.tif", counts.astype(np.float32), 0.2074)
        raw = read_params(args.params)
        if args.max_images:
            raw["calibrate"]["max_images"] = args.max_images
        params_file = Path(tmp) / "params.yaml"
        params_file.write_text(yaml.safe_dump(raw, sort_keys=False))
        command = [sys.executable, "-m", "stemgan", "calibrate", "--images", str(session), "--material", "wse2"]
        start = time.perf_counter()
        proc = subprocess.run(
            [*command, "--out", str(Path(tmp) / "cal"), "--params", str(params_file)], capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        print(proc.stdout.strip() or proc.stderr.strip())
        print(f"calibrate on {args.n} images of {args.size}² px: {wall:.1f} s wall (the whole command)")


if __name__ == "__main__":
    main()
