"""`python -m stemgan.tools.check_layout`: the house rules, checked.

- every package imports only packages on a lower floor (imports inside functions count too), so there is
  no import loop and nothing reaches upwards;
- every dvc.yaml stage has its module in stemgan/stages/ (the stage name, `train_fcn` for `train_fcn`; a
  stage family such as `train_fcn_translated`: its command's, `stemgan train-fcn`);
- the FCN-training stages list every `fcn` key of params.yaml but `fcn.scoring` (they list keys by hand so
  that a scoring change does not retrain every FCN; a new key missing from the list would never retrain one);
- dvc.lock holds only stages that dvc.yaml defines (DVC keeps a renamed or removed stage's entry for ever, and
  rereads and rewrites the whole file after every stage of a `dvc repro`: 32 stale entries cost ~0.6 s a stage).
Prints each breach on one line; exit 1 if there is any.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

PACKAGE = Path(__file__).resolve().parents[1]
# bottom to top: a package may import its own floor's modules and any lower floor's
FLOORS = (
    ("errors", "seeding", "config", "fast_exit", "parallel"),
    ("tracking",),
    ("data",),
    ("simulation",),
    ("microscope",),
    ("calibration",),
    ("models",),
    ("evaluation",),
    ("training",),
    ("tuning",),
    ("stages",),
    ("cli", "tools", "__main__", "__init__"),
)
FLOOR = {name: level for level, names in enumerate(FLOORS) for name in names}


def package_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def imported_packages(path: Path) -> set[str]:
    """stemgan packages a module imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module]
            if isinstance(node, ast.ImportFrom) and node.module
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found |= {name.split(".")[1] for name in names if name.startswith("stemgan.") and name.count(".") >= 1}
    return found


def upward_imports() -> list[str]:
    breaches = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = package_of(path)
        for target in sorted(imported_packages(path) - {here}):
            if target not in FLOOR or here not in FLOOR:
                breaches.append(
                    f"{path.relative_to(PACKAGE.parent)}: package '{target if target not in FLOOR else here}' "
                    "has no floor in stemgan/tools/check_layout.py FLOORS; add it"
                )
            elif FLOOR[target] > FLOOR[here]:
                breaches.append(f"{path.relative_to(PACKAGE.parent)}: {here} imports {target}, a higher floor")
    return breaches


def stage_module(name: str, definition: dict) -> str:
    """The module a stage runs: its own name's, else its command's first `stemgan <subcommand>` (the
    `_translated` / `_ablation` families of a stage run the same command on other items)."""
    if (PACKAGE / "stages" / f"{name}.py").is_file():
        return name
    words = str(definition.get("do", definition).get("cmd", "")).split()
    subcommand = next((b for a, b in zip(words, words[1:]) if a == "stemgan"), name)
    return subcommand.replace("-", "_")


def stages_without_module(dvc_yaml: Path) -> list[str]:
    stages = yaml.safe_load(dvc_yaml.read_text()).get("stages", {})
    return [
        f"{dvc_yaml}: stage '{name}' has no module stemgan/stages/{name}.py (nor has its command)"
        for name, definition in stages.items()
        if not (PACKAGE / "stages" / f"{stage_module(name, definition)}.py").is_file()
    ]


def unlisted_fcn_keys(dvc_yaml: Path, params_yaml: Path) -> list[str]:
    stages = yaml.safe_load(dvc_yaml.read_text()).get("stages", {})
    wanted = {f"fcn.{key}" for key in yaml.safe_load(params_yaml.read_text()).get("fcn", {})} - {"fcn.scoring"}
    breaches = []
    for name, definition in stages.items():
        if stage_module(name, definition) != "train_fcn":
            continue
        entries = definition.get("do", definition).get("params", [])
        listed = {p for p in entries if isinstance(p, str)}  # and `- params.yaml: [keys]` entries (a shared list)
        listed |= {k for p in entries if isinstance(p, dict) for k in p.get(params_yaml.name, [])}
        breaches += [f"{dvc_yaml}: stage '{name}' does not list params key {key}" for key in sorted(wanted - listed)]
    return breaches


def stale_lock_entries(dvc_yaml: Path) -> list[str]:
    lock = dvc_yaml.with_name("dvc.lock")
    if not lock.is_file():
        return []
    listed = subprocess.run(  # DVC's own names: foreach families expanded over params.yaml
        [sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
        cwd=dvc_yaml.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    defined = set(listed.stdout.split())
    return [
        f"{lock}: stage '{name}' is not in dvc.yaml (renamed or removed): delete its entry"
        for name in yaml.safe_load(lock.read_text()).get("stages", {})
        if name not in defined
    ]


def main(argv: list[str] | None = None) -> int:
    dvc_yaml = Path(argv[0] if argv else "dvc.yaml")
    params_yaml = dvc_yaml.with_name("params.yaml")
    breaches = upward_imports() + (stages_without_module(dvc_yaml) if dvc_yaml.is_file() else [])
    if dvc_yaml.is_file() and params_yaml.is_file():
        breaches += unlisted_fcn_keys(dvc_yaml, params_yaml) + stale_lock_entries(dvc_yaml)
    for line in breaches:
        print(line)
    print(
        f"check_layout: {len(breaches)} breach(es)"
        if breaches
        else f"check_layout: ok ({len(FLOORS)} floors, every dvc.yaml stage has its module)"
    )
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
