"""Fuzz report files through ``kratix-sim report compare BASELINE NEW``: a real report or baseline, mutated, as
NEW against the real baseline (both sides are read by the same ``load_report``)."""

from __future__ import annotations

import functools
from pathlib import Path

from fuzz_strategies import dump_json, report_input, valid_reports
from fuzzlib import Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

REGRESSIONS = [
    # two stderr lines: a metric name with a line break was printed raw in the field path of the error
    b'{"format": "kratix-sim-report/v1", "kind": "check", "runs": [{"metrics": {"a\\nb": "x"}}]}',
    b'{"format": "kratix-sim-report/v1", "kind": "check"}', b"[1, 2]", b"\xff\xfe{}", b"",
               b'{"format": "kratix-sim-report/v1", "kind": "check", "title": 1e999}']


@functools.cache
def _entry(fuzz_dir: Path) -> Entry:
    valid = fuzz_dir / "valid-baseline.json"
    valid.write_text(dump_json(valid_reports()[1]), encoding="utf-8")
    return Entry("report compare", "new.json", lambda path: ["report", "compare", str(valid), str(path)])


@fuzz_settings()
@given(data=report_input())
@with_examples(REGRESSIONS)
def test_report_compare(fuzz_dir: Path, data: bytes) -> None:
    check_entry(fuzz_dir, _entry(fuzz_dir), data)


def test_report_compare_in_subprocesses(fuzz_dir: Path) -> None:
    replay_in_subprocesses(fuzz_dir, _entry(fuzz_dir), REGRESSIONS)
