"""The ``kratix-sim`` command line. Each subcommand lives in its own module and registers itself here.

Every command shares the exit codes of ``sim.errors``; bad input prints one line and exits 2, an
internal error prints one line and exits 3, never a traceback (set KRATIX_SIM_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sim import __version__
from sim.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, InputError

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
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def limits_from(args: argparse.Namespace) -> Limits:
    from sim.yamlio import Limits

    return Limits(max_bytes=args.max_file_bytes, max_nodes=args.max_yaml_nodes, max_depth=args.max_yaml_depth)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return handler(args)
    except InputError as exc:
        print(f"kratix-sim: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("kratix-sim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("KRATIX_SIM_DEBUG"):
            raise
        print(f"kratix-sim: internal error: {type(exc).__name__}: {exc} (a bug; please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
