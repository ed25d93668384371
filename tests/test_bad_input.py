"""Hostile and broken input through the real CLI (``python -m sim validate``): exit 2, one line on stderr
naming the file, never a traceback; judged input exits 0 or 1; the YAML reader is the safe one."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.durations import parse_option_duration
from sim.yamlio import atomic_writer

REPO_ROOT = Path(__file__).resolve().parent.parent
INVALID = Path(__file__).resolve().parent / "invalid_promises"


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", "validate", *map(str, args)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )


def assert_bad_input(result: subprocess.CompletedProcess[str], file: Path, *words: str) -> None:
    """Exit 2, exactly one stderr line naming the file, no traceback anywhere."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(file) in lines[0]
    for word in words:
        assert word in lines[0]


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return make


def _alias_bomb() -> str:
    """Billion laughs: nine levels of nine aliases, 9**9 strings once expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _huge(tmp: Path) -> Path:
    """50 MB: over the default 10 MB limit."""
    path = tmp / "huge.yaml"
    line = b"# " + b"x" * 1021 + b"\n"
    with path.open("wb") as handle:
        for _ in range(50 * 1024):
            handle.write(line)
    return path


def _directory(tmp: Path) -> Path:
    path = tmp / "promises.yaml"
    path.mkdir()
    return path


def _missing(tmp: Path) -> Path:
    return tmp / "does-not-exist.yaml"


CASES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "empty file": (_text("empty.yaml", ""), ("no Promise",)),
    "not YAML": (_text("notes.yaml", "kind: Promise\nspec: [unclosed\n  - {a: b\n"), ("YAML syntax error",)),
    "binary": (_bytes("image.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))), ("binary",)),
    "not UTF-8": (_bytes("latin1.yaml", "kind: Promise\nmetadata: {name: caf\xe9}\n".encode("latin-1")), ("UTF-8",)),
    "alias bomb": (_text("bomb.yaml", _alias_bomb()), ("--max-yaml-nodes",)),
    "deep nesting": (_text("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n"), ()),
    "50 MB": (_huge, ("--max-file-bytes",)),
    "directory": (_directory, ("directory",)),
    "missing file": (_missing, ("no such file",)),
    "not a Promise": (
        _text("configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: {a: b}\n"),
        ("no Promise", "ConfigMap"),
    ),
    "a bare scalar": (_text("scalar.yaml", "just some words\n"), ("no Promise",)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unjudgeable_input_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    make, words = CASES[case]
    path = make(tmp_path)
    assert_bad_input(run_cli(path), path, *words)


@pytest.mark.parametrize(
    "text",
    [
        '!!python/object/apply:os.system ["touch {marker}"]\n',
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n"
        '  name: !!python/object/apply:os.system ["touch {marker}"]\n',
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n"
        "  name: x\nspec: !!python/object/apply:os.system {{args: [touch {marker}]}}\n",
    ],
    ids=["document", "scalar", "mapping"],
)
def test_python_tags_are_refused_never_run(tmp_path: Path, text: str) -> None:
    """``!!python/object/apply`` is an unsupported tag (exit 2); the command never runs."""
    marker = tmp_path / "pwned"
    path = tmp_path / "tagged.yaml"
    path.write_text(text.format(marker=marker), encoding="utf-8")
    assert_bad_input(run_cli(path), path, "unsupported YAML tag")
    assert not marker.exists()


def test_invalid_restart_policy_is_one_line_with_file_and_line() -> None:
    """A type error in a Promise (restartPolicy: Always) names file, line and path."""
    path = INVALID / "restart-policy-always.yaml"
    result = run_cli(path)
    assert_bad_input(result, path, f"{path}:15:", "restartPolicy", "'OnFailure' or 'Never'")


def test_limits_are_passed_to_the_reader() -> None:
    """--max-file-bytes and --max-yaml-nodes reach the loader (a valid file becomes too big)."""
    path = INVALID / "valid.yaml"
    assert_bad_input(run_cli(path, "--max-file-bytes", "100"), path, "100-byte limit")
    assert_bad_input(run_cli(path, "--max-yaml-nodes", "10"), path, "10 YAML nodes")


def test_valid_promise_exits_0() -> None:
    result = run_cli(INVALID / "valid.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert result.stdout == "0 errors, 0 warnings in 1 file\n"


def test_warnings_only_exit_0() -> None:
    """V10 warnings do not fail the run."""
    result = run_cli(INVALID / "v10-required-promises.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "0 errors, 2 warnings in 1 file"


def test_error_finding_exits_1_with_text_lines() -> None:
    path = INVALID / "v7-multiple-delete-pipelines.yaml"
    result = run_cli(path)
    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:17: error V7 spec.workflows.resource.delete[1]: ")
    assert lines[-1] == "1 error, 0 warnings in 1 file"


def test_json_format() -> None:
    """``--format json``: exactly {"findings": [...], "files": [...]}, findings with the six keys."""
    files = [INVALID / "v5-reconciliation-interval.yaml", INVALID / "v10-required-promises.yaml"]
    result = run_cli(*files, "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert set(document) == {"findings", "files"}
    assert document["files"] == [str(path) for path in files]
    # sorted by file ("v10-..." before "v5-..."), then line
    assert [(f["rule"], f["severity"], f["line"]) for f in document["findings"]] == [
        ("V10", "warning", 11), ("V10", "warning", 13), ("V5", "error", 7), ("V5", "error", 11),
    ]
    for finding in document["findings"]:
        assert set(finding) == {"rule", "severity", "file", "path", "line", "message"}


def test_json_format_of_a_clean_file() -> None:
    result = run_cli(INVALID / "valid.yaml", "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"findings": [], "files": [str(INVALID / "valid.yaml")]}


_UNSAFE_YAML = re.compile(
    r"\byaml\.(load|load_all|unsafe_load|unsafe_load_all|full_load|full_load_all)\s*\("
    r"|\b(FullLoader|UnsafeLoader)\b"
    r"|\byaml\.Loader\b"
    r"|from\s+yaml\s+import\s+[^\n]*\b(load|unsafe_load|full_load|Loader|FullLoader|UnsafeLoader)\b"
)


def test_only_the_safe_yaml_loader_is_used() -> None:
    """No module of sim/ calls yaml.load / unsafe_load or uses FullLoader / UnsafeLoader."""
    sources = sorted((REPO_ROOT / "sim").rglob("*.py"))
    assert sources
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _UNSAFE_YAML.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize("where", ["a-file/trace.jsonl", "a-folder"])
def test_an_output_that_cannot_be_written_is_one_line_of_bad_input(tmp_path: Path, where: str) -> None:
    """An output path under a file, or naming a folder: exit 2, one line naming it, nothing left beside it."""
    (tmp_path / "a-file").write_text("mine\n", encoding="utf-8")
    (tmp_path / "a-folder").mkdir()
    out = tmp_path / where
    result = subprocess.run([sys.executable, "-m", "sim", "run", "scenarios/quickstart.yaml", "--trace", str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kratix-sim: error: cannot write {out}: "), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine\n"
    assert list((tmp_path / "a-folder").iterdir()) == []


@pytest.mark.parametrize("where", ["a-file/sub", "/proc/kratix-sim-no-such-dir"])
def test_a_sweep_folder_that_cannot_be_created_is_one_line_of_bad_input(tmp_path: Path, where: str) -> None:
    """sweep --out under a file or under /proc: exit 2 naming it (it was an internal error, exit 3)."""
    (tmp_path / "a-file").write_text("mine\n", encoding="utf-8")
    out = where if where.startswith("/") else str(tmp_path / where)
    result = _sim("sweep", "scenarios/experiments/smoke.yaml", "--workers", "1", "--out", out)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"kratix-sim: error: --out: cannot write {out}: "), lines
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine\n"


def assert_one_line_of_bad_input(result: subprocess.CompletedProcess[str], message: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and message in lines[0], lines


def _sim(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize(("text", "seconds"), [("3600", 3600.0), (" 1.5 ", 1.5), ("1h30m", 5400.0), ("2d", 172800.0),
                                               ("0", 0.0), ("+7", 7.0)])
def test_a_command_line_duration_is_seconds_or_units(text: str, seconds: float) -> None:
    assert parse_option_duration(text) == seconds


@pytest.mark.parametrize("text", ["-5", "nan", "inf", "1e400", "", "6x", "1h -5m"])
def test_a_bad_command_line_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_option_duration(text)


def test_run_duration_takes_plain_seconds() -> None:
    """``run --duration 3600`` is an hour, as a number of seconds is in a scenario file."""
    seconds, hour = _sim("run", "scenarios/quickstart.yaml", "--duration", "3600", "--format", "json"), \
        _sim("run", "scenarios/quickstart.yaml", "--duration", "1h", "--format", "json")
    assert seconds.returncode == hour.returncode == 0, seconds.stderr + hour.stderr
    assert json.loads(seconds.stdout) == json.loads(hour.stdout)


@pytest.mark.parametrize(("args", "message"), [
    (["run", "scenarios/quickstart.yaml", "--duration", "nan"], "--duration: invalid duration 'nan'"),
    (["run", "scenarios/quickstart.yaml", "--duration", "-5"], "--duration: negative duration"),
    (["trace", "export", "TRACE", "--out", "OUT", "--at", "nan"], "--at: invalid duration 'nan'"),
    (["trace", "export", "TRACE", "--out", "OUT", "--at", "-5"], "--at: negative duration"),
    (["pipeline", "test", "examples/idempotent", "--timeout", "nan"], "--timeout must be positive and finite"),
    (["idempotency", "examples/idempotent/promise.yaml", "--request", "examples/idempotent/resource-request.yaml",
      "--timeout", "inf"], "--timeout must be positive and finite"),
])
def test_a_bad_time_option_is_one_line_of_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(json.dumps({"seq": 0, "t": 0, "event": "trace_header"}) + "\n", encoding="utf-8")
    result = _sim(*(str(trace) if a == "TRACE" else str(tmp_path / "out") if a == "OUT" else a for a in args))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kratix-sim: error: ") and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


def test_trace_export_at_takes_a_duration(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert _sim("run", "scenarios/quickstart.yaml", "--trace", trace).returncode == 0
    by_units, by_seconds = tmp_path / "units", tmp_path / "seconds"
    assert _sim("trace", "export", trace, "--out", by_units, "--at", "6h").returncode == 0
    assert _sim("trace", "export", trace, "--out", by_seconds, "--at", "21600").returncode == 0
    for name in ("objects.yaml", "jobs-pods.yaml", "events.yaml"):
        assert (by_units / name).read_bytes() == (by_seconds / name).read_bytes()
    assert "Resource" in (by_units / "objects.yaml").read_text(encoding="utf-8")
    # every output is world-readable like a report (0644), whatever it holds
    assert {p.stat().st_mode & 0o777 for p in (trace, by_units / "objects.yaml", by_seconds / "events.yaml")} == {0o644}
    late = _sim("trace", "export", trace, "--out", tmp_path / "late", "--at", "30d")  # quickstart ends at 30h
    assert late.returncode == 2 and "--at 30d is after the trace ends (t=108000 s)" in late.stderr, late.stderr
    assert not (tmp_path / "late").exists()


def test_an_interrupt_right_after_the_temporary_file_exists_leaves_nothing(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """atomic_writer: a signal landing just after the temporary file was created (SIGTERM raises Interrupted, a
    KeyboardInterrupt) still removes it, and the old file stays as it was."""
    target = tmp_path / "report.md"
    target.write_text("old\n", encoding="utf-8")
    real_open = os.open

    def open_then_interrupt(path: str, flags: int, mode: int = 0o777) -> int:
        os.close(real_open(path, flags, mode))
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt), atomic_writer(target) as handle:
        assert handle is not None
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    assert target.read_text(encoding="utf-8") == "old\n"


@pytest.mark.parametrize(("args", "message"), [
    (["pipeline", "test", "examples/idempotent", "--external", "rel"],
     "--external 'rel': give an absolute path outside /kratix"),
    (["pipeline", "test", "examples/idempotent", "--external", "/kratix/output"],
     "--external '/kratix/output': give an absolute path outside /kratix"),
    (["pipeline", "test", "examples/idempotent", "--executor", "process", "--mount", "/no/such/dir:/x"],
     "HOST /no/such/dir does not exist"),
    (["idempotency", "examples/idempotent/promise.yaml", "--request", "examples/idempotent/resource-request.yaml",
      "--executor", "process", "--mount", "examples:/kratix/output:rw"], "TARGET '/kratix/output'"),
    (["idempotency", "examples/idempotent/promise.yaml", "--request", "examples/i2-append/resource-request.yaml"],
     "the request is a AppendingApp (example.kratix.io/v1alpha1), not an instance of the Promise's API Database"),
])
def test_mounts_and_external_folders_are_checked_before_anything_runs(tmp_path: Path, args: list[str],
                                                                      message: str) -> None:
    """A mount's HOST must exist and its TARGET, like an --external folder, must be an absolute path outside
    the pod's volumes (/kratix): one line of bad input (exit 2), never a judged failure or an internal error."""
    assert_one_line_of_bad_input(_sim(*args), message)


