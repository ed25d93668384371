"""The trace: an append-only list of observable events, streamed as JSON Lines (format in docs/trace.md).

Line 1 is the header ``{"event": "header", "format": "kratix-sim-trace/v1", ...}``; every later line has
``seq`` (strictly increasing), ``t`` (simulated seconds) and ``event``, then the fields that apply.
A trace carries no file paths, so the same run from another folder gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sim.errors import InputError, Location

TRACE_FORMAT = "kratix-sim-trace/v1"

Event = dict[str, Any]
Sink = Callable[[Event], None]


# What ``json.dumps(event, separators=(",", ":"), ensure_ascii=False)`` builds on every call, built once.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode(event: Event) -> str:
    """One JSONL line: compact, insertion-ordered, UTF-8 kept as is."""
    return _ENCODE(event)


def seconds(ms: int) -> int | float:
    """Simulated milliseconds as the trace's ``t``: an integer when whole."""
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


@dataclass
class Trace:
    """A header and its events, in order."""

    header: Event
    events: list[Event] = field(default_factory=list)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def named(self, *names: str) -> list[Event]:
        return [e for e in self.events if e["event"] in names]

    def where(self, event: str | None = None, **fields: Any) -> list[Event]:
        """Events named ``event`` (any if None) whose fields equal ``fields``."""
        return [
            e for e in self.events
            if (event is None or e["event"] == event) and all(e.get(k) == v for k, v in fields.items())
        ]

    def lines(self) -> Iterator[str]:
        yield encode(self.header)
        for event in self.events:
            yield encode(event)

    def to_jsonl(self) -> str:
        return "".join(line + "\n" for line in self.lines())

    def write(self, path: Path) -> None:
        from sim.yamlio import write_atomic

        write_atomic(path, self.to_jsonl())

    @classmethod
    def parse(cls, lines: Iterable[str], file: str = "<trace>") -> Trace:
        """Read a JSONL trace; errors name the file and line."""
        header: Event | None = None
        events: list[Event] = []
        last_seq: int | None = None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc.msg}", Location(file, line=number)) from exc
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                raise InputError("each line must be an object with an `event` field", Location(file, line=number))
            if header is None:
                if item["event"] != "header" or item.get("format") != TRACE_FORMAT:
                    raise InputError(f"first line must be a {TRACE_FORMAT} header", Location(file, line=number))
                header = item
                continue
            seq, t = item.get("seq"), item.get("t")
            if not isinstance(seq, int) or isinstance(seq, bool) or (last_seq is not None and seq <= last_seq):
                raise InputError("`seq` must be an integer, strictly increasing", Location(file, "seq", number))
            if not isinstance(t, int | float) or isinstance(t, bool):
                raise InputError("`t` must be a number", Location(file, "t", number))
            last_seq = seq
            events.append(item)
        if header is None:
            raise InputError("empty trace (no header line)", Location(file))
        return cls(header, events)

    @classmethod
    def read(cls, path: Path) -> Trace:
        from sim.yamlio import read_text

        return cls.parse(read_text(path).splitlines(), str(path))


class Recorder:
    """Numbers events and hands each to every sink (in memory list, JSONL file, streaming metrics)."""

    def __init__(self, header: Event, now_ms: Callable[[], int]) -> None:
        self.header = header
        self._now_ms = now_ms
        self._seq = 0
        self.sinks: list[Sink] = []

    def emit(self, event: str, **fields: Any) -> Event:
        self._seq += 1
        ms = self._now_ms()
        record: Event = {"seq": self._seq, "t": ms // 1000 if ms % 1000 == 0 else ms / 1000, "event": event}
        if None in fields.values():  # absent fields are left out
            for key, value in fields.items():
                if value is not None:
                    record[key] = value
        else:
            record.update(fields)
        for sink in self.sinks:
            sink(record)
        return record


class JsonlSink:
    """Streams events to an open text file, the header first."""

    def __init__(self, handle: IO[str], header: Event) -> None:
        self.handle = handle
        handle.write(encode(header) + "\n")

    def __call__(self, event: Event) -> None:
        self.handle.write(_ENCODE(event) + "\n")
