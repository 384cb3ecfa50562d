"""Old and new code measured in one run: a benchmark script on a git commit's code and on this checkout's.

The commit's src/, benchmarks/, params.yaml and profiles/ are read with `git archive` (the checkout is untouched).
Each side runs in fresh processes, alternately, `repeats` times; the best of each is kept (a shared machine's
slow moments hit both sides alike) and the ratio printed. The commit's own copy of the script runs where it has
one (unless the caller asks for this checkout's), else this checkout's copy on the commit's code (so only APIs
both sides have may be used).

Both sides get the caller's environment. Since stop 43 stemgan sets TF_ENABLE_ONEDNN_OPTS=1 itself (TensorFlow's
default turns oneDNN on only on AVX-512 VNNI/BF16 or AMX CPUs), so on other CPUs an older commit runs with Eigen's
kernels as it did; `TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/...` measures the old code with oneDNN too (what the
switch alone gives).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def figures(command: list[str], cwd: Path, pythonpath: Path, patterns: dict) -> tuple[dict[str, float], str]:
    """Each pattern's number (its one group) in the command's last output line that they all match."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if all(re.search(p, line) for p, _ in patterns.values())]
    if proc.returncode or not lines:
        sys.exit(f"{' '.join(command)} in {cwd} failed:\n{proc.stderr[-2000:]}")
    return {name: float(re.search(p, lines[-1]).group(1)) for name, (p, _) in patterns.items()}, lines[-1]


def compare(
    script: str,
    args: list[str],
    baseline: str,
    repeats: int,
    patterns: dict,
    new_only: list[str] = (),
    commit_script: bool = True,
) -> dict[str, float]:
    """patterns: figure name -> (regex with one number group, higher is better). `new_only`: options that only this
    checkout's script has. commit_script=False: this checkout's script on both sides (when the commit's copy
    measured wrongly). Prints each measurement, the best of each side per figure and the speed-up (new over
    old); returns the speed-ups."""
    with tempfile.TemporaryDirectory(prefix="stemgan-baseline-") as tmp:
        old = Path(tmp)
        archive = subprocess.run(
            ["git", "archive", baseline, "src", "benchmarks", "params.yaml", "profiles"],
            cwd=HERE,
            capture_output=True,
            check=True,
        ).stdout
        (old / "baseline.tar").write_bytes(archive)
        with tarfile.open(old / "baseline.tar") as tar:
            tar.extractall(old, filter="data")
        old_script = old / script if commit_script and (old / script).is_file() else HERE / script
        sides = {
            f"baseline {baseline}": (old, old_script, []),
            "this checkout": (HERE, HERE / script, list(new_only)),
        }
        best: dict[tuple[str, str], float] = {}
        for repeat in range(repeats):
            for side, (root, path, extra) in sides.items():
                values, line = figures([sys.executable, str(path), *args, *extra], root, root / "src", patterns)
                for name, value in values.items():
                    pick = max if patterns[name][1] else min
                    best[side, name] = pick(best.get((side, name), value), value)
                print(f"[{repeat + 1}/{repeats}] {side}: {line}", flush=True)
    speedups = {}
    (old_side, new_side) = sides
    for name, (_, higher_is_better) in patterns.items():
        old_value, new_value = best[old_side, name], best[new_side, name]
        speedups[name] = new_value / old_value if higher_is_better else old_value / new_value
        print(
            f"{name}, best of {repeats}: {old_side} {old_value:.3g}, {new_side} {new_value:.3g}; "
            f"speed-up {speedups[name]:.2f}x"
        )
    return speedups
