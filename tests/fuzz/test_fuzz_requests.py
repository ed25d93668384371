"""Fuzz resource requests (``kratix-sim idempotency PROMISE --request RR``) up to the point where the real
pipelines would start: the container engine is given an option it refuses, so a request that loads ends in
``container executor: ... does not work here`` (exit 2) and nothing runs; a request that does not load ends in
one line naming the request file."""

from __future__ import annotations

from pathlib import Path

from fuzz_strategies import request_docs, yaml_input
from fuzzlib import REPO_ROOT, YAML_LIMITS, Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

from sim.errors import InputError

PROMISE = Path(__file__).resolve().parent / "request-promise.yaml"  # small: the requests are what is fuzzed


def _no_engine(*args: object) -> None:
    """In process, stop where the engine would be asked (the subprocess sample asks podman, which refuses)."""
    raise InputError("container executor: not started by the fuzz test")


ENTRY = Entry("idempotency --request", "request.yaml",
              lambda path: ["idempotency", str(PROMISE), "--request", str(path), "--no-lint", "--executor",
                            "container", "--engine-option=--kratix-sim-fuzz-no-such-option", *YAML_LIMITS],
              patches=(("conformance.idempotency_command._factory", _no_engine),))
REGRESSIONS = [
    # two stderr lines: a key with a line break ("\r") was printed raw in the error's YAML path
    b'? "\\r"\n? "\\r"\n: null\n',
    b"- a\n- b\n", b"apiVersion: v1\nkind: Database\nmetadata: {name: [x]}\n", b"kind: Promise\n",
               (REPO_ROOT / "examples" / "idempotent" / "resource-request.yaml").read_bytes()]


def _assert_request_judged(stderr: str, path: Path) -> None:
    """Refused by the request loader (the line names the file), or loaded and stopped at the engine."""
    assert "container executor" in stderr or str(path) in stderr, stderr


@fuzz_settings()
@given(data=yaml_input(request_docs()))
@with_examples(REGRESSIONS)
def test_request(fuzz_dir: Path, data: bytes) -> None:
    outcome = check_entry(fuzz_dir, ENTRY, data)
    assert outcome.code == 2
    _assert_request_judged(outcome.stderr, fuzz_dir / ENTRY.filename)


def test_request_in_subprocesses(fuzz_dir: Path) -> None:
    outcomes = replay_in_subprocesses(fuzz_dir, ENTRY, REGRESSIONS)
    assert all(o.code == 2 for o in outcomes)
    for outcome in outcomes:  # refused naming its sample file, or stopped at the (real, refusing) engine
        assert "container executor" in outcome.stderr or "sample-" in outcome.stderr, outcome.stderr
