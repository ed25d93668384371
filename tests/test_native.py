"""The compiled core (sim/native.py, issue 9): built with mypyc, it must give byte-identical results, and it
is used only while it matches the sources.

The build takes about a minute (once per session, in a temporary folder: the working tree is untouched).
Without a C compiler and the Python headers these tests skip, except under CI=true (CI installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sim import native

REPO = Path(__file__).resolve().parent.parent

DIGESTS = """
import hashlib, json, shutil, sys
from pathlib import Path
import sim.engine.controller
from sim import native
from sim.bench import fleet_scenario
from sim.metrics import StreamingMetrics, int_ratio
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation
print(native.STATUS.compiled, Path(sim.engine.controller.__file__).suffix)
print(repr(int_ratio(3402763225925103244, 4804733)))  # a native float / float would round twice here
paths = sorted(Path("scenarios").glob("*.yaml"))
if shutil.which("bwrap"):  # real pipelines (the process executor) go through the compiled pods too
    paths += sorted(Path("scenarios/real").glob("*-process.yaml"))
runs = [(str(path), *load_scenario(path)) for path in paths]
runs.append(("bench fleet", fleet_scenario(20, 30), None))  # sums of squared gaps pass 2**53
for name, scenario, promise in runs:
    for seed in (1, 2):
        metrics = StreamingMetrics()
        trace = Simulation(scenario, seed=seed, promise=promise, sinks=[metrics]).run()
        summary = json.dumps(metrics.finish(scenario.spec.duration), sort_keys=True)
        print(name, seed, hashlib.sha256(trace.to_jsonl().encode()).hexdigest(), summary)
