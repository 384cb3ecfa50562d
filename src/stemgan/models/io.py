"""Trained models in: a .keras file, a training output folder, or an MLflow model URI, with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stemgan.errors import StemganError, fail

GENERATOR_FILE = "generator_sim2exp.keras"


def is_mlflow_uri(ref: str) -> bool:
    return str(ref).startswith(("models:/", "runs:/"))


@dataclass(frozen=True)
class ModelKind:
    """What a model file is, and the command that makes one (for the one-line errors)."""

    name: str
    made_by: str


GENERATOR_MODEL = ModelKind("generator", "stemgan train-cyclegan (or dvc repro)")
FCN_MODEL = ModelKind(
    "FCN", "stemgan train-fcn, e.g. artifacts/fcn/wse2_day_a/translated/cyclegan/fcn_seed_0.keras (or dvc repro)"
)


def load_generator(ref: str):
    """A Keras generator from a .keras file, a training output folder, or an MLflow URI
    (`models:/<name>@champion`, `models:/<name>/<version>`, `runs:/<id>/generator_sim2exp`)."""
    path = Path(ref)
    if not is_mlflow_uri(ref) and path.is_dir():
        ref = str(path / GENERATOR_FILE)
    return load_keras_model(ref, GENERATOR_MODEL)


def load_keras_model(ref: str, kind: ModelKind = GENERATOR_MODEL):
    """A Keras model from a .keras file or an MLflow model URI, with one-line errors."""
    import keras

    import stemgan.models.blocks  # noqa: F401  (registers custom layers for deserialisation)
    import stemgan.models.fcn  # noqa: F401
    import stemgan.models.fourier  # noqa: F401

    if is_mlflow_uri(ref):
        import mlflow.tensorflow

        from stemgan.tracking.mlflow_runs import setup_tracking

        setup_tracking()
        try:
            return mlflow.tensorflow.load_model(ref, keras_model_kwargs={"compile": False})  # inference only
        except Exception as exc:  # MLflow raises several types for unknown names/aliases
            raise StemganError(
                f"{ref}: cannot load the model ({str(exc).splitlines()[0]}); "
                "check the model name/alias in the MLflow UI"
            ) from exc
    path = Path(ref)
    if not path.is_file():
        raise fail(path, f"{kind.name} model not found", f"train one with {kind.made_by}")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # a truncated or foreign file fails in zipfile, h5py or Keras, each its own way
        raise fail(
            path,
            f"is not a readable Keras {kind.name} model ({type(exc).__name__})",
            f"give a .keras file saved by stemgan, or make one with {kind.made_by}",
        ) from exc
