"""`evaluate`: an FCN scored on the user's own hand-labelled images (not a dvc.yaml stage)."""

from __future__ import annotations

from pathlib import Path

from stemgan.stages.arguments import in_force, json_number, output_folder, params_arg, percent


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score an FCN on a folder of labelled images (TIFF/DM/EMD + label CSV)",
        description="Defect coordinates from the FCN's stitched probabilities (params fcn.scoring), "
        "matched one-to-one to the labels within match_radius_A (Å), border_A excluded. "
        "Labels: LABELLED/labels/<image stem>.csv with x_px,y_px (or x_A,y_A) and a "
        "`defect` column (rows whose defect is in --classes are scored; without the "
        "column every row is a defect).",
    )
    p.add_argument(
        "--model",
        required=True,
        help="an FCN .keras file (artifacts/fcn/<set>/translated/cyclegan/fcn_seed_0.keras) or an MLflow model URI",
    )
    p.add_argument("--labelled", type=Path, required=True, help="folder with images/ and labels/")
    p.add_argument("--out", type=Path, required=True, help="output folder (metrics.json, per_image.csv, pr_curve.csv)")
    p.add_argument("--threshold", type=float, help=f"probability threshold ({in_force('fcn.scoring.threshold')})")
    p.add_argument(
        "--classes",
        nargs="+",
        help="defect names to score (default: materials.<table1.material>."
        "label_defects; 'defect' for label files without a defect column)",
    )
    p.add_argument("--minmax", action="store_true", help="the paper's min-max scaling (models trained with it)")
    params_arg(p)
    output_folder(p, "labelled", "model")
    p.set_defaults(handler=run)


def run(args) -> None:
    import dataclasses
    import json

    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory
    from stemgan.data.labelled import load_labelled
    from stemgan.evaluation.evaluate import evaluate, scoring_maps
    from stemgan.models.io import FCN_MODEL, load_keras_model

    params = load_params(args.params)
    fcn, ingest, normalize = params.fcn, params.ingest, params.tile.normalize
    if args.minmax:
        normalize = dataclasses.replace(normalize, method="minmax")
    classes = tuple(args.classes) if args.classes else params.material(params.table1.material).label_defects
    items = load_labelled(args.labelled, normalize, ingest, 2 ** len(fcn.filters))  # input errors before the model
    model = load_keras_model(args.model, FCN_MODEL)
    if all(not item.labels.defect.isin(classes).any() for item in items) and "defect" not in classes:
        classes = classes + ("defect",)  # label files without a defect column mark every row 'defect'
    probabilities, kinds = scoring_maps(model, items, classes, 2 ** len(fcn.filters), fcn.scoring)
    threshold = fcn.scoring.threshold if args.threshold is None else args.threshold
    result = evaluate(probabilities, items, classes, fcn.scoring, ingest.working_pixel_size_A, threshold, kinds=kinds)
    with atomic_directory(args.out) as tmp:  # undefined scores (NaN) are null in JSON, empty in CSV
        (tmp / "metrics.json").write_text(json.dumps({k: json_number(v) for k, v in result.metrics.items()}, indent=2))
        result.per_image.to_csv(tmp / "per_image.csv", index=False)
        result.pr_curve.to_csv(tmp / "pr_curve.csv", index=False)
    m = result.metrics
    scores = (
        f"P {percent(m['precision'])} R {percent(m['recall'])} F1 {percent(m['f1'])} "
        f"(95% CI {percent(m['f1_ci_low'])} to {percent(m['f1_ci_high'])})"
    )
    if m["n_true"] == 0 and m["n_predicted"] == 0:
        scores = "F1 undefined: no labelled defects and no detections"
    print(
        f"evaluate: {m['n_images']} images, {m['n_true']} labelled and {m['n_predicted']} detected defects, "
        f"{scores} at threshold {threshold} -> {args.out}"
    )
    if kinds is not None:
        print(
            "evaluate: per class: "
            + "; ".join(f"{c} F1 {percent(m[f'{c}_f1'])} ({m[f'{c}_n_true']} labelled)" for c in classes)
        )
