"""The `realism` stage: how experimental do G(sim), pristine and Gaussian-noise simulations look?"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stemgan.config import IngestConfig, NormalizeConfig
from stemgan.data.ingest import list_images, load_working_image
from stemgan.data.normalize import normalize_image
from stemgan.data.tiles import cut_tiles
from stemgan.evaluation.realism import (classifier_two_sample_test, histogram_and_spectra, kernel_inception_distance,
                                        pooled_features)

TILE_PX = 64  # tiles for the feature-based metrics (KID, C2ST)


def load_set(folder: Path, normalize: NormalizeConfig, ingest: IngestConfig, limit: int) -> np.ndarray:
    """(n, H, W) normalised images of a folder (the first `limit`), at the working pixel size."""
    images = [normalize_image(load_working_image(p, ingest).image, normalize) for p in list_images(folder)[:limit]]
    size = min(min(i.shape) for i in images)
    return np.stack([i[:size, :size] for i in images])


def tiles_of(images: np.ndarray, max_tiles: int, seed: int) -> np.ndarray:
    tiles = np.concatenate([cut_tiles(i, TILE_PX, TILE_PX)[0] for i in images])
    return tiles[np.random.default_rng(seed).permutation(len(tiles))[:max_tiles]]


def realism_report(sources: dict[str, np.ndarray], experimental: np.ndarray, pixel_size_A: float, feature_model,
                   seed: int, max_tiles: int = 256) -> dict[str, dict[str, float]]:
    """Metrics of each source against the experimental images (all normalised the same way)."""
    exp_tiles = tiles_of(experimental, max_tiles, seed)
    exp_features = pooled_features(feature_model, exp_tiles[..., None]) if feature_model is not None else None
    report = {}
    for name, images in sources.items():
        metrics = histogram_and_spectra(images, experimental, pixel_size_A)
        tiles = tiles_of(images, max_tiles, seed + 1)
        if exp_features is not None:
            metrics["kid"] = kernel_inception_distance(pooled_features(feature_model, tiles[..., None]), exp_features)
        c2st = classifier_two_sample_test(tiles, exp_tiles, seed=seed, epochs=5)
        metrics.update(c2st_auc=c2st.auc, c2st_auc_low=c2st.auc_low, c2st_auc_high=c2st.auc_high)
        report[name] = metrics
    return report


def run_realism(generated_dir: Path, sim_dir: Path, exp_dirs: list[Path], feature_model_path: Path | None,
                normalize: NormalizeConfig, ingest: IngestConfig, noise_std: float, seed: int, limit: int = 24) -> dict:
    """Sources: generated (seed_0 of a translate output), pristine and Gaussian-noise simulations."""
    from stemgan.models.translate import FCN_MODEL, load_keras_model

    generated_dir = generated_dir / "seed_0" if (generated_dir / "seed_0").is_dir() else generated_dir
    experimental = np.concatenate([load_set(d, normalize, ingest, limit // len(exp_dirs)) for d in exp_dirs])
    pristine = load_set(sim_dir / "images", normalize, ingest, limit)
    noisy = np.clip(pristine + noise_std * np.random.default_rng(seed).standard_normal(pristine.shape), -1, 1)
    sources = {"generated": load_set(generated_dir / "images", normalize, ingest, limit), "pristine": pristine,
               "gaussian": noisy.astype(np.float32)}
    model = load_keras_model(str(feature_model_path), FCN_MODEL) if feature_model_path else None
    report = realism_report(sources, experimental, ingest.working_pixel_size_A, model, seed)
    preservation = generated_dir / "label_preservation.json"
    if preservation.is_file():
        report["generated"].update({k: v for k, v in json.loads(preservation.read_text()).items()
                                    if k.startswith(("generated_", "input_"))})
    return report
