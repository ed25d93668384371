"""The compiled core: the engine's hot modules compiled to C with mypyc (issue 9), used only while current.

``scripts/build-native`` (``main`` below) compiles ``COMPILED`` into ``sim/_native/`` and
writes a manifest with a digest of every ``sim/**/*.py`` source. At ``import sim``, ``activate()`` puts the
compiled modules in front of the sources only when that digest still matches; otherwise, or with
``KRATIX_SIM_NATIVE=off``, the sources run as they are (the default: nothing is built by the install).
Rules:

- Same sources, same results: the compiled core must write byte-identical traces and metrics
  (tests/test_native.py runs the scenario library, a bench fleet and the mutants both ways).
- Never stale: any edit under ``sim/`` (mypyc inlines constants across modules) turns the compiled core off
  until it is rebuilt; ``scripts/build-native status`` says which core runs and why.
- ``KRATIX_SIM_NATIVE`` = ``off`` (or ``0``, ``false``, ``no``: interpreted), a folder (a core built with
  ``build --out``; relative to the working directory), or unset (``sim/_native/``).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE.parent
DEFAULT_DIR = PACKAGE / "_native"
MANIFEST = "manifest.json"
ENV = "KRATIX_SIM_NATIVE"

#: The modules a trace event runs through (profile in docs/performance.md), compiled together.
COMPILED = (
    "sim/cluster/api.py",
    "sim/cluster/kube.py",
    "sim/cluster/objects.py",
    "sim/cluster/steps.py",
    "sim/engine/controller.py",
    "sim/engine/decide.py",
    "sim/engine/queue.py",
    "sim/executors/base.py",
    "sim/executors/modelled.py",
    "sim/metrics.py",
    "sim/rng.py",
    "sim/simulation.py",
    "sim/trace.py",
)
MODULES = tuple(path.removesuffix(".py").replace("/", ".") for path in COMPILED)  # sim.cluster.api, ...


@dataclass(frozen=True)
class Status:
    compiled: bool
    detail: str

    def __str__(self) -> str:
        return f"{'compiled' if self.compiled else 'interpreted'} ({self.detail})"


STATUS = Status(False, "not activated")


def source_digest() -> str:
    """sha256 over every ``sim/**/*.py`` file (path and content, in sorted order) and the Python version.

    Only regular files count (an editor's lock file ``.#x.py`` is a dangling link); OSError if one cannot be
    read."""
    digest = hashlib.sha256(sys.implementation.cache_tag.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_file():
            digest.update(path.relative_to(SOURCE_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library) in the native folder, nothing else."""

    def __init__(self, locations: dict[str, Path]) -> None:
        self.locations = locations

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        location = self.locations.get(fullname)
        return None if location is None else importlib.util.spec_from_file_location(fullname, location)


def _read_manifest(directory: Path) -> tuple[dict[str, Path] | None, str]:
    """(module name -> compiled file, or None; why not)."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return None, f"not built: scripts/build-native build --out {directory} builds it"
    except (OSError, ValueError) as error:
        return None, f"unreadable manifest {directory / MANIFEST}: {error}"
    modules = manifest.get("modules") if isinstance(manifest, dict) else None
    compiled = set(MODULES)
    if not isinstance(modules, dict) or not all(
            isinstance(file, str) and (name in compiled or name.endswith("__mypyc")) for name, file in modules.items()):
        return None, f"{directory / MANIFEST} is not a compiled core's manifest"
    absent = sorted(compiled - modules.keys())
    if absent or sum(name.endswith("__mypyc") for name in modules) != 1:
        return None, f"{directory / MANIFEST} lacks {', '.join(absent) or 'the shared library'}: rebuild it"
    try:
        current = source_digest()
    except OSError as error:
        return None, f"cannot read the sources ({error})"
    if manifest.get("digest") != current:
        return None, f"{directory} was built from other sources: rebuild it with scripts/build-native"
    locations = {str(name): directory / file for name, file in sorted(modules.items())}
    missing = sorted(name for name, file in locations.items() if not file.is_file())
    if missing:
        return None, f"{directory} lacks {', '.join(missing)}: rebuild it with scripts/build-native"
    return locations, f"mypyc {manifest.get('mypyc', '?')}, {directory}"


def activate() -> Status:
    """Put the compiled core in front of the sources when it is current (see the module's rules)."""
    global STATUS
    setting = os.environ.get(ENV, "")
    if setting.lower() in ("off", "0", "false", "no"):
        STATUS = Status(False, f"{ENV}={setting}")
        return STATUS
    directory = Path(setting) if setting else DEFAULT_DIR
    if not (directory / MANIFEST).exists() and not setting:
        STATUS = Status(False, "not built: scripts/build-native builds it")
        return STATUS
    locations, detail = _read_manifest(directory)
    if locations is not None:
        sys.meta_path.insert(0, _Finder(locations))
    STATUS = Status(locations is not None, detail)
    return STATUS


def build(directory: Path = DEFAULT_DIR) -> Path:
    """Compile ``COMPILED`` with mypyc into ``directory`` (replaced as a whole); returns it.

    Runs in its own process (``scripts/build-native``): mypyc reads the project's mypy settings from
    the working directory, which this sets to the source tree."""
    import mypy.version
    from mypyc.build import mypycify  # the dev extras' mypy
    from setuptools import Distribution

    directory = directory.resolve()
    os.chdir(SOURCE_ROOT)
    digest = source_digest()
    with tempfile.TemporaryDirectory(prefix="kratix-sim-native-") as temp:  # outside the package
        staging = Path(temp) / "lib"
        extensions = mypycify(list(COMPILED), opt_level="3", target_dir=str(Path(temp) / "c"))
        distribution = Distribution({
            "name": "kratix-sim-native", "ext_modules": extensions, "script_name": "build-native",
            "script_args": ["-q", "build_ext", "--build-lib", str(staging), "--build-temp", str(Path(temp) / "obj")]})
        distribution.parse_command_line()  # the arguments above; no setup.cfg or pyproject.toml is read
        distribution.run_commands()
        modules = {_module_name(file.relative_to(staging)): file.relative_to(staging).as_posix()
                   for file in sorted(staging.rglob("*")) if file.is_file()}
        (staging / MANIFEST).write_text(json.dumps(
            {"digest": digest, "mypyc": mypy.version.__version__, "modules": modules}, indent=2) + "\n")
        directory.parent.mkdir(parents=True, exist_ok=True)
        if directory.exists():
            shutil.rmtree(directory)
        shutil.move(staging, directory)  # interrupted here: no core (the sources run), never a mix
    return directory


def is_core(directory: Path) -> bool:
    """A folder ``build`` wrote (its manifest names a digest and modules): the only kind it replaces or cleans."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and {"digest", "modules"} <= manifest.keys()


def _module_name(relative: Path) -> str:
    """``sim/engine/controller.cpython-311-x86_64-linux-gnu.so`` -> ``sim.engine.controller``."""
    return ".".join((*relative.parent.parts, relative.name.split(".", 1)[0]))


def main(argv: list[str]) -> int:
    usage = "usage: scripts/build-native [build [--out DIR] | clean [--out DIR] | status]"
    if not argv or argv[0] not in ("build", "clean", "status"):
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    directory = DEFAULT_DIR
    if rest[:1] == ["--out"] and len(rest) == 2 and command != "status":
        directory = Path(rest[1]).resolve()  # against the caller's folder, as KRATIX_SIM_NATIVE is
    elif rest:
        print(usage, file=sys.stderr)
        return 2
    if command == "status":
        print(STATUS)
        return 0
    ours = directory == DEFAULT_DIR or is_core(directory)  # sim/_native belongs to this tool, even broken
    try:
        if command == "clean":
            if ours and directory.is_dir():
                shutil.rmtree(directory)
                print(f"removed the compiled core in {directory}")
            else:
                print(f"no compiled core in {directory}")
            return 0
        if directory.exists() and not ours and (not directory.is_dir() or any(directory.iterdir())):
            print(f"build-native: {directory} exists and is not a compiled core; name a new folder", file=sys.stderr)
            return 2
        started = time.perf_counter()
        built = build(directory)
    except KeyboardInterrupt:
        print("build-native: interrupted; no new core was built", file=sys.stderr)
        return 130
    except ImportError as error:
        print(f"build-native: mypyc is not installed ({error}): pip install -e '.[dev]'", file=sys.stderr)
        return 2
    except SystemExit:  # mypyc's own errors, printed above
        print("build-native: mypyc refused the sources (its errors are above)", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"build-native: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # setuptools' CompileError and friends: the compiler's output is above
        print(f"build-native: the C build failed ({type(error).__name__}: {error}); it needs a C compiler and "
              "the Python headers (apt-get install gcc python3-dev)", file=sys.stderr)
        return 2
    print(f"built the compiled core ({len(COMPILED)} modules) into {built} in {time.perf_counter() - started:.0f} s")
    return 0
