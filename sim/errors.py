"""Errors the user can act on, and the exit codes every command shares.

Exit codes: 0 fine (warnings allowed), 1 the input was judged and fails, 2 the input could not be judged
(missing file, YAML syntax error, not a Promise, bad scenario), 3 internal error (a harness bug, also a crash
inside the engine: ``HarnessError``), 130/143 interrupted by SIGINT/SIGTERM (``Interrupted``).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file, a YAML path such as ``spec.workflows[0]`` and a 1-based line."""

    file: str
    path: str = ""
    line: int | None = None

    def __str__(self) -> str:
        text = self.file
        if self.line is not None:
            text += f":{self.line}"
        if self.path:
            text += f": {self.path}"
        return text


class InputError(Exception):
    """Input that cannot be judged: the message names the file, line and key, and says what is accepted."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT or SIGTERM) turned into an exception, so every ``finally`` and ``except
    KeyboardInterrupt`` that cleans up after Ctrl-C also runs for SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def interrupt_signal(exc: KeyboardInterrupt) -> int:
    """The signal behind an interrupt: its own for ``Interrupted``, SIGINT for a plain KeyboardInterrupt."""
    return exc.signum if isinstance(exc, Interrupted) else signal.SIGINT


def interrupt_exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + interrupt_signal(exc)


def interrupt_message(exc: KeyboardInterrupt) -> str:
    """``interrupted (SIGTERM)``."""
    return f"interrupted ({signal.Signals(interrupt_signal(exc)).name})"


class HarnessError(Exception):
    """kratix-sim itself crashed while running ``subject`` (a bug, never a verdict). ``error`` is the
    exception as text (``describe_exception``); the message adds the command that reproduces it."""

    def __init__(self, subject: str, error: str, reproduce: str) -> None:
        super().__init__(subject, error, reproduce)
        self.subject = subject
        self.error = error
        self.reproduce = reproduce

    def __str__(self) -> str:
        return (f"harness error in {self.subject}: {self.error} (a bug; reproduce: {self.reproduce}; "
                "set KRATIX_SIM_DEBUG=1 for the traceback)")


def describe_exception(error: BaseException) -> str:
    """``ZeroDivisionError: division by zero`` on one line (newlines in the message folded)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextmanager
def harness_errors(subject: str, reproduce: str) -> Iterator[None]:
    """Turn an exception escaping the block into a HarnessError naming ``subject`` and ``reproduce``. Bad
    input (InputError) and I/O errors (a full disk is not a bug) pass through unchanged, as do interrupts."""
    try:
        yield
    except (InputError, OSError):
        raise
    except Exception as exc:
        raise HarnessError(subject, describe_exception(exc), reproduce) from exc
