"""Fuzz trace files through ``kratix-sim check --trace FILE``: stretches of real traces, mutated."""

from __future__ import annotations

from pathlib import Path

from fuzz_strategies import trace_input
from fuzzlib import Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

ENTRY = Entry("check --trace", "trace.jsonl", lambda path: ["check", "--trace", str(path)])
HEADER = b'{"event":"header","format":"kratix-sim-trace/v1","seed":7}\n'
REGRESSIONS = [
    # exit 3: a field of the wrong type reached the checkers' index (TypeError: unhashable type: 'list')
    HEADER + b'{"seq":1,"t":0,"event":"object_created","object":["a"]}\n',
    # exit 3: a job_created event without `job` (KeyError in the index)
    HEADER + b'{"seq":1,"t":0,"event":"job_created","object":"default/a"}\n',
    # non-finite times (Python's json reads NaN and Infinity)
    HEADER + b'{"seq":1,"t":NaN,"event":"x"}\n{"seq":2,"t":Infinity,"event":"x"}\n',
    HEADER + b'{"seq":1,"t":1e999,"event":"object_created"}\n',
    b'{"event":"header","format":"kratix-sim-trace/v1","config":[1]}\n',
]


@fuzz_settings()
@given(data=trace_input())
@with_examples(REGRESSIONS)
def test_check_trace(fuzz_dir: Path, data: bytes) -> None:
    check_entry(fuzz_dir, ENTRY, data)


def test_check_trace_in_subprocesses(fuzz_dir: Path) -> None:
    replay_in_subprocesses(fuzz_dir, ENTRY, REGRESSIONS)
