"""The rule catalogue: every rule ID of the reference as data (ID, title, source, kind).

``kind`` says what can judge a rule: ``trace`` (a checker reads a trace), ``validation`` (``validate``
reads a Promise), ``idempotency`` (running the real pipelines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["trace", "validation", "idempotency"]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    kind: Kind
    source: str


_R = "lib/workflow/reconciler.go"
_K = "kubernetes pkg/controller/job/job_controller.go, backoff_utils.go; kubelet"
_D = "lib/workflow/reconciler.go (delete), controllers/dynamic_resource_request_controller.go"

RULES: tuple[Rule, ...] = (
    Rule("W1", "serial pipelines", "trace", _R),
    Rule("W2", "serial containers", "trace", "api/v1alpha1/pipeline_factory.go"),
    Rule("W3", "single flight: one running workflow Job per object", "trace", _R),
    Rule("W4", "halt on failure", "trace", _R),
    Rule("W5", "every new run starts at pipeline 0", "trace", _R),
    Rule("W6", "manual reconciliation suspends, then restarts from pipeline 0", "trace", _R),
    Rule("W7", "spec change waits for the running Job", "trace", _R),
    Rule("W8", "completion only after the last pipeline", "trace", _R),
    Rule("W9", "reconciliation interval cadence", "trace", "controllers/dynamic_resource_request_controller.go"),
    Rule("W10", "no spurious runs", "trace", _R),
    Rule("W11", "restart resumes", "trace", _R),
    Rule("W12", "Promise update fans out after the Promise workflow", "trace", "controllers/promise_controller.go"),
    Rule("W13", "Promise gates resources", "trace", "controllers/promise_controller.go"),
    Rule("W14", "Job retention", "trace", _R),
    Rule("W15", "outputs only from successful, unsuspended runs", "trace", "work-creator (pipeline adapter)"),
    Rule("W16", "status merge", "trace", "status-writer (pipeline adapter)"),
    Rule("J1", "backoffLimit", "trace", _K),
    Rule("J2", "retry delays", "trace", _K),
    Rule("J3", "retry scope", "trace", _K),
    Rule("J4", "suspension", "trace", _K),
    Rule("D1", "single delete pipeline", "trace", _D),
    Rule("D2", "delete waits for configure", "trace", _D),
    Rule("D3", "one delete Job", "trace", _D),
    Rule("D4", "stuck after delete failure", "trace", _D),
    Rule("D5", "cleanup after success, finalizers in order", "trace", _D),
    Rule("D6", "Promise delete order", "trace", "controllers/promise_controller.go"),
    Rule("C1", "workflow control: suspend and retry", "trace", _R),
    Rule("K1", "one worker per controller, 1.1 s per Job creation", "trace", "controllers/*"),
    Rule("K2", "requeues and error back-off", "trace", "controller-runtime workqueue"),
    Rule("K3", "restart loses memory, reconciles everything", "trace", "controller-runtime"),
    *(Rule(f"V{i}", title, "validation", "api/v1alpha1/promise_webhook.go") for i, title in enumerate((
        "unique pipeline names", "pipeline name length", "no unknown Pipeline fields",
        "valid container names", "valid reconciliationInterval", "valid pipeline labels",
        "one delete Pipeline", "legacy API shapes", "namespace-scoped API", "required Promises present"),
        start=1)),
    Rule("I1", "re-run convergence", "idempotency", "Kratix docs, resiliency guide"),
    Rule("I2", "dirty retry", "idempotency", "Kratix docs, J3"),
    Rule("I3", "partial-failure recovery", "idempotency", "Kratix resiliency guide"),
    Rule("I4", "clock and randomness", "idempotency", "Kratix docs"),
    Rule("I5", "lost status", "idempotency", "Kratix resiliency guide"),
    Rule("I6", "delete re-run", "idempotency", "Kratix docs, D4"),
    Rule("P1", "no writes to /kratix/input", "idempotency", "pipeline contract"),
    Rule("P2", "no `kratix` key in status.yaml", "idempotency", "pipeline contract"),
    Rule("P3", "valid destination-selectors.yaml", "idempotency", "pipeline contract"),
    Rule("P4", "valid workflow-control.yaml", "idempotency", "pipeline contract"),
    Rule("P5", "no reads of another Pipeline's metadata", "idempotency", "pipeline contract"),
    Rule("P6", "promise workflows write only message", "idempotency", "pipeline contract"),
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
TRACE_RULES: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.kind == "trace")


# Rules of other kinds that a checker also judges on a trace, when asked for: I1 (the state store settles),
# meaningful for runs with real executors.
ON_REQUEST: tuple[str, ...] = ("I1",)
JUDGEABLE: tuple[str, ...] = tuple(rule.id for rule in RULES if rule.kind == "trace" or rule.id in ON_REQUEST)


def select(ids: str | None) -> tuple[str, ...]:
    """Rule IDs from a comma-separated list (``W1,J2,I1``) or families (``W,D``); None = every trace rule (not
    the ``ON_REQUEST`` ones)."""
    if not ids:
        return TRACE_RULES
    chosen: list[str] = []
    for part in (p.strip() for p in ids.split(",") if p.strip()):
        matches = [r for r in JUDGEABLE if r == part or (part.isalpha() and r.rstrip("0123456789") == part)]
        if not matches:
            raise ValueError(f"unknown rule {part!r}; rules judged on a trace: {', '.join(JUDGEABLE)}")
        chosen.extend(m for m in matches if m not in chosen)
    return tuple(chosen)
