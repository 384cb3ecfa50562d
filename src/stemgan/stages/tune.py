"""`tune`: an Optuna study of lambda_cycle, lambda_identity and lr against downstream validation F1, then
`promote`: the study's best generator into the model registry (alias `champion` only on improvement)."""

from __future__ import annotations

import time
from pathlib import Path

from stemgan.stages.arguments import in_force, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="Optuna study: lambda_cycle, lambda_identity, lr against validation F1",
        description="Each trial trains a cycleGAN with suggested values (pruned on the per-epoch "
        "spectrum distance), translates the simulations, trains an FCN on them and returns "
        "F1 on the set's val/ images (never test/). Several workers may run this same "
        "command against one --storage (PostgreSQL); re-running resumes the study.",
    )
    p.add_argument("--sim", type=Path, default=Path("artifacts/sim/wse2_day_a"), help="labelled simulations")
    p.add_argument("--sim-tiles", type=Path, default=Path("artifacts/tiles/sim_wse2_day_a"), help="simulated tiles")
    p.add_argument("--exp-tiles", type=Path, default=Path("artifacts/tiles/exp_wse2_day_a"), help="experimental tiles")
    p.add_argument("--data", type=Path, default=Path("data"), help="the experimental data folder (its val/ images)")
    p.add_argument("--storage", help=f"Optuna storage URL ({in_force('tune.storage')})")
    p.add_argument("--study-name", help=f"Optuna study ({in_force('tune.study_name')})")
    p.add_argument("--n-trials", type=int, help=f"total trials of the study ({in_force('tune.n_trials')})")
    p.add_argument("--worker", type=int, default=0, help="worker index (offsets the sampler seed)")
    p.add_argument("--out", type=Path, default=Path("artifacts/tune"), help="trial folders and study summary")
    p.add_argument("--report-dir", type=Path, help="also copy the study summary (JSON, plots) here, e.g. reports/tune")
    params_arg(p)
    p.set_defaults(handler=run)
    register_promote(sub)


def run(args) -> None:
    import dataclasses
    import shutil

    from stemgan.config import load_params
    from stemgan.errors import StemganError
    from stemgan.tuning.objective import TrialContext
    from stemgan.tuning.study import optimize, summarise

    params = load_params(args.params)
    if args.n_trials is not None:
        params = dataclasses.replace(params, tune=dataclasses.replace(params.tune, n_trials=args.n_trials))
    tune = params.tune
    if tune.set not in params.table1.sets:
        raise StemganError(f"{args.params}: tune.set '{tune.set}' is not one of table1.sets; pick one of those")
    storage, name = args.storage or tune.storage, args.study_name or tune.study_name
    ctx = TrialContext(
        params=params,
        sim_dir=args.sim,
        sim_tiles=args.sim_tiles,
        exp_tiles=args.exp_tiles,
        data_root=args.data,
        work_dir=args.out / name,
    )
    start = time.perf_counter()
    study = optimize(ctx, storage, name, args.worker)
    summary = summarise(study, args.out / name / "summary", tune.experiment)
    if args.report_dir:
        shutil.copytree(args.out / name / "summary", args.report_dir, dirs_exist_ok=True)
    best = (
        f"best val F1 {summary['best_value']:.3f} with {summary['best_params']}"
        if "best_value" in summary
        else "no completed trial"
    )
    print(f"tune: study {name} at {storage}: {summary['trials']}; {best} ({time.perf_counter() - start:.0f} s)")


def register_promote(sub) -> None:
    p = sub.add_parser(
        "promote",
        help="register a generator; alias `champion` only if its validation F1 is better",
        description="Registers the study's best generator (or --model-uri with --f1) as a new version of "
        "NAME (default <material>-<set>-generator) with tags F1, study, trial, params; "
        "moves alias `champion` only on improvement.",
    )
    p.add_argument("--storage", help=f"Optuna storage URL ({in_force('tune.storage')})")
    p.add_argument("--study-name", help=f"Optuna study ({in_force('tune.study_name')})")
    p.add_argument("--model-uri", help="promote this logged model instead of the study's best (needs --f1)")
    p.add_argument("--f1", type=float, help="validation F1 of --model-uri")
    p.add_argument("--name", help="registered model name")
    params_arg(p)
    p.set_defaults(handler=run_promote)


def run_promote(args) -> None:
    from stemgan.config import load_params
    from stemgan.errors import StemganError
    from stemgan.tracking.registry import data_hash, promote
    from stemgan.tuning.promote import best_of_study

    params = load_params(args.params)
    tune, table1 = params.tune, params.table1
    name = args.name or f"{table1.material}-{tune.set.removeprefix(table1.material + '_')}-generator"
    if args.model_uri:
        if args.f1 is None:
            raise StemganError("promote: --model-uri needs --f1 (its validation F1)")
        uri, f1, tags = args.model_uri, args.f1, {"source": "manual"}
    else:
        uri, f1, tags = best_of_study(args.storage or tune.storage, args.study_name or tune.study_name)
    tags["data_dvc_md5"] = data_hash()
    print(promote(uri, name, f1, tags).message())
