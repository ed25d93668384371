"""The mutants: deliberately wrong engines the suite must kill (``kratix-sim mutants``).

- the registry: at least 25 mutants, each a Simulation subclass whose docstring names the rule it breaks;
- the reference engine passes the whole scenario library;
- every mutant is killed, by the library or the explorer (the command's own logic, in-process);
- each mutant breaks the rule it claims: that rule is among its killers;
- the explorer, run against ten mutants, finds a violation the reference does not have, and the scenario
  file it writes replays it from the command line.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.explore import explore, write_finding
from conformance.mutants import MAX_EVENTS, MUTANTS, UNJUDGEABLE_WHEN_TRUNCATED, MutantSimulation, truncated
from conformance.mutants_command import evaluate, known_failures, library_kills, load_library
from conformance.rules import TRACE_RULES
from sim.cli import main
from sim.simulation import Simulation

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "scenarios"
KRATIX_SIM = [sys.executable, "-m", "sim"]

# Mutants the explorer finds within a few seconds each (seed 0): the replay test uses them.
EXPLORED = (
    "completed-before-last-pipeline", "containers-in-parallel", "next-pipeline-after-failure",
    "no-initial-reconcile-on-restart", "no-promise-gating", "onfailure-limit-off-by-one",
    "onfailure-reruns-whole-pod", "pipelines-in-parallel", "prunes-newest-jobs", "restart-reruns-completed",
)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """``kratix-sim mutants --format json`` with its defaults, in-process (the CI run of the command)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["mutants", "--format", "json", "--scenarios", str(SCENARIOS)])
    result: dict[str, Any] = json.loads(out.getvalue())
    result["exit_code"] = code
    return result


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in report["mutants"]}


# -- the registry ---------------------------------------------------------------------------------------------
def test_registry_has_at_least_25_mutants_sorted_by_name() -> None:
    assert len(MUTANTS) >= 25
    assert list(MUTANTS) == sorted(MUTANTS)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_each_mutant_is_a_simulation_naming_its_rule(name: str) -> None:
    mutant = MUTANTS[name]
    assert mutant.name == name
    assert mutant.rule in TRACE_RULES
    assert issubclass(mutant.engine, MutantSimulation) and issubclass(mutant.engine, Simulation)
    assert mutant.engine is not Simulation
    doc = inspect.getdoc(mutant.engine) or ""
    assert doc.startswith(f"{mutant.rule}: "), "the docstring starts with the rule ID"
    assert mutant.description and mutant.description.endswith(".")


def test_each_mutant_engine_is_distinct() -> None:
    engines = [m.engine for m in MUTANTS.values()]
    assert len(set(engines)) == len(engines)


# -- the command ----------------------------------------------------------------------------------------------
def test_reference_passes_the_library(report: dict[str, Any]) -> None:
    assert report["reference_passes"], report["reference_failures"]


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_is_killed(report: dict[str, Any], name: str) -> None:
    result = _by_name(report)[name]
    assert result["killed"], f"{name} ({result['rule']}) survived: {result['description']} {result['note']}"


@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_breaks_the_rule_it_claims(report: dict[str, Any], name: str) -> None:
    """Its rule is among the killers of its first killing run; if not, among the killers over the whole
    library (the command stops at the first kill)."""
    result = _by_name(report)[name]
    if not result["killed"]:
        pytest.skip("survivor: see test_mutant_is_killed")
    if result["own_rule_killed"]:
        return
    library = load_library(SCENARIOS)
    known = known_failures(library_kills(Simulation, library, seeds=2, stop_at_first=False))
    full = evaluate(MUTANTS[name], library, seeds=2, examples=0, full=True, known=known)
    assert full.own_rule_killed, (f"{name} claims {result['rule']} but only {full.killer_rules} caught it: "
                                  "it breaks another rule, or the checker of its rule is weak")


def test_command_exit_code_says_all_killed(report: dict[str, Any]) -> None:
    everything = report["reference_passes"] and all(m["killed"] for m in report["mutants"])
    assert report["exit_code"] == (0 if everything else 1)
    assert report["summary"]["killed"] == sum(m["killed"] for m in report["mutants"])


