"""Shared fixtures: the read-only material at ``../shared`` beside the repository (never copied in)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


def _require(path: Path) -> Path:
    """``path`` if it exists; otherwise skip, or fail under CI=true (CI must never skip the corpus)."""
    if path.is_dir():
        return path
    reason = f"{path} is absent (the shared corpus sits at ../shared beside the repository)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true, so this cannot be skipped")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` relative to the repository root."""
    return _require(SHARED_DIR)


@pytest.fixture(scope="session")
def corpus_dir(shared_dir: Path) -> Path:
    """``../shared/promises``: the real Promise corpus, read in place."""
    return _require(shared_dir / "promises")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--fuzz-profile ci|long``: the Hypothesis profile of tests/fuzz (default: $KRATIX_FUZZ, else ci)."""
    parser.addoption("--fuzz-profile", choices=["ci", "long"], default=None,
                     help="front-door fuzzing profile: ci (2,000 examples per entry point, the default) or long "
                          "(50,000, by hand); also KRATIX_FUZZ=long")


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("--fuzz-profile")
    if profile is not None:
        os.environ["KRATIX_FUZZ"] = profile  # read by tests/fuzz/fuzzlib.py when the fuzz tests are imported


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """Where real-executor runs put their temporary directories; it must be empty again after every run."""
    path = tmp_path / "work"
    path.mkdir()
    yield path
    assert list(path.iterdir()) == [], "a run left a temporary directory behind"
