"""`train_fcn@<set>` (and `train_fcn_translated@<set>`, `train_fcn_ablation@<name>`): table1.n_seeds
defect-finding FCNs per training source; a set's simulated rows, or its translated rows, in one process."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import typing
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
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--source", help="no_noise | gaussian | gaussian_minmax | cyclegan | cyclegan_nofft | ...")
    which.add_argument(
        "--table1-rows",
        choices=("simulated", "translated"),
        help="every source of table1.simulation_sources (or translated_sources), each into OUT/<source>/",
    )
    p.add_argument(
        "--train",
        type=Path,
        required=True,
        help="labelled training images (images/, labels/; or seed_<k>/ subfolders for generated sets)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (fcn_seed_<k>.keras, fcn.json; --table1-rows: per source)",
    )
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
    sources = params.table1.fcn_rows(args.table1_rows) if args.table1_rows else (args.source,)
    nested = args.table1_rows is not None
    manifests = train_sources(sources, args.train, params, args.out, material, n_seeds, nested)
    print(
        f"train-fcn: {sum(len(m['seeds']) for m in manifests)} FCNs on {', '.join(sources)} ({args.train}) -> "
        f"{args.out} ({time.perf_counter() - start:.0f} s)"
    )


def train_sources(
    sources: tuple[str, ...], train_dir: Path, params: Params, out_dir: Path, material: str, n_seeds: int, nested: bool
) -> list[dict]:
    """n_seeds FCNs per source finding `material`'s label_defects, each in its own MLflow run with its model; a
    source's folder (out_dir, or out_dir/<source> when nested) gets fcn_seed_<k>.keras and fcn.json. Every
    (source, seed) is one unit of compute.workers processes."""
    from stemgan.data.files import atomic_directory
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count
    from stemgan.tracking.mlflow_runs import experiment_id
    from stemgan.training.fcn_sources import MANIFEST, source_settings

    settings = {source: source_settings(source, params.fcn, params.tile.normalize) for source in sources}
    with unit_workers(worker_count(params.compute.workers, len(sources) * n_seeds), TENSORFLOW_UNITS) as run_units:
        units = _units(sources, settings, Path(train_dir), params, n_seeds)  # input errors first, before training
        unit = functools.partial(
            _train_seed,
            fcn=params.fcn,
            classes=params.material(material).label_defects,
            pixel_size_A=params.ingest.working_pixel_size_A,
            experiment=experiment_id(params.fcn.experiment),  # made here, not by two workers at once
        )
        with atomic_directory(out_dir) as tmp:
            folders = {source: tmp / source if nested else tmp for source in sources}
            for folder in folders.values():
                folder.mkdir(exist_ok=True)
            results = run_units(unit, [u._replace(model_path=folders[u.source] / u.model_path) for u in units])
            manifests = [_manifest(source, settings[source], material, params, units, results) for source in sources]
            for manifest in manifests:
                (folders[manifest["source"]] / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifests


class FCNUnit(typing.NamedTuple):
    """One source's seed: what a worker trains (a stemgan.parallel unit)."""

    source: str
    k: int
    folder: Path  # its training images
    images: list
    noise: float
    normalize: str
    model_path: Path  # fcn_seed_<k>.keras, in the source's output folder once that is known


def _manifest(source: str, setting, material: str, params: Params, units: list[FCNUnit], results: list[dict]) -> dict:
    """A source's fcn.json: what its FCNs find, how their images were normalised and noised, and its seeds."""
    norm, noise = setting
    return {
        "source": source,
        "material": material,
        "classes": list(params.material(material).label_defects),
        "normalize": norm.method,
        "training_noise_std": noise,
        "seeds": [seed for unit, seed in zip(units, results) if unit.source == source],
    }


def _units(sources, settings, train_dir: Path, params: Params, n_seeds: int) -> list[FCNUnit]:
    """A unit per source and seed; a folder is read once per normalisation
    (the simulations serve every seed, and every source but gaussian_minmax normalises alike)."""
    from stemgan.data.labelled import load_labelled
    from stemgan.training.fcn_sources import seed_folders

    loaded, units = {}, []
    for source in sources:
        norm, noise = settings[source]
        for k, folder in enumerate(seed_folders(train_dir, n_seeds, source)):
            if (folder, norm) not in loaded:
                loaded[folder, norm] = load_labelled(folder, norm, params.ingest, params.fcn.tile_size_px)
            units.append(
                FCNUnit(source, k, folder, loaded[folder, norm], noise, norm.method, Path(f"fcn_seed_{k}.keras"))
            )
    return units


def _train_seed(unit: FCNUnit, *, fcn, classes, pixel_size_A, experiment) -> dict:
    """One source's seed: its FCN in its own MLflow run with the model, saved to the unit's path (a
    stemgan.parallel unit)."""
    import mlflow
    import mlflow.tensorflow

    from stemgan.tracking.mlflow_runs import MODEL_PIP_REQUIREMENTS, flatten, setup_tracking
    from stemgan.training.fcn_train import train_fcn

    source, k, folder, train, noise, normalize, model_path = unit
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
