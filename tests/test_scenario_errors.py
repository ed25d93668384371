"""Bad scenario files through the real CLI (``python -m sim run FILE``).

Each must exit 2 with exactly one line on stderr, ``kratix-sim: error: FILE:LINE: KEY: message``, naming the
file, the exact line and the key, listing the accepted values where there is a closed set (fault kinds,
keys, container keys, targets, profiles), and never a traceback. The fixtures are in tests/scenario_cases/;
a few are written to tmp_path.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.scenario import FAULT_KINDS, ContainerBehaviour, ScenarioSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "scenario_cases"
SPEC_KEYS = [field.alias or name for name, field in ScenarioSpec.model_fields.items()]
BEHAVIOUR_KEYS = [field.alias or name for name, field in ContainerBehaviour.model_fields.items()]
CONTAINER_KEYS = ["resource/configure/build/render", "resource/delete/teardown/cleanup"]


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    key: str
    words: tuple[str, ...] = ()  # must appear in the message
    accepted: tuple[str, ...] = ()  # every accepted value must be listed after "accepted:"
    source: str = ""  # text the fixture has on that line (checks the fixture itself)


BAD = [
    Case("unknown-fault-kind.yaml", 13, "spec.faults[1].kind", ("unknown fault kind 'explode'",),
         FAULT_KINDS, "kind: explode"),
    Case("unknown-key.yaml", 10, "spec.colour", ("unknown key 'colour'",), tuple(SPEC_KEYS), "colour: blue"),
    Case("unknown-nested-key.yaml", 12, "spec.behaviour.containers.resource/configure/build/render.retries",
         ("unknown key 'retries'",), tuple(BEHAVIOUR_KEYS), "retries: 3"),
    Case("bad-duration.yaml", 6, "spec.duration", ("invalid duration '1d2'", "1h30m"), (), "duration: 1d2"),
    Case("missing-promise-file.yaml", 7, "spec.promise", ("'promises/no-such-promise.yaml' not found",), (),
         "promise: promises/no-such-promise.yaml"),
    Case("missing-target.yaml", 11, "spec.faults[0].target", ("target 'default/ghost' does not exist",),
         ("default/web", "promise", "promise/shop"), "target: default/ghost"),
    Case("negative-resource-time.yaml", 10, "spec.resources[1].at", ("negative duration -90",), (), "at: -90"),
    Case("negative-fault-time.yaml", 11, "spec.faults[0].at", ("negative duration '-5m'",), (), 'at: "-5m"'),
    Case("behaviour-names-no-container.yaml", 14, "spec.behaviour.containers.resource/configure/build/compile",
         ("no container 'resource/configure/build/compile'",), tuple(CONTAINER_KEYS),
         "resource/configure/build/compile:"),
    Case("fault-names-no-container.yaml", 11, "spec.faults[0].container",
         ("no container 'resource/configure/deploy/render'",), tuple(CONTAINER_KEYS),
         "container: resource/configure/deploy/render"),
    Case("yaml-syntax-error.yaml", 6, "spec.duration", ("YAML syntax error",), (), "duration: 1h: 30m"),
    Case("not-a-scenario.yaml", 3, "kind", ("not a Scenario file", "kind is 'Promise'", "expected kind: Scenario"),
         (), "kind: Promise"),
    Case("unknown-profile.yaml", 10, "spec.kratix.profile", ("unknown profile 'kratix-2030'",),
         ("kratix-2025", "kratix-2026.08", "seed-doc"), "profile: kratix-2030"),
]


def run_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", "run", str(path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def assert_one_located_error(result: subprocess.CompletedProcess[str], path: Path, line: int,
                             key: str) -> str:
    """Exit 2, one stderr line ``kratix-sim: error: FILE:LINE: KEY: message``, no traceback; the message."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"kratix-sim: error: {path}:{line}: {key}: "
    assert lines[0].startswith(prefix), f"expected {prefix!r}...\ngot {lines[0]!r}"
    return lines[0][len(prefix):]


@functools.cache
def _bad_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every fixture through the CLI once, a few processes at a time (each start imports the package)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([c.file for c in BAD], pool.map(run_cli, [CASES / c.file for c in BAD]), strict=True))


@pytest.mark.parametrize("case", BAD, ids=[c.file.removesuffix(".yaml") for c in BAD])
def test_bad_scenario_exits_2_with_one_located_line(case: Case) -> None:
    path = CASES / case.file
    assert case.source in path.read_text(encoding="utf-8").splitlines()[case.line - 1], "fixture drifted"
    message = assert_one_located_error(_bad_results()[case.file], path, case.line, case.key)
    for word in case.words:
        assert word in message
    if case.accepted:
        assert "accepted: " in message
        listed = [v.strip() for v in re.split(r"[,;(]", message.split("accepted: ", 1)[1])]
        missing = [value for value in case.accepted if value not in listed and value not in message]
        assert missing == [], f"accepted values not listed: {missing}"


