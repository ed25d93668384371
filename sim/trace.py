"""The trace: an append-only list of observable events, streamed as JSON Lines (format in docs/trace.md).

Line 1 is the header ``{"event": "header", "format": "kratix-sim-trace/v1", ...}``; every later line has
``seq`` (strictly increasing), ``t`` (simulated seconds) and ``event``, then the fields that apply.
A trace carries no file paths, so the same run from another folder gives the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sim.errors import InputError, Location

if TYPE_CHECKING:
    from sim.yamlio import Limits

TRACE_FORMAT = "kratix-sim-trace/v1"

Event = dict[str, Any]
Sink = Callable[[Event], None]


def _chunk_encoder() -> Callable[[Any, int], list[str]]:
    """What ``json.dumps(event, separators=(",", ":"), ensure_ascii=False)`` runs, built once: the C encoder
    ``JSONEncoder.encode`` builds on every call (with the same options), returning the line's chunks. Without
    circular-reference markers (an event is a tree); where the C accelerator is missing, ``JSONEncoder``."""
    options = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has the accelerator
        return lambda value, _level: [options.encode(value)]
    encoder: Callable[[Any, int], list[str]] = make(None, options.default, json.encoder.encode_basestring, None,
                                                    ":", ",", False, False, True)
    return encoder


_CHUNKS = _chunk_encoder()  # _CHUNKS(event, 0): the chunks of the line (usually one string)
_JOIN = "".join


def encode(event: Event) -> str:
    """One JSONL line: compact, insertion-ordered, UTF-8 kept as is."""
    return _JOIN(_CHUNKS(event, 0))


_ENCODE = encode  # the name earlier versions exported


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
        last_t: float = 0.0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line, object_pairs_hook=_no_duplicate_keys)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc.msg}", Location(file, line=number)) from exc
            except _DuplicateKey as exc:
                raise InputError(f"duplicate key {exc.args[0]!r}", Location(file, str(exc.args[0]), number)) from None
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                raise InputError("each line must be an object with an `event` field", Location(file, line=number))
            if header is None:
                if item["event"] != "header" or item.get("format") != TRACE_FORMAT:
                    raise InputError(f"first line must be a {TRACE_FORMAT} header", Location(file, line=number))
                _check_header(item, file, number)
                header = item
                continue
            seq, t = item.get("seq"), item.get("t")
            if not isinstance(seq, int) or isinstance(seq, bool) or (last_seq is not None and seq <= last_seq):
                raise InputError("`seq` must be an integer, strictly increasing", Location(file, "seq", number))
            if not isinstance(t, int | float) or isinstance(t, bool) or not last_t <= t < math.inf:
                raise InputError("`t` must be a finite number of seconds, 0 or more, never decreasing",
                                 Location(file, "t", number))
            _check_fields(item, file, number)
            last_seq, last_t = seq, t
            events.append(item)
        if header is None:
            raise InputError("empty trace (no header line)", Location(file))
        return cls(header, events)

    @classmethod
    def read(cls, path: Path, limits: Limits | None = None) -> Trace:
        """Read a trace file; ``limits.max_bytes`` (``--max-file-bytes``) bounds its size."""
        from sim.yamlio import DEFAULT_LIMITS, read_text

        return cls.parse(read_text(path, limits or DEFAULT_LIMITS).splitlines(), str(path))


# Field types of trace events (docs/trace.md): what a reader may rely on once ``Trace.parse`` accepted a line.
_TEXT_FIELDS = ("object", "workflow", "action", "pipeline", "job", "pod", "container", "hash", "reason", "type",
                "status", "label", "finalizer", "restart_policy", "promise", "digest")
_INTEGER_FIELDS = ("pipeline_index", "attempt", "exit_code", "backoff_limit", "generation")
_REQUIRED = {"job_created": ("job",), "pod_created": ("pod",)}


class _DuplicateKey(ValueError):
    """A JSON object with one key twice (``json`` would keep the last silently; YAML inputs refuse it too)."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    item = dict(pairs)
    if len(item) != len(pairs):  # rare: only then look for the key
        keys = [key for key, _ in pairs]
        raise _DuplicateKey(next(key for i, key in enumerate(keys) if key in keys[:i]))
    return item


