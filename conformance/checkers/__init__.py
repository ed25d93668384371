"""Checkers: one per trace-checkable rule, pure functions of a CheckContext returning a Verdict.

Register with ``@checker("W1")``. ``run_checkers`` never lets a checker's exception pass as a pass: it
becomes ``unknown`` with the error in the message.

Imported traces (docs/cluster-import.md) say in their header which evidence they lack. A rule in ``BLIND``
is ``unknown`` when the trace lacks any evidence listed for it (what the checker would find could be an
artefact of the gap); a rule in ``PARTIAL`` keeps a failure (the violating events are there) but its pass
becomes ``unknown`` (the gap could hide a violation). A pass that exercised nothing is ``unknown`` in a trace
that cannot record deletions (a deleted object's history is gone, not clean). The message names what is
missing. Simulated traces lack nothing, so their verdicts are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from conformance.context import CheckContext
from conformance.verdict import Verdict

Checker = Callable[[CheckContext], Verdict]
CHECKERS: dict[str, Checker] = {}

BLIND: dict[str, tuple[str, ...]] = {
    "W1": ("jobs-pruned",), "W5": ("jobs-pruned",), "W6": ("labels", "controller"), "W7": ("spec-history",),
    "W8": ("condition-history",), "W9": ("labels", "controller"), "W10": ("labels", "jobs-pruned"),
    "W11": ("controller",), "W12": ("labels", "spec-history"), "W13": ("controller",), "W14": ("deletions",),
    "W15": ("works",), "W16": ("works",), "J1": ("pods-missing",), "J2": ("restart-history", "timing", "pods-missing"),
    "J3": ("pods-missing",), "J4": ("pods-missing",), "D5": ("finalizers", "deletions"), "D6": ("deletions",),
    "C1": ("labels",), "K1": ("timing", "controller"), "K2": ("controller",), "K3": ("controller",),
    "I1": ("works",),
}
PARTIAL: dict[str, tuple[str, ...]] = {
    "W3": ("jobs-pruned",), "W4": ("jobs-pruned",), "D2": ("jobs-pruned",), "D3": ("jobs-pruned",),
    "D4": ("events", "objects"),
}


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
            verdict = _within_evidence(ctx, fn(ctx))
        except Exception as exc:  # a crashing checker is unknown, never a pass
            verdict = Verdict(rule, "unknown", f"checker raised {type(exc).__name__}: {exc}")
        verdicts.append(verdict)
    return verdicts


def _within_evidence(ctx: CheckContext, verdict: Verdict) -> Verdict:
    """``BLIND`` / ``PARTIAL`` (module docstring) applied to one verdict."""
    blind = ctx.evidence.missing(*BLIND.get(verdict.rule, ()))
    if blind is not None:
        return Verdict(verdict.rule, "unknown", f"the trace lacks the evidence: {blind}",
                       category=verdict.category)
    partial = ctx.evidence.missing(*PARTIAL.get(verdict.rule, ()))
    if partial is not None and verdict.result == "pass":
        return Verdict(verdict.rule, "unknown", f"no violation in the evidence there is, but {partial}",
                       category=verdict.category)
    deleted = ctx.evidence.missing("deletions")
    if deleted is not None and verdict.result == "pass" and verdict.message.startswith("not exercised"):
        return Verdict(verdict.rule, "unknown", f"{verdict.message} in the evidence there is, and {deleted}",
                       category=verdict.category)
    return verdict


def registered() -> dict[str, Checker]:
    _load_all()
    return dict(CHECKERS)
