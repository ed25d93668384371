"""Durations: Go's ``time.ParseDuration`` (Kratix's retryAfter and reconciliationInterval, V5, P4) and the
scenario format's human durations (``90s``, ``5m``, ``1h30m``, ``2d``)."""

from __future__ import annotations

import re

_GO_UNITS_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SCENARIO_UNITS_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SCENARIO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_go_duration(text: str) -> float:
    """Seconds of a Go duration string; raises ValueError as Go would (``1d`` is not valid, ``0`` is)."""
    original = text
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f"invalid duration {original!r}")
    total, pos = 0.0, 0
    while pos < len(text):
        match = _GO_PART.match(text, pos)
        if match is None:
            if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text[pos:]):
                raise ValueError(f"invalid duration {original!r}: missing unit (ns, us, ms, s, m or h)")
            raise ValueError(f"invalid duration {original!r}: Go durations use ns, us, ms, s, m, h (not d)")
        total += float(match.group(1)) * _GO_UNITS_S[match.group(2)]
        pos = match.end()
    return sign * total


def parse_duration(text: str | int | float) -> float:
    """Seconds of a scenario duration: a number of seconds, or parts like ``1h30m``, ``2d``, ``90s``."""
    if isinstance(text, bool):
        raise ValueError(f"invalid duration {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"negative duration {text!r}")
        try:
            return _finite(float(text), text)
        except OverflowError:  # an integer too large for a float
            raise ValueError(f"invalid duration {_show(text)}: too large") from None
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {_show(text)}: give a number of seconds or a string such as 1h30m")
    stripped = text.strip()
    total, pos = 0.0, 0
    if not stripped:
        raise ValueError("empty duration")
    while pos < len(stripped):
        match = _SCENARIO_PART.match(stripped, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}: use numbers with units ms, s, m, h, d (e.g. 1h30m)")
        total += float(match.group(1)) * _SCENARIO_UNITS_S[match.group(2)]
        pos = match.end()
    return _finite(total, text)


_SECONDS = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_option_duration(text: str) -> float:
    """Seconds of a command-line duration: a plain number of seconds (``3600``, ``1.5``) or a scenario duration
    (``1h30m``, ``2d``); ValueError for anything else, negative, infinite or NaN."""
    stripped = text.strip()
    return parse_duration(float(stripped) if _SECONDS.fullmatch(stripped) else stripped)


MAX_DURATION_S = 1e15  # about 31.7 million years: beyond it milliseconds stop being exact in a float


def _finite(seconds: float, given: object) -> float:
    """``seconds``, unless it is infinite, NaN or beyond MAX_DURATION_S (ValueError naming the input)."""
    if seconds != seconds or seconds > MAX_DURATION_S:
        raise ValueError(f"invalid duration {_show(given)}: durations must be finite and at most "
                         f"{MAX_DURATION_S:g} s")
    return seconds


def _show(given: object) -> str:
    """``repr(given)``, cut to 40 characters (a 400-digit number is not a message)."""
    text = repr(given)
    return text if len(text) <= 40 else text[:37] + "..."


def format_duration(seconds: float) -> str:
    """``37800`` -> ``10h30m``; fractions of a second keep milliseconds."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    if secs or millis or not parts:
        parts.append(f"{secs}.{millis:03d}s" if millis else f"{secs}s")
    return "".join(parts)
