"""Subcommands: each registers its arguments and a handler that calls one stage function."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

PARAMS_HELP = "settings file"


def _params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help=PARAMS_HELP)


def _in_force(dotted: str) -> str:
    """'default: <key> = <value> in params.yaml': the value a command will use when the option is left out."""
    import yaml

    try:
        node = yaml.safe_load(Path("params.yaml").read_text())
        for key in dotted.split("."):
            node = node[key]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return f"default: {dotted} of params.yaml"
    return f"default: {dotted} = {node} in params.yaml"


def _output_folder(p: argparse.ArgumentParser, *inputs: str, folder: str = "out") -> None:
    """Declare the command's output folder and the arguments it reads; main() checks them before any work
    (stemgan replaces only folders it wrote; never an input, nor a folder that holds one)."""
    p.add_argument("--force", action="store_true",
                   help="replace the output folder even if it holds files that stemgan did not write")
    p.set_defaults(output_folder=folder, input_args=inputs)


def register_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="labelled ADF-STEM simulations of one material (incoherent linear model)",
                       description="Simulate labelled ADF-STEM images (TIFF with pixel size in Å + label CSV "
                                   "per image) using params sections materials.<name>, optics and simulate.")
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, manifest.csv)")
    p.add_argument("--n-images", type=int, help=f"number of images ({_in_force('simulate.n_images')})")
    _params_arg(p)
    _output_folder(p)
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
    _params_arg(p)
    _output_folder(p)
    p.set_defaults(handler=_acquire)


def _acquire(args) -> None:
    from stemgan.config import load_material, load_section, read_params
    from stemgan.microscope.acquire import run_acquire

    params = read_params(args.params)
    cfg = load_section("acquire", args.params, params)
    materials = {s.material: load_material(s.material, args.params, params) for s in cfg.sets.values()}
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    start = time.perf_counter()
    logs = run_acquire(cfg, materials, load_section("optics", args.params, params), pixel, args.out)
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
    _output_folder(p, "images")
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
    p.add_argument("--out", type=Path, required=True,
                   help="output folder: seed_<k>/ with generators, history.csv, metrics.json, samples.png")
    p.add_argument("--name", required=True, help="run name, e.g. wse2-day_a")
    p.add_argument("--checkpoint-dir", type=Path, help="resumable state (default: checkpoints/<name>)")
    p.add_argument("--epochs", type=int, help=f"training epochs ({_in_force('cyclegan.epochs')})")
    p.add_argument("--seeds", type=int, default=1, help="train this many cycleGANs (seeds cyclegan.seed + k), "
                   "into OUT/seed_<k> (default 1)")
    p.add_argument("--no-fft", action="store_true", help="without the Fourier-amplitude discriminators (ablation)")
    p.add_argument("--metrics", type=Path, help="also write the final metrics JSON here (DVC metrics)")
    _params_arg(p)
    _output_folder(p, "sim_tiles", "exp_tiles")
    p.set_defaults(handler=_train_cyclegan)


def _train_cyclegan(args) -> None:
    import dataclasses
    import json

    from stemgan.config import load_section, read_params
    from stemgan.data.files import atomic_write, claim_folder
    from stemgan.training.cyclegan_train import train_cyclegan

    params = read_params(args.params)
    cfg = load_section("cyclegan", args.params, params)
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=args.epochs)
    if args.no_fft:
        cfg = dataclasses.replace(cfg, fft_discriminators=False)
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    checkpoints = args.checkpoint_dir or Path("checkpoints") / args.name
    claim_folder(args.out)
    summary = {}
    for k in range(args.seeds):  # seeds differ only in cyclegan.seed + k: the GAN spread of Table 1
        start = time.perf_counter()
        result = train_cyclegan(dataclasses.replace(cfg, seed=cfg.seed + k), args.sim_tiles, args.exp_tiles,
                                args.out / f"seed_{k}", checkpoints / f"seed_{k}", f"{args.name}-seed{k}", pixel)
        summary[f"seed_{k}"] = {"mlflow_run_id": result.run_id, **result.final}
        if result.reused:
            print(f"train-cyclegan: {args.name} seed {k}: already trained with these settings and data; nothing to do "
                  f"-> {args.out / f'seed_{k}'} (MLflow run {result.run_id})")
            continue
        print(f"train-cyclegan: {args.name} seed {k}: {result.epochs_done} epochs, cycle "
              f"{result.final.get('cycle', float('nan')):.3f}, spectrum distance "
              f"{result.final.get('spectrum_distance', float('nan')):.3f}, input noise sigma "
              f"{result.input_noise.white_std / 2:.3g} white + {result.input_noise.field_std / 2:.3g} field "
              f"-> {args.out / f'seed_{k}'} "
              f"(MLflow run {result.run_id}, {time.perf_counter() - start:.0f} s)")
    if args.metrics:
        atomic_write(args.metrics, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))


def register_translate(sub) -> None:
    p = sub.add_parser("translate", help="make simulations experiment-like with a trained generator; labels unchanged",
                       description="Apply the sim->exp generator to whole simulated images (overlapping tiles, "
                                   "smooth blending, optional 8-fold averaging; params section translate) and "
                                   "measure label preservation (atom-column shift in pm, fraction found).")
    p.add_argument("--generator", required=True,
                   help="a .keras file, a train-cyclegan output folder (every seed_<k> is translated into "
                        "OUT/seed_<k>), or models:/<name>@champion")
    p.add_argument("--sim", type=Path, required=True, help="simulate output folder (images/, labels/)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, label_preservation.json)")
    _params_arg(p)
    _output_folder(p, "generator", "sim")
    p.set_defaults(handler=_translate)


def _translate(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.models.translate import generator_input_noise, generator_refs, run_translate
    from stemgan.tracking.mlflow_runs import log_metrics, setup_tracking, start_or_resume

    params = read_params(args.params)
    cfg = load_section("translate", args.params, params)
    cyclegan = load_section("cyclegan", args.params, params)
    normalize = load_section("tile", args.params, params).normalize
    pixel = load_section("ingest", args.params, params).working_pixel_size_A
    setup_tracking()
    for ref, out in generator_refs(args.generator, args.out):
        start = time.perf_counter()
        noise = generator_input_noise(ref, cyclegan, pixel)
        report = run_translate(ref, args.sim, out, cfg, normalize, noise, pixel,
                               scan_preserving=cyclegan.augment == "scan_preserving")
        run, _ = start_or_resume(cfg.experiment, f"translate {out}", None,
                                 tags={"stage": "translate", "generator": ref, "sim": str(args.sim)})
        with run:
            log_metrics(report, step=0)
        print(f"translate: {report['n_images']} images -> {out}; atom columns shift "
              f"{report['generated_mean_shift_pm']:.1f} pm mean / {report['generated_p95_shift_pm']:.1f} pm p95, "
              f"{100 * report['generated_fraction_found']:.1f}% found (pristine sims: "
              f"{100 * report['sim_fraction_found']:.1f}%; the noisy input: {report['input_mean_shift_pm']:.1f} pm, "
              f"{100 * report['input_fraction_found']:.1f}%); input noise sigma {noise.white_std / 2:.3g} white + "
              f"{noise.field_std / 2:.3g} smooth field ({time.perf_counter() - start:.0f} s)")


def register_profile_args(sub) -> None:
    p = sub.add_parser("profile-args", help="print `-S key=value` options of a profile for `dvc exp run`",
                       description="Turn a profile (a file of dotted params.yaml keys and values, e.g. the paper's "
                                   "GPU sizes) into options for DVC, checked against params.yaml first: "
                                   "dvc exp run $(stemgan profile-args profiles/paper.yaml)")
    p.add_argument("profile", type=Path)
    _params_arg(p)
    p.set_defaults(handler=_profile_args)


def _profile_args(args) -> None:
    from stemgan.cli.profiles import profile_args
    from stemgan.config import read_params

    print(profile_args(args.profile, read_params(args.params)))


def register_train_fcn(sub) -> None:
    p = sub.add_parser("train-fcn", help="train table1.n_seeds defect-finding FCNs on one training source",
                       description="res-unet FCNs (params fcn) trained on labelled images with the simulation's "
                                   "labels: pristine (no_noise), + N(0, fcn.gaussian_noise_sigma) (gaussian, "
                                   "gaussian_minmax), or cycleGAN-generated (seed_<k>/ folders). Each seed is an "
                                   "MLflow run with its model.")
    p.add_argument("--source", required=True, help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft")
    p.add_argument("--train", type=Path, required=True,
                   help="labelled training images (images/, labels/; or seed_<k>/ subfolders for generated sets)")
    p.add_argument("--out", type=Path, required=True, help="output folder (fcn_seed_<k>.keras, fcn.json)")
    _params_arg(p)
    _output_folder(p, "train")
    p.set_defaults(handler=_train_fcn)


def _train_fcn(args) -> None:
    from stemgan.config import load_material, load_section, read_params
    from stemgan.training.fcn_stage import train_source

    params = read_params(args.params)
    table = load_section("table1", args.params, params)
    start = time.perf_counter()
    manifest = train_source(args.source, args.train, table.n_seeds, load_section("fcn", args.params, params),
                            load_section("tile", args.params, params).normalize,
                            load_section("ingest", args.params, params),
                            load_material(table.material, args.params, params).label_defects, args.out)
    print(f"train-fcn: {len(manifest['seeds'])} FCNs on {args.source} ({args.train}) -> {args.out} "
          f"({time.perf_counter() - start:.0f} s)")


def register_table1_cell(sub) -> None:
    p = sub.add_parser("table1-cell", help="one Table 1 cell: a source's FCNs scored on a set's test images",
                       description="Load the FCNs of `train-fcn`, pick the threshold on the set's val images, score "
                                   "on its test images (one-to-one matching within fcn.scoring.match_radius_A).")
    p.add_argument("--source", required=True, help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft")
    p.add_argument("--set", dest="set_name", required=True, help="a key of table1.sets, e.g. wse2_day_a")
    p.add_argument("--fcn", type=Path, required=True, help="train-fcn output folder, e.g. artifacts/fcn/no_noise")
    p.add_argument("--out", type=Path, required=True, help="cell folder (cell.json, pr_curve.csv, per_image.csv)")
    _params_arg(p)
    _output_folder(p, "fcn")
    p.set_defaults(handler=_table1_cell)


def _table1_cell(args) -> None:
    from stemgan.config import load_material, load_section, read_params
    from stemgan.evaluation.table1 import run_cell

    params = read_params(args.params)
    table = load_section("table1", args.params, params)
    classes = load_material(table.material, args.params, params).label_defects
    start = time.perf_counter()
    cell = run_cell(args.source, args.set_name, args.fcn, table, load_section("fcn", args.params, params),
                    load_section("tile", args.params, params).normalize, load_section("ingest", args.params, params),
                    classes, args.out)
    print(f"table1-cell: {args.source} x {args.set_name}: P {100 * cell['precision_mean']:.0f}% "
          f"R {100 * cell['recall_mean']:.0f}% F1 {100 * cell['f1_mean']:.0f} ± {100 * cell['f1_std']:.0f}% "
          f"over {cell['n_seeds']} seeds -> {args.out} ({time.perf_counter() - start:.0f} s)")


def register_table1(sub) -> None:
    p = sub.add_parser("table1", help="assemble Table 1 (report, DVC metrics and plots, MLflow parent run)",
                       description="Collect the table1-cell outputs into the paper's Table 1: a Markdown report beside "
                                   "the paper's numbers, DVC metrics (JSON) and PR-curve plots, and one MLflow parent "
                                   "run that adopts the cells' runs.")
    p.add_argument("--cells", type=Path, default=Path("artifacts/table1"))
    p.add_argument("--report", type=Path, default=Path("reports/table1.md"))
    p.add_argument("--metrics", type=Path, default=Path("metrics/table1.json"))
    p.add_argument("--plots", type=Path, default=Path("metrics/pr_curves"))
    _params_arg(p)
    p.set_defaults(handler=_table1)


def _table1(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.evaluation.table1_report import write_table1

    table = load_section("table1", args.params, read_params(args.params))
    cells = write_table1(args.cells, args.report, args.metrics, args.plots, list(table.sets), table.n_seeds,
                         table.experiment)
    print(f"table1: {len(cells)} cells -> {args.report}, {args.metrics}, {args.plots}/")
    print(args.report.read_text())


def register_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score an FCN on a folder of labelled images (TIFF/DM/EMD + label CSV)",
                       description="Defect coordinates from the FCN's stitched probabilities (params fcn.scoring), "
                                   "matched one-to-one to the labels within match_radius_A (Å), border_A excluded. "
                                   "Labels: LABELLED/labels/<image stem>.csv with x_px,y_px (or x_A,y_A) and a "
                                   "`defect` column (rows whose defect is in --classes are scored; without the "
                                   "column every row is a defect).")
    p.add_argument("--model", required=True, help="an FCN .keras file (e.g. artifacts/fcn/<source>/fcn_seed_0.keras) "
                                                  "or an MLflow model URI")
    p.add_argument("--labelled", type=Path, required=True, help="folder with images/ and labels/")
    p.add_argument("--out", type=Path, required=True, help="output folder (metrics.json, per_image.csv, pr_curve.csv)")
    p.add_argument("--threshold", type=float, help=f"probability threshold ({_in_force('fcn.scoring.threshold')})")
    p.add_argument("--classes", nargs="+", help="defect names to score (default: materials.<table1.material>."
                                               "label_defects; 'defect' for label files without a defect column)")
    p.add_argument("--minmax", action="store_true", help="the paper's min-max scaling (models trained with it)")
    _params_arg(p)
    _output_folder(p, "labelled", "model")
    p.set_defaults(handler=_evaluate)


def _evaluate(args) -> None:
    import dataclasses
    import json

    from stemgan.config import load_material, load_section, read_params
    from stemgan.data.files import atomic_directory
    from stemgan.evaluation.evaluate import defect_probability, evaluate
    from stemgan.models.translate import FCN_MODEL, load_keras_model
    from stemgan.training.fcn_train import load_labelled

    params = read_params(args.params)
    fcn, ingest = load_section("fcn", args.params, params), load_section("ingest", args.params, params)
    normalize = load_section("tile", args.params, params).normalize
    if args.minmax:
        normalize = dataclasses.replace(normalize, method="minmax")
    classes = tuple(args.classes) if args.classes else \
        load_material(load_section("table1", args.params, params).material, args.params, params).label_defects
    items = load_labelled(args.labelled, normalize, ingest, 2 ** len(fcn.filters))  # input errors before the model
    model = load_keras_model(args.model, FCN_MODEL)
    if all(not item.labels.defect.isin(classes).any() for item in items) and "defect" not in classes:
        classes = classes + ("defect",)  # label files without a defect column mark every row 'defect'
    probabilities = [defect_probability(model, item.image, 2 ** len(fcn.filters), fcn.scoring) for item in items]
    threshold = fcn.scoring.threshold if args.threshold is None else args.threshold
    result = evaluate(probabilities, items, classes, fcn.scoring, ingest.working_pixel_size_A, threshold)
    with atomic_directory(args.out) as tmp:  # undefined scores (NaN) are null in JSON, empty in CSV
        (tmp / "metrics.json").write_text(json.dumps({k: _json_number(v) for k, v in result.metrics.items()}, indent=2))
        result.per_image.to_csv(tmp / "per_image.csv", index=False)
        result.pr_curve.to_csv(tmp / "pr_curve.csv", index=False)
    m = result.metrics
    scores = f"P {_percent(m['precision'])} R {_percent(m['recall'])} F1 {_percent(m['f1'])} " \
             f"(95% CI {_percent(m['f1_ci_low'])} to {_percent(m['f1_ci_high'])})"
    if m["n_true"] == 0 and m["n_predicted"] == 0:
        scores = "F1 undefined: no labelled defects and no detections"
    print(f"evaluate: {m['n_images']} images, {m['n_true']} labelled and {m['n_predicted']} detected defects, "
          f"{scores} at threshold {threshold} -> {args.out}")


def _percent(value: float) -> str:
    return "undefined" if value != value else f"{100 * value:.1f}%"


def _json_number(value):
    return None if isinstance(value, float) and value != value else value


def register_tune(sub) -> None:
    p = sub.add_parser("tune", help="Optuna study: lambda_cycle, lambda_identity, lr against validation F1",
                       description="Each trial trains a cycleGAN with suggested values (pruned on the per-epoch "
                                   "spectrum distance), translates the simulations, trains an FCN on them and returns "
                                   "F1 on the set's val/ images (never test/). Several workers may run this same "
                                   "command against one --storage (PostgreSQL); re-running resumes the study.")
    p.add_argument("--sim", type=Path, default=Path("artifacts/sim/wse2"), help="labelled simulations")
    p.add_argument("--sim-tiles", type=Path, default=Path("artifacts/tiles/sim_wse2"))
    p.add_argument("--exp-tiles", type=Path, default=Path("artifacts/tiles/exp_wse2_day_a"))
    p.add_argument("--storage", help=f"Optuna storage URL ({_in_force('tune.storage')})")
    p.add_argument("--study-name", help=f"Optuna study ({_in_force('tune.study_name')})")
    p.add_argument("--n-trials", type=int, help=f"total trials of the study ({_in_force('tune.n_trials')})")
    p.add_argument("--worker", type=int, default=0, help="worker index (offsets the sampler seed)")
    p.add_argument("--out", type=Path, default=Path("artifacts/tune"), help="trial folders and study summary")
    p.add_argument("--report-dir", type=Path, help="also copy the study summary (JSON, plots) here, e.g. reports/tune")
    _params_arg(p)
    p.set_defaults(handler=_tune)


def _tune(args) -> None:
    import dataclasses

    from stemgan.config import load_material, load_section, read_params
    from stemgan.tuning.objective import TrialContext
    from stemgan.tuning.study import optimize, summarise

    params = read_params(args.params)
    tune = load_section("tune", args.params, params)
    if args.n_trials is not None:
        tune = dataclasses.replace(tune, n_trials=args.n_trials)
    table1 = load_section("table1", args.params, params)
    if tune.set not in table1.sets:
        from stemgan.errors import StemganError

        raise StemganError(f"params.yaml: tune.set '{tune.set}' is not a key of table1.sets")
    storage, name = args.storage or tune.storage, args.study_name or tune.study_name
    ctx = TrialContext(tune, load_section("cyclegan", args.params, params), load_section("fcn", args.params, params),
                       load_section("translate", args.params, params), load_section("tile", args.params, params).normalize,
                       load_section("ingest", args.params, params), table1,
                       load_material(table1.material, args.params, params).label_defects, args.sim, args.sim_tiles,
                       args.exp_tiles, args.out / name)
    start = time.perf_counter()
    study = optimize(ctx, storage, name, args.worker)
    summary = summarise(study, args.out / name / "summary", tune.experiment)
    if args.report_dir:
        import shutil

        shutil.copytree(args.out / name / "summary", args.report_dir, dirs_exist_ok=True)
    best = f"best val F1 {summary['best_value']:.3f} with {summary['best_params']}" if "best_value" in summary else "no completed trial"
    print(f"tune: study {name} at {storage}: {summary['trials']}; {best} ({time.perf_counter() - start:.0f} s)")


def register_promote(sub) -> None:
    p = sub.add_parser("promote", help="register a generator; alias `champion` only if its validation F1 is better",
                       description="Registers the study's best generator (or --model-uri with --f1) as a new version of "
                                   "NAME (default <material>-<set>-generator) with tags F1, study, trial, params; "
                                   "moves alias `champion` only on improvement.")
    p.add_argument("--storage", help=f"Optuna storage URL ({_in_force('tune.storage')})")
    p.add_argument("--study-name", help=f"Optuna study ({_in_force('tune.study_name')})")
    p.add_argument("--model-uri", help="promote this logged model instead of the study's best (needs --f1)")
    p.add_argument("--f1", type=float, help="validation F1 of --model-uri")
    p.add_argument("--name", help="registered model name")
    _params_arg(p)
    p.set_defaults(handler=_promote)


def _promote(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.errors import StemganError
    from stemgan.tuning.promote import best_of_study, promote

    params = read_params(args.params)
    tune, table1 = load_section("tune", args.params, params), load_section("table1", args.params, params)
    name = args.name or f"{table1.material}-{tune.set.removeprefix(table1.material + '_')}-generator"
    if args.model_uri:
        if args.f1 is None:
            raise StemganError("promote: --model-uri needs --f1 (its validation F1)")
        uri, f1, tags = args.model_uri, args.f1, {"source": "manual"}
    else:
        uri, f1, tags = best_of_study(args.storage or tune.storage, args.study_name or tune.study_name)
    tags["data_dvc_md5"] = _data_hash()
    print(promote(uri, name, f1, tags).message())


def _data_hash() -> str:
    import yaml

    path = Path("data.dvc")
    return str(yaml.safe_load(path.read_text())["outs"][0].get("md5", "")) if path.is_file() else ""


def register_realism(sub) -> None:
    p = sub.add_parser("realism", help="realism metrics of G(sim), pristine and noisy sims against experimental images",
                       description="Spectrum distance, noise-floor and low-frequency power ratios, histogram W1, KID on "
                                   "the project's FCN features, classifier two-sample AUC, label preservation; written "
                                   "as JSON (DVC metrics) and logged to MLflow.")
    p.add_argument("--generated", type=Path, required=True, help="translate output (seed_0/ is used)")
    p.add_argument("--sim", type=Path, required=True, help="simulate output")
    p.add_argument("--exp", type=Path, action="append", required=True,
                   help="experimental image folder, e.g. data/wse2/day_a/unlabelled (repeatable: pooled sets)")
    p.add_argument("--features", type=Path, help="a trained FCN (.keras) whose bottleneck features KID uses")
    p.add_argument("--out", type=Path, required=True, help="JSON output")
    _params_arg(p)
    p.set_defaults(handler=_realism)


def _realism(args) -> None:
    import json

    from stemgan.config import load_section, read_params
    from stemgan.data.files import atomic_write
    from stemgan.evaluation.realism_stage import run_realism
    from stemgan.tracking.mlflow_runs import log_metrics, start_or_resume

    params = read_params(args.params)
    fcn = load_section("fcn", args.params, params)
    report = run_realism(args.generated, args.sim, args.exp, args.features, load_section("tile", args.params, params).normalize,
                         load_section("ingest", args.params, params), 2.0 * fcn.gaussian_noise_sigma, fcn.seed)
    atomic_write(args.out, lambda tmp: tmp.write_text(json.dumps(report, indent=2)))
    run, _ = start_or_resume("stemgan-realism", f"realism {args.out.stem}", None,
                             tags={"stage": "realism", "generated": str(args.generated), "exp": str(args.exp)})
    with run:
        log_metrics({f"{source}.{k}": v for source, m in report.items() for k, v in m.items()}, step=0)
    g, p = report["generated"], report["pristine"]
    print(f"realism: {args.out.stem}: spectrum distance G(sim) {g['spectrum_distance']:.3f} vs pristine "
          f"{p['spectrum_distance']:.3f}; C2ST AUC G(sim) {g['c2st_auc']:.2f} vs pristine {p['c2st_auc']:.2f} -> {args.out}")


def register_report(sub) -> None:
    p = sub.add_parser("report", help="write reports/: Figure 2 analogue, spectra, histograms, training curves, README",
                       description="Write the human-readable results: reports/README.md with Figure 2 (simulated, "
                                   "generated and experimental images with their FFTs), Table 1, the realism table, "
                                   "label preservation, power spectra, histograms and training curves.")
    p.add_argument("--out", type=Path, default=Path("reports"))
    p.add_argument("--realism", type=Path, default=Path("metrics/realism"))
    p.add_argument("--table1", type=Path, default=Path("reports/table1.md"))
    p.add_argument("--cyclegan-metrics", type=Path, default=Path("metrics/cyclegan"))
    _params_arg(p)
    p.set_defaults(handler=_report)


def _report(args) -> None:
    from stemgan.config import load_section, read_params
    from stemgan.evaluation.report import build_report

    params = read_params(args.params)
    table1 = load_section("table1", args.params, params)
    acquire = load_section("acquire", args.params, params)
    others = {name: spec.material for name, spec in acquire.sets.items() if spec.material != table1.material}
    readme = build_report(args.out, table1.sets, others, load_section("tile", args.params, params).normalize,
                          load_section("ingest", args.params, params), args.realism, args.table1, args.cyclegan_metrics)
    print(f"report: {readme} with figure2.png, power_spectra.png, histograms.png, training_curves.png")


def register_doctor(sub) -> None:
    p = sub.add_parser("doctor", help="check the environment: GPU, MLflow store, DVC state, data; says what to fix",
                       description="Check params.yaml (every section and material, with the same validation the "
                                   "stages use), TensorFlow and GPUs, the MLflow store, the DVC pipeline and the "
                                   "experimental images; each line says [ok] or what to fix. Exit 1 if anything needs "
                                   "fixing.")
    _params_arg(p)
    p.set_defaults(handler=_doctor)


def _doctor(args) -> None:
    from stemgan.cli.doctor import run_checks

    failures = run_checks(args.params)
    if failures:
        raise SystemExit(1)


# in pipeline order, so `stemgan --help` reads as the pipeline does
REGISTRY = [
    register_acquire, register_simulate, register_tile, register_train_cyclegan, register_translate,
    register_train_fcn, register_table1_cell, register_table1, register_evaluate, register_realism,
    register_tune, register_promote, register_report, register_doctor, register_profile_args,
]
