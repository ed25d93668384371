"""The container executor: the examples as real OCI containers (podman or docker), timeouts, isolation, cleanup.

Engine: ``KRATIX_SIM_ENGINE`` (default ``podman``) with ``KRATIX_SIM_ENGINE_OPTIONS`` (shell words, before the
engine's command). The examples' image ``localhost/kratix-sim-examples:latest`` is built offline by
``scripts/ci-setup-containers``; a missing or stale image is rebuilt here when ``/bin/busybox`` exists.
Without an engine these tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
import shlex
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from test_pipeline_contract import (
    EXAMPLES_DIR,
    REQUEST,
    check_examples,
    requires_tool,
    skip_or_fail,
    unique_marker,
    wait_until_gone,
)

from sim.executors.base import ContainerExit, ContainerInvocation, ExecutorUnavailable, Mount, PodDirs
from sim.executors.container import ContainerExecutor
from sim.executors.contract import PipelineRun, run_pipeline
from sim.model.promise import Container, Promise

IMAGE = "localhost/kratix-sim-examples:latest"


def _build_image_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kratix_sim_build_image", EXAMPLES_DIR / "build_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def engine() -> ContainerExecutor:
    binary = os.environ.get("KRATIX_SIM_ENGINE", "podman")
    requires_tool(binary, "no container engine: install podman (scripts/ci-setup-containers) or set "
                          "KRATIX_SIM_ENGINE=docker")
    options = shlex.split(os.environ.get("KRATIX_SIM_ENGINE_OPTIONS", ""))
    executor = ContainerExecutor(binary=binary, engine_options=options)
    try:
        executor.check()
    except ExecutorUnavailable as exc:
        skip_or_fail(str(exc))
    builder = _build_image_module()
    engine_argv = [binary, *executor.engine_options]
    if builder.image_digest(engine_argv, IMAGE) != builder.scripts_digest():
        if not Path("/bin/busybox").is_file():
            skip_or_fail(f"{IMAGE} is missing or stale and /bin/busybox is not there to build it "
                         "(run scripts/ci-setup-containers)")
        builder.build_image(engine_argv, IMAGE)
    return executor


@pytest.fixture
def external(tmp_path: Path) -> Path:
    path = tmp_path / "external"
    path.mkdir()
    return path


@pytest.fixture
def containers(engine: ContainerExecutor, external: Path) -> Iterator[ContainerExecutor]:
    """The engine with /external mounted; no kratix-sim container may be left after the test."""
    # A prefix of our own: other test sessions may run containers on this machine at the same time.
    executor = ContainerExecutor(binary=engine.binary, engine_options=engine.engine_options,
                                 mounts=[Mount(external, "/external", read_only=False)],
                                 name_prefix=f"kratix-sim-test-{secrets.token_hex(4)}-")
    assert executor.leftover_containers() == []
    yield executor
    assert executor.leftover_containers() == []


def _run(executor: Any, workdir: Path, container: dict[str, Any], **options: Any) -> PipelineRun:
    promise = Promise.model_validate({
        "metadata": {"name": "demo"},
        "spec": {
            "api": {"spec": {"group": "demo.example.io", "names": {"kind": "Demo", "plural": "demos"}}},
            "workflows": {"resource": {"configure": [{"metadata": {"name": "pipe"},
                                                      "spec": {"containers": [container]}}]}},
        },
    })
    options.setdefault("timeout_s", 30)
    return run_pipeline(promise, promise.pipelines("resource", "configure")[0], "resource", "configure", REQUEST,
                        executor, workdir=workdir, **options)


def _sh(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script]}


# -- the command line (no engine needed) -------------------------------------------------------------------
def test_run_command_line(tmp_path: Path) -> None:
    dirs = PodDirs(tmp_path / "in", tmp_path / "out", tmp_path / "meta", tmp_path / "scratch")
    container = Container.model_validate({"name": "c", "image": "img:1"})
    invocation = ContainerInvocation(container, ("sh", "-c"), ("echo hi",), (("A", "1"),), dirs, 5.0, "pod-1",
                                     (Mount(tmp_path / "in", "/input"),), "/work")
    executor = ContainerExecutor(binary="sh", engine_options=["--runtime", "runc"], run_options=["--pull=never"],
                                 user="none")
    argv = executor.run_argv(invocation, "kratix-sim-c-1")
    assert argv[1:4] == ["--runtime", "runc", "run"]
    text = " ".join(argv)
    assert "--rm --name kratix-sim-c-1 --network none" in text
    assert f"-v {dirs.input}:/kratix/input:ro -v {dirs.output}:/kratix/output -v {dirs.metadata}:/kratix/metadata" \
        in text
    assert f"-v {tmp_path / 'in'}:/input:ro" in text and "--env A=1" in text and "--workdir /work" in text
    assert argv[argv.index("--entrypoint") + 1] == "sh" and argv[-3:] == ["img:1", "-c", "echo hi"]
    assert "--pull=never" in argv
    networked = ContainerExecutor(binary="sh", network="bridge", user="none")
    assert "--network bridge" in " ".join(networked.run_argv(invocation, "n"))
    no_command = ContainerInvocation(container, (), ("arg",), (), dirs, 5.0, "pod-1")
    argv = networked.run_argv(no_command, "n")
    assert "--entrypoint" not in argv and argv[-2:] == ["img:1", "arg"]  # the image's ENTRYPOINT runs


def test_a_missing_engine_is_a_clear_error() -> None:
    with pytest.raises(ExecutorUnavailable, match="not installed"):
        ContainerExecutor(binary="kratix-sim-no-such-engine").check()


# -- real containers ---------------------------------------------------------------------------------------
def test_the_examples_behave_as_documented_in_containers(
        containers: ContainerExecutor, workdir: Path, external: Path) -> None:
    check_examples(containers, workdir, external)


def test_args_without_command_replace_the_image_cmd(containers: ContainerExecutor, workdir: Path) -> None:
    run = _run(containers, workdir, {"name": "c", "image": IMAGE,
                                     "args": ["sh", "-c", "echo $KRATIX_OBJECT_NAME > /kratix/output/name"]})
    assert run.outcome == "succeeded" and run.work is not None and run.work.files["name"] == "one\n"


def test_an_image_that_cannot_be_pulled_is_the_executors_limit_not_a_failed_pipeline(
        containers: ContainerExecutor, workdir: Path) -> None:
    """An image neither on the machine nor pullable (Kubernetes: ErrImagePull, the pod waits) is an
    ExecutorUnavailable (exit 2 in the commands), not exit 125 retried until BackoffLimitExceeded."""
    image = "localhost:1/kratix-sim-no-such-image:v0"
    with pytest.raises(ExecutorUnavailable, match=f"image '{image}' is not on this machine and could not be pulled"):
        _run(containers, workdir, {"name": "a", "image": image, "command": ["true"]})


def test_a_hanging_container_is_killed_and_removed(containers: ContainerExecutor, workdir: Path) -> None:
    marker = unique_marker()
    run = _run(containers, workdir, _sh("hang", f"sleep {marker} & sleep {marker}"), timeout_s=2)
    assert (run.outcome, run.reason) == ("failed", "ContainerTimeout")
    assert run.executions[0].timed_out and run.executions[0].exit_code == 137
    assert containers.leftover_containers() == []
    assert wait_until_gone(marker) == []


def test_a_container_cannot_touch_the_host(containers: ContainerExecutor, workdir: Path, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched\n")
    passwd = hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()
    script = (f"echo owned > {canary}; echo owned >> /etc/passwd; mkdir -p /root && echo x > /root/x; "
              "cat /proc/net/dev > /kratix/output/net; true")
    run = _run(containers, workdir, _sh("escape", script))
    assert run.outcome == "succeeded"
    assert canary.read_text() == "untouched\n"
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest() == passwd
    assert run.work is not None
    interfaces = [line.split(":")[0].strip() for line in run.work.files["net"].splitlines() if ":" in line]
    assert interfaces == ["lo"]  # --network none


class _InterruptingExecutor:
    name = "interrupting"

    def __init__(self, inner: ContainerExecutor, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s

    def check(self) -> None:
        self.inner.check()

    def validate(self, container: Container) -> None:
        self.inner.validate(container)

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        main = threading.main_thread().ident
        assert main is not None
        threading.Timer(self.delay_s, signal.pthread_kill, (main, signal.SIGINT)).start()
        return self.inner.run(invocation)


def test_an_interrupted_container_run_leaves_nothing_behind(containers: ContainerExecutor, workdir: Path) -> None:
    marker = unique_marker()
    with pytest.raises(KeyboardInterrupt):
        _run(_InterruptingExecutor(containers, 1.5), workdir, _sh("hang", f"sleep {marker}"))
    assert list(workdir.iterdir()) == []
    assert containers.leftover_containers() == []
    assert wait_until_gone(marker) == []
