"""`train_cyclegan@<set>` (and `_ablation@<name>`): the sim->exp cycleGANs of one experimental set, MLflow-tracked."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from stemgan.config import ABLATIONS
from stemgan.stages.arguments import in_force, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "train-cyclegan",
        help="train the sim->exp cycleGAN for one experimental set (MLflow-tracked)",
        description="Train two U-net generators against real-space and Fourier-amplitude PatchGANs "
        "(params section cyclegan). Checkpoints every epoch; rerunning the same command "
        "after a kill resumes from the last epoch into the same MLflow run, and rerunning a "
        "finished, unchanged training does nothing.",
    )
    p.add_argument("--sim-tiles", type=Path, action="append", required=True, help="simulated tile folder (repeatable)")
    p.add_argument(
        "--exp-tiles",
        type=Path,
        action="append",
        required=True,
        help="experimental tile folder (repeatable: pooled sets such as day A + day B)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder: seed_<k>/ with generators, history.csv, metrics.json, samples.png",
    )
    p.add_argument("--name", required=True, help="run name, e.g. wse2-day_a")
    p.add_argument("--checkpoint-dir", type=Path, help="resumable state (default: checkpoints/<name>)")
    p.add_argument("--epochs", type=int, help=f"training epochs ({in_force('cyclegan.epochs')})")
    p.add_argument(
        "--set",
        dest="set_name",
        help="the params.yaml set trained for: its cyclegan_seeds (else table1.n_seeds) seeds, unless --seeds",
    )
    p.add_argument(
        "--seeds", type=int, help="train this many cycleGANs (seeds cyclegan.seed + k), into OUT/seed_<k> (default 1)"
    )
    p.add_argument(
        "--ablation",
        choices=sorted(ABLATIONS),
        help="a Table 1 ablation: " + "; ".join(f"{name} ({what})" for name, what in ABLATIONS.items()),
    )
    p.add_argument("--metrics", type=Path, help="also write the final metrics JSON here (DVC metrics)")
    params_arg(p)
    output_folder(p, "sim_tiles", "exp_tiles")
    p.set_defaults(handler=run)


def run(args) -> None:
    import dataclasses
    import json

    from stemgan.config import load_params
    from stemgan.data.files import atomic_write, claim_folder
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id

    params = load_params(args.params)
    cfg = params.cyclegan
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    if args.ablation == "nofft":
        cfg = dataclasses.replace(cfg, fft_discriminators=False)
    if args.ablation == "paper":
        cfg = dataclasses.replace(
            cfg,
            generator=dataclasses.replace(cfg.generator, residual=False),
            sim_noise_sigma=0.1,
            sim_noise_field=dataclasses.replace(cfg.sim_noise_field, sigma=0.0),
        )
    n_seeds = (
        args.seeds if args.seeds is not None else 1 if args.set_name is None else params.cyclegan_seeds(args.set_name)
    )
    if n_seeds < 1:
        from stemgan.errors import StemganError

        raise StemganError(f"train-cyclegan: --seeds {n_seeds}: give at least 1")
    checkpoints = args.checkpoint_dir or Path("checkpoints") / args.name
    claim_folder(args.out)
    with unit_workers(worker_count(params.compute.workers, n_seeds), TENSORFLOW_UNITS) as run_units:
        experiment_id(cfg.experiment)  # the store and experiment made here, not by two workers at once
        unit = functools.partial(
            _train_seed,
            cfg=cfg,
            sim_tiles=args.sim_tiles,
            exp_tiles=args.exp_tiles,
            out=args.out,
            checkpoints=checkpoints,
            name=args.name,
            pixel_size_A=params.ingest.working_pixel_size_A,
        )
        # seeds differ only in cyclegan.seed + k (the GAN spread of Table 1); they train side by side
        results = run_units(unit, range(n_seeds))
    summary = {f"seed_{k}": {"mlflow_run_id": result.run_id, **result.final} for k, result in enumerate(results)}
    if args.metrics:
        atomic_write(args.metrics, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


def _train_seed(k: int, *, cfg, sim_tiles, exp_tiles, out: Path, checkpoints: Path, name: str, pixel_size_A: float):
    """Seed k's cycleGAN into out/seed_<k> (a stemgan.parallel unit): trained, resumed, or found already trained."""
    import dataclasses

    from stemgan.training.cyclegan_train import train_cyclegan

    start = time.perf_counter()
    result = train_cyclegan(
        dataclasses.replace(cfg, seed=cfg.seed + k),
        sim_tiles,
        exp_tiles,
        out / f"seed_{k}",
        checkpoints / f"seed_{k}",
        f"{name}-seed{k}",
        pixel_size_A,
    )
    if result.reused:
        print(
            f"train-cyclegan: {name} seed {k}: already trained with these settings and data; nothing to do "
            f"-> {out / f'seed_{k}'} (MLflow run {result.run_id})"
        )
        return result
    noise = result.input_noise
    print(
        f"train-cyclegan: {name} seed {k}: {result.epochs_done} epochs, cycle "
        f"{result.final.get('cycle', float('nan')):.3f}, spectrum distance "
        f"{result.final.get('spectrum_distance', float('nan')):.3f}, input noise sigma "
        f"{noise.white_std / 2:.3g} white + {noise.field_std / 2:.3g} field -> {out / f'seed_{k}'} "
        f"(MLflow run {result.run_id}, {time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    return result
