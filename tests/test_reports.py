"""Reports (issue 7): the kratix-sim-report/v1 model, its Markdown, JUnit XML, JSON and HTML renderings,
baselines and ``report compare``, and the headless-Chromium check of the HTML page."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from junitparser import Failure, JUnitXml, Skipped

from conformance.check_command import reproduce_command
from conformance.report import (
    Invocation,
    Report,
    ReportBuilder,
    Tolerance,
    compare,
    json_schema,
    load_report,
    make_baseline,
)
from conformance.report.metrics import METRICS, run_metrics
from conformance.report.plots import POD_COLOUR
from conformance.rules import select
from conformance.runner import run_and_judge
from sim.cli import main
from sim.engine import decide as d
from sim.engine.controller import Controller
from sim.errors import InputError
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
from sim.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
HALTS = SCENARIOS / "configure-halts-on-failure.yaml"
SCHEMA_FILE = ROOT / "conformance" / "report" / "report-v1.schema.json"


# -- helpers ---------------------------------------------------------------------------------------------
class _NextPipelineAfterFailure(Controller):
    """W4 broken: a failed Job is treated like a completed one and the run goes on with the next Pipeline."""

    def decide(self, obs: d.Observation) -> d.Decision:
        decision = super().decide(obs)
        jobs = [j for j in obs.jobs if j.action == "configure"]
        if decision.outcome == "halted" and jobs and jobs[-1].pipeline_index < len(obs.configure) - 1:
            return d._start(obs, jobs[-1].pipeline_index + 1, "next-pipeline")
        return decision


class W4Mutant(Simulation):
    controller_class = _NextPipelineAfterFailure


def check(*args: str) -> int:
    return main(["check", *args])


def engine_report(path: Path, engine: type[Simulation] = Simulation, name: str = "reference",
                  seeds: int = 1) -> Report:
    """What `check` builds, for any engine (check's CLI runs the reference engine only)."""
    scenario, promise = load_scenario(path)
    builder = ReportBuilder("check", "kratix-sim check", Invocation(command=f"kratix-sim check {path}"))
    for seed in range(scenario.spec.seed, scenario.spec.seed + seeds):
        run = run_and_judge(scenario, promise, seed, select(None), str(path), engine=engine, keep_trace=True)
        builder.add_run(subject=run.scenario, source=run.source, seed=run.seed, verdicts=run.verdicts,
                        trace=run.trace, reproduce=lambda rule, run=run: reproduce_command(run, rule))
    return builder.build()


def failing_scenario(folder: Path) -> Path:
    """configure-halts-on-failure with an expectation the reference engine cannot meet (EXPECT fails)."""
    document = yaml.safe_load(HALTS.read_text())
    document["metadata"]["name"] = "halts-with-a-wrong-expectation"
    document["spec"]["promise"] = str(SCENARIOS / document["spec"]["promise"])
    document["spec"]["expect"]["assertions"] = [
        {"by": "1h", "target": "default/shop", "condition": "ConfigureWorkflowCompleted", "status": "True"}]
    path = folder / "halts-with-a-wrong-expectation.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def failing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`check --report DIR` on a failing scenario (two seeds)."""
    folder = tmp_path_factory.mktemp("failing")
    scenario = failing_scenario(folder)
    assert check(str(scenario), "--seeds", "2", "--report", str(folder / "out")) == 1
    return folder / "out"


@pytest.fixture(scope="module")
def reference_report() -> Report:
    return engine_report(HALTS)


# -- the model and JSON ----------------------------------------------------------------------------------
def test_report_dir_holds_the_four_renderings_written_atomically(failing_dir: Path) -> None:
    """--report DIR writes report.md/.xml/.json/.html directly in DIR, readable by all, no temporary left."""
    names = sorted(p.name for p in failing_dir.iterdir())
    assert names == ["report.html", "report.json", "report.md", "report.xml"]
    for path in failing_dir.iterdir():
        assert path.stat().st_mode & 0o444 == 0o444


def test_report_json_is_a_versioned_report_with_cases_runs_metrics_and_findings(failing_dir: Path) -> None:
    report = load_report(failing_dir / "report.json")
    assert report.format == "kratix-sim-report/v1" and report.kind == "check"
    assert report.summary.result == "fail" and report.summary.runs == 2 and report.summary.subjects == 1
    assert report.profiles == ["kratix-2026.08"]
    assert report.invocation.command.startswith("kratix-sim check ") and "--seeds 2" in report.invocation.command
    expect = next(c for c in report.cases if c.rule == "EXPECT")
    assert expect.id == "halts-with-a-wrong-expectation::EXPECT" and expect.result == "fail"
    assert expect.failed_seeds == [11, 12] and expect.counts.fail == 2
    assert expect.reproduce is not None and "--seed 11 --seeds 1" in expect.reproduce
    w4 = next(c for c in report.cases if c.rule == "W4")
    assert w4.result == "pass" and w4.title == "halt on failure"
    finding = report.findings[0]
    assert finding.rule == "EXPECT" and finding.run == "halts-with-a-wrong-expectation#11" and finding.context
    run = report.runs[0]
    assert {m.name for m in METRICS} <= set(run.metrics)
    assert run.metrics["jobs_failed"] == 1 and run.metrics["runs_started"] == 2
    assert run.timeline is not None and report.runs[1].timeline is None  # one timeline per subject
    assert [o.object for o in run.objects] == ["promise/app", "default/shop"]


def test_the_generated_block_is_the_only_part_that_varies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same run, same report: byte for byte with SOURCE_DATE_EPOCH, else all but `generated`."""
    quick = str(SCENARIOS / "delete-runs-only-first-pipeline.yaml")
    assert check(quick, "--seeds", "2", "--report", str(tmp_path / "a"), "--no-plots") == 0
    assert check(quick, "--seeds", "2", "--report", str(tmp_path / "b"), "--no-plots") == 0
    first, second = load_report(tmp_path / "a/report.json"), load_report(tmp_path / "b/report.json")
    assert first.generated is not None and first.content() == second.content()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    for name in ("c", "d"):
        assert check(quick, "--seeds", "2", "--report", str(tmp_path / name)) == 0
    for file in ("report.json", "report.md", "report.xml", "report.html"):
        assert (tmp_path / "c" / file).read_bytes() == (tmp_path / "d" / file).read_bytes(), file
    assert load_report(tmp_path / "c/report.json").generated.at == "2026-01-01T00:00:00Z"  # type: ignore[union-attr]


def _validate(value: Any, schema: dict[str, Any], defs: dict[str, Any], where: str = "$") -> None:
    """Enough of JSON Schema for this schema: $ref, anyOf, const, enum, type, properties, required, items."""
    if "$ref" in schema:
        return _validate(value, defs[schema["$ref"].split("/")[-1]], defs, where)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return _validate(value, option, defs, where)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: matches no option: {errors}")
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], where
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
             "integer": int, "number": (int, float)}
    if kind is not None:
        assert isinstance(value, types[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)), \
            f"{where}: {value!r} is not {kind}"
    if kind == "object":
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} is required"
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                _validate(item, properties[key], defs, f"{where}.{key}")
            else:
                assert schema.get("additionalProperties", True) is not False, f"{where}: unknown {key}"
                assert properties == {} or "additionalProperties" in schema, f"{where}: undocumented field {key}"
                if isinstance(schema.get("additionalProperties"), dict):
                    _validate(item, schema["additionalProperties"], defs, f"{where}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            _validate(item, schema["items"], defs, f"{where}[{i}]")
    return None


def test_the_shipped_json_schema_is_current_and_describes_every_field(failing_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """conformance/report/report-v1.schema.json == the model's schema (regenerate with `kratix-sim report
    schema`), and a real report validates against it with no undocumented field."""
    shipped = json.loads(SCHEMA_FILE.read_text())
    assert shipped == json_schema(), "regenerate: kratix-sim report schema > conformance/report/report-v1.schema.json"
    assert main(["report", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == shipped
    report = json.loads((failing_dir / "report.json").read_text())
    _validate(report, shipped, shipped["$defs"])
    assert make_baseline(load_report(failing_dir / "report.json")).to_json()["baseline"] is True


# -- JUnit -----------------------------------------------------------------------------------------------
def test_a_failing_scenario_gives_junit_a_parser_reads_back(failing_dir: Path) -> None:
    """junitparser reads the file; the failure carries the rule, the message and the reproduce command."""
    xml = JUnitXml.fromfile(str(failing_dir / "report.xml"))
    suites = list(xml)
    assert len(suites) == 1 and suites[0].name == "halts-with-a-wrong-expectation"
    cases = {case.name: case for case in suites[0]}
    assert "W4: halt on failure" in cases and "EXPECT: the scenario's expectations (expect.assertions)" in cases
    failed = cases["EXPECT: the scenario's expectations (expect.assertions)"]
    assert not failed.is_passed and failed.classname == "kratix-sim.check.halts-with-a-wrong-expectation"
    failure = next(r for r in failed.result if isinstance(r, Failure))
    assert failure.type == "EXPECT"
    assert "ConfigureWorkflowCompleted=True" in (failure.message or "")
    assert "reproduce: kratix-sim check" in (failure.message or "")
    text = failure.text or ""
    assert text.startswith("EXPECT the scenario's expectations") and "failed seeds: 11, 12" in text
    assert re.search(r"reproduce: kratix-sim check \S+halts-with-a-wrong-expectation\.yaml --seed 11 --seeds 1",
                     text)
    assert cases["W4: halt on failure"].is_passed
    unknown = [c for c in suites[0] if any(isinstance(r, Skipped) for r in c.result)]
    assert all(next(r for r in c.result if isinstance(r, Skipped)).message.startswith("unknown") for c in unknown)
    assert suites[0].failures == 1 and suites[0].tests == len(cases)


def test_junit_has_the_attributes_the_junit_schemas_require(failing_dir: Path) -> None:
    """Ant's JUnit.xsd / Jenkins: testsuite name tests failures errors time timestamp hostname (id, package in
    testsuites), properties, system-out, system-err; testcase name classname time; failure message type."""
    root = ET.parse(failing_dir / "report.xml").getroot()
    assert root.tag == "testsuites" and {"tests", "failures", "errors", "time"} <= set(root.attrib)
    for suite in root.iter("testsuite"):
        assert {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id",
                "package"} <= set(suite.attrib)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.attrib["timestamp"])
        assert next(c.tag for c in suite) == "properties"
        assert [c.tag for c in suite][-2:] == ["system-out", "system-err"]
        assert int(suite.attrib["tests"]) == len(suite.findall("testcase"))
        for case in suite.iter("testcase"):
            assert {"name", "classname", "time"} <= set(case.attrib)
            float(case.attrib["time"])
            for failure in case.iter("failure"):
                assert {"message", "type"} <= set(failure.attrib)


# -- Markdown and HTML -----------------------------------------------------------------------------------
def test_markdown_fits_a_step_summary(failing_dir: Path) -> None:
    text = (failing_dir / "report.md").read_text()
    assert text.startswith("# kratix-sim check: FAIL")
    assert "| scenario " in text and re.search(r"^\|-+\|", text, re.M)  # a GitHub table
    assert "**EXPECT**" in text and "reproduce: `kratix-sim check " in text
    assert "## Metrics (mean over seeds)" in text and "<details><summary>Verdicts per rule</summary>" in text
    assert len(text.encode()) < 1024 * 1024  # GitHub's step summary limit


def test_html_is_self_contained_with_a_timeline_image(failing_dir: Path) -> None:
    page = (failing_dir / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert not re.search(r"""(src|href)=["'](https?:|//)""", page), "the page must load nothing from outside"
    assert "<script" not in page
    images = dict(re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)">', page))
    timeline = next(data for alt, data in images.items() if alt.startswith("timeline of"))
    width, height = png_size(base64.b64decode(timeline))
    assert width >= 800 and height >= 150
    assert any(alt.startswith("runs per day and retries") for alt in images)
    assert "halts-with-a-wrong-expectation" in page and "reproduce: <code>kratix-sim check" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_opens_in_headless_chromium_and_shows_the_timeline(failing_dir: Path, tmp_path: Path) -> None:
    """Chromium loads the page with no console error or blocked load, and the screenshot shows the timeline
    (pixels of the pod colour, which only the plots use)."""
    browser = _chromium()
    if browser is None:
        reason = "headless Chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so this cannot be skipped")
        pytest.skip(reason)
    shot = tmp_path / "shot.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
               "--window-size=1280,2400", f"--screenshot={shot}", (failing_dir / "report.html").as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]
    assert not console, console

    from matplotlib.image import imread

    pixels = imread(str(shot))[:, :, :3]
    target = [int(POD_COLOUR[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    close = (abs(pixels - target) < 0.04).all(axis=2).sum()
    assert close > 300, f"only {close} pixels of the timeline's pod colour in the screenshot"


# -- baselines and compare -------------------------------------------------------------------------------
def test_compare_passes_on_two_reports_of_the_same_run(failing_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Two reports of the same run (a baseline from it, and the report itself) compare clean."""
    copy = tmp_path / "again.json"
    copy.write_text((failing_dir / "report.json").read_text())
    assert main(["report", "baseline", "save", str(failing_dir / "report.json"), "--to", str(tmp_path / "b.json")]) == 0
    baseline = load_report(tmp_path / "b.json")
    assert baseline.baseline and baseline.generated is None and all(r.timeline is None for r in baseline.runs)
    assert main(["report", "compare", str(tmp_path / "b.json"), str(copy)]) == 0
    out = capsys.readouterr().out
    assert "no changes" in out and "no regression" in out


def test_compare_catches_a_mutant_engines_regression(reference_report: Report, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A W4-breaking engine against the reference baseline: a new W4 failure, exit 1."""
    (tmp_path / "reference.json").write_text(reference_report.dumps())
    assert main(["report", "baseline", "save", str(tmp_path / "reference.json")]) == 0
    assert (tmp_path / "baseline.json").is_file()  # default: beside the report
    mutant = engine_report(HALTS, W4Mutant, "w4-mutant")
    assert any(c.rule == "W4" and c.result == "fail" for c in mutant.cases)
    (tmp_path / "mutant.json").write_text(mutant.dumps())
    capsys.readouterr()
    assert main(["report", "compare", str(tmp_path / "baseline.json"), str(tmp_path / "mutant.json")]) == 1
    out = capsys.readouterr().out
    assert re.search(r"new failure \(REGRESSION\)\s+configure-halts-on-failure::W4\s+W4\s+pass\s+fail", out)
    assert "REGRESSION" in out.splitlines()[-1]
    assert main(["report", "compare", str(tmp_path / "mutant.json"), str(tmp_path / "baseline.json"),
                 "--format", "json", "--tolerance", "100"]) == 0  # the other way round, W4 is fixed
    result = json.loads(capsys.readouterr().out)
    assert not result["regression"] and any(c["kind"] == "fixed" and c["what"] == "W4" for c in result["changes"])


def test_metric_changes_beyond_the_tolerance(reference_report: Report) -> None:
    worse = reference_report.model_copy(deep=True)
    run = worse.runs[0]
    assert isinstance(run.metrics["jobs"], int)
    run.metrics["jobs"] = run.metrics["jobs"] * 2
    run.metrics["events"] = int(run.metrics["events"] or 0) + 100  # neutral: reported, not a regression
    comparison = compare(reference_report, worse)
    by_metric = {c.what: c for c in comparison.changes if c.kind == "metric"}
    assert by_metric["jobs"].regression and not by_metric["events"].regression
    assert "+100.0%" in by_metric["jobs"].note
    assert not compare(reference_report, worse, Tolerance.parse(["jobs=100%,events=200"])).regressions
    assert not compare(reference_report, worse, Tolerance.parse(["150%"])).changes
    assert compare(reference_report, worse, Tolerance.parse(["jobs=100%"]), fail_on_change=True).regressions
    never = reference_report.model_copy(deep=True)
    never.runs[0].metrics["time_to_converge_s"] = None  # never converged: worse than any number
    assert [c.what for c in compare(reference_report, never).regressions] == ["time_to_converge_s"]
    better = reference_report.model_copy(deep=True)
    better.runs[0].metrics["jobs"] = 1
    assert not compare(reference_report, better).regressions


def test_compare_rejects_bad_input(reference_report: Report, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    other = reference_report.model_copy(update={"kind": "mutants"})
    (tmp_path / "a.json").write_text(reference_report.dumps())
    (tmp_path / "b.json").write_text(other.dumps())
    (tmp_path / "c.json").write_text('{"format": "something-else"}')
    assert main(["report", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 2
    assert main(["report", "compare", str(tmp_path / "a.json"), str(tmp_path / "c.json")]) == 2
    assert main(["report", "compare", str(tmp_path / "a.json"), str(tmp_path / "a.json"), "--tolerance", "x"]) == 2
    err = capsys.readouterr().err
    assert "cannot compare a 'check' report with a 'mutants' report" in err
    assert "c.json: format: not a kratix-sim-report/v1 report" in err and "--tolerance 'x'" in err
    with pytest.raises(InputError):
        Tolerance.parse(["jobs=ten"])
    with pytest.raises(InputError, match="given twice"):
        Tolerance.parse(["jobs=30,jobs=5"])
    with pytest.raises(InputError, match="give N%"):
        Tolerance.parse([""])
    # a misspelt metric would leave the real one at the default tolerance
    assert main(["report", "compare", str(tmp_path / "a.json"), str(tmp_path / "a.json"),
                 "--tolerance", "Jobs=30"]) == 2
    assert "--tolerance: no metric 'Jobs' in these reports; accepted: " in capsys.readouterr().err


def test_an_invalid_report_field_is_named_by_its_path_in_the_file(reference_report: Report, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong value in a report names its key path (runs[0].metrics.jobs), not pydantic's union members."""
    data = json.loads(reference_report.dumps())
    data["runs"][0]["metrics"]["jobs"] = "many"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    (tmp_path / "good.json").write_text(reference_report.dumps())
    assert main(["report", "compare", str(tmp_path / "good.json"), str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kratix-sim: error: {tmp_path / 'bad.json'}: runs[0].metrics.jobs: invalid report: "), err


@pytest.mark.parametrize(("value", "message"), [(10**400, "less than or equal to"), (float("nan"), "finite number"),
                                              (float("inf"), "finite number")])
def test_a_metric_no_float_can_compare_is_an_invalid_report(reference_report: Report, tmp_path: Path, value: float,
                                                            message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Huge or non-finite metrics crashed compare and render (OverflowError), and NaN compared as "no
    regression": both commands refuse the report as bad input."""
    data = json.loads(reference_report.dumps())
    data["runs"][0]["metrics"]["jobs"] = value
    (tmp_path / "bad.json").write_text(json.dumps(data))
    (tmp_path / "good.json").write_text(reference_report.dumps())
    for args in (["compare", str(tmp_path / "good.json"), str(tmp_path / "bad.json")],
                 ["render", str(tmp_path / "bad.json"), "--markdown", str(tmp_path / "out.md")]):
        assert main(["report", *args]) == 2
        err = capsys.readouterr().err
        assert "runs[0].metrics.jobs: invalid report" in err and message in err, err


def test_a_new_failing_case_counts_as_a_new_failure(reference_report: Report) -> None:
    """The headline counts a new case that fails among the new failures, as the REGRESSION it is."""
    more = reference_report.model_copy(deep=True)
    failing = more.cases[0].model_copy(update={"id": "added::W1", "result": "fail", "message": "broken"})
    more.cases.append(failing)
    comparison = compare(reference_report, more)
    assert comparison.regressions and comparison.headline().startswith("1 new failures, ")


def test_render_reproduces_the_report_from_its_json(failing_dir: Path, tmp_path: Path) -> None:
    assert main(["report", "render", str(failing_dir / "report.json"), "--report", str(tmp_path), "--no-plots"]) == 0
    for name in ("report.json", "report.md", "report.xml"):
        assert (tmp_path / name).read_text() == (failing_dir / name).read_text(), name


# -- check's other paths and the metrics -----------------------------------------------------------------
def test_check_keeps_its_output_and_reports_judged_trace_files(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.jsonl"
    assert main(["run", str(SCENARIOS / "quickstart.yaml"), "--trace", str(trace)]) == 0
    capsys.readouterr()
    assert check("--trace", str(trace), "--rules", "W1,W4") == 0
    plain = capsys.readouterr().out
    assert check("--trace", str(trace), "--rules", "W1,W4", "--json-report", str(tmp_path / "r.json"),
                 "--markdown", str(tmp_path / "r.md")) == 0
    captured = capsys.readouterr()
    assert captured.out == plain  # the report options change nothing on stdout
    assert "report: wrote" in captured.err
    report = load_report(tmp_path / "r.json")
    assert [c.rule for c in report.cases] == ["W1", "W4"] and report.runs[0].metrics["jobs"] == 7
    assert report.invocation.command == f"kratix-sim check --trace {trace} --rules W1,W4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md", "t.jsonl"]


def test_metrics_from_a_trace() -> None:
    """Runs per day, Job back-off retries, convergence after the last fault and queue latency."""
    obj = "default/a"

    def job(seq: int, t: float, name: str, index: int = 0) -> dict[str, Any]:
        return {"seq": seq, "t": t, "event": "job_created", "object": obj, "workflow": "resource",
                "action": "configure", "pipeline": "p", "pipeline_index": index, "job": name}

    def done(seq: int, t: float, name: str) -> list[dict[str, Any]]:
        return [{"seq": seq, "t": t, "event": "job_completed", "object": obj, "job": name},
                {"seq": seq + 1, "t": t, "event": "reconcile", "object": obj, "reason": "done"},
                {"seq": seq + 2, "t": t, "event": "condition_set", "object": obj,
                 "type": "ConfigureWorkflowCompleted", "status": "True", "reason": "PipelinesExecutedSuccessfully"}]

    events = [
        {"seq": 1, "t": 0, "event": "object_created", "object": obj},
        {"seq": 2, "t": 0, "event": "reconcile", "object": obj, "reason": "start"},
        job(3, 0, "j1"),
        {"seq": 4, "t": 0, "event": "pod_created", "object": obj, "job": "j1", "pod": "p1", "attempt": 1},
        {"seq": 5, "t": 10, "event": "container_exited", "object": obj, "job": "j1", "pod": "p1", "exit_code": 1},
        {"seq": 6, "t": 20, "event": "pod_created", "object": obj, "job": "j1", "pod": "p2", "attempt": 2},
        *done(7, 30, "j1"),
        {"seq": 10, "t": 100, "event": "fault_injected", "reason": "manual-reconcile", "object": obj},
        {"seq": 11, "t": 100, "event": "label_set", "object": obj, "label": "kratix.io/manual-reconciliation"},
        {"seq": 12, "t": 101.1, "event": "reconcile", "object": obj, "reason": "start"},
        job(13, 101.1, "j2"),
        *done(14, 150, "j2"),
        job(20, 90000, "j3"),
        *done(21, 90010, "j3"),
    ]
    metrics = run_metrics(Trace({"event": "header", "format": "kratix-sim-trace/v1"}, events))
    (item,) = metrics.objects
    assert item.runs_started == 3 and item.runs_by_day == [2, 1] and item.pod_retries == 1
    assert item.runs_per_day == round(3 / (90010 / 86400), 3)
    assert item.first_converged_s == 30 and item.time_to_converge_s == 50  # 100 -> 150
    assert metrics.totals["time_to_converge_s"] == 50 and metrics.totals["retries"] == 1
    assert metrics.totals["queue_latency_max_s"] == 1.1 and metrics.totals["runs_per_object_per_day_max"] == 2.88
    assert (metrics.timeline.jobs[0].start, metrics.timeline.jobs[0].end, metrics.timeline.jobs[0].state) == (
        0, 30, "complete")
    assert [(m.kind, m.t) for m in metrics.timeline.marks] == [("failure", 10), ("fault", 100)]


def test_an_object_deleted_before_a_controller_restart_stays_converged() -> None:
    """A removed object is converged for good: a later controller stop does not make it pending again (its
    time to converge used to become null, "never converged", against the liveness check)."""
    obj = "default/a"
    events = [
        {"seq": 1, "t": 0, "event": "object_created", "object": obj},
        {"seq": 2, "t": 0, "event": "reconcile", "object": obj, "reason": "start"},
        {"seq": 3, "t": 30, "event": "condition_set", "object": obj, "type": "ConfigureWorkflowCompleted",
         "status": "True", "reason": "PipelinesExecutedSuccessfully"},
        {"seq": 4, "t": 30, "event": "reconcile", "object": obj, "reason": "done"},
        {"seq": 5, "t": 100, "event": "fault_injected", "reason": "delete-resource", "object": obj},
        {"seq": 6, "t": 100, "event": "delete_requested", "object": obj},
        {"seq": 7, "t": 101, "event": "object_removed", "object": obj},
        {"seq": 8, "t": 200, "event": "fault_injected", "reason": "controller-restart"},
        {"seq": 9, "t": 200, "event": "controller_stopped"},
        {"seq": 10, "t": 230, "event": "controller_started"},
    ]
    metrics = run_metrics(Trace({"event": "header", "format": "kratix-sim-trace/v1"}, events))
    assert metrics.totals["time_to_converge_s"] is not None


def test_a_judged_trace_file_is_reproduced_with_trace(tmp_path: Path) -> None:
    scenario, promise = load_scenario(HALTS)
    trace = run_and_judge(scenario, promise, 11, select("W4"), engine=W4Mutant, keep_trace=True).trace
    assert trace is not None
    trace.write(tmp_path / "mutant.jsonl")
    assert check("--trace", str(tmp_path / "mutant.jsonl"), "--rules", "W4", "--json-report",
                 str(tmp_path / "r.json")) == 1
    (finding,) = load_report(tmp_path / "r.json").findings
    assert finding.rule == "W4"
    assert finding.reproduce == f"kratix-sim check --trace {tmp_path / 'mutant.jsonl'} --rules W4"


def test_compare_catches_the_real_w4_mutant(reference_report: Report) -> None:
    """The registry's own W4 mutant (conformance.mutants) against the reference: a regression."""
    mutants = pytest.importorskip("conformance.mutants")
    mutant = mutants.MUTANTS.get("next-pipeline-after-failure")
    if mutant is None:
        pytest.skip("conformance.mutants has no next-pipeline-after-failure mutant")
    report = engine_report(HALTS, mutant.engine, mutant.name)
    comparison = compare(make_baseline(reference_report), report)
    assert any(c.kind == "new failure" and c.what == "W4" for c in comparison.regressions)


def test_every_failed_assertion_is_in_the_case_and_each_failed_seed_once(tmp_path: Path) -> None:
    """Two EXPECT assertions failing in one run are one case (scenario x rule): its message (the JUnit failure's
    text) carries both, and the run's seed is listed once."""
    text = (SCENARIOS / "quickstart.yaml").read_text(encoding="utf-8")
    assert "\n  expect:" not in text
    path = tmp_path / "two-expectations.yaml"
    shutil.copytree(SCENARIOS / "promises", tmp_path / "promises")
    path.write_text(text.rstrip("\n") + """
  expect:
    assertions:
      - {by: 1s, target: default/orders-db, condition: ConfigureWorkflowCompleted, status: "True"}
      - {by: 2s, target: default/orders-db, condition: Reconciled, status: "True"}
""", encoding="utf-8")
    (case,) = [c for c in engine_report(path).cases if c.rule == "EXPECT"]
    assert case.result == "fail" and case.failed_seeds == [load_scenario(path)[0].spec.seed]
    assert "ConfigureWorkflowCompleted=True" in case.message and "Reconciled=True" in case.message
