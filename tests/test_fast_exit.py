"""Processes that end without the interpreter's teardown (stemgan.fast_exit) lose nothing a normal exit keeps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from stemgan.parallel import unit_workers

SCRIPT = """
import atexit, sys, tempfile, threading, time
from pathlib import Path
from stemgan.fast_exit import exit_process

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
kept = tempfile.TemporaryDirectory(dir=out)  # removed by its weakref finalizer, an atexit handler
(out / "tmpdir").write_text(kept.name)
threading.Thread(target=lambda: (time.sleep(0.3), (out / "thread").write_text("joined"))).start()
print("last line, no newline, still in the buffer", end="")
exit_process(int(sys.argv[2]))
"""


def test_exit_process_keeps_the_status_output_handlers_threads_and_finalizers(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    for status in (0, 3):
        out = tmp_path / f"out{status}"
        out.mkdir()
        proc = subprocess.run([sys.executable, str(script), str(out), str(status)], capture_output=True, text=True)
        assert proc.returncode == status, proc.stderr
        assert proc.stdout == "last line, no newline, still in the buffer"
        assert (out / "atexit").read_text() == "ran"
        assert (out / "thread").read_text() == "joined"
        assert not Path((out / "tmpdir").read_text()).exists()


def test_under_a_profiler_the_process_exits_as_usual_and_the_profile_is_written(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "out").mkdir()
    profile = tmp_path / "run.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(profile), str(script), str(tmp_path / "out"), "0"]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert profile.stat().st_size > 0
    assert (tmp_path / "out" / "atexit").read_text() == "ran"


def _register_handler_and_leave_a_temporary_folder(folder: str) -> tuple[int, str]:
    """What a unit's libraries do after the worker started: MLflow registers atexit handlers when imported."""
    import atexit
    import os
    import tempfile

    atexit.register(lambda: (Path(folder) / f"handler_{os.getpid()}").write_text("ran"))
    kept = tempfile.TemporaryDirectory(dir=folder)
    globals().setdefault("kept", []).append(kept)
    return os.getpid(), kept.name


def test_a_workers_handlers_and_finalizers_run_before_it_ends(tmp_path):
    with unit_workers(2) as run_units:
        left = run_units(_register_handler_and_leave_a_temporary_folder, [str(tmp_path)] * 4)
    workers = {pid for pid, _ in left}
    assert {path.name for path in tmp_path.glob("handler_*")} == {f"handler_{pid}" for pid in workers}
    assert not any(Path(name).exists() for _, name in left)
