"""Where a `dvc repro` spends its time, per stage (the speed issue's profile).

    python benchmarks/stage_times.py                      # from the outputs of the last run in this checkout
    python benchmarks/stage_times.py --run -- dvc repro   # run a command, timing each 'Running stage' it prints

Without --run: `dvc repro` runs stages one after another, so a stage's wall time is the time between the newest
file among its outputs (dvc.lock's outs, metrics and plots) and the newest among those of the stage before it.
The first stage's start is unknown (its time is left out). Stages restored from DVC's run cache or left
unchanged give ~0 or their old time: read a table from a run that recomputed everything.
With --run: each stage's time is from its 'Running stage' line to the next one (or the end), start-up included.
Prints per stage family (the part before '@') and the top stages; --json writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml


def newest_mtime(path: Path) -> float | None:
    if path.is_file():
        return path.stat().st_mtime
    times = [p.stat().st_mtime for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
    return max(times) if times else None


def current_stages() -> set[str]:
    """The stages of dvc.yaml now (dvc.lock may still hold entries of stages since renamed)."""
    listed = subprocess.run(["dvc", "stage", "list", "--name-only"], capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def from_outputs(lock: Path) -> dict[str, float]:
    stages, current = yaml.safe_load(lock.read_text())["stages"], current_stages()
    finished = []
    for name, stage in stages.items():
        if name not in current:
            continue
        paths = [Path(o["path"]) for key in ("outs", "metrics", "plots") for o in stage.get(key, [])]
        times = [t for t in map(newest_mtime, paths) if t is not None]
        if times:
            finished.append((max(times), name))
    finished.sort()
    return {name: end - before for (before, _), (end, name) in zip(finished, finished[1:])}


def from_run(command: list[str]) -> dict[str, float]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    marks = []
    for line in proc.stdout:
        sys.stdout.write(line)
        if line.startswith("Running stage '"):
            marks.append((time.monotonic(), line.split("'")[1]))
    end = time.monotonic()
    if proc.wait() != 0:
        print(f"stage_times: {' '.join(command)} exited {proc.returncode}", file=sys.stderr)
    return {name: nxt - t for (t, name), (nxt, _) in zip(marks, [*marks[1:], (end, "")])}


def report(times: dict[str, float], top: int) -> dict:
    families: dict[str, list[float]] = {}
    for name, seconds in times.items():
        families.setdefault(name.split("@")[0], []).append(seconds)
    total = sum(times.values())
    print(f"\n{'stage family':<16} {'stages':>6} {'seconds':>9} {'share':>6}")
    for family, values in sorted(families.items(), key=lambda kv: -sum(kv[1])):
        print(f"{family:<16} {len(values):>6} {sum(values):>9.0f} {100 * sum(values) / total:>5.1f}%")
    print(f"{'total':<16} {len(times):>6} {total:>9.0f}  ({total / 60:.1f} min)\n\ntop {top} stages:")
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {seconds:>7.0f} s  {name}")
    return {"total_s": total, "families_s": {k: sum(v) for k, v in families.items()}, "stages_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lock", type=Path, default=Path("dvc.lock"))
    parser.add_argument("--run", action="store_true", help="run the command after --, timing its stages")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    command = [c for c in args.command if c != "--"]
    times = from_run(command or ["dvc", "repro"]) if args.run else from_outputs(args.lock)
    found = report(times, args.top)
    if args.json:
        args.json.write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
