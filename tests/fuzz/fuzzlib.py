"""The front-door fuzzing kit: profiles, an in-process CLI runner with a time bound, and the property every
entry point must keep (exit 0 or 1 with a result, or exit 2 with exactly one ``kratix-sim: error:`` line;
never exit 3, a traceback or a hang).

Profiles (``--fuzz-profile`` or ``KRATIX_FUZZ``): ``ci`` (the default: 2,000 examples per entry point,
derandomized, so every run tries the same inputs) and ``long`` (50,000 per entry point, random, by hand).
Neither writes a ``.hypothesis`` example database.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from unittest import mock

from hypothesis import HealthCheck, example, settings

from sim.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
PROFILES = {"ci": 2_000, "long": 50_000}
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example]
settings.register_profile("kratix-fuzz-ci", max_examples=PROFILES["ci"], derandomize=True, database=None,
                          deadline=None, suppress_health_check=_HEALTH, print_blob=True)
settings.register_profile("kratix-fuzz-long", max_examples=PROFILES["long"], derandomize=False, database=None,
                          deadline=None, suppress_health_check=_HEALTH, print_blob=True)


def selected() -> str:
    """The profile asked for: ``KRATIX_FUZZ`` (tests/conftest.py sets it from ``--fuzz-profile``), else ci."""
    return os.environ.get("KRATIX_FUZZ", "ci")


# Per example wall-clock bound: far above what any entry point needs on valid small input (a hang is a bug).
EXAMPLE_TIMEOUT_S = 20.0
ERROR_PREFIX = "kratix-sim: error: "
# An alias bomb is refused at --max-yaml-nodes; at the default (1,000,000 nodes) that takes ~3.5 s of CPU, so
# the fuzz runs use a lower limit to try many inputs (test_bad_input.py covers the default).
YAML_LIMITS = ["--max-yaml-nodes", "5000"]


def fuzz_settings() -> settings:
    """The settings of the selected profile (``ci`` unless asked otherwise)."""
    name = selected()
    if name not in PROFILES:
        raise ValueError(f"unknown fuzz profile {name!r}; accepted: {', '.join(PROFILES)}")
    profile = settings(settings.get_profile(f"kratix-fuzz-{name}"))
    examples = os.environ.get("KRATIX_FUZZ_EXAMPLES")  # a quick look: fewer (or more) examples per entry point
    return settings(profile, max_examples=int(examples)) if examples else profile


class Hang(BaseException):
    """An example ran past EXAMPLE_TIMEOUT_S (a BaseException, so ``main`` cannot swallow it)."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread after ``seconds`` of wall time."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


@functools.cache
def _parser() -> argparse.ArgumentParser:
    return build_parser()


def run_main(argv: Sequence[str]) -> Outcome:
    """``sim.cli.main(argv)`` in this process, its output captured, within the time bound. The argument parser
    is built once (argparse parsers are reusable; building all subcommands' takes ~20 ms a call)."""
    from sim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), time_bound(EXAMPLE_TIMEOUT_S), \
            mock.patch("sim.cli.build_parser", _parser):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse; never expected with the fixed argv of these tests
            code = exc.code if isinstance(exc.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue())


def run_subprocess(argv: Sequence[str], cwd: Path | None = None) -> Outcome:
    """``python -m sim ARGV`` as a real process (what a user's shell sees)."""
    env = {k: v for k, v in os.environ.items() if k != "KRATIX_SIM_DEBUG"}
    result = subprocess.run([sys.executable, "-m", "sim", *argv], cwd=cwd or REPO_ROOT, capture_output=True,
                            text=True, timeout=120, check=False, env={**env, "PYTHONPATH": str(REPO_ROOT)})
    return Outcome(result.returncode, result.stdout, result.stderr)


