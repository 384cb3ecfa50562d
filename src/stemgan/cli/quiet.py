"""A quiet terminal: the stage's own progress and summary, not the libraries' start-up notices.

TensorFlow's C++ runtime writes its notices (oneDNN, absl, grappler) straight to file descriptor 2, out of
reach of Python's logging, so they are filtered on the descriptor itself. `--verbose` turns all of this off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from typing import Iterator

# lines the libraries print on every run that say nothing about the user's data or settings
NOISE = (
    b"All log messages before absl::InitializeLog()",
    b"oneDNN custom operations are on",
    b"remapper failed",
    b"Unable to register cu",  # cuFFT/cuDNN/cuBLAS factories on CPU-only machines
    b"TF-TRT Warning",
    b"This TensorFlow binary is optimized to use available CPU instructions",
    b"To enable the following instructions:",
    b"computation placer already registered",
)


def _forward(read_fd: int, target_fd: int) -> None:
    pending = b""
    while chunk := os.read(read_fd, 65536):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = [line + b"\n" for line in lines if not any(mark in line for mark in NOISE)]
        if pending and b"\r" in pending:  # a progress bar redraws its line without a newline: pass it on now
            kept.append(pending)
            pending = b""
        if kept:
            os.write(target_fd, b"".join(kept))
    if pending and not any(mark in pending for mark in NOISE):
        os.write(target_fd, pending)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Filter stderr (descriptor 2) line by line, and silence Python warnings and MLflow's info logs."""
    warnings.filterwarnings("ignore")
    for name in ("mlflow", "alembic", "absl", "tensorflow", "optuna"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # mlflow sets its own level when imported
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    forwarder = threading.Thread(target=_forward, args=(read_fd, saved), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last writer: the forwarder drains and ends
        forwarder.join(timeout=5)
        os.close(read_fd)
        os.close(saved)
