"""Profiles: files of dotted params overrides (e.g. profiles/paper.yaml) for `dvc exp run -S`."""

from __future__ import annotations

import copy
import json
import re
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

    p = sub.add_parser(
        "profile-run",
        help="run the pipeline under a profile as a DVC experiment; params.yaml is left as it was",
        description="dvc exp run with the profile's options (see profile-args), in this workspace: the outputs "
        "are the profile's, and params.yaml is put back byte for byte afterwards (also after a failure or "
        "Ctrl-C), so a later `dvc repro` runs your own settings again. `dvc exp show` lists the run.",
    )
    p.add_argument("profile", type=Path, help="a profile file, e.g. profiles/quick.yaml")
    p.set_defaults(handler=run_experiment)


def run(args) -> None:
    from stemgan.config import read_params

    print(profile_args(args.profile, read_params(args.params)))


def run_experiment(args) -> int:
    import shutil
    import subprocess
    import sys

    from stemgan.config import read_params
    from stemgan.data.files import atomic_write
    from stemgan.stages.arguments import PARAMS

    options = profile_args(args.profile, read_params(PARAMS)).split()  # dvc exp run -S writes ./params.yaml
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    if dvc is None:
        raise StemganError("profile-run: dvc not found; run `make setup` (it installs DVC into .venv)")
    kept = PARAMS.read_bytes()
    print(f"profile-run: dvc exp run {' '.join(options)}", flush=True)
    try:
        status = subprocess.run([dvc, "exp", "run", *options]).returncode
    finally:
        atomic_write(PARAMS, lambda tmp: tmp.write_bytes(kept))  # dvc exp run rewrote it with the profile's values
    print(f"profile-run: {PARAMS} is as it was; `dvc repro` runs its settings again", flush=True)
    if status:
        raise StemganError(f"profile-run: dvc exp run under {args.profile} failed (exit {status}); see above")
    return 0


def read_profile(path: Path | str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise fail(path, "profile not found", "see profiles/ for the shipped ones")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise fail(path, "expected 'section.key: value' lines", "see profiles/paper.yaml")
    return data


def profile_key(params: dict, dotted: str, path: Path | str) -> tuple[dict, str]:
    """(the mapping that holds `dotted`'s last part, that part): the key must already exist in params."""
    node = params
    *parents, leaf = str(dotted).split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise StemganError(f"{path}: '{dotted}' does not name a params.yaml key; fix the profile")
        node = node[key]
    if leaf not in node:
        raise StemganError(f"{path}: '{dotted}' does not name a params.yaml key; fix the profile")
    return node, leaf


def apply_profile(params: dict, path: Path | str) -> dict:
    """params with every dotted key of the profile set (keys must already exist in params)."""
    out = copy.deepcopy(params)
    for dotted, value in read_profile(path).items():
        node, leaf = profile_key(out, dotted, path)
        node[leaf] = value
    return out


def profile_args(path: Path | str, params: dict) -> str:
    """`-S override ...` for `dvc exp run $(...)`, validated against params. DVC applies Hydra overrides, which
    merge a mapping into the one there: a profile's mapping replaces it instead (`~key` deletes each key the
    profile leaves out, `+key` adds a new one), so `sets: {one: ...}` runs one set. Values are compact Hydra
    literals (no spaces: the shell keeps each option one word)."""
    from stemgan.config import validate_params

    validate_params(apply_profile(params, path), path)  # the profile's values pass the stages' own checks
    overrides = []
    for dotted, value in read_profile(path).items():
        node, leaf = profile_key(params, dotted, path)
        overrides += _overrides(str(dotted), value, node[leaf], path)
    return " ".join(f"-S {override}" for override in overrides)


def _overrides(dotted: str, value, current, path) -> list[str]:
    if not (isinstance(value, dict) and isinstance(current, dict)):
        return [f"{dotted}={_hydra_literal(value, path)}"]
    out = [f"~{dotted}.{_hydra_key(key, path)}" for key in current if key not in value]
    for key, item in value.items():
        if key not in current:
            out.append(f"+{dotted}.{_hydra_key(key, path)}={_hydra_literal(item, path)}")
        elif item != current[key]:
            out += _overrides(f"{dotted}.{key}", item, current[key], path)
    return out


def _hydra_key(key, path) -> str:
    """A mapping key as Hydra's grammar takes it unquoted (the only way it takes keys)."""
    if not (isinstance(key, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key)):
        raise StemganError(f"{path}: key {key!r} cannot be passed to dvc exp run -S; use letters, digits, _ or -")
    return key


def _hydra_literal(value, path) -> str:
    """Hydra's override grammar: JSON for scalars and lists, but mapping keys unquoted."""
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{_hydra_key(key, path)}:{_hydra_literal(item, path)}" for key, item in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_hydra_literal(item, path) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"))
