"""The best trial of an Optuna study, as a model to register (tracking.registry does the registering)."""

from __future__ import annotations

from stemgan.errors import StemganError


def best_of_study(storage_url: str, study_name: str) -> tuple[str, float, dict]:
    """(model URI, validation F1, tags) of the study's best completed trial."""
    import optuna

    try:
        study = optuna.load_study(study_name=study_name, storage=storage_url)
        best = study.best_trial
    except (KeyError, ValueError) as exc:
        raise StemganError(
            f"{storage_url}: study '{study_name}' has no completed trial ({exc}); run `stemgan tune`"
        ) from exc
    uri = best.user_attrs.get("model_uri")
    if not uri:
        raise StemganError(f"study '{study_name}' trial {best.number} logged no generator; re-run the study")
    tags = {
        "study": study_name,
        "trial": str(best.number),
        "mlflow_run_id": best.user_attrs.get("mlflow_run_id", ""),
        **{f"param.{k}": str(v) for k, v in best.params.items()},
    }
    return uri, float(best.value), tags
