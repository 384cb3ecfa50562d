"""Simulations -> experiment-like images with a trained sim->exp generator (the translate stage's work).

Labels are copied unchanged; whether they still hold is measured (atom-column shift, fraction found).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stemgan.config import NormalizeConfig, TranslateConfig
from stemgan.data.files import atomic_directory, claim_folder
from stemgan.data.ingest import list_images
from stemgan.data.labels_io import read_labels
from stemgan.data.normalize import normalize_image
from stemgan.data.tiff_io import read_tiff, write_tiff
from stemgan.errors import fail
from stemgan.evaluation.preservation import column_preservation
from stemgan.models.io import GENERATOR_FILE, is_mlflow_uri, load_generator
from stemgan.models.tiled_inference import predict_tiled, traced_predict
from stemgan.seeding import item_rng
from stemgan.training.fcn_sources import MATCHED_NOISE
from stemgan.training.input_noise import InputNoise


def generator_refs(ref: str, out_dir: Path) -> list[tuple[str, Path]]:
    """(generator reference, output folder) pairs: a training folder with seed_<k>/ gives one per seed."""
    path = Path(ref)
    seeds = sorted(path.glob("seed_*/" + GENERATOR_FILE)) if not is_mlflow_uri(ref) else []
    if seeds:
        claim_folder(out_dir)
        return [(str(p.parent), Path(out_dir) / p.parent.name) for p in seeds]
    return [(ref, Path(out_dir))]


def translate_image(
    generator,
    image: np.ndarray,
    cfg: TranslateConfig,
    noise: InputNoise,
    rng: np.random.Generator,
    scan_preserving: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Add the training-time input noise to a normalised image, translate tile-wise: (G(input), input).

    The noise is drawn for the whole image, so a smooth field stays continuous across tiles."""
    tile = int(generator.input_shape[1])
    x = noise.draw(image, rng) if noise.adds_noise else image
    predict = lambda tiles: traced_predict(generator, tiles, cfg.batch_size)  # noqa: E731
    return predict_tiled(predict, x, tile, cfg.stride_px, cfg.tta, scan_preserving)[..., 0], x


def run_translate(
    generator_ref: str,
    sim_dir: Path,
    out_dir: Path,
    cfg: TranslateConfig,
    normalize: NormalizeConfig,
    noise: InputNoise,
    pixel_size_A: float,
    scan_preserving: bool = False,
) -> dict:
    """Write out_dir/images/*.tif (float32, [-1, 1]) + labels/*.csv (unchanged) + label_preservation.json, and
    the generator's inputs (simulation + input noise) as out_dir/matched_noise/{images,labels}."""
    paths = list_images(Path(sim_dir) / "images")  # input errors before the model load
    generator = load_generator(generator_ref)
    simulated, noisy_inputs, generated, tables = [], [], [], []
    with atomic_directory(out_dir) as tmp:
        for path in tqdm(paths, desc=f"translate -> {out_dir}", unit="img"):
            image, pixel, _ = read_tiff(path)
            if pixel and abs(pixel - pixel_size_A) > 1e-4:
                raise fail(
                    path,
                    f"pixel size {pixel} Å differs from the working {pixel_size_A} Å",
                    "simulate at ingest.working_pixel_size_A",
                )
            label_file = Path(sim_dir) / "labels" / f"{path.stem}.csv"
            tables.append(read_labels(label_file))
            simulated.append(normalize_image(image, normalize))
            out, noisy_input = translate_image(
                generator, simulated[-1], cfg, noise, item_rng(cfg.seed, path.stem), scan_preserving
            )
            write_tiff(tmp / "images" / path.name, out, pixel_size_A, {"source": path.name, "generator": generator_ref})
            # the generator's input beside its output: the matched-noise training source (same noise, no G)
            write_tiff(tmp / MATCHED_NOISE / "images" / path.name, noisy_input, pixel_size_A, {"source": path.name})
            for labels in (tmp / "labels", tmp / MATCHED_NOISE / "labels"):
                labels.mkdir(exist_ok=True)
                shutil.copyfile(label_file, labels / label_file.name)
            noisy_inputs.append(noisy_input)
            generated.append(out)
        report = {
            "n_images": len(paths),
            "noise_white_sigma": noise.white_std / 2,
            "noise_field_sigma": noise.field_std / 2,  # [0, 1]-range units
            **column_preservation(
                simulated, tables, pixel_size_A, cfg.column_min_separation_A, cfg.match_radius_A
            ).as_dict("sim_"),
            # the generator's own input (sim + noise): the column finder's floor on images this noisy
            **column_preservation(
                noisy_inputs, tables, pixel_size_A, cfg.column_min_separation_A, cfg.match_radius_A
            ).as_dict("input_"),
            **column_preservation(
                generated, tables, pixel_size_A, cfg.column_min_separation_A, cfg.match_radius_A
            ).as_dict("generated_"),
        }
        (tmp / "label_preservation.json").write_text(json.dumps(report, indent=2))
    return report
