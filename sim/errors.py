"""Errors the user can act on, and the exit codes every command shares.

Exit codes: 0 fine (warnings allowed), 1 the input was judged and fails, 2 the input could not be judged
(missing file, YAML syntax error, not a Promise, bad scenario), 3 internal error (a harness bug).
"""

from __future__ import annotations

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
