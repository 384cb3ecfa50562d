"""User-facing errors: one line that names the file and the fix, never a traceback."""


class StemganError(Exception):
    """An error caused by the user's input or settings; the CLI prints it as one line and exits 2."""


def fail(path, problem: str, fix: str) -> "StemganError":
    """Build a StemganError of the form '<path>: <problem>; <fix>'."""
    return StemganError(f"{path}: {problem}; {fix}")
