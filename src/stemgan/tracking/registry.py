"""The MLflow model registry: a model registered as a new version; alias `champion` moves only on a better
validation F1. Generators (tune) and defect finders (Table 1) follow the same rule."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def promote(
    model_uri: str,
    name: str,
    val_f1: float,
    tags: dict[str, str],
    description: str = "sim -> exp generator (stemgan cycleGAN)",
) -> Promotion:
    import mlflow
    from mlflow.exceptions import MlflowException

    from stemgan.tracking.mlflow_runs import setup_tracking

    setup_tracking()
    client = mlflow.MlflowClient()
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description)
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


def data_hash() -> str:
    """DVC's hash of data/ (data.dvc), the registered model's data fingerprint."""
    import yaml

    path = Path("data.dvc")
    return str(yaml.safe_load(path.read_text())["outs"][0].get("md5", "")) if path.is_file() else ""


def version_tags(model_uri: str) -> dict[str, str]:
    """The tags of a registered version (models:/NAME@ALIAS or models:/NAME/VERSION); {} for other URIs."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from stemgan.tracking.mlflow_runs import setup_tracking, unreachable_message

    if not model_uri.startswith("models:/"):
        return {}
    setup_tracking()
    client = mlflow.MlflowClient()
    name, _, ref = model_uri.removeprefix("models:/").partition("@")
    try:
        if ref:
            return dict(client.get_model_version_by_alias(name, ref).tags)
        name, _, version = name.partition("/")
        return dict(client.get_model_version(name, version).tags)
    except MlflowException as exc:
        down = unreachable_message(exc)
        raise StemganError(
            f"{model_uri}: {down}" if down else f"{model_uri}: not in the model registry ({str(exc).splitlines()[0]})"
        ) from exc
