"""Deliberately wrong engines: each ``Mutant`` breaks one rule of the reference the way a plausible bug would.

The suite (scenario library, checkers, liveness, the explorer) must kill every one: ``kratix-sim mutants``
runs them and prints who killed what. ``MUTANTS`` maps a mutant's name to its record, sorted by name; an
engine is a ``Simulation`` subclass usable wherever the reference is (``run_and_judge(engine=...)``,
``explore(engine=...)``, ``kratix-sim explore --engine NAME``).
"""

from __future__ import annotations

from conformance.mutants import controller, delete, jobs, workflow  # noqa: F401  (register the mutants)
from conformance.mutants.base import (
    MAX_EVENTS,
    REGISTRY,
    UNJUDGEABLE_WHEN_TRUNCATED,
    Mutant,
    MutantSimulation,
    truncated,
)

MUTANTS: dict[str, Mutant] = dict(sorted(REGISTRY.items()))

__all__ = ["MAX_EVENTS", "MUTANTS", "UNJUDGEABLE_WHEN_TRUNCATED", "Mutant", "MutantSimulation", "truncated"]
