"""MLflow runs: default local store (sqlite:///mlruns.db, artifacts in mlartifacts/), runs that
resume after a kill, flattened params, batched metrics."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_ARTIFACT_ROOT = "mlartifacts"
RUN_ID_FILE = "mlflow_run_id"


# what a connection failure to a tracking server looks like in MLflow's (requests') error text
UNREACHABLE = ("Max retries exceeded", "Failed to establish a new connection", "Connection refused", "timed out")


def unreachable_message(exc: BaseException) -> str | None:
    """One line for an MLflow tracking server or registry that cannot be reached (None for other errors)."""
    text = str(exc)
    if not any(sign in text for sign in UNREACHABLE):
        return None
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    return (
        f"the MLflow tracking server and model registry at {uri} cannot be reached; start it, or point "
        "MLFLOW_TRACKING_URI at a running one (unset: the project's local sqlite store)"
    )


def setup_tracking() -> str:
    """Use MLFLOW_TRACKING_URI when set (a tracking server), else the local sqlite store. A server that is down
    fails the command within about 30 s (4 retries) instead of MLflow's 7 retries over minutes; the
    MLFLOW_HTTP_REQUEST_* variables still override."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
    uri = os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)
    mlflow.set_tracking_uri(uri)
    return uri


def experiment_id(name: str) -> str:
    """Get or create an experiment; local stores keep artifacts in ./mlartifacts (servers decide themselves)."""
    import mlflow

    setup_tracking()
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if mlflow.get_tracking_uri().startswith("sqlite"):
        location = Path(os.environ.get("STEMGAN_ARTIFACT_ROOT", DEFAULT_ARTIFACT_ROOT)).resolve().as_uri()
    try:
        return mlflow.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        found = mlflow.get_experiment_by_name(name)  # another process made it just now (workers, parallel stages)
        if found is None:
            raise
        return found.experiment_id


def flatten(params: dict, prefix: str = "") -> dict[str, str]:
    """{'generator': {'depth': 4}} -> {'generator.depth': '4'} (MLflow params are flat strings)."""
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def start_or_resume(
    experiment: str, run_name: str, state_dir: Path | None, parent_run_id: str | None = None, tags: dict | None = None
):
    """Start a run, or resume the one recorded in state_dir (a killed training continues its run).

    Returns (active run, resumed: bool).
    """
    import mlflow

    exp_id = experiment_id(experiment)
    run_id_file = state_dir / RUN_ID_FILE if state_dir else None
    if run_id_file and run_id_file.is_file():
        run_id = run_id_file.read_text().strip()
        try:
            mlflow.get_run(run_id)
            return mlflow.start_run(run_id=run_id), True
        except mlflow.exceptions.MlflowException:
            pass  # the store was wiped: start afresh
    all_tags = dict(tags or {})
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    run = mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=all_tags, nested=parent_run_id is not None)
    if run_id_file:
        run_id_file.parent.mkdir(parents=True, exist_ok=True)
        run_id_file.write_text(run.info.run_id)
    return run, False


def log_metrics(metrics: dict[str, float], step: int) -> None:
    """One batched call (100 single calls cost about a second)."""
    import math

    import mlflow

    clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
    if clean:
        mlflow.log_metrics(clean, step=step)


def backfill_metrics(run_id: str, history) -> None:
    """Log the rows of a per-epoch history (`epoch` column, 1-based) that the run lacks, at step = epoch."""
    import mlflow

    keys = [k for k in history.columns if k != "epoch"]
    if not keys:
        return
    logged = {m.step for m in mlflow.MlflowClient().get_metric_history(run_id, keys[0])}
    for row in history.to_dict("records"):
        if int(row["epoch"]) not in logged:
            log_metrics({k: row[k] for k in keys}, step=int(row["epoch"]))


def mark_abandoned(run_id: str, reason: str) -> None:
    """A run left RUNNING by a killed process, now replaced by another: status KILLED, with the reason as a tag."""
    import mlflow

    setup_tracking()
    client = mlflow.MlflowClient()
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return  # the store was wiped: nothing to mark
    if run.info.status == "RUNNING":
        client.set_tag(run_id, "stemgan.abandoned", reason)
        client.set_terminated(run_id, "KILLED")


MODEL_PIP_REQUIREMENTS = ["tensorflow-cpu==2.21.0", "keras==3.15.1"]
