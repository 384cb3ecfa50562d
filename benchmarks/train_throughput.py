"""Tiles per second of the cycleGAN train step for a profile (random tiles, no I/O).

python benchmarks/train_throughput.py                      # params.yaml (CPU default)
python benchmarks/train_throughput.py --profile profiles/paper.yaml --steps 20
python benchmarks/train_throughput.py --baseline 556da5c     # old and new code in one run, the ratio printed
python benchmarks/train_throughput.py --workers 2            # two trainings at once, as a stage trains 2 seeds

--baseline REV measures the commit REV's own benchmark, params.yaml and code and this checkout's, alternately
in fresh processes (benchmarks/baseline.py), and prints the best of each and their ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the benchmarked cycleGAN (shared with train_step_parts.py)."""
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", help="a profiles/*.yaml of dotted overrides")
    parser.add_argument("--batch-size", type=int, help="override the profile's batch size")


def benchmark_config(args):
    """(cycleGAN config, tile size px) of --params, --profile and --batch-size (no TensorFlow imported)."""
    from stemgan.cli.profiles import apply_profile
    from stemgan.config import read_params, validate_params

    params = read_params(args.params)
    if args.profile:
        params = apply_profile(params, args.profile)
    cfg = validate_params(params, args.params).cyclegan
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    return cfg, params["tile"]["tile_size_px"]


def benchmark_model(args):
    """(cycleGAN config, tile size px, model) of --params, --profile and --batch-size, built as training builds it."""
    from stemgan.training.cyclegan_train import build_cyclegan, distribution_strategy

    cfg, tile = benchmark_config(args)
    with distribution_strategy().scope():
        model = build_cyclegan(cfg, tile, steps_per_epoch=1000)
    return cfg, tile, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_model_arguments(parser)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="train in this many processes at once, as a stage trains its seeds"
    )
    parser.add_argument("--baseline", help="a git commit to compare against (old and new in one run)")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline: measurements of each side")
    args = parser.parse_args()
    if args.baseline:
        compare(args)
        return
    from side_by_side import combined_rate, side_by_side

    results = side_by_side(measure, args, args.workers) if args.workers > 1 else [measure(args)]
    rate, (_, _, _, described, step_s, compile_s) = combined_rate(results), results[0]
    workers = f" x{args.workers} processes" if args.workers > 1 else ""
    print(
        f"{described}{workers}: {rate:.2f} tiles/s ({step_s * 1000:.0f} ms/step in each process, "
        f"warm-up {compile_s:.0f} s)"
    )


def measure(args, barrier=None) -> tuple[float, float, int, str, float, float]:
    """The model's train step, warmed up, then args.steps steps timed (after every process is warm, with a
    barrier): (start, end, tiles, description, seconds per step, warm-up seconds)."""
    import numpy as np
    import tensorflow as tf

    from stemgan.models.precision import resolve_precision

    cfg, tile, model = benchmark_model(args)
    rng = np.random.default_rng(0)
    batch = [tf.constant(rng.uniform(-1, 1, (cfg.batch_size, tile, tile, 1)).astype(np.float32)) for _ in range(2)]
    step = tf.function(model.train_step, jit_compile=cfg.xla)
    start = time.perf_counter()
    for _ in range(args.warmup):
        step(tuple(batch))
    compile_s = time.perf_counter() - start
    if barrier is not None:
        barrier.wait()
    start = time.time()
    for _ in range(args.steps):
        logs = step(tuple(batch))
    float(logs["cycle"])  # wait for the device
    end = time.time()
    g_params = model.gen_sim2exp.count_params()
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    described = (
        f"tile {tile}px batch {cfg.batch_size} G {g_params / 1e6:.2f}M params x2, D x{len(model.discriminators)}, "
        f"precision={resolve_precision(cfg.precision)} xla={cfg.xla} on {sorted(set(devices))}"
    )
    return start, end, args.steps * cfg.batch_size, described, (end - start) / args.steps, compile_s


def compare(args) -> None:
    from baseline import compare as compare_commits

    passed = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    passed += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    passed += ["--profile", args.profile] if args.profile else []
    patterns = {"cycleGAN train tiles/s": (r"([0-9.]+) tiles/s", True)}
    # --workers for this checkout only: the baseline trains as its stages did, one process at a time
    new_only = ["--workers", str(args.workers)] if args.workers > 1 else []
    compare_commits("benchmarks/train_throughput.py", passed, args.baseline, args.repeats, patterns, new_only)


if __name__ == "__main__":
    main()
