"""The pytest plugin (issue 7, item 4): scenario files as items ``scenario_file::RULE``, pytest's own JUnit
output, the ``kratix_run`` fixture and the rule assertion helper; and a run from a clean folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from junitparser import Failure, JUnitXml

import conformance.report.plots  # noqa: F401  numpy loads once per process: before any in-process pytester run
from conformance.rules import select
from conformance.runner import scenario_rules
from sim.scenario_loader import load_scenario, scenario_documents
from sim.yamlio import DEFAULT_LIMITS

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
HALTS = SCENARIOS / "configure-halts-on-failure.yaml"


def _registered() -> bool:
    return any(ep.value == "conformance.pytest_plugin" for ep in entry_points(group="pytest11"))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The plugin comes from its pytest11 entry point (an installed kratix-sim); load it by name otherwise."""
    extra = () if _registered() else ("-p", "conformance.pytest_plugin")
    return pytester.runpytest(*extra, "-p", "no:cacheprovider", *args)


def copy_scenario(source: Path, folder: Path, name: str | None = None, assertions: list[dict[str, str]] | None = None
                  ) -> Path:
    """A scenario file in ``folder`` whose Promise path points back into the library."""
    document = yaml.safe_load(source.read_text())
    document["spec"]["promise"] = str(source.parent / document["spec"]["promise"])
    if name:
        document["metadata"]["name"] = name
    if assertions is not None:
        document["spec"]["expect"]["assertions"] = assertions
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{document['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


WRONG = [{"by": "1h", "target": "default/shop", "condition": "ConfigureWorkflowCompleted", "status": "True"}]


def test_the_plugin_is_registered_through_pytest11() -> None:
    assert _registered(), "reinstall kratix-sim (pip install -e .) to register the pytest11 entry point"


def test_scenarios_are_collected_as_one_item_per_scenario_and_rule(pytester: pytest.Pytester) -> None:
    copy_scenario(HALTS, pytester.path / "scenarios")
    (pytester.path / "scenarios" / "notes.yaml").write_text("just: yaml\n")  # not a scenario: ignored
    result = run(pytester, "--kratix-scenarios", "scenarios", "--collect-only", "-q")
    rules = [*select(None), "LIVENESS", "EXPECT"]
    expected = [f"scenarios/configure-halts-on-failure.yaml::{rule}" for rule in rules]
    assert [line for line in result.outlines if "::" in line] == expected


def test_a_failing_scenario_fails_its_rule_with_pytests_own_junit(pytester: pytest.Pytester) -> None:
    copy_scenario(HALTS, pytester.path / "scenarios", "wrong-expectation", WRONG)
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "W1,W4",
                 "--junitxml", "out.xml", "--kratix-unknown", "pass")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([
        "*EXPECT the scenario's expectations (expect.assertions) (safety) FAIL: wrong-expectation seed 11: "
        "by 1h (3600 s) default/shop should have ConfigureWorkflowCompleted=True*",
        "*reproduce: kratix-sim check scenarios/wrong-expectation.yaml --seed 11 --seeds 1",
        "FAILED scenarios/wrong-expectation.yaml::EXPECT*"])
    xml = JUnitXml.fromfile(str(pytester.path / "out.xml"))
    cases = {case.name: case for suite in xml for case in suite}
    assert set(cases) == {"W1", "W4", "LIVENESS", "EXPECT"}
    failure = next(r for r in cases["EXPECT"].result if isinstance(r, Failure))
    assert "EXPECT" in (failure.message or "") and "ConfigureWorkflowCompleted=True" in (failure.message or "")
    assert "reproduce: kratix-sim check scenarios/wrong-expectation.yaml --seed 11 --seeds 1" in (failure.text or "")
    assert cases["W4"].is_passed


def test_unknown_is_a_skip_by_default_and_can_fail(pytester: pytest.Pytester) -> None:
    """A rule that cannot be judged: skipped with the reason, or failed with --kratix-unknown fail."""
    copy_scenario(HALTS, pytester.path / "scenarios")
    pytester.makeconftest("""
        from conformance.checkers import CHECKERS, _load_all
        from conformance.verdict import Verdict

        def pytest_configure(config):
            _load_all()
            config._kratix_saved = CHECKERS["W1"]
            CHECKERS["W1"] = lambda ctx: Verdict("W1", "unknown", "cannot tell from this trace")

        def pytest_unconfigure(config):
            CHECKERS["W1"] = config._kratix_saved
    """)
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "W1", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) >= 1 and not outcomes.get("failed")
    result.stdout.fnmatch_lines(["SKIPPED*configure-halts-on-failure.yaml*unknown: cannot tell from this trace"])
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "W1", "--kratix-unknown", "fail")
    assert result.parseoutcomes().get("failed", 0) >= 1
    result.stdout.fnmatch_lines(["*W1 serial pipelines (safety) UNKNOWN: *cannot tell from this trace"])


