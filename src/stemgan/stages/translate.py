"""`translate@<set>`: simulations made experiment-like by the set's generator(s); labels unchanged, their
preservation measured."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from stemgan.stages.arguments import output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "translate",
        help="make simulations experiment-like with a trained generator; labels unchanged",
        description="Apply the sim->exp generator to whole simulated images (overlapping tiles, "
        "smooth blending, optional 8-fold averaging; params section translate) and "
        "measure label preservation (atom-column shift in pm, fraction found).",
    )
    p.add_argument(
        "--generator",
        required=True,
        help="a .keras file, a train-cyclegan output folder (every seed_<k> is translated into "
        "OUT/seed_<k>), or models:/<name>@champion",
    )
    p.add_argument("--sim", type=Path, required=True, help="simulate output folder (images/, labels/)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, label_preservation.json)")
    params_arg(p)
    output_folder(p, "generator", "sim")
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.training.translation import generator_refs

    params = load_params(args.params)
    refs = generator_refs(args.generator, args.out)
    # every seed's generator translates side by side in compute.workers processes
    with unit_workers(worker_count(params.compute.workers, len(refs)), TENSORFLOW_UNITS) as run_units:
        experiment_id(params.translate.experiment)  # made here, not by two workers at once
        run_units(functools.partial(_translate, sim=args.sim, params=params), refs)


def _translate(ref_out: tuple[str, Path], *, sim: Path, params) -> None:
    """One generator over the whole simulations, into its output folder, with its MLflow run (a stemgan.parallel
    unit)."""
    from stemgan.tracking.mlflow_runs import log_metrics, setup_tracking, start_or_resume
    from stemgan.training.input_noise import generator_input_noise
    from stemgan.training.translation import run_translate

    ref, out = ref_out
    cfg, pixel = params.translate, params.ingest.working_pixel_size_A
    setup_tracking()
    start = time.perf_counter()
    noise = generator_input_noise(ref, params.cyclegan, pixel)
    report = run_translate(
        ref,
        sim,
        out,
        cfg,
        params.tile.normalize,
        noise,
        pixel,
        scan_preserving=params.cyclegan.augment == "scan_preserving",
    )
    run_, _ = start_or_resume(
        cfg.experiment,
        f"translate {out}",
        None,
        tags={"stage": "translate", "generator": ref, "sim": str(sim)},
    )
    with run_:
        log_metrics(report, step=0)
    print(
        f"translate: {report['n_images']} images -> {out}; atom columns shift "
        f"{report['generated_mean_shift_pm']:.1f} pm mean / {report['generated_p95_shift_pm']:.1f} pm p95, "
        f"{100 * report['generated_fraction_found']:.1f}% found (pristine sims: "
        f"{100 * report['sim_fraction_found']:.1f}%; the noisy input: {report['input_mean_shift_pm']:.1f} pm, "
        f"{100 * report['input_fraction_found']:.1f}%); input noise sigma {noise.white_std / 2:.3g} white + "
        f"{noise.field_std / 2:.3g} smooth field ({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
