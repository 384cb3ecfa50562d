"""Table 1 on a virtual session whose detector differs from the simulation's, without and with calibration.

    python benchmarks/calibration_table1.py [--z-exponent 2.2] [--n-seeds 1] [--out DIR]

The calibration issue's question: what does calibrating the simulation to a microscope do to Table 1 when
that microscope's ADF detector gives another Z contrast than the simulation assumes (optics.z_exponent 1.7)?
A new virtual session `wse2/day_c` is acquired: the day B preset with the detector's Z exponent changed
(nothing else; the demo presets are not touched). For calibrate.mode off and then use, a temporary git + DVC
repo with the project's dvc.yaml and code runs `dvc repro table1` on that one set (its own MLflow store), and
each row's F1 and the cycleGAN's paired differences are printed. Sizes are the project's, except the
session's image counts and n_seeds (options), to fit a 2-core machine.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SET = "wse2_day_c"


def session_params(z_exponent: float, n_seeds: int, n_test: int, n_val: int, mode: str) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    preset = copy.deepcopy(params["acquire"]["presets"]["day_b"])
    preset["optics_overrides"]["z_exponent"] = z_exponent
    params["acquire"]["presets"]["day_c"] = preset
    params["acquire"]["sets"] = {
        "wse2/day_c": {"material": "wse2", "preset": "day_c", "n_unlabelled": 24, "n_val": n_val, "n_test": n_test}
    }
    params["sets"] = {SET: {"material": "wse2", "data": ["wse2/day_c"]}}
    params["table1"].update(sets=[SET], n_seeds=n_seeds, ablations={})
    params["tune"]["set"] = params["diagnose"]["set"] = SET
    params["real_example"]["examples"] = {}
    params["calibrate"]["mode"] = mode
    return params


def sh(*args, cwd: Path, env: dict) -> None:
    proc = subprocess.run(list(map(str, args)), cwd=cwd, env=env)
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, args))}: exit {proc.returncode} in {cwd}")


def run_mode(out: Path, params: dict) -> dict:
    repo = out / params["calibrate"]["mode"]
    if repo.exists():
        shutil.rmtree(repo)  # this script's own folder
    repo.mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", repo)
    shutil.copytree(ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlruns.db'}",
        "STEMGAN_ARTIFACT_ROOT": str(repo / "mlartifacts"),
    }
    for cmd in (
        ("git", "init", "-q"),
        ("git", "config", "user.email", "bench@example.com"),
        ("git", "config", "user.name", "bench"),
        ("dvc", "init", "-q"),
        ("stemgan", "acquire", "--out", "data"),
        ("dvc", "add", "-q", "data"),
    ):
        sh(*cmd, cwd=repo, env=env)
    start = time.perf_counter()
    sh("dvc", "repro", "table1", cwd=repo, env=env)
    table = json.loads((repo / "metrics/table1.json").read_text())
    calibration = json.loads((repo / f"artifacts/calibration/{SET}/calibration.json").read_text())
    return {"minutes": (time.perf_counter() - start) / 60, "table1": table, "calibration": calibration}


def report(results: dict, z_exponent: float) -> str:
    lines = [f"Virtual session {SET}: day B preset, detector Z exponent {z_exponent} (simulation: 1.7)", ""]
    for mode, found in results.items():
        cal = found["calibration"]
        lines.append(
            f"calibrate.mode {mode}: measured Z exponent {cal.get('z_exponent')}, source FWHM "
            f"{cal.get('source_fwhm_A')} Å, sampling x{cal.get('sampling_correction')} ({found['minutes']:.0f} min)"
        )
    lines += ["", "| row | " + " | ".join(f"F1 % ({m})" for m in results) + " |", "|---|" + "---|" * len(results)]
    rows = [k for k in next(iter(results.values()))["table1"] if not k.startswith("cyclegan_vs")]
    for row in rows:
        cells = []
        for found in results.values():
            cell = found["table1"].get(row, {}).get(SET, {})
            f1 = cell.get("f1")
            cells.append("—" if f1 is None else f"{100 * f1:.1f} ± {100 * cell.get('f1_std', 0):.1f}")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    for mode, found in results.items():
        for key in ("cyclegan_vs_best_baseline", "cyclegan_vs_matched_noise"):
            d = found["table1"].get(key, {}).get(SET)
            if d:
                lines.append(
                    f"{mode}: {key}: {100 * d['f1_difference']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}] "
                    f"against {d['baseline']}"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--z-exponent", type=float, default=2.2)
    parser.add_argument("--n-seeds", type=int, default=1)
    parser.add_argument("--n-test", type=int, default=12)
    parser.add_argument("--n-val", type=int, default=5)
    parser.add_argument("--modes", nargs="+", default=["off", "use"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/stemgan-calibration-table1"))
    args = parser.parse_args()
    results = {
        mode: run_mode(args.out, session_params(args.z_exponent, args.n_seeds, args.n_test, args.n_val, mode))
        for mode in args.modes
    }
    text = report(results, args.z_exponent)
    (args.out / "report.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
