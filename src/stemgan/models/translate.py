"""The `translate` stage: simulations -> experiment-like images with the sim->exp generator.

Labels are copied unchanged; whether they still hold is measured (atom-column shift, fraction found).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stemgan.config import CycleGANConfig, NormalizeConfig, TranslateConfig
from stemgan.data.files import atomic_directory, claim_folder
from stemgan.data.ingest import list_images
from stemgan.data.labels_io import read_labels
from stemgan.data.normalize import normalize_image
from stemgan.data.tiff_io import read_tiff, write_tiff
from stemgan.errors import StemganError, fail
from stemgan.evaluation.preservation import column_preservation
from stemgan.models.tiled_inference import predict_tiled
from stemgan.seeding import item_rng
from stemgan.training.input_noise import InputNoise

GENERATOR_FILE = "generator_sim2exp.keras"


@dataclass(frozen=True)
class ModelKind:
    """What a model file is, and the command that makes one (for the one-line errors)."""

    name: str
    made_by: str


GENERATOR_MODEL = ModelKind("generator", "stemgan train-cyclegan (or dvc repro)")
FCN_MODEL = ModelKind("FCN", "stemgan train-fcn, e.g. artifacts/fcn/<source>/fcn_seed_0.keras (or dvc repro)")


def load_generator(ref: str):
    """A Keras generator from a .keras file, a training output folder, or an MLflow URI
    (`models:/<name>@champion`, `models:/<name>/<version>`, `runs:/<id>/generator_sim2exp`)."""
    path = Path(ref)
    if not _is_mlflow_uri(ref) and path.is_dir():
        ref = str(path / GENERATOR_FILE)
    return load_keras_model(ref, GENERATOR_MODEL)


def load_keras_model(ref: str, kind: ModelKind = GENERATOR_MODEL):
    """A Keras model from a .keras file or an MLflow model URI, with one-line errors."""
    import keras

    import stemgan.models.fourier  # noqa: F401  (registers custom layers for deserialisation)

    if _is_mlflow_uri(ref):
        import mlflow.tensorflow

        from stemgan.tracking.mlflow_runs import setup_tracking

        setup_tracking()
        try:
            return mlflow.tensorflow.load_model(ref)
        except Exception as exc:  # MLflow raises several types for unknown names/aliases
            raise StemganError(f"{ref}: cannot load the model ({str(exc).splitlines()[0]}); "
                               "check the model name/alias in the MLflow UI") from exc
    path = Path(ref)
    if not path.is_file():
        raise fail(path, f"{kind.name} model not found", f"train one with {kind.made_by}")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # a truncated or foreign file fails in zipfile, h5py or Keras, each its own way
        raise fail(path, f"is not a readable Keras {kind.name} model ({type(exc).__name__})",
                   f"give a .keras file saved by stemgan, or make one with {kind.made_by}") from exc


def generator_input_noise(ref: str, cyclegan: CycleGANConfig, pixel_size_A: float) -> InputNoise:
    """The input noise G was trained with (its amplitudes may have been estimated from the data):
    input_noise.json beside a generator folder or file, the training run's logged input_noise.*
    params for an MLflow URI, else params.yaml's cyclegan section (where that leaves an amplitude to
    be estimated: no field, and the paper's white 0.1)."""
    from stemgan.training.cyclegan_train import INPUT_NOISE_FILE

    if _is_mlflow_uri(ref):
        logged = _logged_input_noise(ref)
        if logged is not None:
            return logged
    else:
        path = Path(ref)
        for candidate in (path / INPUT_NOISE_FILE, path.parent / INPUT_NOISE_FILE):
            if candidate.is_file():
                return InputNoise.load(candidate)
    return InputNoise.from_config(cyclegan, pixel_size_A)


def _is_mlflow_uri(ref: str) -> bool:
    return ref.startswith(("models:/", "runs:/"))


