"""Fuzz ``kratix-sim validate FILE``: Promise files, valid ones from the generator and the library, mutated."""

from __future__ import annotations

from pathlib import Path

from fuzz_strategies import promise_docs, yaml_input
from fuzzlib import YAML_LIMITS, Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

ENTRY = Entry("validate", "promise.yaml", lambda path: ["validate", str(path), *YAML_LIMITS])
REGRESSIONS = [
    # exit 3, found by the long profile: an escape beyond Unicode (ValueError from chr() in PyYAML's scanner)
    b'apiVersion:\n  "\\U01000000": null\nkind: Promise\nmetadata:\n  name: explored\n',
    # exit 3: a timestamp the datetime constructor refuses (ValueError: day is out of range for month)
    b"kind: Promise\nmetadata: {name: x, created: 2001-02-30}\n",
    # exit 3: a control character made PyYAML's reader fail before the first document (ReaderError)
    b'kind: Promise\nmetadata: {name: "\x01"}\n',
    # two stderr lines: the kinds of a file without a Promise were listed raw ("no Promise ... found: a<LF>b")
    b'kind: "a\\nb"\n',
    b"kind: Promise\nmetadata: {name: x}\nspec: {workflows: {resource: {configure: [{spec: []}]}}}\n",
    b"\xef\xbb\xbfkind: Promise\n",
    b"kind: Promise\nmetadata: &a {name: x}\nspec: *a\n",
]


@fuzz_settings()
@given(data=yaml_input(promise_docs()))
@with_examples(REGRESSIONS)
def test_validate(fuzz_dir: Path, data: bytes) -> None:
    outcome = check_entry(fuzz_dir, ENTRY, data)
    if outcome.code == 2:
        assert str(fuzz_dir / ENTRY.filename) in outcome.stderr


def test_validate_in_subprocesses(fuzz_dir: Path) -> None:
    outcomes = replay_in_subprocesses(fuzz_dir, ENTRY, REGRESSIONS)
    assert {o.code for o in outcomes} & {0, 1, 2}
