"""pytest plugin (entry point ``pytest11: kratix_sim``): Kratix scenarios as tests, and fixtures for your own.

    pytest --kratix-scenarios scenarios/ [--kratix-seeds N] [--kratix-rules W,J] [--junitxml out.xml]

collects every scenario file (``kind: Scenario``) under the paths as one item per scenario x rule, named
``scenario_file::RULE`` (``scenarios/quickstart.yaml::W4``), plus ``::LIVENESS`` and, when the scenario has
``expect.assertions``, ``::EXPECT``. Each scenario is simulated once per seed; its items share the runs. A
failure shows the rule, the message, the events around the violation and the command that reproduces it;
an unknown verdict is a skip (``--kratix-unknown fail|pass`` to change that). pytest's own ``--junitxml``
gives the JUnit file; ``--kratix-report DIR`` also writes kratix-sim's reports (docs/reports.md).

In your own tests::

    def test_my_promise(kratix_run):
        result = kratix_run("scenarios/my-promise.yaml", seed=3)
        result.assert_rules("W1", "W4", "LIVENESS")
        assert result.metrics["jobs"] < 20

Without ``--kratix-scenarios`` (or the ``kratix_scenarios`` ini option) the plugin collects nothing and adds
only the fixtures; it imports the simulator lazily, so it costs nothing to sessions that do not use it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conformance.runner import RunVerdicts
    from conformance.verdict import Verdict
    from sim.scenario import Scenario
    from sim.simulation import Simulation
    from sim.trace import Trace

PATHS = pytest.StashKey[list[Path]]()
BUILDER = pytest.StashKey[Any]()  # a conformance.report.build.ReportBuilder, or None
NAMES = pytest.StashKey[dict[str, Path]]()  # scenario name -> the file that has it (names identify runs)
SELECTED = pytest.StashKey[set[tuple[Path, str]]]()  # (scenario file, rule) of the items that will run


# -- options and collection ------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kratix-sim", "Kratix scenarios (kratix-sim)")
    group.addoption("--kratix-scenarios", action="append", default=[], metavar="PATH",
                    help="collect the scenario files in PATH (a file or a folder) as tests: one per scenario x rule")
    group.addoption("--kratix-seeds", type=int, default=1, metavar="N", help="seeds per scenario (default 1)")
    group.addoption("--kratix-seed", type=int, default=None, metavar="N",
                    help="first seed (default: each scenario's own)")
    group.addoption("--kratix-rules", default=None, metavar="IDS",
                    help="rule IDs or families, comma-separated (default: every trace rule)")
    group.addoption("--kratix-unknown", choices=["skip", "fail", "pass"], default="skip",
                    help="what an unknown verdict (a rule that cannot be judged) becomes (default skip)")
    group.addoption("--kratix-report", default=None, metavar="DIR",
                    help="also write kratix-sim's reports (report.md/.xml/.json/.html) for the scenarios into DIR")
    parser.addini("kratix_scenarios", type="paths", default=[],
                  help="scenario files or folders collected as tests (like --kratix-scenarios)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kratix: a Kratix scenario x rule collected by kratix-sim")
    given = [Path(p) for p in config.getoption("kratix_scenarios") or []]
    paths = [p if p.is_absolute() else config.invocation_params.dir / p for p in given]
    paths += [Path(p) for p in config.getini("kratix_scenarios") or []]
    paths = [p.resolve() for p in paths]
    config.stash[PATHS] = paths
    config.stash[BUILDER] = None
    if not paths:
        return
    if config.getoption("kratix_seeds") < 1:
        raise pytest.UsageError("--kratix-seeds must be at least 1")
    from conformance.rules import select

    try:  # once, before collection (not one collection error per scenario file)
        select(config.getoption("kratix_rules"))
    except ValueError as exc:
        raise pytest.UsageError(f"--kratix-rules: {exc}") from exc
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.extend(str(p) for p in paths if not any(_within(p, Path(a).resolve()) for a in config.args))
    else:  # no paths on the command line: collect the scenarios only, not the default test folder
        config.args[:] = [str(p) for p in paths]
    if config.getoption("kratix_report"):
        from conformance.report.build import ReportBuilder
        from conformance.report.model import Invocation

        keyword = config.getoption("keyword") or ""  # -k: the report holds the selected items' verdicts only
        config.stash[BUILDER] = ReportBuilder("check", "kratix-sim check (pytest)", Invocation(
            command=shlex.join(["pytest", *(a for p in given for a in ("--kratix-scenarios", str(p))),
                                *(["-k", keyword] if keyword else [])]),
            options={"seeds": config.getoption("kratix_seeds"), "seed": config.getoption("kratix_seed"),
                     "rules": config.getoption("kratix_rules"), "keyword": keyword}))


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    paths = parent.config.stash.get(PATHS, [])
    if not any(_within(file_path.resolve(), p) for p in paths):
        return None
    from sim.errors import InputError
    from sim.scenario_loader import scenario_documents

    try:
        if not scenario_documents(file_path):
            return None  # a Promise or any other YAML next to the scenarios
    except InputError:
        pass  # not readable as YAML: collect it, so the error shows
    file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return file


def pytest_collection_finish(session: pytest.Session) -> None:
    """The items left after selection (-k, -m): a report holds the verdicts of those only, as pytest reports."""
    session.config.stash[SELECTED] = {(item.path, item.rule) for item in session.items if isinstance(item, RuleItem)}


def pytest_sessionfinish(session: pytest.Session) -> None:
    builder = session.config.stash.get(BUILDER, None)
    if builder is None or not builder.runs:
        return
    from conformance.report.build import generated_now
    from conformance.report.io import Outputs, write_outputs

    write_outputs(builder.build(generated_now()), Outputs.select(Path(session.config.getoption("kratix_report"))))


class KratixRuleFailure(Exception):
    """A rule failed (or could not be judged, with ``--kratix-unknown fail``); the text says why."""


class ScenarioFile(pytest.File):
    """A scenario file: one item per rule it is judged by; the runs happen once, on the first item."""

    _runs: list[RunVerdicts] | None = None

    def _load(self) -> tuple[Scenario, Any]:
        from sim.errors import InputError
        from sim.scenario_loader import load_scenario

        try:
            return load_scenario(self.path)
        except InputError as exc:
            raise self.CollectError(f"kratix-sim: {exc}") from exc

    def collect(self) -> Iterator[RuleItem]:
        from conformance.rules import select
        from conformance.runner import EXPECT, scenario_rules

        scenario, _ = self._load()
        named = self.config.stash.setdefault(NAMES, {})
        other = named.setdefault(scenario.name, self.path)
        if other != self.path:  # as `check` refuses: one name would merge two scenarios in reports
            raise self.CollectError(f"kratix-sim: {self.path}: metadata.name {scenario.name!r} is also the name of "
                                    f"{other}; scenario names identify runs in reports and baselines, give each file "
                                    "its own")
        rules = select(self.config.getoption("kratix_rules"))  # checked in pytest_configure
        names = [*scenario_rules(scenario, rules), "LIVENESS"]
        if scenario.spec.expect.assertions:
            names.append(EXPECT)
        for rule in names:
            item: RuleItem = RuleItem.from_parent(self, name=rule, rule=rule)
            item.add_marker("kratix")
            yield item

    def runs(self) -> list[RunVerdicts]:
        if self._runs is None:
            from conformance.check_command import reproduce_command
            from conformance.rules import select
            from conformance.runner import run_and_judge

            scenario, promise = self._load()
            rules = select(self.config.getoption("kratix_rules"))
            builder = self.config.stash.get(BUILDER, None)
            first = self.config.getoption("kratix_seed")
            first = scenario.spec.seed if first is None else first
            self._runs = []
            for seed in range(first, first + self.config.getoption("kratix_seeds")):
                run = run_and_judge(scenario, promise, seed, rules, self._source(), keep_trace=builder is not None)
                if builder is not None:
                    selected = self.config.stash.get(SELECTED, set())
                    verdicts = [v for v in run.verdicts if (self.path, v.rule) in selected]
                    builder.add_run(subject=run.scenario, source=run.source, seed=run.seed, verdicts=verdicts,
                                    trace=run.trace, reproduce=lambda rule, run=run: reproduce_command(run, rule))
                    run.trace = None
                self._runs.append(run)
        return self._runs

    def _source(self) -> str:
        """The path as a person would type it from where pytest ran."""
        try:
            return str(self.path.relative_to(self.config.invocation_params.dir))
        except ValueError:
            return str(self.path)


class RuleItem(pytest.Item):
    def __init__(self, *, rule: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule

    def runtest(self) -> None:
        from conformance.verdict import worst

        assert isinstance(self.parent, ScenarioFile)
        judged = [(run, v) for run in self.parent.runs() for v in run.verdicts if v.rule == self.rule]
        if not judged:
            raise pytest.skip.Exception(f"{self.rule} was not judged for this scenario", _use_item_location=True)
        result = worst(v.result for _, v in judged)
        unknown_as = self.config.getoption("kratix_unknown")
        if result == "pass" or (result == "unknown" and unknown_as == "pass"):
            return
        bad = [(run, v) for run, v in judged if v.result == result]
        if result == "unknown" and unknown_as == "skip":
            raise pytest.skip.Exception(f"unknown: {bad[0][1].message}", _use_item_location=True)
        raise KratixRuleFailure("\n".join(explain(run, verdict) for run, verdict in bad))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        if isinstance(excinfo.value, KratixRuleFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}::{self.rule}"


# -- fixtures for your own tests -------------------------------------------------------------------------
def explain(run: RunVerdicts, verdict: Verdict) -> str:
    """A failed (or unknown) verdict as text: rule, message, reproduce command first, then the events."""
    from conformance.check_command import reproduce_command
    from conformance.report.build import rule_title

    title = rule_title(verdict.rule)
    seed = f" seed {run.seed}" if run.seed is not None else ""
    lines = [f"{verdict.rule}{' ' + title if title else ''} ({verdict.category}) {verdict.result.upper()}: "
             f"{run.scenario}{seed}: {verdict.message}"]
    if verdict.result == "fail":
        from conformance.mutants import MUTANTS

        if run.engine == "reference" or run.engine in MUTANTS:
            lines.append(f"  reproduce: {reproduce_command(run, verdict.rule)}")
        else:  # an engine class of the user's: the CLI cannot name it
            lines.append(f"  reproduce: kratix_run({run.source!r}, seed={run.seed}, rules={verdict.rule!r}, "
                         f"engine={run.engine})")
    if verdict.context:
        lines.append("  events:")
        focus = verdict.event.get("seq") if verdict.event else None
        for event in verdict.context:
            marker = ">>" if focus is not None and event.get("seq") == focus else "  "
            fields = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("seq", "t", "event"))
            lines.append(f"  {marker} #{event.get('seq')} t={event.get('t')} {event.get('event')} {fields}")
    return "\n".join(lines)


@dataclass
class KratixResult:
    """One judged run: the trace, every verdict, and the report metrics."""

    scenario: Scenario
    seed: int
    source: str
    trace: Trace
    verdicts: list[Verdict]
    engine: str = "reference"  # a mutant's name (``check --engine``), else the name of the user's engine class
    _metrics: dict[str, Any] | None = field(default=None, repr=False)

    def verdict(self, rule: str) -> Verdict:
        for verdict in self.verdicts:
            if verdict.rule == rule:
                return verdict
        judged = ", ".join(v.rule for v in self.verdicts)
        raise KeyError(f"{rule} was not judged (judged: {judged})")

    @property
    def failures(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.result == "fail"]

    @property
    def metrics(self) -> dict[str, Any]:
        """Run totals as in report.json (jobs, pods, retries, time_to_converge_s...)."""
        if self._metrics is None:
            from conformance.report.metrics import run_metrics

            self._metrics = dict(run_metrics(self.trace).totals)
        return self._metrics

    def run_verdicts(self) -> RunVerdicts:
        from conformance.runner import RunVerdicts

        return RunVerdicts(self.scenario.name, self.source, self.seed, self.verdicts, self.trace,
                           engine=self.engine)

    def assert_rules(self, *rules: str, allow_unknown: bool = False) -> None:
        assert_rules(self, *rules, allow_unknown=allow_unknown)


def run_scenario(path_or_scenario: str | Path | Scenario, seed: int | None = None,
                 rules: str | Sequence[str] | None = None, engine: type[Simulation] | None = None) -> KratixResult:
    """Simulate a scenario (a file, or a ``Scenario`` object) with one seed, plus the heal period, and judge
    the trace by ``rules`` (IDs or families; default every trace rule), liveness and the expectations."""
    from conformance.rules import select
    from conformance.runner import run_and_judge
    from sim.scenario import Scenario
    from sim.scenario_loader import load_scenario
    from sim.simulation import Simulation, resolve_promise

    if isinstance(path_or_scenario, Scenario):
        scenario, promise, source = path_or_scenario, resolve_promise(path_or_scenario), ""
    else:
        scenario, promise = load_scenario(Path(path_or_scenario))
        source = str(path_or_scenario)
    chosen = select(rules if rules is None or isinstance(rules, str) else ",".join(rules))
    run = run_and_judge(scenario, promise, scenario.spec.seed if seed is None else seed, chosen, source,
                        engine=engine or Simulation, keep_trace=True)
    assert run.trace is not None and run.seed is not None
    name = "reference"
    if engine is not None and engine is not Simulation:
        from conformance.mutants import MUTANTS

        name = next((m.name for m in MUTANTS.values() if m.engine is engine), engine.__qualname__)
    return KratixResult(scenario, run.seed, source, run.trace, run.verdicts, name)


def assert_rules(result: KratixResult, *rules: str, allow_unknown: bool = False) -> None:
    """Assert the rules passed (every judged rule when none are named). Unknown fails unless allowed."""
    wanted = list(rules) or [v.rule for v in result.verdicts]
    run = result.run_verdicts()
    problems = []
    for rule in wanted:
        try:
            verdict = result.verdict(rule)
        except KeyError as exc:
            problems.append(str(exc.args[0]))
            continue
        if verdict.result == "fail" or (verdict.result == "unknown" and not allow_unknown):
            problems.append(explain(run, verdict))
    if problems:
        raise AssertionError("\n".join(problems))


@pytest.fixture
def kratix_run() -> Callable[..., KratixResult]:
    """``kratix_run(path_or_scenario, seed=None, rules=None, engine=None)`` -> KratixResult (trace, verdicts,
    metrics, ``assert_rules``)."""
    return run_scenario


@pytest.fixture
def kratix_assert_rules() -> Callable[..., None]:
    """``kratix_assert_rules(result, "W1", "W4", allow_unknown=False)``."""
    return assert_rules
