"""Register a generator in the MLflow model registry; alias `champion` moves only on a better F1."""

from __future__ import annotations

from dataclasses import dataclass

from stemgan.errors import StemganError

CHAMPION = "champion"


@dataclass
class Promotion:
    name: str
    version: str
    val_f1: float
    promoted: bool
    champion_version: str
    champion_f1: float

    def message(self) -> str:
        if self.promoted:
            return (
                f"promote: {self.name} v{self.version} (val F1 {self.val_f1:.3f}) is now @{CHAMPION}"
                f" (was {self.champion_f1:.3f})"
            )
        return (
            f"promote: {self.name} v{self.version} registered (val F1 {self.val_f1:.3f}); @{CHAMPION} stays "
            f"v{self.champion_version} (val F1 {self.champion_f1:.3f} is not beaten)"
        )


def promote(model_uri: str, name: str, val_f1: float, tags: dict[str, str]) -> Promotion:
    import mlflow
    from mlflow.exceptions import MlflowException

    from stemgan.tracking.mlflow_runs import setup_tracking

    setup_tracking()
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="sim -> exp generator (stemgan cycleGAN)")
    try:
        version = mlflow.register_model(model_uri, name, tags={**tags, "val_f1": str(val_f1)})
    except MlflowException as exc:
        raise StemganError(
            f"{model_uri}: cannot register the model ({str(exc).splitlines()[0]}); "
            "check that the run logged a generator"
        ) from exc
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
        champion_f1, champion_version = float(champion.tags.get("val_f1", "-inf")), champion.version
    except MlflowException:
        champion_f1, champion_version = float("-inf"), "none"
    promoted = val_f1 > champion_f1
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version.version)
    return Promotion(name, str(version.version), val_f1, promoted, str(champion_version), champion_f1)


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
