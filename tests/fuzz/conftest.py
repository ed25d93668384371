"""Fixtures of the front-door fuzz tests: a work folder with the scenario library's Promises beside the fuzzed
files, and a tally of exit codes per entry point printed at the end of the session."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzlib import REPO_ROOT, Stats, selected


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for fuzzed files; ``promises/`` is the library's, so relative Promise paths resolve."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "promises").symlink_to(REPO_ROOT / "scenarios" / "promises")
    experiments = folder / "experiments"
    experiments.mkdir()
    (experiments / "promises").symlink_to(REPO_ROOT / "scenarios" / "experiments" / "promises")
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not Stats.counts:
        return
    terminalreporter.section(f"front-door fuzzing (profile {selected()})")
    for entry, by_code in sorted(Stats.counts.items()):
        codes = ", ".join(f"exit {code}: {n}" for code, n in sorted(by_code.items()))
        terminalreporter.write_line(f"{entry}: {sum(by_code.values())} examples ({codes})")
