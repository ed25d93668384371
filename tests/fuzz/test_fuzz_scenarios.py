"""Fuzz scenario files through ``kratix-sim run SCENARIO --duration 10m`` and ``kratix-sim check SCENARIO``.

The limits are tight here (--max-reconciliations and friends) so that a mutated scenario that asks for
months of simulation is refused in one line instead of running: the limits are what keep a hostile
scenario from hanging the simulator, and refusing is the expected answer.
"""

from __future__ import annotations

from pathlib import Path

from fuzz_strategies import scenario_docs, yaml_input
from fuzzlib import YAML_LIMITS, Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

LIMITS = [*YAML_LIMITS, "--max-resources", "60", "--max-faults", "100", "--max-reconciliations", "300"]
SCENARIO = ("apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata: {name: f}\nspec:\n"
            "  duration: 10m\n  promise: promises/database.yaml\n  resources: [{name: db}]\n")
REGRESSIONS = [
    # exit 3: a control character made PyYAML's reader fail before the first document (ReaderError)
    "\x01",
    # two stderr lines: a key holding "\x1e" (a line separator to str.splitlines) printed raw in the path;
    # a resource name with a line break listed raw among the accepted fault targets
    SCENARIO + '  behaviour: {"\\x1e": 1}\n',
    SCENARIO.replace("{name: db}", '{name: "a\\nb"}') + "  faults: [{kind: manual-reconcile, at: 1m, target: x}]\n",
    # exit 3: `.inf` / `.nan` durations reached the engine (OverflowError converting to milliseconds)
    SCENARIO.replace("duration: 10m", "duration: .inf"),
    SCENARIO + "  behaviour: {default: {duration: .nan}}\n",
    SCENARIO + "  faults: [{kind: controller-restart, at: .inf}]\n",
    # exit 3: a duration that is a list (AttributeError: 'list' object has no attribute 'strip')
    SCENARIO + "  behaviour: {default: {duration: [10s]}}\n",
    # exit 3: an integer too large for a float as a duration
    SCENARIO.replace("duration: 10m", "duration: " + "9" * 400),
    # exit 3 / memory: container-failure count 10^21 built a list of 10^21 exit codes
    SCENARIO + "  faults: [{kind: container-failure, at: 1m, count: 1000000000000000000000}]\n",
    # hangs: a billion resources; a fault every millisecond; a huge container duration (heal period)
    SCENARIO.replace("{name: db}", "{name: db, count: 1000000000}"),
    SCENARIO + "  faults: [{kind: controller-restart, every: 0.001}]\n",
    SCENARIO + "  faults: [{kind: manual-reconcile, rate: 1.0e+12, target: default/db}]\n",
    SCENARIO + "  behaviour: {default: {duration: 1.0e+300}}\n",
    SCENARIO.replace("duration: 10m", "duration: 100000d"),
    SCENARIO + "  kratix: {reconciliationInterval: 1s}\n",
]


RUN = Entry("run", "scenario-run.yaml", lambda path: ["run", str(path), "--duration", "10m", *LIMITS])
CHECK = Entry("check", "scenario-check.yaml", lambda path: ["check", str(path), *LIMITS])


@fuzz_settings()
@given(data=yaml_input(scenario_docs()))
@with_examples([text.encode() for text in REGRESSIONS])
def test_run(fuzz_dir: Path, data: bytes) -> None:
    check_entry(fuzz_dir, RUN, data)


def test_run_in_subprocesses(fuzz_dir: Path) -> None:
    replay_in_subprocesses(fuzz_dir, RUN, [text.encode() for text in REGRESSIONS])


@fuzz_settings()
@given(data=yaml_input(scenario_docs()))
@with_examples([text.encode() for text in REGRESSIONS])
def test_check(fuzz_dir: Path, data: bytes) -> None:
    check_entry(fuzz_dir, CHECK, data)


def test_check_in_subprocesses(fuzz_dir: Path) -> None:
    replay_in_subprocesses(fuzz_dir, CHECK, [text.encode() for text in REGRESSIONS])
