"""`stemgan` command line: one subcommand per pipeline stage.

Heavy imports (TensorFlow, MLflow, scipy) happen inside the commands, so `--help` answers at once.
User errors print one line `stemgan: error: ...` and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from stemgan import __version__

# every command module, in pipeline order (so `stemgan --help` reads as dvc.yaml does), with the subcommands it
# registers: a stage's process imports and registers only its own module, not the others (about 1 s a stage)
COMMANDS = (
    ("stemgan.stages.acquire", ("acquire",)),
    ("stemgan.stages.calibrate", ("calibrate",)),
    ("stemgan.stages.simulate", ("simulate",)),
    ("stemgan.stages.tile", ("tile",)),
    ("stemgan.stages.train_cyclegan", ("train-cyclegan",)),
    ("stemgan.stages.translate", ("translate",)),
    ("stemgan.stages.train_fcn", ("train-fcn",)),
    ("stemgan.stages.table1_cells", ("table1-cells", "table1-cell")),
    ("stemgan.stages.table1", ("table1", "promote-fcn")),
    ("stemgan.stages.diagnose", ("diagnose",)),
    ("stemgan.stages.evaluate", ("evaluate",)),
    ("stemgan.stages.detect", ("detect",)),
    ("stemgan.stages.realism", ("realism",)),
    ("stemgan.stages.real_example", ("fetch-example", "real-example")),
    ("stemgan.stages.tune", ("tune", "promote")),
    ("stemgan.stages.report", ("report",)),
    ("stemgan.cli.doctor", ("doctor",)),
    ("stemgan.cli.profiles", ("profile-args", "profile-run")),
)


def _modules(command: str | None) -> list:
    """The module that registers `command`; every module when there is none (--help) or it is unknown."""
    import importlib

    names = [name for name, commands in COMMANDS if command in commands] or [name for name, _ in COMMANDS]
    return [importlib.import_module(name) for name in names]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `command` alone (what a stage's process needs)."""
    parser = argparse.ArgumentParser(
        prog="stemgan",
        description="Realistic ADF-STEM training images: simulate, degrade, tile, translate, find defects.",
    )
    parser.add_argument("--version", action="version", version=f"stemgan {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show the libraries' own notices and warnings (TensorFlow, MLflow, Keras)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _modules(command):
        module.register(sub)
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


def entry() -> None:
    """The `stemgan` command: `main`, then the process ends without the interpreter's teardown (fast_exit.py).
    argparse's exits (--help, a usage error) and a traceback leave as usual."""
    from stemgan.fast_exit import exit_process

    exit_process(main())


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((word for word in argv if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    from stemgan.cli.quiet import quiet_libraries
    from stemgan.errors import StemganError
    from stemgan.stages.arguments import check_outputs

    with contextlib.nullcontext() if args.verbose else quiet_libraries():
        try:
            check_outputs(args)
            return int(args.handler(args) or 0)
        except StemganError as exc:
            print(f"stemgan: error: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # an MLflow server that is down: one line, not a traceback wall
            if type(exc).__module__.split(".")[0] not in ("mlflow", "requests", "urllib3"):
                raise
            from stemgan.tracking.mlflow_runs import unreachable_message

            print(
                f"stemgan: error: {unreachable_message(exc) or 'MLflow: ' + str(exc).splitlines()[0]}", file=sys.stderr
            )
            return 2
        except KeyboardInterrupt:
            print("stemgan: interrupted; outputs of the unfinished stage were not written", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
