"""The study: storage (sqlite or PostgreSQL, heartbeats, retries), TPE + MedianPruner, MLflow parent run,
summary artifacts. Several workers run the same command against one storage; re-running resumes."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from stemgan.errors import StemganError
from stemgan.tuning.objective import TrialContext, run_trial


def open_study(storage_url: str, study_name: str, seed: int, tune):
    import optuna
    from optuna.storages import RDBStorage, RetryFailedTrialCallback

    if storage_url.startswith("sqlite:///"):
        Path(storage_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(4):
        try:
            storage = RDBStorage(
                storage_url,
                heartbeat_interval=tune.heartbeat_interval_s,
                grace_period=tune.grace_period_s,
                heartbeat_stale_trial_callback=RetryFailedTrialCallback(max_retry=tune.max_retry),
            )
            break
        except Exception as exc:  # SQLAlchemy raises many types for bad URLs / unreachable servers
            # workers starting together race to create the schema; the loser retries and finds it made
            if "unique constraint" in str(exc) and attempt < 3:
                time.sleep(1.0 + attempt)
                continue
            raise StemganError(
                f"{storage_url}: cannot open the Optuna storage ({str(exc).splitlines()[0]}); "
                "check the URL and that the database server is running"
            ) from exc
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=tune.pruner_startup_trials, n_warmup_steps=tune.pruner_warmup_epochs
    )
    return optuna.create_study(
        study_name=study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def study_parent_run(study_name: str, experiment: str) -> str:
    """The study's MLflow parent run: found by tag (so every worker and re-run shares it) or created."""
    import mlflow

    from stemgan.tracking.mlflow_runs import experiment_id

    exp = experiment_id(experiment)
    found = mlflow.search_runs(
        [exp], f"tags.optuna_study = '{study_name}' and tags.stage = 'tune'", output_format="list", max_results=1
    )
    if found:
        return found[0].info.run_id
    run = mlflow.MlflowClient().create_run(
        exp, run_name=f"study {study_name}", tags={"optuna_study": study_name, "stage": "tune"}
    )
    return run.info.run_id


def optimize(ctx: TrialContext, storage_url: str, study_name: str, worker: int = 0):
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    tune = ctx.params.tune
    study = open_study(storage_url, study_name, tune.seed + worker, tune)
    ctx = dataclasses.replace(ctx, study_run_id=study_parent_run(study_name, tune.experiment))
    done = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    study.optimize(
        lambda trial: run_trial(trial, ctx),
        n_trials=tune.n_trials,
        timeout=tune.timeout_s,
        callbacks=[MaxTrialsCallback(tune.n_trials, states=done)],
        catch=(StemganError, ValueError, FloatingPointError, ArithmeticError),
    )
    return study


def summarise(study, out_dir: Path, experiment: str) -> dict:
    """Best trial, importances and optimisation-history plot to out_dir and to the study's MLflow run."""
    import matplotlib

    matplotlib.use("Agg")
    import mlflow
    import optuna
    from optuna.trial import TrialState

    out_dir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    summary = {"study": study.study_name, "trials": counts}
    if complete:
        best = study.best_trial
        summary.update(
            best_value=best.value,
            best_params=best.params,
            best_trial=best.number,
            best_mlflow_run_id=best.user_attrs.get("mlflow_run_id"),
        )
        if len(complete) >= 2:
            summary["importance"] = optuna.importance.get_param_importances(study)
        figure = optuna.visualization.matplotlib.plot_optimization_history(study).figure
        figure.savefig(out_dir / "optimization_history.png", dpi=80, bbox_inches="tight")
    (out_dir / "study_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    with mlflow.start_run(run_id=study_parent_run(study.study_name, experiment)):
        mlflow.log_artifacts(str(out_dir), artifact_path="study")
        if complete:
            mlflow.log_metric("best_val_f1", summary["best_value"])
    return summary
