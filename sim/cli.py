"""The ``kratix-sim`` command line. Each subcommand lives in its own module and registers itself here.

Every command shares the exit codes of ``sim.errors``; bad input prints one line and exits 2, an
internal error (also a crash inside the engine, ``HarnessError``) prints one line and exits 3, never a
traceback (set KRATIX_SIM_DEBUG=1 to see one). SIGINT and SIGTERM raise ``Interrupted`` (a KeyboardInterrupt),
so every cleanup written for Ctrl-C runs for both; the command prints one line and exits 130 or 143.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from sim import __version__
from sim.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    HarnessError,
    InputError,
    Interrupted,
    describe_exception,
    interrupt_exit_code,
    interrupt_message,
)
from sim.yamlio import source_date_epoch

if TYPE_CHECKING:
    from sim.yamlio import Limits

Handler = Callable[[argparse.Namespace], int]


def _commands() -> list[tuple[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]]:
    from conformance import (
        check_command,
        explore_command,
        idempotency_command,
        mutants_command,
        pipeline_command,
        report_command,
        rules_command,
    )
    from conformance.cluster_history import command as trace_command
    from sim import bench_command, run_command, schema_command, sweep_command, validation

    return [
        ("validate", validation.add_parser),
        ("run", run_command.add_parser),
        ("check", check_command.add_parser),
        ("explore", explore_command.add_parser),
        ("mutants", mutants_command.add_parser),
        ("idempotency", idempotency_command.add_parser),
        ("rules", rules_command.add_parser),
        ("report", report_command.add_parser),
        ("pipeline", pipeline_command.add_parser),
        ("schema", schema_command.add_parser),
        ("sweep", sweep_command.add_parser),
        ("bench", bench_command.add_parser),
        ("trace", trace_command.add_parser),
    ]


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (a missing value, an unknown option, exclusive options) as one line of bad input,
    like every other: ``kratix-sim: error: COMMAND: MESSAGE (see kratix-sim COMMAND --help)``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("kratix-sim").strip()
        raise InputError(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="kratix-sim",
        description="Simulate Kratix workflows and check them against Kratix's rules.",
    )
    parser.add_argument("--version", action="version", version=f"kratix-sim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _, register in _commands():
        register(sub)
    return parser


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    """Options raising the input limits of ``sim.yamlio.Limits``."""
    from sim.yamlio import DEFAULT_LIMITS

    group = parser.add_argument_group("input limits")
    group.add_argument("--max-file-bytes", type=int, default=DEFAULT_LIMITS.max_bytes, metavar="N")
    group.add_argument("--max-yaml-nodes", type=int, default=DEFAULT_LIMITS.max_nodes, metavar="N")
    group.add_argument("--max-yaml-depth", type=int, default=DEFAULT_LIMITS.max_depth, metavar="N")
    group.add_argument("--max-resources", type=int, default=DEFAULT_LIMITS.max_resources, metavar="N",
                       help="resources in a scenario, counting `count` (default %(default)s)")
    group.add_argument("--max-faults", type=int, default=DEFAULT_LIMITS.max_faults, metavar="N",
                       help="fault events a scenario's schedules give within its duration (default %(default)s)")
    group.add_argument("--max-reconciliations", type=int, default=DEFAULT_LIMITS.max_reconciliations, metavar="N",
                       help="periodic reconciliations a scenario asks for: objects x (duration + settle time) / "
                            "interval (default %(default)s)")
    group.add_argument("--max-runs", type=int, default=DEFAULT_LIMITS.max_runs, metavar="N",
                       help="runs of an experiment: parameter points x replications (default %(default)s)")


def refuse_unless(applies: bool, args: argparse.Namespace, options: Sequence[str], needs: str) -> None:
    """Bad input when one of ``options`` (dests, given unless None, empty or False) was given where it does
    not apply: an option that would be ignored must not be silently dropped."""
    given = [f"--{dest.replace('_', '-')}" for dest in options if getattr(args, dest) not in (None, [], False)]
    if given and not applies:
        raise InputError(f"{', '.join(given)} only {'applies' if len(given) == 1 else 'apply'} {needs}")


def limits_from(args: argparse.Namespace) -> Limits:
    from sim.yamlio import Limits

    given = {"max_bytes": "max_file_bytes", "max_nodes": "max_yaml_nodes", "max_depth": "max_yaml_depth",
             "max_resources": "max_resources", "max_faults": "max_faults",
             "max_reconciliations": "max_reconciliations", "max_runs": "max_runs"}
    values = {field: getattr(args, option) for field, option in given.items() if hasattr(args, option)}
    for field, value in values.items():
        if value < 1:
            raise InputError(f"--{given[field].replace('_', '-')} must be 1 or more (got {value})")
    return Limits(**values)


def main(argv: Sequence[str] | None = None) -> int:
    # Python's first gettempdir() writes and removes a probe file in $TMPDIR; done here, before signals raise
    # Interrupted, no interrupt can cut that probe short and leave its file behind.
    tempfile.gettempdir()
    with _signals_interrupt():
        try:
            parser = build_parser()
            args = parser.parse_args(argv)
            handler: Handler | None = getattr(args, "handler", None)
            if handler is None:
                parser.print_help()
                return EXIT_BAD_INPUT
            source_date_epoch()  # refused before anything runs, not when the reports are written
            return handler(args)
        except InputError as exc:
            print(f"kratix-sim: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM as Interrupted: the cleanup has run by now
            print(f"kratix-sim: {interrupt_message(exc)}", file=sys.stderr)
            return interrupt_exit_code(exc)
        except BrokenPipeError:
            return 0
        except Exception as exc:
            if os.environ.get("KRATIX_SIM_DEBUG"):
                raise
            if isinstance(exc, HarnessError):
                print(f"kratix-sim: {exc}", file=sys.stderr)
            else:
                print(f"kratix-sim: internal error: {describe_exception(exc)} (a bug; please report it)",
                      file=sys.stderr)
            return EXIT_INTERNAL


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While a command runs, SIGINT and SIGTERM raise ``Interrupted`` in the main thread; later signals are
    ignored while that interrupt is cleaned up (a second Ctrl-C must not cut a cleanup short)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if not raised:
            raised = True
            raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
