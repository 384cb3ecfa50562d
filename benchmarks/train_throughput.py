"""Tiles per second of the cycleGAN train step for a profile (random tiles, no I/O).

python benchmarks/train_throughput.py                      # params.yaml (CPU default)
python benchmarks/train_throughput.py --profile profiles/paper.yaml --steps 20
python benchmarks/train_throughput.py --baseline 556da5c     # old and new code in one run, the ratio printed

--baseline REV measures the commit REV's own benchmark, params.yaml and code (read with `git archive`, so
your checkout is untouched) and this checkout's, alternately --repeats times each in fresh processes, and
prints the best of each and their ratio: a shared machine's slow moments hit both sides alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", help="a profiles/*.yaml of dotted overrides")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="override the profile's batch size")
    parser.add_argument("--baseline", help="a git commit to compare against (old and new in one run)")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline: measurements of each side")
    args = parser.parse_args()
    if args.baseline:
        compare(args)
        return

    import numpy as np
    import tensorflow as tf

    from stemgan.cli.profiles import apply_profile
    from stemgan.config import read_params, validate_params
    from stemgan.models.precision import resolve_precision
    from stemgan.training.cyclegan_train import build_cyclegan, distribution_strategy

    params = read_params(args.params)
    if args.profile:
        params = apply_profile(params, args.profile)
    cfg = validate_params(params, args.params).cyclegan
    if args.batch_size:
        cfg = dataclasses.replace(cfg, batch_size=args.batch_size)
    tile = params["tile"]["tile_size_px"]
    with distribution_strategy().scope():
        model = build_cyclegan(cfg, tile, steps_per_epoch=1000)
    rng = np.random.default_rng(0)
    batch = [tf.constant(rng.uniform(-1, 1, (cfg.batch_size, tile, tile, 1)).astype(np.float32)) for _ in range(2)]
    step = tf.function(model.train_step, jit_compile=cfg.xla)
    start = time.perf_counter()
    for _ in range(args.warmup):
        step(tuple(batch))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.steps):
        logs = step(tuple(batch))
    float(logs["cycle"])  # wait for the device
    elapsed = time.perf_counter() - start
    g_params = model.gen_sim2exp.count_params()
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(
        f"tile {tile}px batch {cfg.batch_size} G {g_params / 1e6:.2f}M params x2, D x{len(model.discriminators)}, "
        f"precision={resolve_precision(cfg.precision)} xla={cfg.xla} on {sorted(set(devices))}: "
        f"{args.steps * cfg.batch_size / elapsed:.2f} tiles/s ({elapsed / args.steps * 1000:.0f} ms/step, "
        f"warm-up {compile_s:.0f} s)"
    )


def tiles_per_second(command: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    line = (proc.stdout.strip().splitlines() or [""])[-1]
    found = re.search(r"([0-9.]+) tiles/s", line)
    if proc.returncode or not found:
        sys.exit(f"train_throughput: {' '.join(command)} in {cwd} failed:\n{proc.stderr[-2000:]}")
    return float(found.group(1)), line


def compare(args) -> None:
    """Best tiles/s of the baseline commit and of this checkout, measured alternately; their ratio."""
    here = Path(__file__).resolve().parents[1]
    passed = ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    passed += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    with tempfile.TemporaryDirectory(prefix="stemgan-baseline-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", args.baseline, "src", "benchmarks", "params.yaml", "profiles"],
            cwd=here,
            capture_output=True,
            check=True,
        ).stdout
        (old / "baseline.tar").write_bytes(archive)
        with tarfile.open(old / "baseline.tar") as tar:
            tar.extractall(old, filter="data")
        sides = {
            f"baseline {args.baseline}": (old, {**os.environ, "PYTHONPATH": str(old / "src")}),
            "this checkout": (here, {**os.environ, "PYTHONPATH": str(here / "src")}),
        }
        best = {name: 0.0 for name in sides}
        for repeat in range(args.repeats):
            for name, (root, env) in sides.items():
                profile = ["--profile", args.profile] if args.profile else []
                command = [sys.executable, str(root / "benchmarks/train_throughput.py"), *passed, *profile]
                rate, line = tiles_per_second(command, root, env)
                best[name] = max(best[name], rate)
                print(f"[{repeat + 1}/{args.repeats}] {name}: {line}", flush=True)
    (old_name, old_rate), (new_name, new_rate) = best.items()
    print(f"best of {args.repeats}: {old_name} {old_rate:.2f} tiles/s, {new_name} {new_rate:.2f} tiles/s")
    print(f"ratio (this checkout / baseline): {new_rate / old_rate:.2f}x")


if __name__ == "__main__":
    main()
