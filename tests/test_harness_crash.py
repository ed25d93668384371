"""A crash inside the engine (issue 10, item 6) ends a command as a harness error, never as a pass: exit 3 and one
stderr line naming what ran (scenario and seed, explore seed, sweep point and seed) with the command that
reproduces it; ``check`` still runs the other scenarios and reports the crashed run as a failing HARNESS case.

The crash is injected through the engine's ``controller_class`` seam (``Controller.decide`` raises after a few
reconciles, so a trace is partly written), selected with ``--engine`` by patching the engine table in-process.
"""

from __future__ import annotations

import json
import pickle
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance import explore_command
from sim.cli import main
from sim.engine import decide as d
from sim.engine.controller import Controller
from sim.errors import HarnessError
from sim.experiments import runner
from sim.experiments.runner import PARTIAL, RESULTS, RunCrashed
from sim.simulation import Simulation

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"  # seed 7
STATUS_MERGE = REPO / "scenarios" / "status-merge.yaml"
SMOKE = REPO / "scenarios" / "experiments" / "smoke.yaml"
DECISIONS_BEFORE_CRASH = 3


class CrashingController(Controller):
    """Decides normally a few times, then divides by zero (only in the scenarios named in ``victims``; all
    when empty)."""

    victims: frozenset[str] = frozenset()

    def decide(self, obs: d.Observation) -> d.Decision:
        self.decisions = getattr(self, "decisions", 0) + 1
        if self.decisions > DECISIONS_BEFORE_CRASH and (not self.victims or self.sim.scenario.name in self.victims):
            raise ZeroDivisionError("division by zero")
        return super().decide(obs)


class Crashing(Simulation):
    controller_class = CrashingController


class CrashingQuickstart(Simulation):
    controller_class = type("QuickstartOnly", (CrashingController,), {"victims": frozenset({"quickstart"})})


@pytest.fixture
def crashing_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    available = {"reference": Simulation, "crashing": Crashing, "crashing-quickstart": CrashingQuickstart}
    monkeypatch.setattr(explore_command, "engines", lambda: available)


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_run_crash_is_exit_3_with_seed_and_reproduce(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.run_command.Simulation", Crashing)
    trace = tmp_path / "trace.jsonl"
    assert main(["run", str(QUICKSTART), "--trace", str(trace)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert line == (f"kratix-sim: harness error in scenario quickstart seed 7: ZeroDivisionError: division by zero "
                    f"(a bug; reproduce: kratix-sim run {QUICKSTART} --seed 7; set KRATIX_SIM_DEBUG=1 for the "
                    "traceback)")
    assert list(tmp_path.iterdir()) == [], "no trace, not even half of one, and no .tmp file"
    assert main(["run", str(QUICKSTART), "--seed", "3", "--duration", "2h"]) == 3
    assert "seed 3:" in capsys.readouterr().err


def test_run_crash_with_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sim.run_command.Simulation", Crashing)
    monkeypatch.setenv("KRATIX_SIM_DEBUG", "1")
    with pytest.raises(HarnessError) as raised:
        main(["run", str(QUICKSTART)])
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_check_reports_a_crashed_scenario_as_an_error_not_a_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], crashing_engines: None) -> None:
    reports = tmp_path / "reports"
    code = main(["check", str(QUICKSTART), str(STATUS_MERGE), "--engine", "crashing-quickstart", "--report",
                 str(reports), "--no-plots"])
    out, err = capsys.readouterr()
    assert code == 3
    assert err.startswith("report: wrote ")  # the reports are written before the error line
    line = err.strip().splitlines()[-1]
    assert line == (f"kratix-sim: harness error in scenario quickstart seed 7: ZeroDivisionError: division by zero "
                    f"(a bug; reproduce: kratix-sim check {QUICKSTART} --seed 7 --seeds 1 --engine "
                    "crashing-quickstart; set KRATIX_SIM_DEBUG=1 for the traceback)")
    assert "FAIL HARNESS" in out and "harness error in scenario quickstart" in out
    assert re.search(r"status-merge\s+pass", out), "the other scenario still ran and was judged"

    report = json.loads((reports / "report.json").read_text())
    assert report["summary"]["result"] == "fail"
    cases = {(c["subject"], c["rule"]): c["result"] for c in report["cases"]}
    assert cases[("quickstart", "HARNESS")] == "fail"
    assert not [rule for (subject, rule), result in cases.items() if subject == "quickstart" and rule != "HARNESS"]
    assert all(result == "pass" for (subject, _), result in cases.items() if subject == "status-merge")
    failures = ET.parse(reports / "report.xml").getroot().findall(".//failure")
    assert [f.get("type") for f in failures] == ["HARNESS"]


def test_check_json_output_of_a_crash(capsys: pytest.CaptureFixture[str], crashing_engines: None) -> None:
    assert main(["check", str(QUICKSTART), "--engine", "crashing", "--seeds", "2", "--format", "json"]) == 3
    out, err = capsys.readouterr()
    verdicts = json.loads(out)["verdicts"]
    assert [(v["seed"], v["rule"], v["result"]) for v in verdicts] == [(7, "HARNESS", "fail"), (8, "HARNESS", "fail")]
    assert "seed 7 (and 1 more runs)" in _one_line(err)


def test_explore_crash_is_exit_3(capsys: pytest.CaptureFixture[str], crashing_engines: None,
                                 tmp_path: Path) -> None:
    code = main(["explore", "--engine", "crashing", "--examples", "3", "--seed", "5", "--out", str(tmp_path)])
    line = _one_line(capsys.readouterr().err)
    assert code == 3
    assert line.startswith("kratix-sim: harness error in explore against crashing seed 5: ZeroDivisionError")
    assert "reproduce: kratix-sim explore --engine crashing --examples 3 --seed 5;" in line


def test_sweep_crash_names_point_and_seed_and_keeps_finished_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class CrashOnSeed2(Simulation):
        def run(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            if self.seed == 2 and self.scenario.spec.kratix.reconciliationInterval == 4 * 3600:
                raise ZeroDivisionError("division by zero")
            return super().run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "Simulation", CrashOnSeed2)
    out = tmp_path / "sweep"
    assert main(["sweep", str(SMOKE), "--workers", "1", "--out", str(out)]) == 3
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("kratix-sim: harness error in experiment smoke point 2 (interval=4h, p_fail=0.0) seed 2: "
                           "ZeroDivisionError: division by zero (a bug; reproduce: kratix-sim sweep "), line
    assert f"--out {out} --resume --workers 1;" in line
    rows = (out / RESULTS).read_text().splitlines()
    assert len(rows) == 1 + 7, "the runs before the crash (points 0 and 1, point 2 seed 1) are kept"
    assert not (out / PARTIAL).exists() and not (out / "summary.md").exists()


def test_a_crash_in_a_worker_comes_back_whole() -> None:
    """Pool and Dask workers send the exception back pickled: RunCrashed survives the trip."""
    crash = pickle.loads(pickle.dumps(RunCrashed(3, 9, "ZeroDivisionError: division by zero")))
    assert (crash.point, crash.seed, crash.error) == (3, 9, "ZeroDivisionError: division by zero")
