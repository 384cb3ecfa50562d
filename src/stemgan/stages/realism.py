"""`realism@<set>`: how experimental do G(sim), its own noisy input, pristine and Gaussian-noise simulations look?"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from stemgan.config import IngestConfig, NormalizeConfig
from stemgan.stages.arguments import image_folders, images_or_set_args, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "realism",
        help="realism metrics of G(sim), its input, pristine and noisy sims against experimental images",
        description="Spectrum distance, noise-floor and low-frequency power ratios, histogram W1, KID on "
        "the project's FCN features, classifier two-sample AUC, label preservation; written "
        "as JSON (DVC metrics) and logged to MLflow.",
    )
    p.add_argument("--generated", type=Path, required=True, help="translate output (seed_0/ is used)")
    p.add_argument("--sim", type=Path, required=True, help="simulate output")
    images_or_set_args(
        p, "experimental image folder, e.g. data/wse2/day_a/unlabelled (repeatable: pooled sets)", "--exp"
    )
    p.add_argument("--features", type=Path, help="a trained FCN (.keras) whose bottleneck features KID uses")
    p.add_argument("--out", type=Path, required=True, help="JSON output")
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.data.files import atomic_write
    from stemgan.tracking.mlflow_runs import log_metrics, start_or_resume

    params = load_params(args.params)
    exp_dirs = image_folders(args, params)
    report = run_realism(
        args.generated,
        args.sim,
        exp_dirs,
        args.features,
        params.tile.normalize,
        params.ingest,
        2.0 * params.fcn.gaussian_noise_sigma,
        params.fcn.seed,
    )
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(report, indent=2)))
    run_, _ = start_or_resume(
        "stemgan-realism",
        f"realism {args.out.stem}",
        None,
        tags={"stage": "realism", "generated": str(args.generated), "exp": ", ".join(map(str, exp_dirs))},
    )
    with run_:
        log_metrics({f"{source}.{k}": v for source, m in report.items() for k, v in m.items()}, step=0)
    g, p = report["generated"], report["pristine"]
    print(
        f"realism: {args.out.stem}: spectrum distance G(sim) {g['spectrum_distance']:.3f} vs pristine "
        f"{p['spectrum_distance']:.3f}; C2ST AUC G(sim) {g['c2st_auc']:.2f} vs pristine {p['c2st_auc']:.2f} "
        f"-> {args.out}"
    )


def run_realism(
    generated_dir: Path,
    sim_dir: Path,
    exp_dirs: list[Path],
    feature_model_path: Path | None,
    normalize: NormalizeConfig,
    ingest: IngestConfig,
    noise_std: float,
    seed: int,
    limit: int = 24,
) -> dict:
    """Sources: generated (seed_0 of a translate output), matched_noise (that seed's generator input: what G
    adds is the difference between the two), pristine and Gaussian-noise simulations."""
    from stemgan.data.image_set import load_set
    from stemgan.evaluation.realism import realism_report
    from stemgan.models.io import FCN_MODEL, load_keras_model
    from stemgan.training.fcn_sources import MATCHED_NOISE

    generated_dir = generated_dir / "seed_0" if (generated_dir / "seed_0").is_dir() else generated_dir
    experimental = np.concatenate([load_set(d, normalize, ingest, limit // len(exp_dirs)) for d in exp_dirs])
    pristine = load_set(sim_dir / "images", normalize, ingest, limit)
    noisy = np.clip(pristine + noise_std * np.random.default_rng(seed).standard_normal(pristine.shape), -1, 1)
    sources = {"generated": load_set(generated_dir / "images", normalize, ingest, limit)}
    if (generated_dir / MATCHED_NOISE / "images").is_dir():
        sources[MATCHED_NOISE] = load_set(generated_dir / MATCHED_NOISE / "images", normalize, ingest, limit)
    sources |= {
        "pristine": pristine,
        "gaussian": noisy.astype(np.float32),
    }
    model = load_keras_model(str(feature_model_path), FCN_MODEL) if feature_model_path else None
    report = realism_report(sources, experimental, ingest.working_pixel_size_A, model, seed)
    preservation = generated_dir / "label_preservation.json"
    if preservation.is_file():
        report["generated"].update(
            {k: v for k, v in json.loads(preservation.read_text()).items() if k.startswith(("generated_", "input_"))}
        )
    return report