def _logged_input_noise(ref: str) -> InputNoise | None:
    from mlflow import MlflowClient

    client = MlflowClient()
    target = ref.split(":/", 1)[1]
    try:
        if ref.startswith("runs:/"):
            run_id = target.split("/")[0]
        elif "@" in target:
            run_id = client.get_model_version_by_alias(*target.split("@", 1)).run_id
        else:
            run_id = client.get_model_version(*target.split("/", 1)).run_id
        params = client.get_run(run_id).data.params
    except Exception:  # an unknown model or run: load_generator says so in one line
        return None
    fields = [f.name for f in dataclasses.fields(InputNoise)]
    if not all(f"input_noise.{f}" in params for f in fields):
        return None
    return InputNoise(**{f: float(params[f"input_noise.{f}"]) for f in fields})


def generator_refs(ref: str, out_dir: Path) -> list[tuple[str, Path]]:
    """(generator reference, output folder) pairs: a training folder with seed_<k>/ gives one per seed."""
    path = Path(ref)
    seeds = sorted(path.glob("seed_*/" + GENERATOR_FILE)) if not _is_mlflow_uri(ref) else []
    if seeds:
        claim_folder(out_dir)
        return [(str(p.parent), Path(out_dir) / p.parent.name) for p in seeds]
    return [(ref, Path(out_dir))]


def translate_image(generator, image: np.ndarray, cfg: TranslateConfig, noise: InputNoise,
                    rng: np.random.Generator, scan_preserving: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Add the training-time input noise to a normalised image, translate tile-wise: (G(input), input).

    The noise is drawn for the whole image, so a smooth field stays continuous across tiles."""
    tile = int(generator.input_shape[1])
    x = noise.draw(image, rng) if noise.adds_noise else image
    predict = lambda tiles: generator.predict(tiles, batch_size=cfg.batch_size, verbose=0)  # noqa: E731
    return predict_tiled(predict, x, tile, cfg.stride_px, cfg.tta, scan_preserving)[..., 0], x


def run_translate(generator_ref: str, sim_dir: Path, out_dir: Path, cfg: TranslateConfig, normalize: NormalizeConfig,
                  noise: InputNoise, pixel_size_A: float, scan_preserving: bool = False) -> dict:
    """Write out_dir/images/*.tif (float32, [-1, 1]) + labels/*.csv (unchanged) + label_preservation.json."""
    paths = list_images(Path(sim_dir) / "images")  # input errors before the model load
    generator = load_generator(generator_ref)
    simulated, noisy_inputs, generated, tables = [], [], [], []
    with atomic_directory(out_dir) as tmp:
        for path in tqdm(paths, desc=f"translate -> {out_dir}", unit="img"):
            image, pixel, _ = read_tiff(path)
            if pixel and abs(pixel - pixel_size_A) > 1e-4:
                raise fail(path, f"pixel size {pixel} Å differs from the working {pixel_size_A} Å",
                           "simulate at ingest.working_pixel_size_A")
            label_file = Path(sim_dir) / "labels" / f"{path.stem}.csv"
            tables.append(read_labels(label_file))
            simulated.append(normalize_image(image, normalize))
            out, noisy_input = translate_image(generator, simulated[-1], cfg, noise,
                                               item_rng(cfg.seed, path.stem), scan_preserving)
            write_tiff(tmp / "images" / path.name, out, pixel_size_A, {"source": path.name, "generator": generator_ref})
            (tmp / "labels").mkdir(exist_ok=True)
            shutil.copyfile(label_file, tmp / "labels" / label_file.name)
            noisy_inputs.append(noisy_input)
            generated.append(out)
        report = {
            "n_images": len(paths),
            "noise_white_sigma": noise.white_std / 2, "noise_field_sigma": noise.field_std / 2,  # [0, 1]-range units
            **column_preservation(simulated, tables, pixel_size_A, cfg.column_min_separation_A,
                                  cfg.match_radius_A).as_dict("sim_"),
            # the generator's own input (sim + noise): the column finder's floor on images this noisy
            **column_preservation(noisy_inputs, tables, pixel_size_A, cfg.column_min_separation_A,
                                  cfg.match_radius_A).as_dict("input_"),
            **column_preservation(generated, tables, pixel_size_A, cfg.column_min_separation_A,
                                  cfg.match_radius_A).as_dict("generated_"),
        }
        (tmp / "label_preservation.json").write_text(json.dumps(report, indent=2))
    return report