@pytest.mark.parametrize(("args", "message"), [
    (["pipeline", "test", "examples/idempotent", "--engine", "docker"],
     "--engine only applies with --executor container"),
    (["pipeline", "test", "examples/idempotent", "--engine-option=--log-level=debug"],
     "--engine-option only applies with --executor container"),
    (["pipeline", "test", "examples/idempotent", "--rerun-clock-step", "5h"],
     "--rerun-clock-step only applies with --rerun"),
    (["pipeline", "test", "examples/idempotent", "--executor", "container", "--scripts", "examples"],
     "--scripts only applies with the process executor"),
    (["idempotency", "examples/idempotent/promise.yaml", "--request", "examples/idempotent/resource-request.yaml",
      "--engine", "docker", "--writable-root"], "--engine, --writable-root only apply with --executor container"),
    (["idempotency", "examples/idempotent/promise.yaml", "--request", "examples/idempotent/resource-request.yaml",
      "--executor", "process", "--container-prefix", "mine-"],
     "--container-prefix only applies with --executor container"),
])
def test_an_option_that_would_be_ignored_is_refused(args: list[str], message: str) -> None:
    """An option meant for another mode (a container engine with the process executor, a re-run's clock
    without re-runs) is one line of bad input, not silently dropped."""
    assert_one_line_of_bad_input(_sim(*args), message)


