"""Ending a process without the interpreter's teardown.

After its last line, a process that imported TensorFlow spends ~1.6 s tearing down modules and objects, and a stage
waits ~2.5 s for its pool of two such workers to shut down (a 2-vCPU Zen 5, issue 14): beside a 20 s training, that
is a tenth of a stage, in each of ~35 stages. What is skipped is only freeing memory the OS frees anyway: the
non-daemon threads are joined and every atexit handler runs (MLflow's, weakref finalizers such as a
TemporaryDirectory's cleanup) as at a normal exit, and stdout and stderr are flushed. Under a profiler, debugger or
coverage tracer a process exits as usual: `python -m cProfile -o F` writes F after the script returns, not in an atexit
handler.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_process(code: int) -> NoReturn:
    """Exit with `code` as `sys.exit` would, less the teardown (for the `stemgan` command's own process)."""
    if _observed():
        sys.exit(code)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    _exit_now(code)


def skip_teardown_at_exit() -> None:
    """When this process exits, end it right after the atexit handlers, with status 0: for a pool's worker, whose
    normal end is the pool's stop sign (status 0; a worker that dies early breaks the pool whatever its status).
    Call it before the imports that register handlers of their own: atexit runs the last registered first, so this
    one runs after theirs."""
    atexit.register(_exit_unless_observed)


def _observed() -> bool:
    """A profiler, debugger or coverage tracer is watching: it may still have work to do after the atexit handlers."""
    return sys.getprofile() is not None or sys.gettrace() is not None


def _exit_unless_observed() -> None:
    if not _observed():
        _exit_now(0)


def _exit_now(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed, replaced by None, or a broken pipe
            pass
    os._exit(code)
