"""Subcommands: each registers its arguments and a handler that calls one stage function."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

PARAMS_HELP = "settings file (default: params.yaml)"


def _params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help=PARAMS_HELP)


def register_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="labelled ADF-STEM simulations of one material (incoherent linear model)",
                       description="Simulate labelled ADF-STEM images (TIFF with pixel size in Å + label CSV "
                                   "per image) using params sections materials.<name>, optics and simulate.")
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, manifest.csv)")
    p.add_argument("--n-images", type=int, help="override simulate.n_images")
    _params_arg(p)
    p.set_defaults(handler=_simulate)


def _simulate(args) -> None:
    import dataclasses

    from stemgan.config import load_material, load_section, read_params
    from stemgan.simulation.simulate import run_simulate

    params = read_params(args.params)
    cfg = load_section("simulate", args.params, params)
    if args.n_images is not None:
        cfg = dataclasses.replace(cfg, n_images=args.n_images)
    start = time.perf_counter()
    manifest = run_simulate(args.material, load_material(args.material, args.params, params),
                            load_section("optics", args.params, params), cfg, args.out)
    print(f"simulate: {len(manifest)} {args.material} images of {cfg.image_size_px} px at {cfg.pixel_size_A} Å/px, "
          f"{int(manifest.n_defects.sum())} defects -> {args.out} ({time.perf_counter() - start:.1f} s)")


def register_acquire(sub) -> None:
    p = sub.add_parser("acquire", help="the virtual microscope: write the demo experimental sets (data/)",
                       description="Degrade fresh simulations like a real acquisition (dose, drift, jitter, "
                                   "contamination, probe changes, detector) per session preset (acquire section).")
    p.add_argument("--out", type=Path, default=Path("data"), help="output folder (default: data)")
    p.add_argument("--force", action="store_true", help="replace an existing, non-empty output folder")
    _params_arg(p)
    p.set_defaults(handler=_acquire)


def _acquire(args) -> None:
    from stemgan.config import load_material, load_section, read_params
    from stemgan.microscope.acquire import run_acquire

    params = read_params(args.params)
    cfg = load_section("acquire", args.params, params)
    materials = {s.material: load_material(s.material, args.params, params) for s in cfg.sets.values()}
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    start = time.perf_counter()
    logs = run_acquire(cfg, materials, load_section("optics", args.params, params), pixel, args.out, args.force)
    n = sum(len(log) for log in logs.values())
    print(f"acquire: {n} images in {len(logs)} sets ({', '.join(logs)}) -> {args.out} "
          f"({time.perf_counter() - start:.1f} s)")


def register_tile(sub) -> None:
    p = sub.add_parser("tile", help="normalise images and cut tiles into .npy shards",
                       description="Resample to ingest.working_pixel_size_A, normalise each image (tile.normalize), "
                                   "cut tile_size_px tiles every stride_px; several --images folders are pooled.")
    p.add_argument("--images", type=Path, action="append", required=True, help="image folder (repeatable)")
    p.add_argument("--out", type=Path, required=True, help="output folder for tiles-*.npy and index.csv")
    _params_arg(p)
    p.set_defaults(handler=_tile)


def _tile(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.data.tile_stage import run_tile

    params = read_params(args.params)
    cfg = load_section("tile", args.params, params)
    start = time.perf_counter()
    index = run_tile(args.images, args.out, cfg, load_section("ingest", args.params, params))
    print(f"tile: {len(index)} tiles of {cfg.tile_size_px} px from {index.image.nunique()} images -> {args.out} "
          f"({time.perf_counter() - start:.1f} s)")


def register_train_cyclegan(sub) -> None:
    p = sub.add_parser("train-cyclegan", help="train the sim->exp cycleGAN for one experimental set (MLflow-tracked)",
                       description="Train two U-net generators against real-space and Fourier-amplitude PatchGANs "
                                   "(params section cyclegan). Checkpoints every epoch; rerunning the same command "
                                   "after a kill resumes from the last epoch into the same MLflow run.")
    p.add_argument("--sim-tiles", type=Path, action="append", required=True, help="simulated tile folder (repeatable)")
    p.add_argument("--exp-tiles", type=Path, action="append", required=True,
                   help="experimental tile folder (repeatable: pooled sets such as day A + day B)")
    p.add_argument("--out", type=Path, required=True, help="output folder (generators, history.csv, metrics.json)")
    p.add_argument("--name", required=True, help="run name, e.g. wse2-day_a")
    p.add_argument("--checkpoint-dir", type=Path, help="resumable state (default: checkpoints/<name>)")
    p.add_argument("--epochs", type=int, help="override cyclegan.epochs")
    p.add_argument("--metrics", type=Path, help="also write the final metrics JSON here (DVC metrics)")
    _params_arg(p)
    p.set_defaults(handler=_train_cyclegan)


def _train_cyclegan(args) -> None:
    import dataclasses

    from stemgan.config import load_section, read_params
    from stemgan.training.cyclegan_train import train_cyclegan

    params = read_params(args.params)
    cfg = load_section("cyclegan", args.params, params)
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    start = time.perf_counter()
    result = train_cyclegan(cfg, args.sim_tiles, args.exp_tiles, args.out,
                            args.checkpoint_dir or Path("checkpoints") / args.name, args.name, pixel)
    if args.metrics:
        from stemgan.data.files import atomic_write

        atomic_write(args.metrics, lambda tmp: tmp.write_text((args.out / "metrics.json").read_text()))
    print(f"train-cyclegan: {args.name} {result.epochs_done} epochs, cycle {result.final.get('cycle', float('nan')):.3f}, "
          f"spectrum distance {result.final.get('spectrum_distance', float('nan')):.3f} -> {args.out} "
          f"(MLflow run {result.run_id}, {time.perf_counter() - start:.0f} s)")


def register_translate(sub) -> None:
    p = sub.add_parser("translate", help="make simulations experiment-like with a trained generator; labels unchanged",
                       description="Apply the sim->exp generator to whole simulated images (overlapping tiles, "
                                   "smooth blending, optional 8-fold averaging; params section translate) and "
                                   "measure label preservation (atom-column shift in pm, fraction found).")
    p.add_argument("--generator", required=True,
                   help="a .keras file, a train-cyclegan output folder, or models:/<name>@champion")
    p.add_argument("--sim", type=Path, required=True, help="simulate output folder (images/, labels/)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, label_preservation.json)")
    _params_arg(p)
    p.set_defaults(handler=_translate)


def _translate(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.models.translate import run_translate
    from stemgan.tracking.mlflow_runs import log_metrics, start_or_resume

    params = read_params(args.params)
    cfg = load_section("translate", args.params, params)
    sigma = load_section("cyclegan", args.params, params).sim_noise_sigma
    start = time.perf_counter()
    report = run_translate(args.generator, args.sim, args.out, cfg, load_section("tile", args.params, params).normalize,
                           sigma, load_section("ingest", args.params, params).working_pixel_size_A)
    run, _ = start_or_resume(cfg.experiment, f"translate {args.out.name}", None,
                             tags={"stage": "translate", "generator": args.generator, "sim": str(args.sim)})
    with run:
        log_metrics(report, step=0)
    print(f"translate: {report['n_images']} images -> {args.out}; atom columns shift "
          f"{report['generated_mean_shift_pm']:.1f} pm mean / {report['generated_p95_shift_pm']:.1f} pm p95, "
          f"{100 * report['generated_fraction_found']:.1f}% found (pristine sims: "
          f"{100 * report['sim_fraction_found']:.1f}%) ({time.perf_counter() - start:.0f} s)")


def register_profile_args(sub) -> None:
    p = sub.add_parser("profile-args", help="print `-S key=value` options of a profile for `dvc exp run`",
                       description="e.g. dvc exp run $(stemgan profile-args profiles/paper.yaml)")
    p.add_argument("profile", type=Path)
    _params_arg(p)
    p.set_defaults(handler=_profile_args)


def _profile_args(args) -> None:
    from stemgan.cli.profiles import profile_args
    from stemgan.config import read_params

    print(profile_args(args.profile, read_params(args.params)))


REGISTRY = [register_profile_args, register_simulate, register_acquire, register_tile, register_train_cyclegan, register_translate]
