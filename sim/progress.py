"""Progress on long runs: a rich progress bar on a terminal, nothing in CI logs or pipes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Advance = Callable[[float], None]  # called with the simulated seconds reached so far


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_for(total_s: float, label: str) -> Iterator[Advance | None]:
    """A callback reporting simulated seconds reached, or None when no terminal is watching."""
    if not interactive():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(label, total=total_s)
        yield lambda reached: progress.update(task, completed=reached)
