"""Seconds for `detect` on one 1024² image with the default FCN size and scoring (TTA included), 2-core CPU.

    python benchmarks/detect_speed.py [--size 1024] [--pixel 0.2074] [--repeat 3]

An untrained FCN of params.yaml's size: speed does not depend on the weights. Prints the warm time per image
(resampling, normalisation, tiled inference, peaks, classes) and the whole command's wall time once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--pixel", type=float, default=0.2074, help="Å/px of the benchmark image")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from stemgan.config import load_params
    from stemgan.data.ingest import load_working_image
    from stemgan.data.normalize import normalize_image
    from stemgan.data.tiff_io import write_tiff
    from stemgan.evaluation.detection import detect_defects
    from stemgan.models.fcn import res_unet

    params = load_params(args.params)
    fcn = params.fcn
    classes = params.material(params.table1.material).label_defects
    with tempfile.TemporaryDirectory() as tmp:
        image_path, model_path = Path(tmp) / "image.tif", Path(tmp) / "fcn.keras"
        rng = np.random.default_rng(0)
        write_tiff(image_path, rng.normal(size=(args.size, args.size)).astype(np.float32), args.pixel)
        res_unet(None, fcn.filters, fcn.bottleneck, fcn.dropout, 1 + len(classes)).save(model_path)
        import keras

        model = keras.models.load_model(model_path, compile=False)
        times = []
        for _ in range(args.repeat + 1):  # the first call traces the model
            start = time.perf_counter()
            working = load_working_image(image_path, params.ingest)
            detect_defects(
                model,
                working,
                normalize_image(working.image, params.tile.normalize),
                classes,
                fcn.scoring,
                fcn.scoring.threshold,
                2 ** len(fcn.filters),
            )
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "stemgan",
                "detect",
                "--model",
                str(model_path),
                "--images",
                str(image_path),
                "--out",
                str(Path(tmp) / "out"),
                "--params",
                args.params,
            ],
            check=True,
            capture_output=True,
        )
        command = time.perf_counter() - start
    print(
        f"detect: {args.size}² image at {args.pixel} Å/px, tile {fcn.scoring.tile_px} stride {fcn.scoring.stride_px} "
        f"tta={fcn.scoring.tta}: first {times[0]:.2f} s, warm {min(times[1:]):.2f} s per image; "
        f"the whole command (imports, model load, PNG) {command:.1f} s"
    )


if __name__ == "__main__":
    main()
