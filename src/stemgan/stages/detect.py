"""`detect`: defect coordinates, classes and counts in a microscopist's own images, by a trained FCN."""

from __future__ import annotations

import json
import time
from pathlib import Path

from stemgan.stages.arguments import in_force, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "detect",
        help="find defects in your images with a trained FCN: coordinates, classes, counts",
        description="Each image (TIFF, DM3/DM4, Velox EMD, HyperSpy; any size and sampling) is "
        "resampled to ingest.working_pixel_size_A and normalised as the FCN was trained; "
        "defects are the peaks of its defect probability. Per image: <stem>.csv (x_px, "
        "y_px on the file's own pixel grid, x_A, y_A, defect, probability) and <stem>.png "
        "(detections per class, scale bar); summary.csv with counts and densities.",
    )
    p.add_argument(
        "--model",
        required=True,
        help="an FCN .keras file (its folder's fcn.json gives classes and normalisation) or an MLflow model URI",
    )
    p.add_argument("--images", type=Path, nargs="+", required=True, help="image files and/or folders of images")
    p.add_argument("--out", type=Path, required=True, help="output folder (never an input folder)")
    p.add_argument(
        "--threshold",
        type=float,
        help=f"defect probability threshold (default: the model's fcn.json "
        f"threshold, else {in_force('fcn.scoring.threshold')})",
    )
    params_arg(p)
    output_folder(p, "images", "model")
    p.set_defaults(handler=run)


def model_settings(model_ref: str, params) -> dict:
    """Classes, normalisation, threshold and calibration the model was trained and selected with: the tags of
    a registered version (models:/NAME@champion, set by `promote-fcn`), or fcn.json beside a .keras file
    (written by train-fcn); else params.yaml's."""
    from stemgan.models.io import is_mlflow_uri
    from stemgan.tracking.registry import version_tags

    if is_mlflow_uri(model_ref):
        tags = version_tags(model_ref)
        found = {
            "classes": tags["classes"].split(",") if tags.get("classes") else None,
            **({"normalize": tags["normalize"]} if "normalize" in tags else {}),
            **({"threshold": float(tags["threshold"])} if "threshold" in tags else {}),
            "calibration": tags.get("calibration", "unknown"),
        }
    else:
        manifest = Path(model_ref).parent / "fcn.json"
        found = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return {
        "classes": tuple(found.get("classes") or params.material(params.table1.material).label_defects),
        "normalize": found.get("normalize", params.tile.normalize.method),
        "threshold": found.get("threshold", params.fcn.scoring.threshold),
        "calibration": found.get("calibration", "unknown"),
    }


def image_paths(items: list[Path]) -> list[Path]:
    """Files as given, folders as the images they hold."""
    from stemgan.data.ingest import list_images

    return [p for item in items for p in (list_images(item) if item.is_dir() else [item])]


def run(args) -> None:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from tqdm import tqdm

    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory
    from stemgan.data.ingest import load_working_image, read_any
    from stemgan.data.normalize import normalize_image
    from stemgan.evaluation.detection import detect_defects, summary_row
    from stemgan.evaluation.figures import detection_overlay
    from stemgan.models.io import FCN_MODEL, load_keras_model

    start = time.perf_counter()
    params = load_params(args.params)
    settings = model_settings(args.model, params)
    normalize = dataclasses.replace(params.tile.normalize, method=settings["normalize"])
    multiple = 2 ** len(params.fcn.filters)
    paths = image_paths(args.images)
    workings = [load_working_image(p, params.ingest, multiple) for p in paths]  # every input error before the model
    model = load_keras_model(args.model, FCN_MODEL)
    threshold = settings["threshold"] if args.threshold is None else args.threshold
    classes, rows = settings["classes"], []
    with atomic_directory(args.out) as tmp:
        for path, working in zip(tqdm(paths, desc=f"detect -> {args.out}", unit="img"), workings):
            detections = detect_defects(
                model,
                working,
                normalize_image(working.image, normalize),
                classes,
                params.fcn.scoring,
                threshold,
                multiple,
            )
            detections.to_csv(tmp / f"{path.stem}.csv", index=False, float_format="%.3f")
            figure = detection_overlay(
                read_any(path)[0],
                detections,
                classes,
                working.original_pixel_size_A,
                f"{path.name}: {len(detections)} defects at p >= {threshold}",
            )
            figure.savefig(tmp / f"{path.stem}.png", dpi=100)
            plt.close(figure)
            rows.append(summary_row(path.name, working, detections, classes))
        summary = pd.DataFrame(rows)
        summary.to_csv(tmp / "summary.csv", index=False, float_format="%.5g")
        used = {"model": args.model, **settings, "classes": list(classes), "threshold": threshold}
        (tmp / "model.json").write_text(json.dumps(used, indent=2))  # which model, selected and calibrated how
    counts = ", ".join(f"{int(summary[f'{kind}_count'].sum())} {kind}" for kind in classes)
    print(
        f"detect: {len(paths)} images, {int(summary.defects.sum())} defects ({counts}) at threshold {threshold} "
        f"-> {args.out} ({time.perf_counter() - start:.1f} s)"
    )
