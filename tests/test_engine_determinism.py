"""Determinism: the same scenario and seed give byte-identical traces across processes and hash seeds.

The scenario (``engine_helpers.determinism_scenario``) has random container failures (failureProbability) and
faults on Poisson ``rate`` schedules, so every random stream is exercised. Each run happens in a fresh Python
process with its own ``PYTHONHASHSEED``, so iteration over an unsorted set or dict of strings would show.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import determinism_scenario

from sim.cli import main
from sim.scenario_loader import load_scenario
from sim.simulation import Simulation, run
from sim.trace import Event, JsonlSink, Trace

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

SCRIPT = (
    "import sys\n"
    "from pathlib import Path\n"
    "from engine_helpers import determinism_scenario\n"
    "from sim.simulation import run\n"
    "run(determinism_scenario(), seed=int(sys.argv[1])).write(Path(sys.argv[2]))\n"
)


def trace_in_subprocess(out: Path, seed: int, hash_seed: str) -> bytes:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), str(REPO_ROOT), env.get("PYTHONPATH", "")])
    subprocess.run([sys.executable, "-c", SCRIPT, str(seed), str(out)], check=True, cwd=REPO_ROOT, env=env,
                   capture_output=True, timeout=120)
    return out.read_bytes()


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("traces")
    return {
        "seed11-hash0": trace_in_subprocess(folder / "a.jsonl", 11, "0"),
        "seed11-hash4242": trace_in_subprocess(folder / "b.jsonl", 11, "4242"),
        "seed12-hash0": trace_in_subprocess(folder / "c.jsonl", 12, "0"),
    }


def test_the_scenario_exercises_randomness() -> None:
    """Determinism (docs/trace.md) precondition: the scenario draws random failures and random-rate faults."""
    trace = run(determinism_scenario(), seed=11)
    failed_exits = [e for e in trace.named("container_exited") if e.get("exit_code") == 1]
    assert any(e.get("reason") is None for e in failed_exits)  # failureProbability draws
    assert any(e.get("reason") == "InjectedFailure" for e in failed_exits)  # container-failure fault
    kinds = {e["reason"] for e in trace.named("fault_injected")}
    assert kinds == {"controller-restart", "manual-reconcile", "update-resource", "delete-jobs", "container-failure",
                     "delete-resource"}
    assert trace.named("job_failed")


def test_same_seed_gives_byte_identical_traces_across_processes_and_hash_seeds(traces: dict[str, bytes]) -> None:
    """Determinism (docs/trace.md): same scenario + seed -> the same trace bytes under any PYTHONHASHSEED."""
    assert traces["seed11-hash0"] == traces["seed11-hash4242"]
    assert len(traces["seed11-hash0"].splitlines()) > 1000
    # and the in-process run agrees with the subprocesses
    assert run(determinism_scenario(), seed=11).to_jsonl().encode("utf-8") == traces["seed11-hash0"]


def test_different_seeds_give_different_traces(traces: dict[str, bytes]) -> None:
    """Determinism (docs/trace.md): another seed draws other failures and fault times, so the trace differs."""
    a = Trace.parse(traces["seed11-hash0"].decode("utf-8").splitlines())
    b = Trace.parse(traces["seed12-hash0"].decode("utf-8").splitlines())
    assert (a.header["seed"], b.header["seed"]) == (11, 12)
    assert [e for e in a.events] != [e for e in b.events]
    assert [e["t"] for e in a.named("fault_injected")] != [e["t"] for e in b.named("fault_injected")]


def test_the_streamed_trace_is_the_in_memory_trace() -> None:
    """``JsonlSink`` writes lines in batches: a flushed stream of more than one batch is byte for byte
    ``Trace.to_jsonl()``; before the flush the file holds only whole batches."""

    batch = 100
    events: list[Event] = []
    simulation = Simulation(determinism_scenario(), seed=11, sinks=[])
    buffer = io.StringIO()
    sink = JsonlSink(buffer, simulation.header, batch=batch)
    simulation.recorder.sinks.extend([events.append, sink])
    simulation.run()
    assert len(events) > 2 * batch  # several batches and a partial one
    unflushed = buffer.getvalue().count("\n")
    assert 0 < unflushed <= len(events) and unflushed % batch == 0
    sink.flush()
    assert buffer.getvalue() == Trace(simulation.header, events).to_jsonl()
    sink.flush()  # a second flush writes nothing more
    assert buffer.getvalue() == Trace(simulation.header, events).to_jsonl()


def test_run_trace_file_is_complete(tmp_path: Path) -> None:
    """``kratix-sim run --trace`` flushes the sink: the file is the whole trace of that run."""
    path = REPO_ROOT / "scenarios" / "quickstart.yaml"
    out = tmp_path / "trace.jsonl"
    assert main(["run", str(path), "--seed", "3", "--trace", str(out)]) == 0
    scenario, promise = load_scenario(path)
    expected = Simulation(scenario, seed=3, promise=promise).run().to_jsonl()
    assert len(expected.splitlines()) > 1
    assert out.read_text(encoding="utf-8") == expected


def test_generated_name_suffixes_are_random_choice_draws() -> None:
    """``Rng.suffix`` spells out ``random.choice`` (for speed, issue 9): the same characters from the same stream."""
    from sim.rng import Rng

    fast, reference = Rng(7), Rng(7)
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    for name, length in [("names", 5)] * 500 + [("other", 10)] * 20:
        stream = reference.stream(name)
        assert fast.suffix(name, length) == "".join(stream.choice(alphabet) for _ in range(length))