_TINY_SCENARIO = """\
apiVersion: kratix-sim/v1alpha1
kind: Scenario
metadata: {name: NAME}
spec:
  duration: 1h
  seed: SEED
  promise:
    apiVersion: platform.kratix.io/v1alpha1
    kind: Promise
    metadata: {name: tiny}
    spec:
      workflows:
        resource:
          configure:
            - apiVersion: platform.kratix.io/v1alpha1
              kind: Pipeline
              metadata: {name: p}
              spec: {containers: [{name: c, image: example.com/c:v1}]}
  resources: [{name: r}]
"""


def _tiny(path: Path, name: str, seed: int = 1) -> Path:
    path.write_text(_TINY_SCENARIO.replace("NAME", name).replace("SEED", str(seed)), encoding="utf-8")
    return path


def test_two_scenario_files_of_one_name_are_bad_input(tmp_path: Path) -> None:
    """check: runs, cases and baselines are keyed by the scenario's name, so two files sharing one would be
    merged; it is one line naming both (exit 2), before anything runs."""
    first, second = _tiny(tmp_path / "a.yaml", "same"), _tiny(tmp_path / "b.yaml", "same")
    result = _sim("check", tmp_path, "--seeds", "1")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and str(second) in lines[0] and str(first) in lines[0], lines
    assert "metadata.name 'same'" in lines[0]