def assert_clean(outcome: Outcome, what: str = "") -> None:
    """The front-door property: a result (0/1) or one clear error line (2); no 3, no traceback."""
    context = f"{what}\nexit {outcome.code}\nstdout: {outcome.stdout[-2000:]}\nstderr: {outcome.stderr[-2000:]}"
    assert "Traceback" not in outcome.stdout + outcome.stderr, context
    assert outcome.code in (0, 1, 2), context
    lines = outcome.stderr.splitlines()
    if outcome.code == 2:
        assert len(lines) == 1, context
        assert lines[0].startswith(ERROR_PREFIX), context
        assert len(lines[0]) > len(ERROR_PREFIX), context
    else:
        assert not any(line.startswith(("kratix-sim: error", "kratix-sim: internal", "kratix-sim: harness"))
                       for line in lines), context


@dataclass(frozen=True)
class Entry:
    """One front door: the file a fuzz input is written to (in ``folder`` of the fuzz folder) and the command
    line that reads it. ``patches`` apply in process only (e.g. no plots); the subprocess sample runs as is."""

    name: str
    filename: str
    argv: Callable[[Path], list[str]]
    folder: str = ""
    patches: tuple[tuple[str, object], ...] = ()


SAMPLE_SIZE = 5  # inputs per entry point replayed through ``python -m sim`` (a real process, real stderr)


def check_entry(fuzz_dir: Path, entry: Entry, data: bytes) -> Outcome:
    """Write ``data``, run the entry point in process, tally it, keep it for the subprocess sample, judge it."""
    path = fuzz_dir / entry.folder / entry.filename
    path.write_bytes(data)
    with ExitStack() as stack:
        for target, replacement in entry.patches:
            stack.enter_context(mock.patch(target, replacement))
        outcome = run_main(entry.argv(path))
    Stats.add(entry.name, outcome.code)
    Sample.offer(entry.name, data)
    assert_clean(outcome, data.decode("utf-8", "replace")[:3000])
    return outcome


def replay_in_subprocesses(fuzz_dir: Path, entry: Entry, fallback: Sequence[bytes]) -> list[Outcome]:
    """The entry's kept sample (or ``fallback`` when its fuzz test did not run) through ``python -m sim``, two
    processes at a time; each must keep the property on the real stderr."""
    inputs = Sample.kept.get(entry.name) or list(fallback)
    paths = []
    for index, data in enumerate(inputs):
        path = fuzz_dir / entry.folder / f"sample-{index}-{entry.filename}"
        path.write_bytes(data)
        paths.append(path)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda path: run_subprocess(entry.argv(path), cwd=fuzz_dir), paths))
    for data, outcome in zip(inputs, outcomes, strict=True):
        assert_clean(outcome, data.decode("utf-8", "replace")[:3000])
    return outcomes


class Sample:
    """Every k-th input of an entry point's fuzz run (k = examples / SAMPLE_SIZE): deterministic under the ci
    profile, and spread over the whole run rather than its first, simplest inputs."""

    kept: dict[str, list[bytes]] = {}  # noqa: RUF012 - one shared sample per session
    seen: dict[str, int] = {}  # noqa: RUF012

    @classmethod
    def offer(cls, entry: str, data: bytes) -> None:
        count = cls.seen[entry] = cls.seen.get(entry, 0) + 1
        every = max(1, (fuzz_settings().max_examples or SAMPLE_SIZE) // SAMPLE_SIZE)
        kept = cls.kept.setdefault(entry, [])
        if count % every == 0 and len(kept) < SAMPLE_SIZE:
            kept.append(data)


class Stats:
    """How many examples each entry point tried and how they ended (printed by the fuzz conftest)."""

    counts: dict[str, dict[int, int]] = {}  # noqa: RUF012 - one shared tally per session

    @classmethod
    def add(cls, entry: str, code: int) -> None:
        by_code = cls.counts.setdefault(entry, {})
        by_code[code] = by_code.get(code, 0) + 1


def with_examples(inputs: Sequence[bytes]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``@example(data=...)`` for each input: the regressions the fuzzing found run first, every time."""
    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for data in inputs:
            test = example(data=data)(test)
        return test
    return decorate
