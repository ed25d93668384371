"""Hypothesis strategies for the front doors: valid documents of each kind, then mutations of them.

A fuzz input is bytes for a file. It starts from a valid document (a Promise, a resource request, a
scenario, an experiment, a trace, a report) and goes through up to three tree mutations (a key removed,
a value of the wrong type, a huge or non-finite number, unicode, deep nesting, an unknown key, a shared
subtree that YAML writes as an anchor and alias) and then, sometimes, a text or byte mutation (truncation,
a duplicated line, so duplicate keys, inserted characters, an alias bomb, invalid UTF-8, NUL, random bytes).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from conformance.strategies import promises, scenarios

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "scenarios"
PathKey = tuple[str | int, ...]

# -- hostile values -------------------------------------------------------------------------------------
HUGE_NUMBERS = [10**30, -(10**30), 2**63, 2**64 + 1, -(2**63) - 1, 10**400, 1e308, -1e308, 1e-320,
                math.inf, -math.inf, math.nan, 0, -1, 0.5, -0.0]
NASTY_TEXT = ["", " ", "\u00e9\u00e8\u4e2d\u6587", "\U0001f4a5", "\u202e", "\ufeff", "a" * 5000, "0", "-5m",
              "1e9999", ".inf", "~", "null", "yes", "1h:30m", "${HOME}", "../../etc/passwd", "/dev/zero", "*",
              "default/", "promise/", "-", "\t", "\x7f", "1d2", "9" * 400 + "d"]
scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(HUGE_NUMBERS), st.integers(), st.floats(allow_nan=True),
    st.sampled_from(NASTY_TEXT), st.text(max_size=30),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def _copy(doc: Any) -> Any:
    """A deep copy of a JSON-like tree (much faster than ``copy.deepcopy``, which the mutations would wait on)."""
    if isinstance(doc, dict):
        return {key: _copy(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [_copy(item) for item in doc]
    return doc


@st.composite
def _walk(draw: st.DrawFn, doc: Any) -> PathKey:
    """A path into ``doc``: from the root, go one level down three times in four (O(depth), not O(size))."""
    path: PathKey = ()
    node = doc
    while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
        step = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        path = (*path, step)
        node = node[step]
    return path


def _get(doc: Any, path: PathKey) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _nest(value: Any, depth: int) -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {"n": value}
    return value


@st.composite
def mutated_tree(draw: st.DrawFn, doc: Any, max_mutations: int = 3) -> Any:
    """``doc`` after 0-``max_mutations`` tree mutations (the original is never changed)."""
    doc = _copy(doc)
    for _ in range(draw(st.integers(0, max_mutations))):
        path = draw(_walk(doc))
        kind = draw(st.sampled_from(["delete", "replace", "replace", "wrap", "unknown-key", "nest", "share",
                                     "stringify", "empty", "numeric"]))
        target = _get(doc, path)
        if not path:
            if kind == "replace":
                doc = draw(values)
            continue
        parent = _get(doc, path[:-1])
        step = path[-1]
        if kind == "delete":
            del parent[step]
        elif kind == "replace":
            parent[step] = draw(values)
        elif kind == "wrap":
            parent[step] = draw(st.sampled_from([[target], {"value": target}, [target, target]]))
        elif kind == "unknown-key":
            if isinstance(target, dict):
                target[draw(st.sampled_from(["extra", "Kind", "spec ", "\u00fcber", "<<", "1"]))] = draw(values)
            else:
                parent[step] = draw(values)
        elif kind == "nest":
            parent[step] = _nest(target, draw(st.sampled_from([10, 60, 250])))
        elif kind == "share":
            # The same object in two places: yaml.safe_dump writes an anchor and an alias.
            other = draw(_walk(doc))
            if other and not (other[: len(path)] == path or path[: len(other)] == other):
                parent[step] = _get(doc, other)
        elif kind == "stringify":
            parent[step] = str(target) if not isinstance(target, str) else [target]
        elif kind == "empty":
            parent[step] = type(target)() if isinstance(target, dict | list | str) else None
        else:
            parent[step] = draw(st.sampled_from(HUGE_NUMBERS))
    return doc


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@st.composite
def mutated_bytes(draw: st.DrawFn, text: str) -> bytes:
    """The serialised document, maybe damaged at the text or byte level."""
    kind = draw(st.sampled_from(["none", "none", "none", "truncate", "duplicate-line", "insert", "delete-span",
                                 "alias-bomb", "latin-1", "bad-byte", "nul", "bom", "random", "indent"]))
    data = text
    if kind == "truncate":
        data = text[: draw(st.integers(0, max(0, len(text) - 1)))]
    elif kind == "duplicate-line":
        lines = text.splitlines(keepends=True)
        if lines:
            at = draw(st.integers(0, len(lines) - 1))
            lines.insert(at, lines[at])
        data = "".join(lines)
    elif kind == "insert":
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.text(max_size=6), st.sampled_from(
            ["&a ", "*a", "!!python/object:os.system ", "!!binary ", "<<: *a\n", "{", "]", ": ", "\n- ", "'", '"',
             "%YAML 1.1\n", "---\n", "...\n", "\t", "? ", "|\n", "!!str ", "!!set ", "!!omap "])))
        data = text[:at] + piece + text[at:]
    elif kind == "delete-span":
        start = draw(st.integers(0, len(text)))
        data = text[:start] + text[start + draw(st.integers(1, 40)):]
    elif kind == "alias-bomb":
        data = _alias_bomb(draw(st.integers(2, 6))) + text
    elif kind == "indent":
        lines = text.splitlines(keepends=True)
        if lines:
            at = draw(st.integers(0, len(lines) - 1))
            lines[at] = draw(st.sampled_from([" ", "  ", "\t"])) + lines[at]
        data = "".join(lines)
    raw = data.encode("utf-8", "surrogatepass")
    if kind == "latin-1":
        raw = data.encode("latin-1", "replace") + "caf\u00e9".encode("latin-1")
    elif kind == "bad-byte":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80"])) + raw[at:]
    elif kind == "nul":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\x00" + raw[at:]
    elif kind == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif kind == "random":
        raw = draw(st.binary(max_size=300))
    return raw


def dump_yaml(doc: Any) -> str:
    """YAML text of a tree that may hold anything the mutations put in (non-finite floats, huge ints)."""
    try:
        return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=200)
    except (yaml.YAMLError, RecursionError, UnicodeEncodeError):
        return json.dumps(doc, default=str, ensure_ascii=False)


def dump_json(doc: Any) -> str:
    try:
        return json.dumps(doc, ensure_ascii=False)
    except (ValueError, RecursionError):
        return json.dumps(str(doc))


@st.composite
def yaml_input(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> bytes:
    """A valid document from ``valid``, mutated, as YAML bytes."""
    doc = draw(mutated_tree(draw(valid)))
    return draw(mutated_bytes(dump_yaml(doc)))


# -- valid documents ------------------------------------------------------------------------------------
def _library(folder: Path, kind: str) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                docs.append(doc)
    return docs


LIBRARY_PROMISES = _library(SCENARIOS / "promises", "Promise")
LIBRARY_SCENARIOS = _library(SCENARIOS, "Scenario")
LIBRARY_EXPERIMENTS = _library(SCENARIOS / "experiments", "Experiment")
SHORT = st.sampled_from([60, 600, "10m", "30m", 1800])


def promise_docs() -> st.SearchStrategy[dict[str, Any]]:
    """Generated Promises and the scenario library's (every shape: current, xaasRequestPipeline...)."""
    return st.one_of(promises(), st.sampled_from(LIBRARY_PROMISES))