def test_fixtures_run_a_scenario_and_assert_rules_in_your_own_tests(pytester: pytest.Pytester) -> None:
    wrong = copy_scenario(HALTS, pytester.path / "scenarios", "wrong-expectation", WRONG)
    pytester.makepyfile(test_mine=f"""
        import pytest
        from sim.engine import decide as d
        from sim.engine.controller import Controller
        from sim.simulation import Simulation
        from sim.scenario_loader import load_scenario

        HALTS = {str(HALTS)!r}

        class NextAfterFailure(Controller):
            def decide(self, obs):
                decision = super().decide(obs)
                jobs = [j for j in obs.jobs if j.action == "configure"]
                if decision.outcome == "halted" and jobs and jobs[-1].pipeline_index < len(obs.configure) - 1:
                    return d._start(obs, jobs[-1].pipeline_index + 1, "next-pipeline")
                return decision

        class Mutant(Simulation):
            controller_class = NextAfterFailure

        def test_reference(kratix_run):
            result = kratix_run(HALTS, seed=11)
            result.assert_rules("W1", "W4", "J1", "EXPECT")
            assert result.seed == 11 and result.verdict("W4").result == "pass"
            assert result.metrics["jobs_failed"] == 1 and result.trace.named("job_failed")

        def test_a_scenario_object(kratix_run):
            scenario, _ = load_scenario(__import__("pathlib").Path(HALTS))
            assert kratix_run(scenario, rules="W4").verdict("W4").result == "pass"

        def test_mutant_breaks_w4(kratix_run, kratix_assert_rules):
            kratix_assert_rules(kratix_run(HALTS, engine=Mutant), "W4")

        def test_wrong_expectation(kratix_run):
            kratix_run({str(wrong)!r}).assert_rules("EXPECT")

        def test_registered_mutant_breaks_w4(kratix_run):
            from conformance.mutants import MUTANTS
            kratix_run(HALTS, engine=MUTANTS["next-pipeline-after-failure"].engine).assert_rules("W4")
    """)
    result = run(pytester, "test_mine.py")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines([  # a mutant of the library is named as `check --engine` takes it
        "*reproduce: kratix-sim check *configure-halts-on-failure.yaml --seed 11 --seeds 1 --rules W4 "
        "--engine next-pipeline-after-failure"])
    result.stdout.fnmatch_lines([
        "*AssertionError: W4 halt on failure (safety) FAIL: configure-halts-on-failure seed 11: *",
        "*reproduce: kratix_run('*configure-halts-on-failure.yaml', seed=11, rules='W4', engine=Mutant)",
    ])
    result.stdout.fnmatch_lines(["*EXPECT the scenario's expectations* FAIL: wrong-expectation seed 11*"])


def test_the_plugin_is_inert_without_scenarios_and_can_write_reports(pytester: pytest.Pytester) -> None:
    copy_scenario(HALTS, pytester.path / "scenarios")
    pytester.makepyfile(test_plain="def test_ok(kratix_run):\n    assert callable(kratix_run)\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)  # the YAML files are not collected
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "W4", "--kratix-report", "out")
    assert result.parseoutcomes().get("passed", 0) >= 2
    assert sorted(p.name for p in (pytester.path / "out").iterdir()) == [
        "report.html", "report.json", "report.md", "report.xml"]


def test_pytest_kratix_scenarios_works_from_a_separate_folder(tmp_path: Path) -> None:
    """`python -m pytest --kratix-scenarios <abs>/scenarios -q` from an empty folder, nothing installed anew:
    every scenario x rule of the library (its folders searched recursively) is an item, and the library
    passes but for the one item meant to fail: I1 of scenarios/real/timestamp-week-process.yaml (its script
    writes `date` into a Work; skipped with its real executor missing)."""
    rules = select(None)
    expected = 0
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        if not scenario_documents(path, DEFAULT_LIMITS):
            continue
        scenario, _ = load_scenario(path)
        expected += len(scenario_rules(scenario, rules)) + 1 + bool(scenario.spec.expect.assertions)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run([sys.executable, "-m", "pytest", "--kratix-scenarios", str(SCENARIOS), "-q",
                           "-p", "no:cacheprovider", "--junitxml", "library.xml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    failed = sorted(line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED "))
    assert len(failed) <= 1 and all(f.endswith("scenarios/real/timestamp-week-process.yaml::I1") for f in failed), \
        done.stdout[-3000:]
    assert done.returncode == (1 if failed else 0), done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in (part.split()[:2] for part in summary.split(" in ")[0].split(", "))}
    assert counts.get("passed", 0) + counts.get("skipped", 0) + len(failed) == expected, summary
    assert sum(1 for suite in JUnitXml.fromfile(str(tmp_path / "library.xml")) for _ in suite) == expected


def test_two_scenario_files_of_one_name_are_a_collection_error(pytester: pytest.Pytester) -> None:
    """As `check` refuses them: one name would merge two scenarios' runs and cases in the reports."""
    folder = pytester.path / "scenarios"
    copy_scenario(HALTS, folder)
    twin = folder / "twin.yaml"
    twin.write_text((folder / HALTS.name).read_text())
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "W4")
    result.stdout.fnmatch_lines(["*metadata.name 'configure-halts-on-failure' is also the name of *"])
    assert result.ret != 0


def test_an_unknown_rule_is_one_usage_error(pytester: pytest.Pytester) -> None:
    """--kratix-rules is checked once, as pytest checks its own options (exit 4), not once per scenario file."""
    folder = pytester.path / "scenarios"
    copy_scenario(HALTS, folder)
    copy_scenario(HALTS, folder, name="second")
    result = run(pytester, "--kratix-scenarios", "scenarios", "--kratix-rules", "BOGUS")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "\n".join(result.stderr.lines).count("--kratix-rules: unknown rule 'BOGUS'") == 1


def test_the_report_holds_the_selected_items_only(pytester: pytest.Pytester) -> None:
    """With -k the report holds the verdicts of the items that ran (pytest's own result), and says -k."""
    copy_scenario(HALTS, pytester.path / "scenarios", assertions=WRONG)
    result = run(pytester, "--kratix-scenarios", "scenarios", "-k", "W4", "--kratix-report", "out")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    assert {case["rule"] for case in report["cases"]} == {"W4"} and report["summary"]["result"] == "pass"
    assert report["invocation"]["command"].endswith("-k W4")
