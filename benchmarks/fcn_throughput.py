"""The defect finder's speeds with params.yaml's sizes: the FCN train step (tiles/s) and the scoring of one
Table 1 image (tiled inference with TTA, then the PR curve's thresholds), random weights and data, no I/O.

    python benchmarks/fcn_throughput.py                     # this checkout
    python benchmarks/fcn_throughput.py --baseline 556da5c  # old and new in one run, the ratios printed
    python benchmarks/fcn_throughput.py --workers 2         # two at once, as a stage trains and scores 2 seeds
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def steps_window():
    """A Keras callback that keeps the wall-clock span of a fit's train steps: from the first step's start to the
    last one's result. Not the span of `fit` itself: when fit drops its tf.data iterator it can wait for the
    autotuning thread's next wake-up (10.2, 20.5, 41 s after the start...), so the script's fit times up to stop 25
    could end at one of those marks rather than at the last step (issue 14)."""
    import keras

    class StepsWindow(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                self.start = time.time()

        def on_train_batch_end(self, batch, logs=None):
            float(logs["loss"])  # the step's result: the device has finished it
            self.end = time.time()

    return StepsWindow()


def train_window(fcn, steps: int, barrier=None):
    """(start, end, tiles) of `steps` FCN train steps after a warm-up (and the other processes' warm-up), and the
    model."""
    import keras
    import numpy as np
    import tensorflow as tf

    from stemgan.models.fcn import res_unet
    from stemgan.training.fcn_train import make_loss

    rng = np.random.default_rng(0)
    tile, batch = fcn.tile_size_px, fcn.batch_size
    images = rng.uniform(-1, 1, (4 * batch, tile, tile, 1)).astype(np.float32)
    targets = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (4 * batch, tile, tile))]
    data = tf.data.Dataset.from_tensor_slices((images, targets)).repeat().batch(batch).prefetch(2)
    model = res_unet(None, fcn.filters, fcn.bottleneck, fcn.dropout, 2)
    model.compile(optimizer=keras.optimizers.Adam(fcn.lr), loss=make_loss(fcn))
    model.fit(data, epochs=1, steps_per_epoch=5, verbose=0)  # trace and warm up
    if barrier is not None:
        barrier.wait()
    window = steps_window()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[window])
    return (window.start, window.end, steps * batch), model


def scoring_window(model, fcn, pixel_size_A: float, size: int, images: int, barrier=None):
    """(start, end, images) of scoring: stitched class probabilities (TTA), peaks and P/R/F1 at every PR
    threshold, after one traced image."""
    import numpy as np
    import pandas as pd

    from stemgan.data.labelled import LabelledImage
    from stemgan.evaluation.evaluate import best_threshold, defect_probability, evaluate

    rng = np.random.default_rng(1)
    multiple = 2 ** len(fcn.filters)
    labels = pd.DataFrame({"x_px": rng.uniform(0, size, 30), "y_px": rng.uniform(0, size, 30)})
    items = [
        LabelledImage(f"i{k}", rng.uniform(-1, 1, (size, size)).astype(np.float32), labels.assign(defect="d"))
        for k in range(images)
    ]
    defect_probability(model, items[0].image, multiple, fcn.scoring)  # trace
    if barrier is not None:
        barrier.wait()
    start = time.time()
    probabilities = [defect_probability(model, item.image, multiple, fcn.scoring) for item in items]
    threshold, _ = best_threshold(probabilities, items, ("d",), fcn.scoring, pixel_size_A)
    evaluate(probabilities, items, ("d",), fcn.scoring, pixel_size_A, threshold)
    return start, time.time(), images


def measure(args, barrier=None):
    """Both figures of one process: (train window, scoring window)."""
    from stemgan.config import load_params

    params = load_params(args.params)
    trained, model = train_window(params.fcn, args.steps, barrier)
    scored = scoring_window(model, params.fcn, params.ingest.working_pixel_size_A, args.size, args.images, barrier)
    return trained, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=512, help="px of the scored images (Table 1's: 512)")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="this many processes at once, as a stage runs seeds")
    parser.add_argument("--baseline", help="a git commit to compare against (old and new in one run)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    passed = ["--params", args.params, "--steps", str(args.steps), "--size", str(args.size)]
    passed += ["--images", str(args.images)]
    if args.baseline:
        from baseline import compare

        patterns = {"FCN train tiles/s": (r"train ([0-9.]+) tiles/s", True)}
        patterns["scoring s/image"] = (r"scoring ([0-9.]+) s/image", False)
        new_only = ["--workers", str(args.workers)] if args.workers > 1 else []
        # this copy on both sides: earlier copies timed `fit` whole, autotune wait included (steps_window)
        compare("benchmarks/fcn_throughput.py", passed, args.baseline, args.repeats, patterns, new_only, False)
        return

    from side_by_side import combined_rate, side_by_side
    from stemgan.config import load_params

    fcn = load_params(args.params).fcn
    results = side_by_side(measure, args, args.workers) if args.workers > 1 else [measure(args)]
    train = combined_rate([trained for trained, _ in results])
    seconds = 1 / combined_rate([scored for _, scored in results])
    workers = f" x{args.workers} processes" if args.workers > 1 else ""
    print(
        f"FCN {fcn.filters} tile {fcn.tile_size_px}px batch {fcn.batch_size}{workers}: "
        f"train {train:.1f} tiles/s; scoring {seconds:.2f} s/image ({args.size}² px, tta={fcn.scoring.tta}, "
        f"{len(fcn.scoring.pr_thresholds)} thresholds)"
    )


if __name__ == "__main__":
    main()
