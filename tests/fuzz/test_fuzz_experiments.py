"""Fuzz experiment files through ``kratix-sim sweep EXPERIMENT --workers 1``: the loader (the parameter grid,
every point's scenario, the limits) for real, and, for the small experiments that load, the runs and
summary too (plots are left out: drawing them is slow and reads no input)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fuzz_strategies import experiment_docs, yaml_input
from fuzzlib import YAML_LIMITS, Entry, check_entry, fuzz_settings, replay_in_subprocesses, with_examples
from hypothesis import given

LIMITS = [*YAML_LIMITS, "--max-runs", "2", "--max-resources", "20", "--max-faults", "50",
          "--max-reconciliations", "100"]
EXPERIMENT = ("apiVersion: kratix-sim/v1alpha1\nkind: Experiment\nmetadata: {name: f}\nspec:\n"
              "  scenario: {spec: {duration: 10m, promise: promises/fleet-service.yaml, resources: [{name: a}]}}\n"
              "  replications: 1\n")


def _no_plots(*args: object) -> list[Path]:
    return []


def _argv(path: Path) -> list[str]:
    out = path.with_name(path.stem + "-out")
    shutil.rmtree(out, ignore_errors=True)
    return ["sweep", str(path), "--workers", "1", "--out", str(out), *LIMITS]


ENTRY = Entry("sweep", "experiment.yaml", _argv, folder="experiments",
              patches=(("sim.sweep_command.write_plots", _no_plots),))
REGRESSIONS = [
    # hang: a range of a billion samples was expanded before any check (now refused by --max-runs first)
    EXPERIMENT + "  parameters: [{path: spec.duration, range: {from: 1, to: 2, samples: 1000000000}}]\n",
    # exit 3: a range bound too large for a float (OverflowError); `.inf` gave a point "count=nan"
    EXPERIMENT + '  parameters: [{path: "spec.resources[0].count", range: {from: 1, to: 1' + "0" * 400
    + ", samples: 2}}]\n",
    EXPERIMENT + '  parameters: [{path: "spec.duration", range: {from: 1, to: .inf, samples: 2}}]\n',
    # a grid of 10^6 points from six parameters of ten values (refused by --max-runs before expanding)
    EXPERIMENT + "  parameters:\n" + "".join(
        f"    - {{path: spec.behaviour.containers.c{i}, values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}}\n" for i in range(6)),
]


@fuzz_settings()
@given(data=yaml_input(experiment_docs()))
@with_examples([text.encode() for text in REGRESSIONS])
def test_sweep(fuzz_dir: Path, data: bytes) -> None:
    check_entry(fuzz_dir, ENTRY, data)


def test_sweep_in_subprocesses(fuzz_dir: Path) -> None:
    replay_in_subprocesses(fuzz_dir, ENTRY, [text.encode() for text in REGRESSIONS])