def test_check_counts_a_file_once_and_names_its_seeds() -> None:
    """A file given twice (also through its folder) runs once; the heading lists seeds that are not a range."""
    quickstart = "scenarios/quickstart.yaml"
    twice = _sim("check", quickstart, quickstart, "--rules", "W1")
    assert twice.returncode == 0, twice.stderr
    assert twice.stdout.startswith("1 run of 1 scenario, seed "), twice.stdout.splitlines()[0]


def test_check_heading_lists_seeds_that_are_not_a_range(tmp_path: Path) -> None:
    _tiny(tmp_path / "a.yaml", "first", seed=3)
    _tiny(tmp_path / "b.yaml", "second", seed=7)
    result = _sim("check", tmp_path, "--rules", "W1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2 runs of 2 scenarios, seeds 3, 7"


@pytest.mark.parametrize(("args", "message"), [
    (["run", "scenarios/quickstart.yaml", "--duration", "-1h"],
     "kratix-sim: error: run: argument --duration: expected one argument (see kratix-sim run --help)"),
    (["no-such-command"], "kratix-sim: error: argument COMMAND: invalid choice: 'no-such-command'"),
    (["check", "scenarios/quickstart.yaml", "--no-such-option"],
     "kratix-sim: error: unrecognized arguments: --no-such-option"),
])
def test_argparse_errors_are_one_line_of_bad_input(args: list[str], message: str) -> None:
    """Errors argparse finds (a missing value, an unknown command or option) read like every other bad input:
    one line, exit 2, no usage block."""
    result = _sim(*args)
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith(message), lines


def test_a_report_folder_that_is_a_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """check --report FILE used to run every scenario and then fail writing; now it is refused up front."""
    (tmp_path / "a-file").write_text("mine\n", encoding="utf-8")
    result = _sim("check", "scenarios/", "--report", tmp_path / "a-file")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert lines == [f"kratix-sim: error: cannot write {tmp_path / 'a-file' / 'report.md'}: "
                     f"{tmp_path / 'a-file'} is not a folder"]
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine\n"


def _own_copies(tmp_path: Path) -> dict[str, Path]:
    """A scenario (with its Promise), its trace and a report of it, in ``tmp_path``."""
    scenario = tmp_path / "q.yaml"
    scenario.write_text((REPO_ROOT / "scenarios" / "quickstart.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "promises").mkdir()
    (tmp_path / "promises" / "database.yaml").write_text(
        (REPO_ROOT / "scenarios" / "promises" / "database.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert _sim("run", scenario, "--trace", tmp_path / "t.jsonl").returncode == 0
    assert _sim("check", scenario, "--json-report", tmp_path / "r.json").returncode == 0
    return {"scenario": scenario, "trace": tmp_path / "t.jsonl", "report": tmp_path / "r.json"}


def test_no_output_replaces_one_of_the_commands_own_inputs(tmp_path: Path) -> None:
    """A typo that names an input as the output would destroy the input: one line of bad input, the file
    unchanged (and two outputs naming one file are refused too)."""
    own = _own_copies(tmp_path)
    before = {name: path.read_bytes() for name, path in own.items()}
    s, t, r = own["scenario"], own["trace"], own["report"]
    for args in (["run", s, "--trace", s], ["check", s, "--json-report", s], ["check", tmp_path, "--markdown", s],
                 ["check", "--trace", t, "--json-report", t], ["report", "baseline", "save", r, "--to", r],
                 ["report", "compare", r, r, "--output", r], ["report", "render", r, "--html", r],
                 ["trace", "import", "--jobs", t, "--out", t]):
        assert_one_line_of_bad_input(_sim(*args), "is also an input of this command" if args[0] != "check"
                                     or args[2] != "--markdown" else "would replace a file of the input folder")
    assert_one_line_of_bad_input(_sim("check", s, "--markdown", tmp_path / "x", "--json-report", tmp_path / "x"),
                                 "two outputs go to one file")
    assert {name: path.read_bytes() for name, path in own.items()} == before


def test_outputs_write_through_symlinks_and_devices(tmp_path: Path) -> None:
    """A symlinked output replaces the file it points at (the link stays); a device or pipe such as /dev/null
    or /dev/stdout is written through, never replaced by a file; a folder is refused."""
    own = _own_copies(tmp_path)
    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "target.jsonl")
    assert _sim("run", own["scenario"], "--trace", link).returncode == 0
    assert link.is_symlink() and (tmp_path / "target.jsonl").read_bytes() == own["trace"].read_bytes()
    with atomic_writer(Path(os.devnull)) as handle:
        assert handle is not None
        handle.write("nothing\n")
    assert Path(os.devnull).is_char_device()
    piped = _sim("run", own["scenario"], "--trace", "/dev/stdout")
    assert piped.returncode == 0 and piped.stdout.startswith('{"event":"header"')
    assert_one_line_of_bad_input(_sim("run", own["scenario"], "--trace", ""), "it is a folder; give a file name")


@pytest.mark.parametrize("epoch", ["abc", "-1", "1e3", "99999999999999999"])
def test_a_malformed_source_date_epoch_is_refused_before_anything_runs(epoch: str) -> None:
    """SOURCE_DATE_EPOCH pins the reports' time for byte-identical files: a value that is not whole seconds
    since 1970 (or beyond the calendar) is one line of bad input, not a silent fall back to the clock (nor a
    crash after every run, as a huge one was)."""
    result = subprocess.run([sys.executable, "-m", "sim", "validate", "examples/idempotent/promise.yaml"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "SOURCE_DATE_EPOCH": epoch})
    assert_one_line_of_bad_input(result, f"SOURCE_DATE_EPOCH={epoch!r}: give a whole number of seconds")


@pytest.mark.parametrize(("change", "message"), [
    ({"config": {"numberOfJobsToKeep": "x"}}, "config.numberOfJobsToKeep: `numberOfJobsToKeep` must be an integer"),
    ({"config": {"numberOfJobsToKeep": -3}}, "`numberOfJobsToKeep` must be an integer, 1 or more"),
    ({"config": {"reconciliationInterval_s": -1}}, "`reconciliationInterval_s` must be a positive number"),
    ({"config": {"reconcileAfterFailure": "yes"}}, "`reconcileAfterFailure` must be true or false"),
    ({"config": {"defaultBackoffLimit": 1.5}}, "`defaultBackoffLimit` must be an integer, 0 or more"),
    ({"profile": "nope"}, "unknown profile 'nope'; accepted: kratix-2025, kratix-2026.08, seed-doc"),
])
def test_a_trace_header_the_checkers_cannot_read_is_bad_input(tmp_path: Path, change: dict[str, object],
                                                              message: str) -> None:
    """The checkers read the header's profile and config: a wrong type or value used to become a checker crash
    (unknown) or an invented failure (a negative interval failed W9)."""
    trace = tmp_path / "t.jsonl"
    assert _sim("run", "scenarios/quickstart.yaml", "--trace", trace).returncode == 0
    lines = trace.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header.update({k: ({**header[k], **v} if isinstance(v, dict) else v) for k, v in change.items()})
    trace.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    assert_one_line_of_bad_input(_sim("check", "--trace", trace), message)


def test_a_trace_whose_time_goes_back_is_bad_input(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    assert _sim("run", "scenarios/quickstart.yaml", "--trace", trace).returncode == 0
    lines = trace.read_text(encoding="utf-8").splitlines()
    last = json.loads(lines[-1])
    last["t"] = 1
    trace.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n", encoding="utf-8")
    assert_one_line_of_bad_input(_sim("check", "--trace", trace), "`t` must be a finite number of seconds, 0 or "
                                                                 "more, never decreasing")


def test_work_from_a_huge_back_off_limit_blames_the_limit_not_the_duration(tmp_path: Path) -> None:
    """A settle time made long by defaultBackoffLimit is located at that key (it used to blame spec.duration);
    past int32, Kubernetes' type for backoffLimit, the value itself is refused."""
    scenario = tmp_path / "s.yaml"
    text = _TINY_SCENARIO.replace("NAME", "huge").replace("SEED", "1").replace("  duration: 1h\n",
                                                                           "  duration: 1h\n  kratix:\n    "
                                                                           "defaultBackoffLimit: LIMIT\n")
    scenario.write_text(text.replace("LIMIT", "2000000000"), encoding="utf-8")
    assert_one_line_of_bad_input(_sim("run", scenario), "s.yaml:7: spec.kratix.defaultBackoffLimit: the scenario "
                                                        "asks for about")
    scenario.write_text(text.replace("LIMIT", "2147483648"), encoding="utf-8")
    assert_one_line_of_bad_input(_sim("run", scenario), "defaultBackoffLimit: Input should be less than or equal")


def test_a_container_env_from_the_cluster_is_located_before_anything_runs(tmp_path: Path) -> None:
    """idempotency refuses a container whose env uses valueFrom (it needs a cluster) at the container's file and
    line, before any run (the message used to name only the container)."""
    promise = tmp_path / "promise.yaml"
    text = (REPO_ROOT / "examples" / "idempotent" / "promise.yaml").read_text(encoding="utf-8")
    step = "              - name: configure\n"
    assert step in text
    promise.write_text(text.replace(step, step + "                env: [{name: X, valueFrom: {secretKeyRef: "
                                    "{name: s, key: k}}}]\n", 1), encoding="utf-8")
    result = _sim("idempotency", promise, "--request", "examples/idempotent/resource-request.yaml")
    assert_one_line_of_bad_input(result, "containers[1]: Pipeline 'instance-configure': container 'configure': "
                                         "env 'X' uses valueFrom")
    assert f"{promise}:" in result.stderr


def test_a_trace_line_with_a_key_twice_is_bad_input(tmp_path: Path) -> None:
    """JSON keeps the last of a key written twice without a word; a trace line like that is refused, as YAML
    inputs are."""
    trace = tmp_path / "t.jsonl"
    assert _sim("run", "scenarios/quickstart.yaml", "--trace", trace).returncode == 0
    lines = trace.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3][:-1] + ',"seq":99}'
    trace.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_one_line_of_bad_input(_sim("check", "--trace", trace), "t.jsonl:4: seq: duplicate key 'seq'")


def test_a_report_with_an_id_twice_is_bad_input(tmp_path: Path) -> None:
    """compare, baselines and the HTML find cases and runs by id: a report holding one twice is refused."""
    report = tmp_path / "r.json"
    assert _sim("check", "scenarios/quickstart.yaml", "--json-report", report).returncode == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    data["runs"].append(data["runs"][0])
    report.write_text(json.dumps(data), encoding="utf-8")
    assert_one_line_of_bad_input(_sim("report", "render", report, "--markdown", tmp_path / "r.md"),
                                 "run id 'quickstart#7' appears more than once")


def test_a_report_whose_headline_contradicts_its_cases_is_bad_input(tmp_path: Path) -> None:
    """A hand-edited report whose summary says pass while a case fails would render a PASS headline over a FAIL
    row (and JUnit would disagree): refused."""
    report = tmp_path / "r.json"
    assert _sim("check", "scenarios/quickstart.yaml", "--json-report", report).returncode == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    data["cases"][0]["result"] = "fail"
    report.write_text(json.dumps(data), encoding="utf-8")
    assert_one_line_of_bad_input(_sim("report", "render", report, "--markdown", tmp_path / "r.md"),
                                 "summary.result is 'pass' but the worst case result is 'fail'")
