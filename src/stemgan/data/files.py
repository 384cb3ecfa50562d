"""Atomic outputs, and the one rule for output folders: stemgan replaces only what it wrote.

A stage either writes everything or leaves no partial files behind. Every output folder gets a
marker file; a folder without it (a user's images, labels, notes) is never replaced unless the user
says `--force`, and an output that would replace or contain one of the command's inputs is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from stemgan.errors import fail

MARKER = ".stemgan-output"  # left in every folder stemgan writes: the licence to replace it later
_replace_allowed: set[Path] = set()  # folders the user allowed to replace (--force)


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call write(tmp_path) on a temporary sibling, then rename it onto `path`."""
    path = Path(path)
    if path.is_dir():
        raise fail(path, "is a folder, not a file", "give a file path")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def foreign_files(folder: Path | str) -> list[Path]:
    """Files under `folder` that stemgan did not write: all of them where it left no marker, else those
    missing from the marker's list (a user's images copied into the demo data/, say)."""
    folder = Path(folder)
    marker = folder / MARKER
    if not marker.is_file():
        return [f for f in folder.rglob("*") if not f.is_dir()]
    listed = set(marker.read_text().splitlines())
    foreign = []
    for entry in folder.iterdir():
        if entry.is_dir() and (entry / MARKER).is_file():
            foreign += foreign_files(entry)  # a stemgan output inside a stemgan folder keeps its own list
        elif entry.is_dir():
            foreign += [
                f for f in entry.rglob("*") if not f.is_dir() and f.relative_to(folder).as_posix() not in listed
            ]
        elif entry.name != MARKER and entry.name not in listed:
            foreign.append(entry)
    return foreign


def _write_marker(folder: Path) -> None:
    files = sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*") if not f.is_dir())
    (folder / MARKER).write_text("".join(f"{name}\n" for name in files if name != MARKER))


def allow_replace(folder: Path | str) -> None:
    """Let this process replace `folder` even though stemgan did not write it (the user's --force)."""
    _replace_allowed.add(Path(folder).resolve())


def check_output_folder(folder: Path | str, inputs: Iterable[Path | str] = (), force: bool = False) -> None:
    """Refuse, with one line, an output folder whose replacement could lose something stemgan did not write."""
    folder = Path(folder)
    target = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise fail(folder, "exists and is a file, not a folder", "give a new or stemgan-written folder for the output")
    for source in inputs:
        source_path = Path(source).resolve()
        if target == source_path or source_path.is_relative_to(target):
            raise fail(folder, f"would replace the input {source}", "write the output to a folder outside the inputs")
        if target.is_relative_to(source_path) and source_path.is_dir() and not force:
            raise fail(
                folder,
                f"lies inside the input folder {source}",
                "write the output elsewhere (or pass --force to write it there)",
            )
    if folder.is_dir() and not (force or target in _replace_allowed):
        foreign = foreign_files(folder)
        if foreign:
            raise fail(
                folder,
                f"holds {len(foreign)} file(s) that stemgan did not write (e.g. {foreign[0].relative_to(folder)})",
                "choose a new or empty folder (or pass --force to replace it)",
            )


def claim_folder(folder: Path | str) -> Path:
    """Create (or keep) an output folder that holds several stemgan outputs, and mark it as stemgan's."""
    folder = Path(folder)
    check_output_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / MARKER).is_file():
        _write_marker(folder)
    return folder


@contextlib.contextmanager
def atomic_directory(path: Path | str) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces `path`, on failure it is removed.

    `path` is replaced only if stemgan wrote it (or the user allowed it): checked before any work."""
    path = Path(path)
    check_output_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        _write_marker(tmp)
        check_output_folder(path)  # again: the folder may have been filled while the stage ran
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
