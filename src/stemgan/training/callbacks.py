"""Callbacks that plug into fit(): realism monitor, MLflow logging, checkpoints, sample grids."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from stemgan.evaluation.spectra import spectrum_distance
from stemgan.parallel import in_worker
from stemgan.tracking.mlflow_runs import log_metrics


class RealismMonitor(keras.callbacks.Callback):
    """Adds `spectrum_distance` (G(sim) vs experimental tiles, log10 decades) and `lr` to the epoch logs."""

    def __init__(self, sim_tiles: np.ndarray, exp_tiles: np.ndarray, pixel_size_A: float):
        super().__init__()
        self.sim_tiles, self.exp_tiles, self.pixel_size_A = sim_tiles, exp_tiles, pixel_size_A

    def on_epoch_end(self, epoch, logs=None):
        from stemgan.models.tiled_inference import traced_predict

        # one traced call for the whole training: Keras predict builds a dataset and an iterator every epoch
        generated = traced_predict(self.model.gen_sim2exp, self.sim_tiles, batch_size=16)
        logs["spectrum_distance"] = spectrum_distance(generated, self.exp_tiles, self.pixel_size_A)
        optimizer = self.model.generator_optimizer
        logs["lr"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class MlflowEpochLogger(keras.callbacks.Callback):
    """Every epoch's logs as MLflow metrics of the active run (one batched call), step = epoch (1-based).

    Without an active run it logs nothing (MLflow would otherwise open a stray run of its own)."""

    def __init__(self, prefix: str = ""):
        super().__init__()
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        import mlflow

        if mlflow.active_run() is not None:
            log_metrics({f"{self.prefix}{k}": v for k, v in (logs or {}).items()}, step=epoch + 1)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: its row in the history file, then model, optimizers, image pools and the epoch counter.

    The history row goes first, so a kill in between leaves a row that the resume drops (rows past the
    checkpoint's epoch), never a checkpoint without its row. Put this before the MLflow logger: a resumed
    run then back-fills a missed point instead of logging one twice."""

    def __init__(self, manager: tf.train.CheckpointManager, epoch_counter: tf.Variable, history_file: Path):
        super().__init__()
        self.manager, self.epoch_counter, self.history_file = manager, epoch_counter, Path(history_file)

    def on_epoch_end(self, epoch, logs=None):
        from stemgan.training.history import append_epoch

        append_epoch(self.history_file, epoch + 1, logs or {})
        self.epoch_counter.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


class SampleGrid(keras.callbacks.Callback):
    """Every `every` epochs, an MLflow image: sim, G(sim), F(G(sim)), experimental, with FFT amplitudes."""

    def __init__(self, sim_tiles: np.ndarray, exp_tiles: np.ndarray, every: int, out_dir: Path | None = None):
        super().__init__()
        self.sim_tiles, self.exp_tiles, self.every, self.out_dir = sim_tiles[:4], exp_tiles[:4], every, out_dir

    def on_epoch_end(self, epoch, logs=None):
        if self.every <= 0 or (epoch + 1) % self.every:
            return
        import mlflow

        from stemgan.evaluation.figures import cycle_grid

        fake = self.model.gen_sim2exp.predict(self.sim_tiles, verbose=0)
        cycled = self.model.gen_exp2sim.predict(fake, verbose=0)
        figure = cycle_grid(self.sim_tiles, fake, cycled, self.exp_tiles, title=f"epoch {epoch + 1}")
        mlflow.log_figure(figure, f"samples/epoch_{epoch + 1:04d}.png")
        if self.out_dir is not None:
            figure.savefig(self.out_dir / "samples_last.png", dpi=80)
        import matplotlib.pyplot as plt

        plt.close(figure)


class EpochLine(keras.callbacks.Callback):
    """A whole line per epoch with the unit's name, for units trained side by side in worker processes
    (stemgan.parallel), whose Keras progress bars would overwrite each other on the one terminal."""

    def __init__(self, name: str, keys: tuple[str, ...]):
        super().__init__()
        self.name, self.keys, self.started = name, keys, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        shown = "".join(f", {k} {logs[k]:.4g}" for k in self.keys if k in (logs or {}))
        seconds = time.perf_counter() - self.started
        print(f"{self.name}: epoch {epoch + 1}/{self.params['epochs']}{shown} ({seconds:.1f} s)", flush=True)


def fit_progress(name: str, keys: tuple[str, ...]) -> tuple[int, list]:
    """fit()'s verbosity and progress callbacks: a progress bar on a terminal, a line per epoch in a log, one named
    line per epoch in a worker process (several units share the terminal there)."""
    if in_worker():
        return 0, [EpochLine(name, keys)]
    return (1 if sys.stdout.isatty() else 2), []
