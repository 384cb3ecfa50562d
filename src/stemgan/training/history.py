"""A training's per-epoch history (one row per epoch, 1-based `epoch`), kept beside its checkpoints so that
it survives a kill and continues where it stopped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stemgan.data.files import atomic_write


def read_history(path: Path, up_to_epoch: int) -> pd.DataFrame:
    """Rows of epochs 1..up_to_epoch (rows past it belong to an epoch whose checkpoint was never written)."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame({"epoch": pd.Series(dtype=int)})
    history = pd.read_csv(path)
    return history[history.epoch <= up_to_epoch].drop_duplicates("epoch", keep="last").reset_index(drop=True)


def append_epoch(path: Path, epoch: int, logs: dict) -> None:
    """Add (or replace) the row of `epoch`, atomically."""
    previous = read_history(path, epoch - 1)
    row = pd.DataFrame([{"epoch": epoch, **{k: float(v) for k, v in logs.items()}}])
    history = pd.concat([previous, row], ignore_index=True) if len(previous) else row
    atomic_write(path, lambda tmp: history.to_csv(tmp, index=False))


def final_metrics(history: pd.DataFrame) -> dict[str, float]:
    """The last epoch's metrics ({} before the first epoch)."""
    return {k: float(v) for k, v in history.iloc[-1].items() if k != "epoch"} if len(history) else {}