def _check_header(header: Event, file: str, number: int) -> None:
    """The header's profile is one kratix-sim knows, and its ``config`` values have their documented types (the
    checkers read them: a wrong one would judge the trace by rules it never had)."""
    from sim.profiles import PROFILES

    profile = header.get("profile")
    if profile is not None and (not isinstance(profile, str) or profile not in PROFILES):
        raise InputError(f"unknown profile {profile!r}; accepted: {', '.join(sorted(PROFILES))}",
                         Location(file, "profile", number))
    config = header.get("config", {})
    if not isinstance(config, dict):
        raise InputError("`config` must be a mapping", Location(file, "config", number))
    interval = config.get("reconciliationInterval_s")
    if interval is not None and (not isinstance(interval, int | float) or isinstance(interval, bool)
                                 or not 0 < interval < math.inf):
        raise InputError("`reconciliationInterval_s` must be a positive number of seconds",
                         Location(file, "config.reconciliationInterval_s", number))
    for key, least in (("numberOfJobsToKeep", 1), ("defaultBackoffLimit", 0)):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < least):
            raise InputError(f"`{key}` must be an integer, {least} or more", Location(file, f"config.{key}", number))
    after_failure = config.get("reconcileAfterFailure")
    if after_failure is not None and not isinstance(after_failure, bool):
        raise InputError("`reconcileAfterFailure` must be true or false",
                         Location(file, "config.reconcileAfterFailure", number))


def _check_fields(item: Event, file: str, number: int) -> None:
    """The known fields of an event have their documented types; a Job or pod event names its Job or pod."""
    for key in _REQUIRED.get(item["event"], ()):
        if key not in item:
            raise InputError(f"a {item['event']!r} event needs `{key}`", Location(file, key, number))
    for key in _TEXT_FIELDS:
        if item.get(key) is not None and not isinstance(item[key], str):
            raise InputError(f"`{key}` must be a string", Location(file, key, number))
    for key in _INTEGER_FIELDS:
        value = item.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise InputError(f"`{key}` must be an integer", Location(file, key, number))


class Recorder:
    """Numbers events and hands each to every sink (in memory list, JSONL file, streaming metrics).

    ``emit(name, **fields)`` leaves out fields that are ``None``. ``record(event)`` is the fast path for a
    caller that builds the whole event itself: a dict whose first keys are ``seq``, ``t`` and ``event`` (the
    values of ``seq`` and ``t`` are placeholders, overwritten here, so the key order stays) and that holds no
    ``None``. Both give the same event, so the same trace line.
    """

    def __init__(self, header: Event, now_ms: Callable[[], int]) -> None:
        self.header = header
        self._now_ms = now_ms
        self._seq = 0
        self._ms: int | None = None  # the instant ``_t`` was computed for (many events share one)
        self._t: int | float = 0
        self.sinks: list[Sink] = []

    @property
    def count(self) -> int:
        """How many events were recorded (the ``seq`` of the last one)."""
        return self._seq

    def _time(self) -> int | float:
        """``t`` of the current instant: an integer when whole, else milliseconds as a fraction."""
        ms = self._now_ms()
        if ms != self._ms:
            self._ms = ms
            ms = int(ms)  # a clock may give a float; the trace's t is of whole milliseconds
            self._t = ms // 1000 if ms % 1000 == 0 else ms / 1000
        return self._t

    def emit(self, event: str, **fields: Any) -> Event:
        self._seq += 1
        if None in fields.values():  # absent fields are left out
            fields = {key: value for key, value in fields.items() if value is not None}
        record: Event = {"seq": self._seq, "t": self._time(), "event": event, **fields}
        for sink in self.sinks:
            sink(record)
        return record

    def record(self, record: Event) -> Event:
        record["seq"] = self._seq = self._seq + 1
        ms = self._now_ms()
        if ms != self._ms:
            self._ms = ms
            ms = int(ms)
            self._t = ms // 1000 if ms % 1000 == 0 else ms / 1000
        record["t"] = self._t
        for sink in self.sinks:
            sink(record)
        return record


class JsonlSink:
    """Streams events to an open text file as JSONL, the header first.

    Lines are written ``batch`` at a time (one ``write`` per batch, not per line); ``flush()`` writes the rest,
    and leaving ``with JsonlSink(...)`` flushes. A sink that is never flushed leaves the file short.
    """

    def __init__(self, handle: IO[str], header: Event, batch: int = 1024) -> None:
        self.handle = handle
        self.batch = batch
        self._lines: list[str] = [encode(header)]

    def __call__(self, event: Event) -> None:
        lines = self._lines
        lines.append(_JOIN(_CHUNKS(event, 0)))
        if len(lines) == self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the lines not yet written."""
        if self._lines:
            self._lines.append("")
            self.handle.write("\n".join(self._lines))
            self._lines = []

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.flush()
