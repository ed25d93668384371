"""The container executor: a Pipeline's real OCI images run through the ``docker`` or ``podman`` CLI.

Each execution is one ``ENGINE [engine options] run --rm --name kratix-sim-<random> --network none
[run options] -v IN:/kratix/input:ro -v OUT:/kratix/output -v META:/kratix/metadata [-v extra mounts]
--env K=V ... [--entrypoint COMMAND[0]] [-w DIR] IMAGE [COMMAND[1:]] [ARGS]`` (Kubernetes semantics:
``command`` replaces the ENTRYPOINT, ``args`` replace CMD; without ``command`` the image's ENTRYPOINT runs
with ``args``).

- ``binary``: ``podman`` or ``docker`` (or a path); ``engine_options`` go before ``run`` (e.g. this
  project's CI needs none, because its setup writes a containers.conf drop-in, but ``--runtime runc
  --cgroup-manager=cgroupfs`` can be passed here), ``run_options`` after it (e.g. ``--pull=never``);
  ``env`` adds variables to the engine's own environment (e.g. ``CONTAINERS_CONF``).
- No network unless ``network`` is given (e.g. ``"bridge"`` or ``"host"``): opt-in.
- Writable places: with ``read_only_root`` (the default) the image's filesystem is read-only (``--read-only``:
  nothing the container writes reaches the engine's storage on the host disk) and ``/tmp``, ``/var/tmp``,
  ``/run`` and ``/root`` are fresh tmpfs of ``tmpfs_bytes`` (default 256 MiB) each (full: "No space left on
  device", reason ``NoSpaceLeft``); ``read_only_root=False`` gives the image's writable root back (and its own
  ``/root``), unlimited. The pod's volumes and read-write mounts are host directories watched by a quota
  (``volume_quota_bytes``, default 1 GiB together; None: none): outgrown, the container is killed and removed
  (exit code 137, reason ``VolumeQuotaExceeded``).
- User mapping, so the harness can delete what the container wrote: ``user="auto"`` adds nothing when
  running as root, ``--userns=keep-id`` for rootless podman, ``--user UID:GID`` for docker; ``"none"``
  adds nothing; any other string is passed as ``--user VALUE``.
- At the timeout, or when interrupted (KeyboardInterrupt), the container is killed and removed by name
  (``kill``, then ``rm -f``), the engine client's process group is killed, and the name is checked again
  for a short while in case the engine created it late. Names are ``name_prefix`` (default
  ``kratix-sim-``) + container name + random; ``leftover_containers()`` lists any container whose name
  starts with the prefix.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sim.executors.base import (
    DEFAULT_TMPFS_BYTES,
    DEFAULT_VOLUME_QUOTA_BYTES,
    KRATIX_INPUT_DIR,
    KRATIX_METADATA_DIR,
    KRATIX_OUTPUT_DIR,
    ContainerExit,
    ContainerInvocation,
    ExecutorError,
    ExecutorUnavailable,
    Mount,
)
from sim.executors.sandbox import TAIL_BYTES, run_process, writable_dirs
from sim.model.promise import Container

CONTAINER_NAME_PREFIX = "kratix-sim-"
ENGINE_COMMAND_TIMEOUT_S = 60.0
LATE_CREATE_GRACE_S = 2.0
ENGINE_FAILED = 125  # docker/podman run: the engine itself failed (no image, bad options), nothing ran
TMPFS_TARGETS = ("/tmp", "/var/tmp", "/run", "/root")  # with a read-only root
_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


class ContainerExecutor:
    """Runs containers through a docker-compatible CLI (see the module docstring)."""

    name = "container"

    def __init__(
        self,
        *,
        binary: str = "podman",
        engine_options: Sequence[str] = (),
        run_options: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        network: str | None = None,
        mounts: Sequence[Mount] = (),
        user: str = "auto",
        name_prefix: str = CONTAINER_NAME_PREFIX,
        tail_bytes: int = TAIL_BYTES,
        read_only_root: bool = True,
        tmpfs_bytes: int = DEFAULT_TMPFS_BYTES,
        volume_quota_bytes: int | None = DEFAULT_VOLUME_QUOTA_BYTES,
    ) -> None:
        if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name_prefix):
            raise ValueError(f"invalid container name prefix {name_prefix!r}")
        if tmpfs_bytes <= 0 or (volume_quota_bytes is not None and volume_quota_bytes <= 0):
            raise ValueError("tmpfs_bytes and volume_quota_bytes must be positive")
        self.read_only_root = read_only_root
        self.tmpfs_bytes = tmpfs_bytes
        self.volume_quota_bytes = volume_quota_bytes
        self.binary = binary
        self.engine_options = list(engine_options)
        self.run_options = list(run_options)
        self.engine_env = {**os.environ, **(env or {})}
        self.network = network
        self.mounts = tuple(mounts)
        self.user = user
        self.name_prefix = name_prefix
        self.tail_bytes = tail_bytes
        self._checked = False

    # -- the engine ----------------------------------------------------------------------------------------
    @property
    def is_podman(self) -> bool:
        return "podman" in Path(self.binary).name

    def _engine(self) -> list[str]:
        path = shutil.which(self.binary)
        if path is None:
            raise ExecutorUnavailable(f"container engine {self.binary!r} is not installed (install podman or "
                                      "docker, or use the process executor)")
        return [path, *self.engine_options]

    def engine_command(self, *args: str,
                       timeout_s: float = ENGINE_COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """Run ``ENGINE [engine options] ARGS`` and capture its output (no exception on a non-zero exit)."""
        return subprocess.run([*self._engine(), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=self.engine_env, timeout=timeout_s, check=False)

    def check(self) -> None:
        """ExecutorUnavailable unless the engine answers (``ENGINE version``)."""
        if self._checked:
            return
        try:
            done = self.engine_command("version")
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExecutorUnavailable(f"container engine {self.binary!r} does not answer: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise ExecutorUnavailable(f"container engine {self.binary!r} does not work here: "
                                      f"{detail[-1] if detail else f'exit code {done.returncode}'}")
        self._checked = True

    def validate(self, container: Container) -> None:
        if not container.image:
            raise ExecutorError(f"container {container.name!r} has no image")

    def has_image(self, image: str) -> bool:
        return self.engine_command("image", "inspect", image).returncode == 0

    def leftover_containers(self) -> list[str]:
        """Names of containers (any state) whose name starts with this executor's ``name_prefix``."""
        done = self.engine_command("ps", "-a", "--filter", f"name={self.name_prefix}", "--format", "{{.Names}}")
        return sorted(name for name in done.stdout.split() if name.startswith(self.name_prefix))

    # -- one execution -----------------------------------------------------------------------------------
    def _user_args(self) -> list[str]:
        if self.user == "none":
            return []
        if self.user != "auto":
            return ["--user", self.user]
        if os.getuid() == 0:
            return []
        if self.is_podman:
            return ["--userns=keep-id"]
        return ["--user", f"{os.getuid()}:{os.getgid()}"]

    def _root_args(self) -> list[str]:
        if not self.read_only_root:
            return []
        args = ["--read-only"]
        for target in TMPFS_TARGETS:
            mode = "0700" if target == "/root" else "1777"
            args += ["--tmpfs", f"{target}:rw,size={self.tmpfs_bytes},mode={mode}"]
        return args

    def run_argv(self, invocation: ContainerInvocation, name: str) -> list[str]:
        """The full engine command line of an execution (exposed for tests and debugging)."""
        dirs = invocation.dirs
        argv = [*self._engine(), "run", "--rm", "--name", name, "--network", self.network or "none",
                "--hostname", invocation.pod_name[:63], *self._user_args(), *self._root_args(), *self.run_options,
                "-v", f"{dirs.input}:{KRATIX_INPUT_DIR}:ro",
                "-v", f"{dirs.output}:{KRATIX_OUTPUT_DIR}",
                "-v", f"{dirs.metadata}:{KRATIX_METADATA_DIR}"]
        for mount in (*self.mounts, *invocation.mounts):
            argv += ["-v", f"{mount.host}:{mount.target}" + (":ro" if mount.read_only else "")]
        for key, value in invocation.env:
            argv += ["--env", f"{key}={value}"]
        if invocation.working_dir:
            argv += ["--workdir", invocation.working_dir]
        rest = list(invocation.args)
        if invocation.command:
            argv += ["--entrypoint", invocation.command[0]]
            rest = [*invocation.command[1:], *rest]
        return [*argv, invocation.container.image, *rest]

    def _remove(self, name: str) -> None:
        """Kill and remove the container ``name``; look again for a while in case it is created late."""
        deadline = time.monotonic() + LATE_CREATE_GRACE_S
        while True:
            try:
                self.engine_command("kill", name)
                self.engine_command("rm", "-f", name)
                listed = self.engine_command("ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Names}}")
            except subprocess.TimeoutExpired:
                listed = None
            present = listed is None or name in listed.stdout.split()
            if not present and time.monotonic() >= deadline:
                return
            if present and time.monotonic() >= deadline + ENGINE_COMMAND_TIMEOUT_S:
                raise RuntimeError(f"container {name} could not be removed; remove it with "
                                   f"`{self.binary} rm -f {name}`")
            time.sleep(0.2)

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        self.check()
        label = _UNSAFE.sub("-", invocation.container.name or "container").strip("-")[:30]
        name = f"{self.name_prefix}{label}-{secrets.token_hex(5)}"
        argv = self.run_argv(invocation, name)
        result = run_process(
            argv, env=self.engine_env, timeout_s=invocation.timeout_s, log_dir=invocation.dirs.scratch,
            log_name=label or "container", tail_bytes=self.tail_bytes, on_stop=lambda: self._remove(name),
            watched=writable_dirs(invocation, self.mounts), quota_bytes=self.volume_quota_bytes,
        )
        image = invocation.container.image or ""
        if result.exit_code == ENGINE_FAILED and not self.has_image(image):
            # Kubernetes keeps such a pod waiting (ErrImagePull); it is not the pipeline's failure
            detail = [line for line in result.stderr.strip().splitlines() if line.strip()]
            raise ExecutorUnavailable(
                f"image {image!r} is not on this machine and could not be pulled"
                f"{': ' + detail[-1][-300:] if detail else ''}; build, load or pull it first")
        return ContainerExit(result.exit_code, result.timed_out, result.duration_s, result.stdout, result.stderr,
                             result.reason)
