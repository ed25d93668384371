"""Safe YAML reading with a source map, and atomic writes.

Only PyYAML's safe loader resolves tags, so ``!!python/object`` and friends are errors, never code.
Every value remembers the line it came from: ``SourceMap`` maps a path tuple (keys and list indices)
to a 1-based line. Limits guard against hostile input: file size, alias expansion (billion laughs),
nesting depth. Each limit has an option to raise it (``Limits``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sim.errors import InputError, Location

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Limits:
    """Input limits; every command that reads YAML accepts overrides."""

    max_bytes: int = 10 * 1024 * 1024
    max_nodes: int = 1_000_000
    max_depth: int = 200
    # What a scenario or an experiment may ask the simulator to do (sim.limits), not how big the YAML is.
    max_resources: int = 10_000  # resources of a scenario, counting `count` (the 10k bench fleet fits)
    max_faults: int = 10_000  # fault events the schedules give within the duration (`every`/`rate` expanded)
    max_reconciliations: int = 100_000  # objects x (1 + (duration + settle) / interval); the library needs 4,321
    max_runs: int = 10_000  # experiment runs: parameter points x replications


DEFAULT_LIMITS = Limits()


_PATH_TOKEN = re.compile(r"""\[(?P<index>\d+)\]|\["(?P<dq>[^"]*)"\]|\['(?P<sq>[^']*)'\]|(?P<key>[^.\[\]"']+)""")


def parse_path(text: str) -> PathKey:
    """``spec.resources[0].count`` -> ``("spec", "resources", 0, "count")``; keys with dots or slashes may be
    quoted: ``spec.behaviour.containers["resource/configure/a.b/c"].duration``."""
    tokens: list[str | int] = []
    pos = 0
    while pos < len(text):
        if tokens and text[pos] == ".":
            pos += 1
        elif tokens and text[pos] != "[":
            raise ValueError(f"invalid path {text!r} at character {pos + 1}: expected '.' or '['")
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"invalid path {text!r} at character {pos + 1}")
        if match["index"] is not None:
            tokens.append(int(match["index"]))
        else:
            key = next(g for g in (match["dq"], match["sq"], match["key"]) if g is not None)
            if not key:
                raise ValueError(f"invalid path {text!r}: empty key")
            tokens.append(key)
        pos = match.end()
    if not tokens or not isinstance(tokens[0], str):
        raise ValueError(f"invalid path {text!r}: it must start with a key such as spec")
    return tuple(tokens)


def format_path(path: PathKey) -> str:
    """``("spec", "workflows", "resource", "delete", 1)`` -> ``spec.workflows.resource.delete[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable():  # a line break or control character must not reach an error line
            text += f"[{part!r}]"
        else:
            text += ("." if text else "") + part
    return text


@dataclass
class SourceMap:
    """Lines of every mapping key, list item and scalar of one YAML document."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def at(self, path: PathKey) -> Location:
        return Location(self.file, format_path(path), self.line(path))


@dataclass
class YamlDocument:
    """One YAML document of a file: its data, its index in the file and where each value came from."""

    data: Any
    index: int
    source: SourceMap


_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
MERGE_TAG = "tag:yaml.org,2002:merge"  # the key of a YAML merge (<<)


class _Loader(yaml.SafeLoader):
    """The safe loader; node construction is ours, so we can count nodes and record lines."""


class _Builder:
    def __init__(self, loader: _Loader, source: SourceMap, limits: Limits) -> None:
        self.loader = loader
        self.source = source
        self.limits = limits
        self.visited = 0

    def build(self, node: Node, path: PathKey, depth: int) -> Any:
        self.visited += 1
        if self.visited > self.limits.max_nodes:
            raise InputError(
                f"document expands to more than {self.limits.max_nodes} YAML nodes (alias bomb?); "
                "raise the limit with --max-yaml-nodes",
                Location(self.source.file, format_path(path), node.start_mark.line + 1),
            )
        if depth > self.limits.max_depth:
            raise InputError(
                f"nesting deeper than {self.limits.max_depth} levels; raise the limit with --max-yaml-depth",
                Location(self.source.file, format_path(path), node.start_mark.line + 1),
            )
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
            # The safe loader would refuse these; our own construction must too (never drop a tag silently).
            raise InputError(
                f"unsupported YAML tag {node.tag!r} (only plain YAML is read)",
                Location(self.source.file, format_path(path), node.start_mark.line + 1),
            )
        if isinstance(node, MappingNode):
            explicit = sum(1 for key_node, _ in node.value if key_node.tag != MERGE_TAG)
            self.loader.flatten_mapping(node)  # YAML merge keys (<<): merged pairs first, in precedence order
            merged = len(node.value) - explicit
            result: dict[Any, Any] = {}
            written: set[Any] = set()  # keys written in this mapping itself (a merged one they override is fine)
            for index, (key_node, value_node) in enumerate(node.value):
                key = self.build(key_node, path, depth + 1)
                if isinstance(key, list | dict):
                    raise InputError(
                        "a mapping key must be a scalar", Location(self.source.file, format_path(path),
                                                                   key_node.start_mark.line + 1)
                    )
                child = (*path, str(key))
                if index >= merged:
                    if key in written:
                        raise InputError(
                            f"duplicate key {key!r}",
                            Location(self.source.file, format_path(child), key_node.start_mark.line + 1),
                        )
                    written.add(key)
                self.source.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child, depth + 1)
            return result
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise InputError(
                f"unsupported YAML tag {node.tag!r} (only plain YAML is read)",
                Location(self.source.file, format_path(path), node.start_mark.line + 1),
            ) from exc
        except (ValueError, OverflowError) as exc:  # e.g. a timestamp 2001-02-30 (datetime refuses it)
            raise InputError(
                f"invalid value {str(node.value)[:40]!r}: {exc}",
                Location(self.source.file, format_path(path), node.start_mark.line + 1),
            ) from exc


