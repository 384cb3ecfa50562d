"""`diagnose`: per effect of a demo session's microscope (shot noise at its dose, probe, contamination, scan
distortion, detector lag and line gain), a labelled test set with that effect alone on top of the base noise,
scored by every Table 1 training source's FCNs: which effects a source handles, and which it does not."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

from stemgan.data.files import atomic_write
from stemgan.stages.arguments import output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "diagnose",
        help="F1 of every Table 1 training source on test sets that each show one microscope effect",
        description="The virtual microscope makes diagnose.n_images labelled images per effect of the set's "
        "session (base: shot and read noise at its dose; then probe, contamination, scan, detector alone; "
        "session: all); each Table 1 source's FCNs score them at the threshold their Table 1 cell chose.",
    )
    p.add_argument("--set", dest="set_name", help="a Table 1 set of one demo session (default: diagnose.set)")
    p.add_argument(
        "--fcn", type=Path, default=Path("artifacts/fcn"), help="train-fcn outputs (<set>/<group>/<source>/)"
    )
    p.add_argument("--cells", type=Path, default=Path("artifacts/table1"), help="table1-cell outputs (thresholds)")
    p.add_argument("--out", type=Path, required=True, help="output folder (the labelled effect sets)")
    p.add_argument("--metrics", type=Path, default=Path("metrics/diagnostic.json"), help="F1 per source and effect")
    p.add_argument("--figure", type=Path, default=Path("reports/diagnostic.png"), help="heatmap (source x effect)")
    params_arg(p)
    output_folder(p, "fcn", "cells")
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.microscope.diagnostic import EFFECTS, write_effect_sets
    from stemgan.parallel import TENSORFLOW_UNITS, unit_workers, worker_count

    params = load_params(args.params)
    set_name = args.set_name or params.diagnose.set
    spec, preset_name = params.experimental_set(set_name), params.session_preset(set_name)
    sources = _scored_sources(args.fcn, args.cells, set_name, params)
    start = time.perf_counter()
    # a unit per FCN (source and seed): 7 sources' 14 FCNs keep 2 workers busy to the end, 7 sources would not
    units = [(fcn_dir, cell, index) for fcn_dir, cell in sources.values() for index in range(len(cell["seeds"]))]
    with unit_workers(worker_count(params.compute.workers, len(units)), TENSORFLOW_UNITS) as run_units:
        folders = write_effect_sets(
            spec.material,
            params.material(spec.material),
            params.set_optics(set_name),
            params.acquire.presets[preset_name],
            params.diagnose.n_images,
            params.acquire.image_size_px,
            params.acquire.pad_px,
            params.ingest.working_pixel_size_A,
            params.diagnose.seed,
            args.out,
        )
        classes = params.material(spec.material).label_defects
        # each FCN scores every effect set: side by side in compute.workers processes
        unit = functools.partial(_score_seed, folders=folders, classes=classes, params=params)
        scored = run_units(unit, units)
    found = {
        source: _seeds_mean([s for (_, cell, _), s in zip(units, scored) if cell["source"] == source])
        for source in sources
    }
    n_true = {effect: next(iter(found.values()))[effect]["n_true"] for effect in folders} if found else {}
    record = {
        "set": set_name,
        "preset": preset_name,
        "n_images": params.diagnose.n_images,
        "effects": list(folders),
        "effect_descriptions": {e: EFFECTS[e] for e in folders},
        "n_true": n_true,
        "sources": found,
    }
    atomic_write(args.metrics, lambda tmp: tmp.write_text(json.dumps(record, indent=2)))
    _heatmap(record, args.figure)
    print(
        f"diagnose: {set_name} ({preset_name}): {len(found)} sources x {len(folders)} effects, "
        f"{params.diagnose.n_images} images each -> {args.metrics}, {args.figure} ({time.perf_counter() - start:.0f} s)"
    )


def _scored_sources(fcn_root: Path, cells_root: Path, set_name: str, params) -> dict[str, tuple[Path, dict]]:
    """Every source with FCNs and a Table 1 cell for the set (ablations included), in Table 1's order."""
    from stemgan.errors import StemganError

    found = {}
    for cell_file in sorted(Path(cells_root).glob(f"*-{set_name}/cell.json")):
        cell = json.loads(cell_file.read_text())
        fcn_dir = params.table1.fcn_folder(fcn_root, cell["source"], set_name)
        if cell["set"] == set_name and fcn_dir.is_dir():
            found[cell["source"]] = (fcn_dir, cell)
    if not found:
        raise StemganError(f"{cells_root}: no Table 1 cell of {set_name} with its FCNs; run dvc repro up to table1")
    order = [*params.table1.sources, *sorted(set(found) - set(params.table1.sources))]
    return {source: found[source] for source in order if source in found}