def test_every_fixture_is_exercised() -> None:
    fixtures = {p.name for p in CASES.glob("*.yaml")} - {"promise.yaml"}
    assert fixtures == {c.file for c in BAD}


def test_the_fixture_promise_is_fine_and_only_the_scenarios_are_broken(tmp_path: Path) -> None:
    """A good scenario beside the same Promise runs (exit 0): the errors come from the scenario files."""
    good = tmp_path / "good.yaml"
    good.write_text(
        "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata: {name: good}\n"
        f"spec:\n  duration: 10m\n  promise: {CASES / 'promise.yaml'}\n  resources:\n    - {{name: web}}\n",
        encoding="utf-8")
    result = run_cli(good)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(("name", "text", "line", "key", "words"), [
    ("unclosed-list.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  resources:\n    - name: web\n      labels:\n        team: a: b\n", 10,
     "spec.resources[0].labels.team", ("YAML syntax error",)),
    ("bad-interval.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  kratix:\n    reconciliationInterval: 10 hours\n", 8,
     "spec.kratix.reconciliationInterval", ("invalid duration '10 hours'",)),
    ("wrong-api-version.yaml", "apiVersion: kratix-sim/v2\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n", 1, "apiVersion", ("unknown apiVersion 'kratix-sim/v2'", "accepted: kratix-sim/v1alpha1")),
    ("restart-with-target.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  resources:\n    - {name: web}\n  faults:\n"
     "    - {at: 1h, kind: controller-restart, target: default/web}\n", 10, "spec.faults[0].target",
     ("controller-restart takes no target",)),
    ("bad-assertion-status.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  expect:\n    assertions:\n"
     "      - {by: 1h, target: default/web, condition: Ready, status: maybe}\n", 9,
     "spec.expect.assertions[0].status", ("unknown status 'maybe'", "accepted: True, False, Unknown")),
    ("bad-promise-patch.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  faults:\n    - {at: 10h, kind: update-promise, spec: {api: 5}}\n", 8,
     "spec.faults[0].spec", ("the patched Promise is invalid at spec.api",)),
    ("promise-fault-on-a-resource.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  resources:\n    - {name: web}\n  faults:\n"
     "    - {at: 1h, kind: delete-promise, target: default/web}\n", 10, "spec.faults[0].target",
     ("delete-promise acts on the Promise",)),
    ("resource-fault-on-the-promise.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  resources:\n    - {name: web}\n  faults:\n"
     "    - {at: 1h, kind: update-resource, target: promise, spec: {x: 1}}\n", 10, "spec.faults[0].target",
     ("update-resource acts on a resource", "for the Promise use update-promise")),
    ("field-of-another-kind.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  resources:\n    - {name: web}\n  faults:\n"
     "    - {at: 1h, kind: manual-reconcile, target: default/web, downtime: 1m}\n", 10, "spec.faults[0]",
     ("downtime does not apply to manual-reconcile (only to controller-restart)",)),
    ("same-resource-twice.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  resources:\n    - {name: web, count: 2}\n    - {name: web-1}\n", 9,
     "spec.resources[1].name", ("resource default/web-1 is named twice",)),
    ("slash-in-a-name.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  resources:\n    - {name: x/y}\n", 8, "spec.resources[0].name", ("should match pattern",)),
    ("namespace-not-a-label.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  resources:\n    - {name: web, namespace: Team.A}\n", 8,
     "spec.resources[0].namespace", ("should match pattern",)),
    ("seed-true.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  seed: true\n", 7, "spec.seed", ("valid integer",)),
    ("until-before-from.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\nspec:\n"
     "  promise: p.yaml\n  faults:\n    - {every: 1h, from: 5h, until: 2h, kind: controller-restart}\n", 8,
     "spec.faults[0]", ("until is before from",)),
    ("unknown-expected-rule.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  expect:\n    rules: [W4, X1]\n", 8, "spec.expect.rules[1]",
     ("'X1' is not a rule ID",)),
    ("exit-code-out-of-range.yaml", "apiVersion: kratix-sim/v1alpha1\nkind: Scenario\nmetadata:\n  name: x\n"
     "spec:\n  promise: p.yaml\n  behaviour:\n    default: {exitCodes: [1, 300]}\n", 8,
     "spec.behaviour.default.exitCodes[1]", ("less than or equal to 255",)),
])
def test_bad_scenarios_written_to_tmp(tmp_path: Path, name: str, text: str, line: int, key: str,
                                      words: tuple[str, ...]) -> None:
    (tmp_path / "p.yaml").write_text((CASES / "promise.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    message = assert_one_located_error(run_cli(path), path, line, key)
    for word in words:
        assert word in message


def test_an_unquoted_condition_status_means_the_status_of_that_name() -> None:
    """YAML reads `status: True` as a boolean; an assertion takes it as the condition status "True"."""
    from sim.scenario import Assertion

    assert Assertion.model_validate({"by": 60, "target": "t", "condition": "Ready", "status": True}).status == "True"
    assert Assertion.model_validate({"by": 60, "target": "t", "condition": "Ready", "status": False}).status == "False"