@st.composite
def request_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A resource request: kind, metadata and a spec of plain values."""
    return {"apiVersion": "example.kratix.io/v1alpha1", "kind": draw(st.sampled_from(["Database", "App", "Bucket"])),
            "metadata": {"name": draw(st.sampled_from(["orders", "web-1", "x"])),
                         "namespace": draw(st.sampled_from(["default", "team-a"]))},
            "spec": draw(st.dictionaries(st.sampled_from(["size", "team", "replicas"]),
                                         st.one_of(st.integers(0, 5), st.sampled_from(["small", "large"])),
                                         max_size=3))}


@st.composite
def scenario_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A short scenario: generated (inline Promise) or one of the library's (Promise files beside it)."""
    doc = draw(scenarios()) if draw(st.booleans()) else _copy(draw(st.sampled_from(LIBRARY_SCENARIOS)))
    doc["spec"]["duration"] = draw(SHORT)
    return doc


@st.composite
def experiment_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A small experiment: an inline scenario, one or two parameters, one or two replications."""
    if draw(st.booleans()):
        doc = _copy(draw(st.sampled_from(LIBRARY_EXPERIMENTS)))
    else:
        scenario = draw(scenarios())
        spec = scenario["spec"]
        parameters: list[dict[str, Any]] = [{"path": "spec.kratix.reconciliationInterval", "name": "interval",
                                             "values": draw(st.lists(st.sampled_from(["1h", "4h", 1800]),
                                                                     min_size=1, max_size=2, unique=True))}]
        if draw(st.booleans()):
            parameters.append({"path": "spec.behaviour.default.duration",
                               "range": {"from": 5, "to": 60, "samples": draw(st.integers(1, 3))}})
        doc = {"apiVersion": "kratix-sim/v1alpha1", "kind": "Experiment", "metadata": {"name": "fuzzed"},
               "spec": {"scenario": {"spec": {k: spec[k] for k in ("promise", "resources", "behaviour", "faults")}},
                        "parameters": parameters, "design": draw(st.sampled_from(["grid", "zip"]))
                        if len(parameters) == 1 else "grid", "seed": draw(st.integers(0, 100)),
                        "metrics": draw(st.lists(st.sampled_from(["pods", "jobs_failed", "convergence_p95_s",
                                                                  "reconciled_fraction@1h"]),
                                                 min_size=1, max_size=3, unique=True))}}
    doc["spec"]["replications"] = draw(st.integers(1, 2))
    doc["spec"]["duration"] = draw(SHORT)
    return doc


# -- traces and reports -----------------------------------------------------------------------------------
def _library_traces() -> list[list[dict[str, Any]]]:
    """Traces of three library scenarios (header first), simulated once."""
    from sim.scenario_loader import load_scenario
    from sim.simulation import Simulation

    traces = []
    for name in ("quickstart", "configure-halts-on-failure", "delete-removes-finalizers-in-order"):
        scenario, promise = load_scenario(SCENARIOS / f"{name}.yaml")
        trace = Simulation(scenario, promise=promise).run()
        traces.append([trace.header, *trace.events])
    return traces


_TRACES: list[list[dict[str, Any]]] = []


@st.composite
def trace_input(draw: st.DrawFn) -> bytes:
    """A JSONL trace: the header and a stretch of a real trace's events, mutated, then maybe damaged."""
    if not _TRACES:
        _TRACES.extend(_library_traces())
    trace = draw(st.sampled_from(_TRACES))
    start = draw(st.integers(1, len(trace) - 1))
    items = [trace[0], *trace[start:start + draw(st.integers(0, 40))]]
    items = draw(mutated_tree(items, max_mutations=4))
    lines = [dump_json(item) for item in items] if isinstance(items, list) else [dump_json(items)]
    return draw(mutated_bytes("".join(line + "\n" for line in lines)))