def read_text(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Read a UTF-8 text file, refusing directories, binaries and files over the size limit."""
    name = str(path)
    if not path.exists():
        raise InputError("no such file", Location(name))
    if path.is_dir():
        raise InputError("is a directory, not a file", Location(name))
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputError(
                f"file is {size} bytes, over the {limits.max_bytes}-byte limit; "
                "raise it with --max-file-bytes",
                Location(name),
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", Location(name)) from exc
    if b"\x00" in raw:
        raise InputError("binary file (contains NUL bytes), not text", Location(name))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", Location(name)) from exc


def parse_documents(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> Iterator[YamlDocument]:
    """Yield each non-empty document of a YAML stream with its source map."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise InputError(f"text is over the {limits.max_bytes}-byte limit", Location(file))
    try:
        loader = _Loader(text)  # the reader refuses control characters here, before any document
    except yaml.reader.ReaderError as exc:
        character = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise InputError(f"not YAML text: character {character!r} is not allowed",
                         Location(file, line=text.count("\n", 0, exc.position) + 1)) from exc
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            source = SourceMap(file)
            data = _Builder(loader, source, limits).build(node, (), 0)
            if data is not None:
                yield YamlDocument(data, index, source)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise InputError(f"YAML syntax error: {problem}", Location(file, line=line)) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", Location(file)) from exc
    except RecursionError as exc:
        raise InputError("YAML nested too deeply to read", Location(file)) from exc
    except ValueError as exc:  # the scanner's chr() of an escape beyond Unicode ("\U01000000")
        raise InputError(f"YAML syntax error: invalid escape ({exc})", Location(file, line=loader.line + 1)) from exc
    finally:
        loader.dispose()


def load_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[YamlDocument]:
    """All documents of one YAML file; an error names the file and line."""
    return list(parse_documents(read_text(path, limits), str(path), limits))


OUTPUT_MODE = 0o644  # what kratix-sim writes for the user: readable like any report or CI artifact


def source_date_epoch() -> datetime | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) as a time; None when unset. A value that is not a whole
    number of seconds since 1970 within the calendar is bad input: silently using the clock instead would
    break the byte-for-byte promise unnoticed."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    try:
        if not epoch.isdigit():
            raise ValueError
        return datetime.fromtimestamp(int(epoch), UTC)
    except (ValueError, OverflowError, OSError):
        raise InputError(f"SOURCE_DATE_EPOCH={epoch[:40]!r}: give a whole number of seconds since "
                         "1970-01-01T00:00:00Z (up to year 9999), or unset it") from None


def refuse_overwriting_inputs(outputs: Iterable[Path | None], inputs: Iterable[Path | None]) -> None:
    """Bad input when an output would replace one of the command's own input files (a typo that would destroy
    it; a YAML file under an input folder counts), or when two outputs are one file."""
    files: dict[str, Path] = {}
    folders: list[tuple[str, Path]] = []
    for source in inputs:
        if source is not None and source.is_file():
            files[os.path.realpath(source)] = source
        elif source is not None and source.is_dir():
            folders.append((os.path.realpath(source), source))
    written: dict[str, Path] = {}
    for output in outputs:
        if output is None:
            continue
        real = os.path.realpath(output)
        if real in files:
            raise InputError(f"output {output} is also an input of this command ({files[real]}): give another path")
        folder = next((given for root, given in folders if real.startswith(root + os.sep)), None)
        if folder is not None and Path(real).suffix in (".yaml", ".yml") and Path(real).is_file():
            raise InputError(f"output {output} would replace a file of the input folder {folder}: give another path")
        if real in written:
            raise InputError(f"two outputs go to one file: {written[real]} and {output}")
        written[real] = output


def write_atomic(path: Path, text: str, permissions: int = OUTPUT_MODE) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_writer(path, permissions) as handle:
        assert handle is not None
        handle.write(text)


@contextmanager
def atomic_writer(path: Path | None, permissions: int = OUTPUT_MODE) -> Iterator[IO[str] | None]:
    """A text handle whose content replaces ``path`` only if the block ends without an exception.

    ``None`` gives ``None`` (nothing to write). A failed or interrupted write (also SIGTERM, see
    ``sim.errors.Interrupted``) leaves the old file as it was and no ``.NAME.*.tmp`` beside it: the temporary
    file's name is chosen before it exists, so no signal can leave one behind unnamed.
    """
    if path is None:
        yield None
        return
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a folder; give a file name")
    if path.exists() and not path.is_file():  # /dev/null, /dev/stdout, a FIFO: a stream, written through
        try:
            stream = path.open("w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        with stream:
            yield stream
        return
    path = Path(os.path.realpath(path)) if path.is_symlink() else path  # replace the file a symlink points at
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:  # one cleanup for everything from the file's creation on (an interrupt may land right after it)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, permissions)
        except OSError as exc:  # an output the user named that cannot be written is bad input, not a bug
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, permissions)  # whatever the umask
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):  # absent, or under a path that is no folder: nothing to remove
            tmp.unlink()
        raise
