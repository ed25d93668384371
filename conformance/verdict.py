"""Verdicts: pass, fail or unknown, as data. Composition: fail beats unknown beats pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Result = Literal["pass", "fail", "unknown"]
Category = Literal["safety", "liveness"]
_RANK = {"pass": 0, "unknown": 1, "fail": 2}


@dataclass(frozen=True)
class Verdict:
    rule: str
    result: Result
    message: str = ""
    event: dict[str, Any] | None = None  # the first violating event
    context: tuple[dict[str, Any], ...] = field(default=())  # the events around it
    category: Category = "safety"

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "result": self.result, "category": self.category, "message": self.message,
                "event": self.event, "context": list(self.context)}


def worst(results: Iterable[Result]) -> Result:
    """Fail beats unknown beats pass; nothing judged is pass."""
    best: Result = "pass"
    for result in results:
        if _RANK[result] > _RANK[best]:
            best = result
    return best


def combine(rule: str, verdicts: Iterable[Verdict]) -> Verdict:
    """One verdict for a rule: the first failure, else the first unknown, else pass."""
    verdicts = list(verdicts)
    result = worst(v.result for v in verdicts)
    for verdict in verdicts:
        if verdict.result == result:
            return verdict
    return Verdict(rule, "pass")
