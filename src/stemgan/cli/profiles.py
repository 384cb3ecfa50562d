"""Profiles: files of dotted params overrides (e.g. profiles/paper.yaml) for `dvc exp run -S`."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from stemgan.errors import StemganError, fail


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
    """`-S key=value ...` for `dvc exp run $(...)` (validated against params; values have no spaces)."""
    apply_profile(params, path)
    words = []
    for key, value in read_profile(path).items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        if " " in text:
            raise StemganError(f"{path}: value of '{key}' contains spaces; write it without spaces")
        words.append(f"-S {key}={text}")
    return " ".join(words)
