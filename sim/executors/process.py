"""The process executor: a container's command run on the host inside a bubblewrap (``bwrap``) sandbox.

For scripts, and for machines without a container engine. Each execution gets:

- a root built from **read-only** binds (never the host's ``/`` read-write): by default the host's
  ``/usr`` (with ``/bin``, ``/sbin``, ``/lib*`` as on the host, symlinks or read-only binds) and a short
  list of ``/etc`` entries (passwd, group, alternatives, ld.so cache, time zone, CA certificates); or,
  with ``rootfs=DIR``, every top-level entry of DIR (e.g. a busybox root, to run scripts exactly as in the
  busybox image); plus ``/dev`` and ``/proc``; once every mount is in place, ``/`` and ``/dev`` are
  remounted read-only (bubblewrap's own root is a tmpfs: writable, it would let a script fill memory);
- the only writable places: a fresh tmpfs of ``tmpfs_bytes`` (default 256 MiB) each on ``/tmp``, ``/root``
  and ``/dev/shm`` (full: "No space left on device", reason ``NoSpaceLeft``), and the pod's volumes and
  read-write mounts, host directories watched by a quota (``volume_quota_bytes``, default 1 GiB together;
  None: no quota): outgrown, the step is killed (exit code 137, reason ``VolumeQuotaExceeded``);
- the pod's volumes: ``--ro-bind IN /kratix/input --bind OUT /kratix/output --bind META /kratix/metadata``,
  and the executor's extra ``mounts`` (e.g. scripts at ``/scripts/NAME``, a stand-in for an external
  system at ``/external``);
- every namespace unshared (``--unshare-all``: no network, its own PID namespace, hostname = pod name),
  ``--die-with-parent``, ``--new-session``; uid 0 inside, as in most pipeline images, with capabilities
  cut to the file-owner ones (no mknod, no mount, no network admin); ``--clearenv`` then ``PATH``, ``HOME=/root``, the
  ``KRATIX_*`` variables and the container's own ``env``;
- a timeout: the whole process group is killed (SIGKILL), and with it bwrap's PID namespace, so every
  process the script started dies too. So does any background process (``sleep &``, ``setsid``, a double
  fork) left when the command ends: the PID namespace dies with its first process.

Which command runs: the container's ``command`` + ``args`` (Kubernetes semantics, ``$(VAR)`` expanded by
the caller). The process executor cannot read an image's ENTRYPOINT, so a container without ``command``
needs an entry in ``entrypoints`` (image -> command, e.g. ``{"ghcr.io/org/step:v1": ["sh",
"/scripts/step.sh"]}``, with the script's directory in ``mounts``); its ``args`` are appended. Without
either it is an ExecutorError. The ``image`` is otherwise ignored.

``clock_offset_s`` shifts the wall clock every process sees by that many seconds through libfaketime
(Debian package ``faketime``; ``LD_PRELOAD``, monotonic clocks untouched, the offset in ``/etc/faketimerc`` so
the environment does not change with it): a way to expose output that depends on the time of day (rule I4).
It needs dynamically linked tools, so only the host root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
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

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
HOST_ETC_ENTRIES = (
    "passwd", "group", "nsswitch.conf", "hosts", "localtime", "timezone", "alternatives", "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d", "ssl/certs", "ca-certificates", "ca-certificates.conf", "mime.types",
)
# What root in a container may do to its own files (a subset of Docker's defaults: no MKNOD, no NET_*).
ROOT_CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
                     "CAP_SETUID")
ROOTFS_SKIPPED = frozenset({"dev", "proc", "sys", "tmp", "kratix"})
FAKETIME_LIBRARIES = (
    "/usr/lib/*/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/lib64/faketime/libfaketime.so.1",
)


FAKETIMERC = "/etc/faketimerc"  # read by libfaketime when FAKETIME, FAKETIME_TIMESTAMP_FILE, ~/.faketimerc are absent


def find_libfaketime() -> str | None:
    for pattern in FAKETIME_LIBRARIES:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


class ProcessExecutor:
    """Runs a container's command in a bubblewrap sandbox (see the module docstring)."""

    name = "process"

    def __init__(
        self,
        *,
        bwrap: str = "bwrap",
        mounts: Sequence[Mount] = (),
        entrypoints: Mapping[str, Sequence[str]] | None = None,
        rootfs: Path | None = None,
        clock_offset_s: float | None = None,
        tail_bytes: int = TAIL_BYTES,
        tmpfs_bytes: int = DEFAULT_TMPFS_BYTES,
        volume_quota_bytes: int | None = DEFAULT_VOLUME_QUOTA_BYTES,
    ) -> None:
        if tmpfs_bytes <= 0 or (volume_quota_bytes is not None and volume_quota_bytes <= 0):
            raise ExecutorError("tmpfs_bytes and volume_quota_bytes must be positive")
        self.tmpfs_bytes = tmpfs_bytes
        self.volume_quota_bytes = volume_quota_bytes
        self.bwrap = bwrap
        self.mounts = tuple(mounts)
        self.entrypoints = {image: list(cmd) for image, cmd in (entrypoints or {}).items()}
        self.rootfs = rootfs
        self.clock_offset_s = clock_offset_s
        self.tail_bytes = tail_bytes
        self._checked = False
        if rootfs is not None and not rootfs.is_dir():
            raise ExecutorError(f"rootfs {rootfs} is not a directory")
        if clock_offset_s is not None and rootfs is not None:
            raise ExecutorError("clock_offset_s needs the host root: libfaketime works through LD_PRELOAD, "
                                "which static binaries (busybox) ignore")

    # -- availability ----------------------------------------------------------------------------------
    def _binary(self) -> str:
        path = shutil.which(self.bwrap)
        if path is None:
            raise ExecutorUnavailable(f"bubblewrap ({self.bwrap!r}) is not installed: the process executor needs "
                                      "it (Debian/Ubuntu: apt-get install bubblewrap)")
        return path

    def _faketime_env(self) -> list[tuple[str, str]]:
        if self.clock_offset_s is None:
            return []
        library = find_libfaketime()
        if library is None:
            raise ExecutorUnavailable("clock_offset_s needs libfaketime (Debian/Ubuntu: apt-get install faketime)")
        return [("LD_PRELOAD", library), ("FAKETIME_DONT_FAKE_MONOTONIC", "1")]

    def _faketime_args(self, scratch: Path) -> list[str]:
        """The offset as libfaketime's system-wide ``/etc/faketimerc``, not ``FAKETIME``: the environment a
        script sees is then the same whatever the clock (an ``env`` dump is no false I1 or I4 difference)."""
        if self.clock_offset_s is None:
            return []
        rc = scratch / "faketimerc"
        rc.write_text(f"{self.clock_offset_s:+.3f}\n", encoding="utf-8")
        return ["--ro-bind", str(rc), FAKETIMERC]

    def check(self) -> None:
        """Run an empty sandbox once; ExecutorUnavailable says why it cannot run here."""
        if self._checked:
            return
        binary = self._binary()
        self._faketime_env()
        argv = [binary, "--unshare-all", "--die-with-parent", *self._identity_args(), *self._root_args(),
                *self._seal_args(), "--clearenv", "--setenv", "PATH", DEFAULT_PATH, "sh", "-c", "exit 0"]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ExecutorUnavailable(f"bubblewrap does not run here: {exc}") from exc
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()
            raise ExecutorUnavailable(f"bubblewrap cannot create a sandbox here (user namespaces disabled?): "
                                      f"{detail or f'exit code {done.returncode}'}")
        self._checked = True

    # -- the sandbox -------------------------------------------------------------------------------------
    def _root_args(self) -> list[str]:
        args: list[str] = []
        if self.rootfs is not None:
            for entry in sorted(self.rootfs.iterdir()):
                if entry.name in ROOTFS_SKIPPED:
                    continue
                target = f"/{entry.name}"
                if entry.is_symlink():
                    args += ["--symlink", os.readlink(entry), target]
                else:
                    args += ["--ro-bind", str(entry), target]
        else:
            args += ["--ro-bind", "/usr", "/usr"]
            for name in HOST_ROOT_DIRS:
                host = Path("/") / name
                if host.is_symlink():
                    args += ["--symlink", os.readlink(host), f"/{name}"]
                elif host.is_dir():
                    args += ["--ro-bind", str(host), f"/{name}"]
            for name in HOST_ETC_ENTRIES:
                host = Path("/etc") / name
                if host.exists():
                    args += ["--ro-bind", str(host), str(host)]
        size = ["--size", str(self.tmpfs_bytes)]
        args += [*size, "--tmpfs", "/tmp", *size, "--tmpfs", "/root", "--dev", "/dev", *size, "--tmpfs", "/dev/shm",
                 "--proc", "/proc"]
        return args

    @staticmethod
    def _seal_args() -> list[str]:
        """After every mount: bubblewrap's root tmpfs and ``/dev`` read-only (only the sized tmpfs and the
        mounts stay writable)."""
        return ["--remount-ro", "/dev", "--remount-ro", "/"]

    @staticmethod
    def _identity_args() -> list[str]:
        """Root inside, like a container: as root, all capabilities dropped but the file-owner ones; as
        another user, uid 0 in a user namespace (files on the host stay the user's), no capabilities."""
        if os.geteuid() == 0:
            return ["--cap-drop", "ALL", *(arg for cap in ROOT_CAPABILITIES for arg in ("--cap-add", cap))]
        return ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-drop", "ALL"]

    def validate(self, container: Container) -> None:
        if not container.command and container.image not in self.entrypoints:
            raise ExecutorError(
                f"container {container.name!r} has no command and the process executor cannot read the "
                f"ENTRYPOINT of image {container.image!r}: give the container a command, or run the image with "
                "the container executor (a scenario can also map the image to a command in "
                "spec.executor.entrypoints)")

    def _argv(self, invocation: ContainerInvocation) -> list[str]:
        self.validate(invocation.container)
        command = list(invocation.command) or self.entrypoints[invocation.container.image]
        return command + list(invocation.args)

    def sandbox_argv(self, invocation: ContainerInvocation) -> list[str]:
        """The full bwrap command line of an execution (exposed for tests and debugging)."""
        dirs = invocation.dirs
        argv = [self._binary(), "--unshare-all", "--die-with-parent", "--new-session", *self._identity_args(),
                "--hostname", invocation.pod_name[:63], *self._root_args(),
                "--ro-bind", str(dirs.input), KRATIX_INPUT_DIR,
                "--bind", str(dirs.output), KRATIX_OUTPUT_DIR,
                "--bind", str(dirs.metadata), KRATIX_METADATA_DIR]
        for mount in (*self.mounts, *invocation.mounts):
            argv += ["--ro-bind" if mount.read_only else "--bind", str(mount.host), mount.target]
        argv += [*self._faketime_args(dirs.scratch), *self._seal_args(), "--chdir", invocation.working_dir or "/",
                 "--clearenv"]
        env = [("PATH", DEFAULT_PATH), ("HOME", "/root"), ("HOSTNAME", invocation.pod_name[:63]),
               *invocation.env, *self._faketime_env()]
        for key, value in env:
            argv += ["--setenv", key, value]
        return [*argv, "--", *self._argv(invocation)]

    def run(self, invocation: ContainerInvocation) -> ContainerExit:
        self.check()
        argv = self.sandbox_argv(invocation)
        result = run_process(
            argv, env={"PATH": os.environ.get("PATH", DEFAULT_PATH)}, timeout_s=invocation.timeout_s,
            log_dir=invocation.dirs.scratch, log_name=invocation.container.name or "container",
            tail_bytes=self.tail_bytes, watched=writable_dirs(invocation, self.mounts),
            quota_bytes=self.volume_quota_bytes,
        )
        program = self._argv(invocation)[0]
        if result.exit_code != 0 and f"bwrap: execvp {program}: No such file or directory" in result.stderr:
            raise ExecutorError(  # not the pipeline's failure: the command lives in the image, not on this host
                f"container {invocation.container.name!r}: its command {program!r} is not on this machine (the "
                "process executor runs commands from the host's /usr and /bin and the mounts): run the image "
                "with the container executor, or mount the command")
        return ContainerExit(result.exit_code, result.timed_out, result.duration_s, result.stdout, result.stderr,
                             result.reason)
