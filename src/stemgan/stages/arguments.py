"""Command-line pieces every stage uses: --params, the output folder rule, the values in force."""

from __future__ import annotations

import argparse
from pathlib import Path

PARAMS = Path("params.yaml")


def params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=PARAMS, help="settings file")


def output_folder(p: argparse.ArgumentParser, *inputs: str, folder: str = "out") -> None:
    """Declare the command's output folder and the arguments it reads; main() checks them before any work
    (stemgan replaces only folders it wrote; never an input, nor a folder that holds one)."""
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the output folder even if it holds files that stemgan did not write",
    )
    p.set_defaults(output_folder=folder, input_args=inputs)


def check_outputs(args: argparse.Namespace) -> None:
    """The command's output folder against the one rule of data/files.py, before any work is done."""
    name = getattr(args, "output_folder", None)
    folder = getattr(args, name, None) if name else None
    if folder is None:
        return
    from stemgan.data.files import allow_replace, check_output_folder
    from stemgan.models.io import is_mlflow_uri

    inputs = []
    for arg in args.input_args:
        value = getattr(args, arg, None)
        for item in value if isinstance(value, list) else [value]:
            if item is not None and not is_mlflow_uri(item):
                inputs.append(Path(item))
    check_output_folder(folder, inputs, args.force)
    if args.force:
        allow_replace(folder)


def images_or_set_args(p: argparse.ArgumentParser, images_help: str, flag: str = "--images") -> None:
    """--images FOLDER (repeatable; `flag` names it otherwise) or --set NAME: a set declared in params.yaml
    `sets` (its unlabelled/ images)."""
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        flag, dest="images", metavar=flag.lstrip("-").upper(), type=Path, action="append", help=images_help
    )
    which.add_argument("--set", dest="set_name", help="a key of params.yaml 'sets': its data folders' unlabelled/")
    p.add_argument("--data-root", type=Path, default=Path("data"), help="where the sets' data folders are (--set)")


def image_folders(args, params) -> list[Path]:
    """The folders of --images, or of the --set's data folders (their unlabelled/ images)."""
    if args.set_name is None:
        return list(args.images)
    return [args.data_root / folder / "unlabelled" for folder in params.experimental_set(args.set_name).data]


def in_force(dotted: str) -> str:
    """'default: <key> = <value> in params.yaml': the value a command will use when the option is left out."""
    import yaml

    try:
        node = yaml.safe_load(PARAMS.read_text())
        for key in dotted.split("."):
            node = node[key]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return f"default: {dotted} of params.yaml"
    return f"default: {dotted} = {node} in params.yaml"


def percent(value: float) -> str:
    return "undefined" if value != value else f"{100 * value:.1f}%"


def json_number(value):
    """NaN (an undefined score) as JSON null."""
    return None if isinstance(value, float) and value != value else value