def _score_seed(unit: tuple[Path, dict, int], *, folders: dict[str, Path], classes, params) -> dict:
    """Pooled scores per effect of the FCN of seed `index` in fcn_dir, at its Table 1 threshold: that of the
    cell's seed `index` (a stemgan.parallel unit)."""
    from tqdm import tqdm

    from stemgan.data.labelled import load_labelled_once
    from stemgan.evaluation.evaluate import defect_probability, scores_at
    from stemgan.evaluation.scoring import pooled
    from stemgan.models.io import FCN_MODEL, load_keras_model
    from stemgan.parallel import in_worker
    from stemgan.training.fcn_sources import read_manifest, source_settings

    fcn_dir, cell, index = unit
    scoring, pixel = params.fcn.scoring, params.ingest.working_pixel_size_A
    trained = read_manifest(fcn_dir, cell["source"], cell["n_seeds"])["seeds"][index]
    seed = cell["seeds"][index]
    norm, _ = source_settings(cell["source"], params.fcn, params.tile.normalize)
    model = load_keras_model(str(Path(fcn_dir) / trained["model"]), FCN_MODEL)
    name = f"{cell['source']} seed {seed['seed']}"
    per_effect = {}
    for effect, folder in tqdm(folders.items(), desc=name, unit="effect", disable=in_worker()):
        labelled = load_labelled_once(Path(folder), norm, params.ingest, params.fcn.tile_size_px)
        probabilities = [
            defect_probability(model, item.image, 2 ** len(params.fcn.filters), scoring) for item in labelled
        ]
        per_effect[effect] = pooled(scores_at(probabilities, labelled, classes, seed["threshold"], scoring, pixel))
    if in_worker():  # whole lines: the workers' progress bars would overwrite each other
        print(f"diagnose: {name}: {len(folders)} effects scored", flush=True)
    return per_effect


def _seeds_mean(seeds: list[dict]) -> dict:
    """A source's F1 (pooled over images, mean over its seeds), precision and recall per effect."""
    result = {}
    for effect in seeds[0]:
        scores = [s[effect] for s in seeds]
        result[effect] = {
            "f1": _mean([s["f1"] for s in scores]),
            "f1_seeds": [_mean([s["f1"]]) for s in scores],
            "precision": _mean([s["precision"] for s in scores]),
            "recall": _mean([s["recall"] for s in scores]),
            "n_true": int(scores[0]["n_true"]),
        }
    return result


def _mean(values: list[float]) -> float | None:
    """Mean over the defined values; None (JSON null) when none is: an undefined score is not a number."""
    defined = [v for v in values if v == v]
    return sum(defined) / len(defined) if defined else None


def _heatmap(record: dict, path: Path) -> None:
    import numpy as np

    from stemgan.evaluation.figures import plt

    sources, effects = list(record["sources"]), record["effects"]
    f1 = np.array(
        [[np.nan if (v := record["sources"][s][e]["f1"]) is None else 100 * v for e in effects] for s in sources]
    )
    fig, ax = plt.subplots(figsize=(1.3 * len(effects) + 3, 0.5 * len(sources) + 1.6))
    image = ax.imshow(f1, cmap="viridis", aspect="auto", vmin=np.nanmin(f1) if np.isfinite(f1).any() else 0, vmax=100)
    for (r, c), value in np.ndenumerate(f1):
        ax.text(c, r, "–" if np.isnan(value) else f"{value:.0f}", ha="center", va="center", color="white", fontsize=9)
    ax.set_xticks(range(len(effects)), [f"{e}\n({record['n_true'][e]})" for e in effects], fontsize=8)
    ax.set_yticks(range(len(sources)), sources, fontsize=8)
    ax.set_title(f"F1 % on {record['set']}: each effect alone on top of shot + read noise (vacancies)", fontsize=9)
    fig.colorbar(image, ax=ax, label="F1 %")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))
    plt.close(fig)
