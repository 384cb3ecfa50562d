"""`train_fcn@<source>`: table1.n_seeds defect-finding FCNs on one training source (simulation-trained ones
serve every experimental set; cycleGAN ones are per set)."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path

from stemgan.config import Params
from stemgan.stages.arguments import output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "train-fcn",
        help="train table1.n_seeds defect-finding FCNs on one training source",
        description="res-unet FCNs (params fcn) trained on labelled images with the simulation's "
        "labels: pristine (no_noise), + N(0, fcn.gaussian_noise_sigma) (gaussian, "
        "gaussian_minmax), or cycleGAN-generated (seed_<k>/ folders). Each seed is an "
        "MLflow run with its model.",
    )
    p.add_argument("--source", required=True, help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft")
    p.add_argument(
        "--train",
        type=Path,
        required=True,
        help="labelled training images (images/, labels/; or seed_<k>/ subfolders for generated sets)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (fcn_seed_<k>.keras, fcn.json)")
    p.add_argument(
        "--material",
        help="a key of params.yaml 'materials': its label_defects are the classes (default: table1.material)",
    )
    p.add_argument("--seeds", type=int, help="FCNs to train, one per seed_<k>/ of a generated set (table1.n_seeds)")
    params_arg(p)
    output_folder(p, "train")
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params

    start = time.perf_counter()
    params = load_params(args.params)
    material = args.material or params.table1.material
    n_seeds = params.table1.n_seeds if args.seeds is None else args.seeds
    if n_seeds < 1:
        from stemgan.errors import StemganError

        raise StemganError(f"train-fcn: --seeds {n_seeds}: give at least 1")
    manifest = train_source(args.source, args.train, params, args.out, material, n_seeds)
    print(
        f"train-fcn: {len(manifest['seeds'])} FCNs on {args.source} ({args.train}) -> {args.out} "
        f"({time.perf_counter() - start:.0f} s)"
    )


def train_source(source: str, train_dir: Path, params: Params, out_dir: Path, material: str, n_seeds: int) -> dict:
    """n_seeds FCNs finding `material`'s label_defects, each in its own MLflow run with its model; out_dir gets
    fcn_seed_<k>.keras and fcn.json. The seeds train side by side in compute.workers processes."""
    from stemgan.data.files import atomic_directory
    from stemgan.data.labelled import load_labelled
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.training.fcn_sources import MANIFEST, seed_folders, source_settings

    fcn, ingest = params.fcn, params.ingest
    classes = params.material(material).label_defects
    norm, noise = source_settings(source, fcn, params.tile.normalize)
    folders = seed_folders(Path(train_dir), n_seeds, source)
    with unit_workers(worker_count(params.compute.workers, n_seeds), TENSORFLOW_UNITS) as run_units:
        # input errors first, before any training; simulations serve every seed and are read once
        loaded = {folder: load_labelled(folder, norm, ingest, fcn.tile_size_px) for folder in dict.fromkeys(folders)}
        unit = functools.partial(
            _train_seed,
            source=source,
            fcn=fcn,
            classes=classes,
            noise=noise,
            normalize=norm.method,
            pixel_size_A=ingest.working_pixel_size_A,
            experiment=experiment_id(fcn.experiment),  # made here, not by two workers at once
        )
        with atomic_directory(out_dir) as tmp:
            units = [(k, folder, loaded[folder], tmp / f"fcn_seed_{k}.keras") for k, folder in enumerate(folders)]
            seeds = run_units(unit, units)
            manifest = {
                "source": source,
                "material": material,
                "classes": list(classes),
                "normalize": norm.method,
                "training_noise_std": noise,
                "seeds": seeds,
            }
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _train_seed(unit, *, source, fcn, classes, noise, normalize, pixel_size_A, experiment) -> dict:
    """One seed's FCN in its own MLflow run with the model, saved to the unit's path (a stemgan.parallel unit)."""
    import mlflow
    import mlflow.tensorflow

    from stemgan.tracking.mlflow_runs import MODEL_PIP_REQUIREMENTS, flatten, setup_tracking
    from stemgan.training.fcn_train import train_fcn

    k, folder, train, model_path = unit
    setup_tracking()
    with mlflow.start_run(
        experiment_id=experiment,
        run_name=f"fcn-{source}-seed{k}",
        tags={"stage": "fcn", "source": source, "train": str(folder)},
    ) as run:
        mlflow.log_params(
            {
                **flatten({key: v for key, v in dataclasses.asdict(fcn).items() if key != "scoring"}),  # not training
                "source": source,
                "seed": fcn.seed + k,
                "normalize": normalize,
                "training_noise_std": noise,
                "n_train_images": len(train),
            }
        )
        model = train_fcn(fcn, train, classes, noise, fcn.seed + k, pixel_size_A, f"{source}_{k}")
        logged = mlflow.tensorflow.log_model(model, name="fcn", pip_requirements=MODEL_PIP_REQUIREMENTS)
    model.save(model_path)
    return {
        "seed": fcn.seed + k,
        "mlflow_run_id": run.info.run_id,
        "model_uri": logged.model_uri,  # what `promote-fcn` registers
        "train": str(folder),
        "model": model_path.name,
    }