_REPORTS: list[dict[str, Any]] = []


def _library_reports() -> list[dict[str, Any]]:
    """A check report of two library scenarios and its baseline, made once through the real CLI."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        subprocess.run([sys.executable, "-m", "sim", "check", str(SCENARIOS / "quickstart.yaml"),
                        str(SCENARIOS / "job-retention.yaml"), "--seeds", "2", "--report", str(out)],
                       cwd=REPO_ROOT, capture_output=True, check=False, timeout=300)
        subprocess.run([sys.executable, "-m", "sim", "report", "baseline", "save", str(out / "report.json"),
                        "--to", str(out / "baseline.json")], cwd=REPO_ROOT, capture_output=True, check=True,
                       timeout=300)
        full, baseline = (json.loads((out / name).read_text(encoding="utf-8"))
                          for name in ("report.json", "baseline.json"))
    return [_trimmed(full), baseline]


def _trimmed(doc: Any) -> Any:
    """Lists cut to 3 items: the same shapes, a tenth of the size (mutating a whole report is slow)."""
    if isinstance(doc, dict):
        return {key: _trimmed(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [_trimmed(item) for item in doc[:3]]
    return doc


def valid_reports() -> list[dict[str, Any]]:
    if not _REPORTS:
        _REPORTS.extend(_library_reports())
    return _REPORTS


@st.composite
def report_input(draw: st.DrawFn) -> bytes:
    """A report JSON (a full report or a baseline), mutated, then maybe damaged."""
    doc = draw(mutated_tree(draw(st.sampled_from(valid_reports())), max_mutations=4))
    return draw(mutated_bytes(dump_json(doc)))