"""


def _run(args: list[str], core: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, native.ENV: str(core)}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


def _missing_compiler() -> str | None:
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        return "no C compiler (apt-get install gcc)"
    return None if include.is_file() else f"no Python headers ({include}; apt-get install python3-dev)"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled core built from this tree; skipped without a compiler, except under CI=true."""
    missing = _missing_compiler()
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI=true, so the compiled core's tests cannot be skipped")
        pytest.skip(missing)
    directory = tmp_path_factory.mktemp("native") / "core"
    built = subprocess.run(["bash", "scripts/build-native", "build", "--out", str(directory)], cwd=REPO,
                           capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert f"into {directory}" in built.stdout
    return directory


def test_the_compiled_core_writes_the_same_traces_and_metrics(core: Path) -> None:
    compiled = _run([sys.executable, "-c", DIGESTS], core)
    interpreted = _run([sys.executable, "-c", DIGESTS], "off")
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    assert interpreted.returncode == 0, interpreted.stderr[-3000:]
    compiled_lines, interpreted_lines = compiled.stdout.splitlines(), interpreted.stdout.splitlines()
    assert compiled_lines[0] == "True .so"  # the engine really ran compiled
    assert interpreted_lines[0] == "False .py"
    assert len(compiled_lines) > 40  # every scenario of the library and a bench fleet, two seeds each
    if shutil.which("bwrap") or os.environ.get("CI", "").lower() == "true":
        assert any(line.startswith("scenarios/real/") for line in compiled_lines)
    assert compiled_lines[1:] == interpreted_lines[1:]


def test_the_mutants_meet_the_same_fate_under_the_compiled_core(core: Path) -> None:
    """The mutants subclass compiled classes (``mypyc_attr(allow_interpreted_subclasses=True)``)."""
    command = [sys.executable, "-m", "sim", "mutants", "--format", "json"]
    compiled, interpreted = _run(command, core), _run(command, "off")
    assert compiled.returncode == interpreted.returncode == 0, compiled.stderr[-3000:]
    assert json.loads(compiled.stdout) == json.loads(interpreted.stdout)


def test_status_names_the_compiled_core(core: Path) -> None:
    status = _run(["bash", "scripts/build-native", "status"], core)
    assert status.returncode == 0
    assert status.stdout.startswith(f"compiled (mypyc {_manifest(core)['mypyc']}, {core})")


def _manifest(directory: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((directory / native.MANIFEST).read_text())
    return loaded


def _status(core: str | Path) -> str:
    shown = _run(["bash", "scripts/build-native", "status"], core)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip()


def test_a_core_built_from_other_sources_is_not_used(tmp_path: Path) -> None:
    """Any edit under sim/ changes the digest: the sources run, and status says why."""
    listed = {name: f"{name}.so" for name in [*native.MODULES, "x__mypyc"]}
    (tmp_path / native.MANIFEST).write_text(json.dumps({"digest": "0" * 64, "mypyc": "x", "modules": listed}))
    assert _status(tmp_path) == f"interpreted ({tmp_path} was built from other sources: rebuild it with " \
                                "scripts/build-native)"


def _current_manifest(modules: dict[str, str]) -> str:
    return json.dumps({"digest": native.source_digest(), "mypyc": "x", "modules": modules})


def test_a_core_missing_a_module_is_not_used(tmp_path: Path) -> None:
    names = sorted(native.MODULES)
    (tmp_path / native.MANIFEST).write_text(_current_manifest({}))  # current, but compiles nothing
    assert _status(tmp_path) == f"interpreted ({tmp_path / native.MANIFEST} lacks {', '.join(names)}: rebuild it)"
    listed = {name: f"{name}.so" for name in [*names, "x__mypyc"]}
    (tmp_path / native.MANIFEST).write_text(_current_manifest(listed))  # complete, but the files are absent
    assert _status(tmp_path) == (f"interpreted ({tmp_path} lacks {', '.join(sorted(listed))}: "
                                 "rebuild it with scripts/build-native)")


def test_an_unreadable_source_turns_the_core_off_with_a_reason(tmp_path: Path) -> None:
    """A dangling link (an editor's lock file ``.#x.py``) is not a source; an unreadable one is named."""
    lock = REPO / "sim" / ".#kratix-sim-test-lock.py"
    lock.symlink_to(tmp_path / "gone")
    try:
        digest = native.source_digest()
    finally:
        lock.unlink()
    assert digest == native.source_digest()


def test_off_and_unbuilt_cores_run_the_sources(tmp_path: Path) -> None:
    assert _status("off") == f"interpreted ({native.ENV}=off)"
    assert _status("OFF") == f"interpreted ({native.ENV}=OFF)"
    assert _status(tmp_path) == f"interpreted (not built: scripts/build-native build --out {tmp_path} builds it)"


def test_the_digest_covers_every_source_file() -> None:
    digest = native.source_digest()
    assert len(digest) == 64 and digest == native.source_digest()
    assert all((REPO / module).is_file() for module in native.COMPILED)


@pytest.mark.parametrize("args", [["bogus"], ["build", "--out"], ["status", "--out", "x"], ["clean", "x"]])
def test_build_native_refuses_bad_arguments(args: list[str]) -> None:
    refused = subprocess.run(["bash", "scripts/build-native", *args], cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "usage: scripts/build-native [build [--out DIR] | clean [--out DIR] | status]"


def test_build_and_clean_never_touch_a_folder_that_is_not_a_core(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    (mine / native.MANIFEST).write_text('{"name": "my own manifest"}')
    build = subprocess.run(["bash", "scripts/build-native", "build", "--out", str(mine)], cwd=REPO,
                           capture_output=True, text=True)
    assert build.returncode == 2
    assert build.stderr.strip() == f"build-native: {mine} exists and is not a compiled core; name a new folder"
    clean = subprocess.run(["bash", "scripts/build-native", "clean", "--out", str(mine)], cwd=REPO,
                           capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout.strip() == f"no compiled core in {mine}"
    assert sorted(path.name for path in mine.iterdir()) == [native.MANIFEST, "notes.txt"]


def test_build_native_resolves_paths_against_the_callers_folder(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / native.MANIFEST).write_text(json.dumps({"digest": "0" * 64, "modules": {}}))
    clean = subprocess.run(["bash", str(REPO / "scripts" / "build-native"), "clean", "--out", "core"],
                           cwd=tmp_path, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip() == f"removed the compiled core in {tmp_path / 'core'}"


def test_clean_removes_a_core(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / native.MANIFEST).write_text(json.dumps({"digest": "0" * 64, "modules": {}}))
    clean = subprocess.run(["bash", "scripts/build-native", "clean", "--out", str(tmp_path / "core")], cwd=REPO,
                           capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout.strip() == f"removed the compiled core in {tmp_path / 'core'}"
    assert not (tmp_path / "core").exists()


@pytest.mark.parametrize("text", ["[1, 2]", '{"digest": "x", "modules": [1]}', "{not json",
                                  '{"digest": "x", "modules": {"os": "os.so"}}'])
def test_a_broken_manifest_is_named_and_the_sources_run(tmp_path: Path, text: str) -> None:
    (tmp_path / native.MANIFEST).write_text(text)
    status = _status(tmp_path)
    assert status.startswith("interpreted (")
    assert f"{tmp_path / native.MANIFEST}" in status
