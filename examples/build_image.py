#!/usr/bin/env python3
"""Build the examples' container image offline: a busybox root with every example's scripts.

The image ``localhost/kratix-sim-examples:latest`` holds Debian's static busybox as ``/bin/busybox`` with
a symlink per applet (``/bin/sh``, ``/bin/awk``, ...), ``/tmp``, a minimal ``/etc/passwd`` and each
example's ``scripts/`` directory at ``/scripts/<example>/``: the Promises here run
``command: [sh, /scripts/<example>/<script>.sh]``. No registry is needed: the root is a tar file given to
``ENGINE import``. The image carries a label with a digest of the scripts, so a stale image is easy to
spot (``--check``).

Standard library only (CI runs it before any virtualenv exists):

    python3 examples/build_image.py [--engine podman] [--engine-option OPT]... [--busybox /bin/busybox]
    python3 examples/build_image.py --check   # exit 0: image current, 1: stale, 2: missing
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
IMAGE = "localhost/kratix-sim-examples:latest"
DIGEST_LABEL = "io.kratix-sim.scripts-digest"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def example_scripts(examples_dir: Path = EXAMPLES_DIR) -> dict[str, Path]:
    """``{example name: its scripts directory}`` for every example that has one."""
    return {p.parent.name: p for p in sorted(examples_dir.glob("*/scripts")) if p.is_dir()}


def scripts_digest(examples_dir: Path = EXAMPLES_DIR) -> str:
    """sha256 over every script's path, content and executable bit."""
    digest = hashlib.sha256()
    for name, scripts in example_scripts(examples_dir).items():
        for path in sorted(p for p in scripts.rglob("*") if p.is_file()):
            rel = f"{name}/{path.relative_to(scripts).as_posix()}"
            digest.update(f"{rel}\0{path.stat().st_mode & 0o111}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _add(tar: tarfile.TarFile, name: str, *, data: bytes | None = None, mode: int = 0o755,
         directory: bool = False, link: str | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = mode
    if directory:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif link is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
        tar.addfile(info)
    else:
        payload = data or b""
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))


def write_rootfs_tar(target: Path, busybox: Path, examples_dir: Path = EXAMPLES_DIR) -> None:
    """The image's root as a tar file (owned by root, no host metadata)."""
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(target, "w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700),
                                ("scripts", 0o755), ("kratix", 0o755)):
            _add(tar, directory, directory=True, mode=mode)
        _add(tar, "bin/busybox", data=busybox.read_bytes(), mode=0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            _add(tar, f"bin/{applet}", link="busybox")
        _add(tar, "etc/passwd", data=PASSWD.encode(), mode=0o644)
        _add(tar, "etc/group", data=GROUP.encode(), mode=0o644)
        for name, scripts in example_scripts(examples_dir).items():
            _add(tar, f"scripts/{name}", directory=True)
            for path in sorted(scripts.rglob("*")):
                rel = f"scripts/{name}/{path.relative_to(scripts).as_posix()}"
                if path.is_dir():
                    _add(tar, rel, directory=True)
                elif path.is_file():
                    _add(tar, rel, data=path.read_bytes(), mode=0o755 if path.stat().st_mode & 0o111 else 0o644)


def image_digest(engine: list[str], image: str = IMAGE) -> str | None:
    """The scripts digest the image was built with; None when the image is missing."""
    done = subprocess.run([*engine, "image", "inspect", "--format", "{{json .Config.Labels}}", image],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    try:
        labels = json.loads(done.stdout.strip() or "null") or {}
    except json.JSONDecodeError:
        return ""
    return str(labels.get(DIGEST_LABEL, ""))


def build_image(engine: list[str], image: str = IMAGE, busybox: Path = Path("/bin/busybox"),
                examples_dir: Path = EXAMPLES_DIR) -> None:
    """(Re)build the image with ``ENGINE import``; the temporary tar file is always removed."""
    if not busybox.is_file():
        raise FileNotFoundError(f"{busybox} not found: install a static busybox (apt-get install busybox-static)")
    work = Path(tempfile.mkdtemp(prefix="kratix-sim-image-"))
    try:
        tar_path = work / "rootfs.tar"
        write_rootfs_tar(tar_path, busybox, examples_dir)
        old = subprocess.run([*engine, "image", "inspect", "--format", "{{.Id}}", image],
                             capture_output=True, text=True, check=False).stdout.strip()
        subprocess.run([*engine, "import", "--change", f"ENV PATH={IMAGE_PATH}", "--change", 'CMD ["/bin/sh"]',
                        "--change", f"LABEL {DIGEST_LABEL}={scripts_digest(examples_dir)}", str(tar_path), image],
                       check=True, capture_output=True)
        new = subprocess.run([*engine, "image", "inspect", "--format", "{{.Id}}", image],
                             capture_output=True, text=True, check=False).stdout.strip()
        if old and old != new:
            # Untagged now; never forced (-f would also remove containers another run is using).
            subprocess.run([*engine, "rmi", old], capture_output=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="podman", help="podman or docker (default: podman)")
    parser.add_argument("--engine-option", action="append", default=[], metavar="OPT",
                        help="an option for the engine, before its command (repeatable)")
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--busybox", type=Path, default=Path("/bin/busybox"))
    parser.add_argument("--check", action="store_true",
                        help="only check: exit 0 if the image matches the scripts, 1 if stale, 2 if missing")
    args = parser.parse_args(argv)
    engine = [args.engine, *args.engine_option]
    if args.check:
        found = image_digest(engine, args.image)
        if found is None:
            print(f"{args.image}: missing")
            return 2
        if found != scripts_digest():
            print(f"{args.image}: stale (scripts changed since it was built)")
            return 1
        print(f"{args.image}: current")
        return 0
    build_image(engine, args.image, args.busybox)
    print(f"built {args.image} ({len(example_scripts())} examples' scripts under /scripts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
