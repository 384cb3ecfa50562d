"""A quiet terminal: the stage's own progress and summary, not the libraries' start-up notices.

TensorFlow's C++ runtime writes its notices (oneDNN, absl, grappler) straight to file descriptor 2, out of
reach of Python's logging, so they are filtered on the descriptor itself. `--verbose` turns all of this off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Iterator

from stemgan.parallel import QUIET_FLAG, silence_libraries

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


# written last by quiet_libraries itself: the pipe may never reach end-of-file, since processes started meanwhile
# (multiprocessing's resource tracker) hold its write end until this process exits
END = b"\0stemgan: end of quiet output\0"


def _forward(read_fd: int, target_fd: int) -> None:
    pending, ended = b"", False
    while not ended and (chunk := os.read(read_fd, 65536)):
        pending += chunk
        if END in pending:
            pending, ended = pending.split(END, 1)[0], True
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
    silence_libraries()
    os.environ[QUIET_FLAG] = "1"  # worker processes (stemgan.parallel) silence themselves too
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    forwarder = threading.Thread(target=_forward, args=(read_fd, saved), daemon=True)
    forwarder.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.write(write_fd, END)  # after everything this process and its finished workers wrote: drain, then end
        os.close(write_fd)
        forwarder.join(timeout=5)
        os.close(read_fd)
        os.close(saved)
