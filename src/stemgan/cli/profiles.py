"""Profiles: files of dotted params overrides (e.g. profiles/paper.yaml) for `dvc exp run -S`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from stemgan.errors import StemganError, fail
from stemgan.stages.arguments import params_arg


def register(sub) -> None:
    p = sub.add_parser(
        "profile-args",
        help="print `-S key=value` options of a profile for `dvc exp run`",
        description="Turn a profile (a file of dotted params.yaml keys and values, e.g. the paper's "
        "GPU sizes) into options for DVC, checked against params.yaml first: "
        "dvc exp run $(stemgan profile-args profiles/paper.yaml)",
    )
    p.add_argument("profile", type=Path, help="a profile file, e.g. profiles/paper.yaml")
    params_arg(p)
    p.set_defaults(handler=run)


def run(args) -> None:
    from stemgan.config import read_params

    print(profile_args(args.profile, read_params(args.params)))


def read_profile(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise fail(path, "profile not found", "see profiles/ for the shipped ones")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise fail(path, "expected 'section.key: value' lines", "see profiles/paper.yaml")
    return data


def apply_profile(params: dict, path: Path | str) -> dict:
    """params with every dotted key of the profile set (keys must already exist in params)."""
    out = copy.deepcopy(params)
    for dotted, value in read_profile(path).items():
        node = out
        *parents, leaf = str(dotted).split(".")
        for key in parents:
            if not isinstance(node.get(key), dict):
                raise StemganError(f"{path}: '{dotted}' does not name a params.yaml key; fix the profile")
            node = node[key]
        if leaf not in node:
            raise StemganError(f"{path}: '{dotted}' does not name a params.yaml key; fix the profile")
        node[leaf] = value
    return out


def profile_args(path: Path | str, params: dict) -> str:
    """`-S key=value ...` for `dvc exp run $(...)`: each value as compact JSON (valid YAML, no spaces, so the
    shell keeps each option one word), validated against params."""
    from stemgan.config import validate_params

    validate_params(apply_profile(params, path), path)  # the profile's values pass the stages' own checks
    return " ".join(f"-S {key}={json.dumps(value, separators=(',', ':'))}" for key, value in read_profile(path).items())