def test_only_selects_mutants_and_text_has_a_kill_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["mutants", "--scenarios", str(SCENARIOS), "--only", "keeps-all-jobs,next-pipeline-after-failure",
                 "--seeds", "1", "--examples", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "mutant" in out and "killed by" in out
    assert "keeps-all-jobs" in out and "W14 (" in out
    assert "next-pipeline-after-failure" in out and "2/2 mutants killed (100%)" in out
    assert "pipelines-in-parallel" not in out


@pytest.mark.parametrize("args", [["--only", "no-such-mutant"], ["--scenarios", "/nonexistent/folder"],
                                  ["--seeds", "0"], ["--examples", "-1"]])
def test_bad_input_exits_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["mutants", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kratix-sim: error:") and "Traceback" not in err


def test_a_verdict_the_reference_fails_too_kills_nothing() -> None:
    library = [s for s in load_library(SCENARIOS) if s.name == "job-retention"]
    engine = MUTANTS["keeps-all-jobs"].engine
    kills = library_kills(engine, library, seeds=1)
    assert {(k.scenario, k.rule) for k in kills} == {("job-retention", "W14")}
    assert library_kills(engine, library, seeds=1, known=known_failures(kills)) == []


# -- the runaway guard ----------------------------------------------------------------------------------------
def test_a_looping_mutant_is_cut_short_and_judged_on_safety_only() -> None:
    library = [s for s in load_library(SCENARIOS) if s.name == "configure-halts-on-failure"]
    item = library[0]

    class Looping(MUTANTS["manual-label-never-removed"].engine):  # type: ignore[misc]
        max_events = 2_000

    trace = Looping(item.scenario, promise=item.promise).run(heal_s=3600)
    assert truncated(trace) and len(trace.events) == Looping.max_events + 1
    assert Simulation(item.scenario, promise=item.promise).run(heal_s=3600).events[-1]["event"] != "run_truncated"
    kills = library_kills(Looping, library, seeds=1)
    assert kills and not {k.rule for k in kills} & UNJUDGEABLE_WHEN_TRUNCATED
    assert "W6" in {k.rule for k in kills}
    assert MAX_EVENTS > 2 * 4267  # the largest library scenario's reference trace fits with room to spare


# -- the explorer ---------------------------------------------------------------------------------------------
def test_explorer_finds_ten_mutants_and_the_files_replay(tmp_path: Path) -> None:
    """For each mutant the explorer finds and shrinks a counterexample; written as a scenario file it replays
    from the command line: the reference engine passes it (``kratix-sim check``) and the mutant fails it
    (``kratix-sim check FILE --engine MUTANT``, exit 1), by the rules the explorer reported."""
    found: dict[str, set[str]] = {}
    for name in EXPLORED:
        finding, _tried = explore(TRACE_RULES, engine=MUTANTS[name].engine, examples=50, seed=0)
        assert finding is not None and not finding.flaky, f"the explorer found nothing against {name}"
        path = write_finding(finding, tmp_path, name, 0)
        assert path.parent == tmp_path
        found[name] = set(finding.rules)
    assert len(found) >= 10

    check = subprocess.run([*KRATIX_SIM, "check", str(tmp_path), "--format", "json"], capture_output=True,
                           text=True, cwd=REPO, timeout=600)
    failing = [v for v in json.loads(check.stdout)["verdicts"] if v["result"] == "fail"]
    assert check.returncode == 0, f"the reference engine fails explored scenarios: {failing}"

    for name, rules in found.items():  # `kratix-sim check FILE --engine MUTANT` replays the violation exactly
        replay = subprocess.run([*KRATIX_SIM, "check", str(tmp_path / f"explored-{name}-0.yaml"), "--engine", name,
                                 "--format", "json"], capture_output=True, text=True, cwd=REPO, timeout=600)
        assert replay.returncode == 1, f"{name}: {replay.stdout[-2000:]} {replay.stderr}"
        replayed = {v["rule"] for v in json.loads(replay.stdout)["verdicts"] if v["result"] == "fail"}
        assert replayed & rules, f"{name}: its explored scenario did not replay {sorted(rules)}"


def test_check_with_a_runaway_mutant_leaves_liveness_and_expect_unknown_and_names_the_engine(tmp_path: Path) -> None:
    """A mutant run cut short at MAX_EVENTS is judged on its safety rules only, in `check --engine` as in the
    kill table (liveness and expectations on a prefix used to pass or fail at random), and the report names
    the engine: run ids end in @MUTANT and the command line keeps --engine."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["check", str(SCENARIOS / "week-of-cadence-with-daily-restarts.yaml"), "--engine",
              "manual-label-never-removed", "--format", "json", "--json-report", str(tmp_path / "r.json")])
    document = json.loads(out.getvalue())
    verdicts = {v["rule"]: v for v in document["verdicts"]}
    for rule in sorted(UNJUDGEABLE_WHEN_TRUNCATED):
        assert verdicts[rule]["result"] == "unknown" and "the run was cut short" in verdicts[rule]["message"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert [run["id"] for run in report["runs"]] == ["week-of-cadence-with-daily-restarts#9@manual-label-never-removed"]
    assert {run["engine"] for run in report["runs"]} == {"manual-label-never-removed"}
    assert report["invocation"]["command"].endswith("--engine manual-label-never-removed")
