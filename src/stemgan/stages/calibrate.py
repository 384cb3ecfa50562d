"""`calibrate@<set>`: measure a set's sampling, probe blur and Z contrast against simulations of its material.

Writes `<out>/calibration.json`; with `calibrate.mode: use` the set's simulations (`simulate --calibration`)
take the values, with `report` they are only recorded, with `off` nothing is measured."""

from __future__ import annotations

import json
import time
from pathlib import Path

from stemgan.stages.arguments import image_folders, images_or_set_args, output_folder, params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure sampling, probe blur and Z exponent of an experimental set",
        description="From a set's unlabelled images and its material: the lattice's Fourier peak "
        "against the simulation's (sampling), the mean column width (probe blur, as the "
        "source size that simulations need), and the dim/bright column intensity ratio "
        "(as the effective ADF Z exponent), each by a short 1-D search over simulations.",
    )
    images_or_set_args(p, "image folder (repeatable; with --material)")
    p.add_argument("--material", help="a key of params.yaml 'materials', with --images")
    p.add_argument("--out", type=Path, required=True, help="output folder (calibration.json)")
    params_arg(p)
    output_folder(p, "images", "data_root")
    p.set_defaults(handler=run)


def _spread(paths: list[Path], n: int) -> list[Path]:
    """At most n of paths, evenly spread (sessions drift: the first n would all be from its start)."""
    import numpy as np

    if len(paths) <= n:
        return paths
    return [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, n).round().astype(int))]


def run(args) -> None:
    from stemgan.calibration.calibrate import CALIBRATION_FILE
    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory, atomic_write
    from stemgan.data.ingest import list_images, load_working_image
    from stemgan.errors import StemganError

    params = load_params(args.params)
    if args.set_name:
        spec, name = params.experimental_set(args.set_name), args.set_name
        material_name, optics, overrides = spec.material, params.set_optics(name), dict(spec.optics)
    elif args.material:
        material_name, name, optics, overrides = args.material, args.material, params.optics, {}
    else:
        raise StemganError("calibrate: --images needs --material (which crystal the images show)")
    folders = image_folders(args, params)
    material, cfg = params.material(material_name), params.calibrate
    paths = _spread([p for folder in folders for p in list_images(folder)], cfg.max_images)
    record = {"mode": cfg.mode, "set": name, "material": material_name, "images": [str(p) for p in paths]}
    if overrides:  # the set's instrument (e.g. its voltage): its simulations are made with it in every mode
        record["optics"] = overrides
    start = time.perf_counter()
    if cfg.mode != "off":
        record.update(_measure(paths, material, material_name, params, optics, load_working_image, folders))
    with atomic_directory(args.out) as tmp:
        atomic_write(tmp / CALIBRATION_FILE, lambda f: f.write_text(json.dumps(record, indent=2)))
    print(f"calibrate: {name}: {_summary(record)} -> {args.out} ({time.perf_counter() - start:.1f} s)")
    for warning in record.get("warnings", []):
        print(f"calibrate: warning: {name}: {warning}")


def _measure(paths, material, material_name: str, params, optics, load_working_image, folders) -> dict:
    from stemgan.calibration.calibrate import calibrate
    from stemgan.errors import StemganError

    # raw working images: the measurements subtract their own background and are scale-free, and a clipped
    # normalisation would flatten the brightest columns (the ratio would read too high)
    images = [load_working_image(p, params.ingest).image for p in paths]
    cfg = params.calibrate
    try:
        result = calibrate(
            images,
            params.ingest.working_pixel_size_A,
            material,
            material_name,
            optics,
            seed=cfg.seed,
            reference_size_px=cfg.reference_size_px,
            n_references=cfg.n_references,
        )
    except StemganError as exc:
        raise StemganError(f"{folders[0]}: {exc}") from exc
    return {**result.as_dict(), "warnings": result.warnings()}


def _summary(record: dict) -> str:
    if record["mode"] == "off":
        return "calibrate.mode is off, nothing measured (simulations use params' optics)"
    z = record["z_exponent"]
    z_text = "n/a (one kind of column)" if z is None else f"{z:.2f} ± {record['z_exponent_std']:.2f}"
    used = "used by its simulations" if record["mode"] == "use" else "report only"
    return (
        f"{record['n_images']} images, {record['n_columns']} columns: "
        f"pixel size x {record['sampling_correction']:.4f}, "
        f"source FWHM {record['source_fwhm_A']:.2f} Å, Z exponent {z_text} (params {record['z_exponent_params']}); "
        f"{used}"
    )
