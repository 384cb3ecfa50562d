"""`stemgan` command line: one subcommand per pipeline stage.

Heavy imports (TensorFlow, MLflow, scipy) happen inside the commands, so `--help` answers at once.
User errors print one line `stemgan: error: ...` and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from stemgan import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stemgan",
        description="Realistic ADF-STEM training images: simulate, degrade, tile, translate, find defects.",
    )
    parser.add_argument("--version", action="version", version=f"stemgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from stemgan.cli import commands

    for register in commands.REGISTRY:
        register(sub)
    for command in sub.choices.values():  # every stage's --help shows its defaults
        command.formatter_class = DefaultsFormatter
    return parser


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends '(default: X)' where an option has a real default (not None, not a flag's False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += f" (default: {action.default})"
        return text


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    from stemgan.errors import StemganError

    try:
        return int(args.handler(args) or 0)
    except StemganError as exc:
        print(f"stemgan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stemgan: interrupted; outputs of the unfinished stage were not written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
