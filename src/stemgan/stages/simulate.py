"""`simulate@<set>`: labelled ADF-STEM simulations of a set's material (incoherent linear imaging, as Incostem),
calibrated to the set's microscope when its calibration says `use`."""

from __future__ import annotations

import time
from pathlib import Path

from stemgan.stages.arguments import in_force, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="labelled ADF-STEM simulations of one material (incoherent linear model)",
        description="Simulate labelled ADF-STEM images (TIFF with pixel size in Å + label CSV "
        "per image) using params sections materials.<name>, optics and simulate.",
    )
    p.add_argument("--material", required=True, help="a key of params.yaml 'materials' (e.g. wse2)")
    p.add_argument("--out", type=Path, required=True, help="output folder (images/, labels/, manifest.csv)")
    p.add_argument("--n-images", type=int, help=f"number of images ({in_force('simulate.n_images')})")
    p.add_argument(
        "--calibration", type=Path, help="a `stemgan calibrate` output folder: its values are used if its mode is use"
    )
    params_arg(p)
    output_folder(p, "calibration")
    p.set_defaults(handler=run)


def run(args) -> None:
    import dataclasses

    from stemgan.config import load_params
    from stemgan.simulation.simulate import run_simulate

    params = load_params(args.params)
    cfg = params.simulate if args.n_images is None else dataclasses.replace(params.simulate, n_images=args.n_images)
    material = params.material(args.material)
    record, calibration = _read_calibration(args.calibration) if args.calibration else ({}, None)
    optics, correction, finish = params.optics, 1.0, None
    if record.get("optics"):  # the set's instrument (e.g. 60 kV), whatever the calibration mode
        from stemgan.config import merged_optics

        optics = merged_optics(optics, record["optics"], f"{args.calibration}: optics")
    if calibration is not None:
        optics, correction = calibration.applied_to(optics), calibration.sampling_correction
        finish = _check_calibration(calibration, cfg.pixel_size_A * correction, args.calibration)
    start = time.perf_counter()
    manifest = run_simulate(args.material, material, optics, cfg, args.out, correction, finish)
    calibrated = "uncalibrated" if calibration is None else f"calibrated by {args.calibration}"
    print(
        f"simulate: {len(manifest)} {args.material} images of {cfg.image_size_px} px at {cfg.pixel_size_A} Å/px, "
        f"{int(manifest.n_defects.sum())} defects, {calibrated} -> {args.out} ({time.perf_counter() - start:.1f} s)"
    )


def _read_calibration(folder: Path) -> tuple[dict, object]:
    """calibration.json's record, and the calibration to apply (None when its mode is off or report)."""
    import json

    from stemgan.calibration.calibrate import CALIBRATION_FILE, Calibration
    from stemgan.errors import StemganError

    path = folder / CALIBRATION_FILE
    try:
        record = json.loads(path.read_text())
        return record, (Calibration.from_dict(record) if record["mode"] == "use" else None)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StemganError(f"{path}: not a readable calibration ({exc}); run `stemgan calibrate` for the set") from exc


def _check_calibration(calibration, true_pixel_A: float, source: Path):
    """A `finish` for run_simulate: the calibrated simulations measured as the experiment was (calibration.json
    beside the images: applied values, and column width and intensity ratio before and after)."""
    import json

    import numpy as np

    from stemgan.calibration.calibrate import CALIBRATION_FILE, measure_columns
    from stemgan.data.files import atomic_write
    from stemgan.data.tiff_io import read_tiff

    def finish(folder: Path) -> None:
        images = [read_tiff(p)[0] for p in sorted((folder / "images").glob("*.tif"))[:4]]
        sigma, ratio = measure_columns(images, true_pixel_A, calibration.lattice_spacing_A)
        record = {
            "calibration": str(source),
            "applied": {
                "sampling_correction": calibration.sampling_correction,
                "source_fwhm_A": calibration.source_fwhm_A,
                "z_exponent": calibration.z_exponent,
            },
            "experiment": {
                "column_sigma_A": calibration.column_sigma_A,
                "sublattice_ratio": calibration.sublattice_ratio,
            },
            "before": {
                "column_sigma_A": calibration.column_sigma_A_simulated,
                "sublattice_ratio": calibration.sublattice_ratio_simulated,
            },
            "after": {
                "column_sigma_A": float(np.round(sigma, 4)),
                "sublattice_ratio": None if calibration.sublattice_ratio is None else ratio,
            },
        }
        atomic_write(folder / CALIBRATION_FILE, lambda f: f.write_text(json.dumps(record, indent=2)))

    return finish
