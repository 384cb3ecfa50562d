"""`stemgan doctor`: what is set up, what is missing, and what to do about it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the environment: GPU, MLflow store, DVC state, data; says what to fix",
        description="Check params.yaml (every section and material, with the same validation the "
        "stages use), TensorFlow and GPUs, the MLflow store, the DVC pipeline and the "
        "experimental images; each line says [ok] or what to fix. Exit 1 if anything needs "
        "fixing.",
    )
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    if run_checks(args.params):
        raise SystemExit(1)


def _check(name: str, ok: bool, detail: str, fix: str = "") -> bool:
    print(f"[{'ok' if ok else 'FIX'}] {name}: {detail}" + ("" if ok or not fix else f" -> {fix}"))
    return ok


def run_checks(params_path: Path) -> list[str]:
    failures = []

    def check(name, ok, detail, fix=""):
        if not _check(name, ok, detail, fix):
            failures.append(name)

    from stemgan.config import read_params, validate_params
    from stemgan.errors import StemganError

    try:
        params = validate_params(read_params(params_path), params_path)
        check("params", True, f"{params_path} has every section and material, with valid values")
    except StemganError as exc:
        params = None
        check("params", False, str(exc), "fix params.yaml")
    try:
        import tensorflow as tf

        from stemgan.models.cpu_conv import onednn_enabled
        from stemgan.models.precision import resolve_precision
        from stemgan.parallel import cpu_cores, worker_count

        gpus = tf.config.list_physical_devices("GPU")
        precision = resolve_precision(params.cyclegan.precision if params else "auto")
        workers = worker_count(params.compute.workers if params else "auto", 2)
        check(
            "tensorflow",
            True,
            f"{tf.__version__}, {len(gpus)} GPU(s), the cycleGAN trains in {precision}; {cpu_cores()} CPU core(s), "
            f"a stage's two seeds run in {workers} process(es) (compute.workers)"
            + ("" if gpus else " (CPU only: use the default profile; GPU nodes: requirements-gpu.txt)")
            + (
                "; CPU kernels: oneDNN"
                if onednn_enabled()
                else "; CPU kernels: Eigen (TF_ENABLE_ONEDNN_OPTS=0: slower)"
            ),
        )
    except ImportError as exc:
        check("tensorflow", False, str(exc), "make setup")
    try:
        import mlflow

        from stemgan.tracking.mlflow_runs import setup_tracking

        uri = setup_tracking()
        mlflow.MlflowClient().search_experiments(max_results=1)
        check("mlflow", True, f"store {uri} reachable")
    except Exception as exc:  # any backend error means the same thing to the user
        check(
            "mlflow",
            False,
            f"store not reachable ({str(exc).splitlines()[0]})",
            "check MLFLOW_TRACKING_URI or unset it for the local sqlite store",
        )
    beside = Path(sys.executable).parent / "dvc"  # the venv's dvc, even when the venv is not activated
    dvc = str(beside) if beside.exists() else shutil.which("dvc")
    if dvc and Path(".dvc").is_dir():
        status = subprocess.run(
            [dvc, "status", "-q"], capture_output=True, text=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"}
        )
        check(
            "dvc", True, "pipeline up to date" if status.returncode == 0 else "stages out of date (dvc repro runs them)"
        )
    else:
        check("dvc", False, "not a DVC repository or dvc not on PATH", "run from the project root after make setup")
    data = Path("data")
    from stemgan.data.ingest import IMAGE_SUFFIXES

    found = data.glob("*/*/unlabelled/*") if data.is_dir() else []
    images = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    check(
        "data",
        bool(images),
        f"{len(images)} unlabelled experimental images ({', '.join(IMAGE_SUFFIXES)}) under data/",
        "make data (demo) or put your images in data/<material>/<session>/unlabelled/",
    )
    if params is not None:
        for line in calibration_warnings(params, Path("artifacts/calibration")):
            print(f"[warn] calibration: {line}")
    return failures


def calibration_warnings(params, root: Path) -> list[str]:
    """Sets whose calibration is missing, unreadable or doubtful (warnings: a fresh clone has none yet)."""
    import json

    from stemgan.calibration.calibrate import CALIBRATION_FILE, Calibration

    if params.calibrate.mode == "off":
        return []
    found = []
    for name in (*params.sets, *params.real_example.examples):
        path = root / name / CALIBRATION_FILE
        if not path.is_file():
            found.append(
                f"{name}: not calibrated yet ({path} missing) -> dvc repro (or stemgan calibrate --set {name})"
            )
            continue
        try:
            record = json.loads(path.read_text())
            calibration = Calibration.from_dict(record)
        except (ValueError, KeyError, TypeError):
            found.append(f"{name}: {path} unreadable or measured with mode off -> dvc repro")
            continue
        found += [f"{name}: {warning} ({path})" for warning in calibration.warnings()]
    return found
