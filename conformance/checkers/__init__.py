"""Checkers: one per trace-checkable rule, pure functions of a CheckContext returning a Verdict.

Register with ``@checker("W1")``. ``run_checkers`` never lets a checker's exception pass as a pass: it
becomes ``unknown`` with the error in the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from conformance.context import CheckContext
from conformance.verdict import Verdict

Checker = Callable[[CheckContext], Verdict]
CHECKERS: dict[str, Checker] = {}


def checker(rule: str) -> Callable[[Checker], Checker]:
    def register(fn: Checker) -> Checker:
        if rule in CHECKERS:
            raise ValueError(f"two checkers for {rule}")
        CHECKERS[rule] = fn
        return fn

    return register


def _load_all() -> None:
    from conformance.checkers import controller, delete, idempotency, jobs, workflow  # noqa: F401


def run_checkers(ctx: CheckContext, rules: Iterable[str]) -> list[Verdict]:
    _load_all()
    verdicts = []
    for rule in rules:
        fn = CHECKERS.get(rule)
        if fn is None:
            verdicts.append(Verdict(rule, "unknown", "no checker for this rule"))
            continue
        try:
            verdict = fn(ctx)
        except Exception as exc:  # a crashing checker is unknown, never a pass
            verdict = Verdict(rule, "unknown", f"checker raised {type(exc).__name__}: {exc}")
        verdicts.append(verdict)
    return verdicts


def registered() -> dict[str, Checker]:
    _load_all()
    return dict(CHECKERS)
