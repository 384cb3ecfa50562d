"""A stage's independent units (one seed's cycleGAN or FCN, one source's scoring) in worker processes.

One TensorFlow process keeps about 1.3 of 2 cores busy on this project's small networks (a whole `make repro`: 130%
CPU); two single-threaded processes, one unit each, use both (issue 14, a fresh-clone run on a 2-vCPU Zen 5: 2-seed
FCN stages 41-57 s -> 33-38 s, 2-seed cycleGAN stages 81-110 s -> 58-67 s, 163% CPU). A GPU is one device that the
units would share: with one visible, `auto` runs them one after another in this process, as does a single unit.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from stemgan.errors import StemganError
from stemgan.fast_exit import skip_teardown_at_exit

Item = TypeVar("Item")
Result = TypeVar("Result")

WORKER_FLAG = "STEMGAN_WORKER"  # set in worker processes: progress there is whole lines, never redrawn bars
QUIET_FLAG = "STEMGAN_QUIET"  # set by the quiet terminal (cli/quiet.py): workers silence the libraries too
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
LIBRARY_LOGGERS = ("mlflow", "alembic", "absl", "tensorflow", "optuna")
TENSORFLOW_UNITS = ("tensorflow", "keras", "mlflow")  # what a training or scoring unit imports first
# Keras imports these at its own import when they are installed, for its scikit-learn wrappers and image-gallery
# plots, which no unit uses: ~0.7 s of every worker's start (issue 14). Hidden while a worker warms up, so Keras
# takes them for absent (it guards both imports); importable as usual afterwards.
UNUSED_BY_KERAS_UNITS = ("sklearn", "matplotlib.pyplot")


def cpu_cores() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (containers, CI runners)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return cores


def gpu_visible() -> bool:
    """An NVIDIA GPU this process could use, seen without importing TensorFlow (whose import takes seconds)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def worker_count(setting: str | int, units: int) -> int:
    """Processes for `units` independent units: `auto` = one per CPU core, at most one per unit, 1 with a GPU."""
    if setting == "auto":
        return 1 if gpu_visible() else max(1, min(units, cpu_cores()))
    return max(1, min(int(setting), units))


def in_worker() -> bool:
    return os.environ.get(WORKER_FLAG) == "1"


def silence_libraries() -> None:
    """Python warnings and the libraries' info logs off (their C++ notices: TF_CPP_MIN_LOG_LEVEL)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # mlflow sets its own level when imported


def _start_worker(threads: int, warm: tuple[str, ...]) -> None:
    skip_teardown_at_exit()  # first, so it runs after the atexit handlers of TensorFlow and MLflow
    # before TensorFlow starts: it reads its thread counts once, when its runtime comes up
    os.environ[WORKER_FLAG] = "1"
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    if os.environ.get(QUIET_FLAG) == "1":
        silence_libraries()
    with _hidden(UNUSED_BY_KERAS_UNITS):
        for module in warm:
            importlib.import_module(module)


@contextlib.contextmanager
def _hidden(modules: tuple[str, ...]) -> Iterator[None]:
    """`import <module>` fails (ImportError) inside the block, for modules not imported yet; no trace after it."""
    hidden = [name for name in modules if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # a None entry: "import name" raises ModuleNotFoundError
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


Mapper = Callable[[Callable[[Item], Result], Iterable[Item]], list]


@contextlib.contextmanager
def unit_workers(workers: int, warm: tuple[str, ...] = ()) -> Iterator[Mapper]:
    """A `map(function, items)` that runs the items in `workers` processes (1: in this one, in order).

    The workers start at once and import the modules in `warm` (TensorFlow takes seconds) while this process
    still reads the units' inputs. They are fresh interpreters (spawn): `function` and the items must be picklable
    (a module-level function, functools.partial of one); each worker gets its share of the cores as TensorFlow
    threads. Results keep the items' order; a unit's error is raised here as it was raised there (a StemganError
    stays one line)."""
    if workers <= 1:
        yield lambda function, items: [function(item) for item in items]
        return
    threads = max(1, cpu_cores() // workers)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, context, _start_worker, (threads, warm))
    try:
        # a spawn pool starts a worker per task submitted while none is idle: one task each starts them all now
        for _ in range(workers):
            pool.submit(int)
        yield lambda function, items: list(pool.map(function, items))
    except BrokenProcessPool as exc:
        raise StemganError(
            f"a worker process died before its unit finished ({exc}); out of memory? Set compute.workers: 1 in "
            "params.yaml to run the units one after another in one process"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after an error: no unit starts that nobody will read
