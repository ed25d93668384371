"""Static lint of a Promise's pipeline scripts: patterns that break idempotency or the pipeline contract.

What is read: every container's inline script (``command``/``args`` of the form ``sh -c SCRIPT``, any shell,
any option cluster with ``c``), and the script files a container runs or sources, found in the scripts
folders the user points at (``--scripts DIR[:TARGET]``: the files of DIR are what the containers see under
TARGET). Files of those folders that no container mentions are linted on their own (every check but the
P5 one, which needs the whole Pipeline).

What is reported (warnings, each with file and line):

- ``I4`` randomness and the clock: ``$RANDOM``, ``uuidgen``, ``/dev/urandom``, ``/proc/sys/kernel/random/uuid``,
  ``openssl rand``, and ``date`` without a pinned time (``-d``/``--date``, ``-r``/``--reference``,
  ``-f``/``--file``). Fine when the value is generated once and pinned in ``.status``: review.
- ``I2`` ``>>`` (or ``tee -a``) into ``/kratix/metadata``: a retry in the same pod appends twice.
- ``P1`` writes to ``/kratix/input`` (redirections, ``cp``/``mv``/``install``/``ln`` into it, ``touch``,
  ``rm``, ``mkdir``, ``tee``, ``sed -i``, ``yq -i``, ``dd of=`` ...): it is read-only.
- ``P5`` reads of a ``/kratix/metadata`` file that no container of the same Pipeline writes (metadata is
  per pod; a test such as ``[ -f FILE ]`` guards the reads of that file).
- ``I1`` (configure) / ``I6`` (delete) unguarded network calls: ``curl``/``wget``, cloud CLIs (``aws``,
  ``gcloud``, ``gsutil``, ``az``, ``vault``, ``doctl``, ``oci``, ``terraform``/``tofu``, ``pulumi``) unless
  the verb only reads (``describe*``, ``get*``, ``list*``, ``show``, ``read``, ``ls``, ``plan``, ...), and
  ``kubectl apply|create|replace`` without ``--dry-run``. A call is guarded when it is a condition
  (``if``/``while``/``until``), is followed by ``||``, follows ``&&``/``||``, or sits inside an ``if`` or
  ``case`` block (describe before create).

The shell is read line by line: comments and quoted heredoc bodies are skipped, unquoted heredoc bodies are
checked for expansions (``$RANDOM``, ``$(date)``, ``$(uuidgen)``). Paths built from variables
(``"$META/x"``) and ``cd`` into a volume are not followed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.idempotency.findings import Finding
from sim.errors import InputError
from sim.model.loader import LoadedPromise

INPUT = "/kratix/input"
METADATA = "/kratix/metadata"
DEFAULT_SCRIPTS_TARGET = "/scripts"
SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"})
MAX_SCRIPT_BYTES = 1024 * 1024
WORKFLOW_TYPES = ("resource", "promise")
ACTIONS = ("configure", "delete")

_HEREDOC = re.compile(r"(?<!<)<<(?!<)(-?)[ \t]*(\\?)(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\3")
_RANDOM_VAR = re.compile(r"\$\{?RANDOM\b")
_RANDOM_SOURCES = (
    (re.compile(r"\buuidgen\b"), "`uuidgen`"),
    (re.compile(r"/proc/sys/kernel/random/uuid\b"), "`/proc/sys/kernel/random/uuid`"),
    (re.compile(r"/dev/u?random\b"), "`/dev/urandom`"),
    (re.compile(r"\bopenssl\s+rand\b"), "`openssl rand`"),
)
_SUBSTITUTION = re.compile(r"\$\(((?:[^()]|\([^()]*\))*)\)|`([^`]*)`")
_ABSOLUTE_PATH = re.compile(r"(?<![\w$}])(/[A-Za-z0-9_.+@-]+(?:/[A-Za-z0-9_.+@-]+)*)")
_METADATA_FILE = re.compile(re.escape(METADATA) + r"/([A-Za-z0-9_.+@-][A-Za-z0-9_.+@/-]*)")
_SHELL_C_OPTION = re.compile(r"-[a-zA-Z]*c[a-zA-Z]*")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*\s*(#.*)?$")
_READ_VERB = re.compile(r"(describe|get|list|show|read|ls|status|version|help|whoami|wait|plan|output|validate|"
                        r"head|lookup|search|info|inspect|fmt|init|preview)([-_].*)?", re.IGNORECASE)
_CLOUD_CLIS = frozenset({"aws", "gcloud", "gsutil", "az", "vault", "doctl", "oci", "ibmcloud", "terraform", "tofu",
                         "pulumi"})
_INPUT_WRITERS_ANY = frozenset({"touch", "rm", "rmdir", "mkdir", "tee", "truncate", "chmod", "chown", "unlink",
                                "shred", "mkfifo"})
_INPUT_WRITERS_DEST = frozenset({"cp", "mv", "install", "ln", "rsync"})
_PREFIX_WORDS = frozenset({"then", "else", "do", "!", "{", "time", "exec", "command", "sudo", "nohup", "env",
                           "builtin"})
_CONDITION_WORDS = frozenset({"if", "elif", "while", "until"})
_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "(", ")")
_REDIRECTION = re.compile(r"\d*(?:&>>|&>|>>|>\||>&|>|<<<|<<-|<<|<&|<>|<)")


# -- where scripts come from -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScriptDir:
    """A folder of scripts (``host``) that containers see at ``target`` (None: infer it)."""

    host: Path
    target: str | None = None

    @classmethod
    def parse(cls, spec: str) -> ScriptDir:
        """``DIR`` or ``DIR:TARGET`` (TARGET absolute)."""
        head, sep, tail = spec.rpartition(":")
        if sep and tail.startswith("/") and head:
            host, target = Path(head), tail.rstrip("/") or "/"
        else:
            host, target = Path(spec), None
        if not host.is_dir():
            raise InputError(f"--scripts {spec}: {host} is not a folder")
        return cls(host, target)


@dataclass(frozen=True)
class Script:
    """Shell text to lint and where it came from: line ``first_line`` of ``file`` is its first line."""

    text: str
    file: str
    first_line: int = 1
    pipeline: str | None = None
    container: str | None = None
    action: str | None = None
    group: str | None = None  # the Pipeline (workflow/action/name) whose containers share /kratix/metadata


@dataclass
class ContainerCommand:
    workflow: str
    action: str
    pipeline: str
    container: str
    words: list[tuple[str, tuple[Any, ...]]]  # command + args with their YAML paths


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _containers(loaded: LoadedPromise) -> Iterator[ContainerCommand]:
    spec = loaded.raw.get("spec")
    workflows = spec.get("workflows") if isinstance(spec, dict) else None
    if not isinstance(workflows, dict):
        return
    for workflow in WORKFLOW_TYPES:
        actions = workflows.get(workflow)
        if not isinstance(actions, dict):
            continue
        for action in ACTIONS:
            pipelines = actions.get(action)
            if not isinstance(pipelines, list):
                continue
            for p_index, pipeline in enumerate(pipelines):
                if not isinstance(pipeline, dict):
                    continue
                metadata = _mapping(pipeline.get("metadata"))
                name = str(metadata.get("name", f"pipeline-{p_index}"))
                containers = _mapping(pipeline.get("spec")).get("containers")
                if not isinstance(containers, list):
                    continue
                for c_index, container in enumerate(containers):
                    if not isinstance(container, dict):
                        continue
                    base = ("spec", "workflows", workflow, action, p_index, "spec", "containers", c_index)
                    words: list[tuple[str, tuple[Any, ...]]] = []
                    for key in ("command", "args"):
                        values = container.get(key)
                        if isinstance(values, list):
                            words += [(str(v), (*base, key, i)) for i, v in enumerate(values) if v is not None]
                    yield ContainerCommand(workflow, action, name, str(container.get("name", f"container-{c_index}")),
                                           words)


def _inline_script(words: Sequence[tuple[str, tuple[Any, ...]]]) -> tuple[str, tuple[Any, ...]] | None:
    if not words or os.path.basename(words[0][0]) not in SHELLS:
        return None
    start = 2 if os.path.basename(words[0][0]) == "busybox" else 1
    for index in range(start, len(words) - 1):
        if _SHELL_C_OPTION.fullmatch(words[index][0]):
            return words[index + 1]
        if not words[index][0].startswith("-"):
            return None
    return None


def infer_target(directory: Path, commands: Sequence[ContainerCommand]) -> str:
    """Where containers see ``directory``: the prefix of the absolute paths they mention whose rest is a file
    of ``directory`` (most votes); ``/scripts`` when none matches."""
    votes: dict[str, int] = {}
    for command in commands:
        for word, _ in command.words:
            for path in _ABSOLUTE_PATH.findall(word):
                parts = path.strip("/").split("/")
                for cut in range(len(parts) - 1, -1, -1):
                    rel = "/".join(parts[cut:])
                    if rel and (directory / rel).is_file():
                        prefix = "/" + "/".join(parts[:cut])
                        votes[prefix] = votes.get(prefix, 0) + 1
                        break
    if not votes:
        return DEFAULT_SCRIPTS_TARGET
    return max(sorted(votes), key=lambda prefix: votes[prefix])


def resolve_dirs(dirs: Sequence[ScriptDir], loaded: LoadedPromise) -> list[ScriptDir]:
    """``dirs`` with every missing target inferred."""
    commands = list(_containers(loaded))
    return [d if d.target is not None else ScriptDir(d.host, infer_target(d.host, commands)) for d in dirs]


def _read_script(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_SCRIPT_BYTES:
            return None
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _is_shell_file(path: Path) -> bool:
    if path.suffix in (".sh", ".bash"):
        return True
    text = _read_script(path)
    first = text.splitlines()[0] if text else ""
    return first.startswith("#!") and any(os.path.basename(w) in SHELLS for w in first[2:].split())


def _resolve(word_or_text: str, dirs: Sequence[ScriptDir]) -> list[Path]:
    found: list[Path] = []
    for path in _ABSOLUTE_PATH.findall(word_or_text):
        for directory in dirs:
            target = directory.target or DEFAULT_SCRIPTS_TARGET
            if path.startswith(target.rstrip("/") + "/"):
                candidate = directory.host / path[len(target.rstrip("/")) + 1:]
                if candidate.is_file() and candidate not in found:
                    found.append(candidate)
    return found


def _line_of(loaded: LoadedPromise, path: tuple[Any, ...], source_lines: list[str]) -> int:
    line = loaded.at(path).line or 1
    text = source_lines[line - 1] if 0 < line <= len(source_lines) else ""
    return line + 1 if _BLOCK_SCALAR.search(text.rstrip()) else line


def collect_scripts(loaded: LoadedPromise, dirs: Sequence[ScriptDir]) -> list[Script]:
    """Every inline script and every script file the Promise's containers run (or source), then the other
    shell files of ``dirs`` on their own. ``dirs`` must have their targets (``resolve_dirs``)."""
    try:
        source_lines = Path(loaded.file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        source_lines = []
    scripts: list[Script] = []
    used: set[Path] = set()
    for command in _containers(loaded):
        group = f"{command.workflow}/{command.action}/{command.pipeline}"
        context = {"pipeline": command.pipeline, "container": command.container, "action": command.action,
                   "group": group}
        texts: list[str] = [word for word, _ in command.words]
        inline = _inline_script(command.words)
        if inline is not None:
            scripts.append(Script(inline[0], loaded.file, _line_of(loaded, inline[1], source_lines), **context))
        queue = [p for text in texts for p in _resolve(text, dirs)]
        seen: set[Path] = set()
        while queue:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            text = _read_script(path)
            if text is None:
                continue
            used.add(path)
            scripts.append(Script(text, str(path), 1, **context))
            queue += _resolve(text, dirs)
    for directory in dirs:
        for path in sorted(p for p in directory.host.rglob("*") if p.is_file()):
            if path in used or not _is_shell_file(path):
                continue
            text = _read_script(path)
            if text is not None:
                scripts.append(Script(text, str(path)))
    return scripts


def unresolved_scripts(loaded: LoadedPromise, dirs: Sequence[ScriptDir]) -> list[str]:
    """Script paths containers run with a shell (``sh /path/x.sh``) that no scripts folder holds: not linted."""
    missing: list[str] = []
    for command in _containers(loaded):
        words = [word for word, _ in command.words]
        if len(words) >= 2 and os.path.basename(words[0]) in SHELLS and words[1].startswith("/") \
                and not _resolve(words[1], dirs) and words[1] not in missing:
            missing.append(words[1])
    return missing


# -- reading shell ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShellLine:
    number: int  # 1-based in the script
    code: str  # the command text without comments ("" in a heredoc body)
    body: str | None = None  # a heredoc body line
    expands: bool = False  # the body's delimiter is unquoted: $(...), $VAR expand


def _strip_comment(line: str, quote: str | None) -> tuple[str, str | None]:
    out: list[str] = []
    index = 0
    while index < len(line):
        char = line[index]
        if quote == "'":
            if char == "'":
                quote = None
        elif quote == '"':
            if char == "\\" and index + 1 < len(line):
                out += [char, line[index + 1]]
                index += 2
                continue
            if char == '"':
                quote = None
        else:
            if char == "\\" and index + 1 < len(line):
                out += [char, line[index + 1]]
                index += 2
                continue
            if char in "'\"":
                quote = char
            elif char == "#" and (index == 0 or line[index - 1] in " \t;&|()"):
                break
        out.append(char)
        index += 1
    return "".join(out), quote


def shell_lines(text: str) -> Iterator[ShellLine]:
    """The script's lines as commands (comments removed) or heredoc bodies."""
    quote: str | None = None
    pending: list[tuple[str, bool, bool]] = []  # (delimiter, strip tabs, expands)
    current: tuple[str, bool, bool] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if current is not None:
            delimiter, strip_tabs, expands = current
            candidate = raw.lstrip("\t") if strip_tabs else raw
            if candidate == delimiter:
                current = pending.pop(0) if pending else None
                continue
            yield ShellLine(number, "", raw, expands)
            continue
        code, quote = _strip_comment(raw, quote)
        yield ShellLine(number, code)
        if quote is None:
            for match in _HEREDOC.finditer(code):
                pending.append((match.group(4), match.group(1) == "-", not (match.group(2) or match.group(3))))
            if pending:
                current = pending.pop(0)


# -- tokens and simple commands ------------------------------------------------------------------------
@dataclass
class Segment:
    """One simple command: its words (quotes removed), redirections, and what joins it to its neighbours."""

    words: list[str] = field(default_factory=list)
    redirections: list[tuple[str, str]] = field(default_factory=list)
    before: str = ""  # the operator before it
    after: str = ""  # the operator after it


def _read_word(code: str, index: int) -> tuple[str, int]:
    out: list[str] = []
    depth = 0
    quote: str | None = None
    while index < len(code):
        char = code[index]
        if quote == "'":
            if char == "'":
                quote = None
            else:
                out.append(char)
            index += 1
            continue
        if char == "\\" and index + 1 < len(code):
            out.append(code[index + 1])
            index += 2
            continue
        if quote == '"':
            if char == '"':
                quote = None
            else:
                out.append(char)
            index += 1
            continue
        if char in "'\"" and depth == 0:
            quote = char
            index += 1
            continue
        if code.startswith("$(", index):
            depth += 1
            out.append("$(")
            index += 2
            continue
        if depth and char == "(":
            depth += 1
        elif depth and char == ")":
            depth -= 1
        elif depth == 0 and (char in " \t;&|()<>"):
            break
        out.append(char)
        index += 1
    return "".join(out), index


def segments(code: str) -> list[Segment]:
    """The simple commands of one line (operators ``;`` ``&&`` ``||`` ``|`` ``&`` split them)."""
    result: list[Segment] = [Segment()]
    index = 0
    pending_redirection: str | None = None
    while index < len(code):
        char = code[index]
        if char in " \t":
            index += 1
            continue
        redirection = _REDIRECTION.match(code, index)
        if redirection and not code.startswith(("&&", "||"), index):
            op = redirection.group(0)
            index = redirection.end()
            if op.endswith("&") and index < len(code) and (code[index].isdigit() or code[index] == "-"):
                index += 1  # 2>&1, >&-
                continue
            pending_redirection = op
            continue
        operator = next((op for op in _OPERATORS if code.startswith(op, index)), None)
        if operator is not None:
            result[-1].after = operator
            result.append(Segment(before=operator))
            index += len(operator)
            continue
        word, index = _read_word(code, index)
        if not word:
            index += 1
            continue
        if pending_redirection is not None:
            result[-1].redirections.append((pending_redirection, word))
            pending_redirection = None
        else:
            result[-1].words.append(word)
    return [s for s in result if s.words or s.redirections]


def _substitutions(text: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _SUBSTITUTION.finditer(text)]


# -- checks ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    rule: str
    line: int
    message: str


def _date_pinned(args: Sequence[str]) -> bool:
    for arg in args:
        if arg in ("--date", "--reference", "--file") or arg.startswith(("--date=", "--reference=", "--file=")):
            return True
        if arg.startswith("-") and not arg.startswith("--"):
            for letter in arg[1:]:
                if letter in "drf":
                    return True
                if letter == "I":
                    break
    return False


class _ScriptLint:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.hits: list[Hit] = []
        self.metadata_writes: set[str] = set()
        self.metadata_tests: set[str] = set()
        self.metadata_reads: list[tuple[str, int]] = []
        self.depth = 0

    def hit(self, rule: str, number: int, message: str) -> None:
        self.hits.append(Hit(rule, self.script.first_line + number - 1, message))

    def run(self) -> _ScriptLint:
        for line in shell_lines(self.script.text):
            if line.body is not None:
                if line.expands:
                    self._expansions(line.body, line.number)
                continue
            self._code(line.code, line.number, substitution=False)
        return self

    def _expansions(self, text: str, number: int) -> None:
        if _RANDOM_VAR.search(text):
            self.hit("I4", number, "`$RANDOM` (in a heredoc): a different value on every run; derive it from the "
                                   "object (a hash of namespace/name) or generate it once and pin it in .status")
        for inner in _substitutions(text):
            self._code(inner, number, substitution=True)

    def _code(self, code: str, number: int, *, substitution: bool) -> None:
        if not code.strip():
            return
        if _RANDOM_VAR.search(code):
            self.hit("I4", number, "`$RANDOM`: a different value on every run; derive it from the object (a hash of "
                                   "namespace/name) or generate it once and pin it in .status")
        for pattern, name in _RANDOM_SOURCES:
            if pattern.search(code):
                self.hit("I4", number, f"{name}: randomness gives a different value on every run; derive it from "
                                       "the object, or generate it once and pin it in .status")
        for inner in _substitutions(code):
            self._code(inner, number, substitution=True)
        for segment in segments(code):
            self._segment(segment, number)

    def _command_words(self, segment: Segment) -> tuple[list[str], bool]:
        """The segment's words from the command name on, and whether it is a condition."""
        words = list(segment.words)
        condition = False
        while words:
            head = words[0]
            if head in _CONDITION_WORDS:
                condition = True
                if head == "if":
                    self.depth += 1
                words.pop(0)
            elif head == "case":
                self.depth += 1
                return [], False
            elif head in ("fi", "esac"):
                self.depth = max(0, self.depth - 1)
                words.pop(0)
            elif head == "command" and len(words) > 1 and words[1] in ("-v", "-V"):
                return [], condition  # a lookup, not a call
            elif head in _PREFIX_WORDS:
                words.pop(0)
                while words and (words[0].startswith("-") or _ASSIGNMENT.match(words[0])):
                    words.pop(0)
            elif (assignment := _ASSIGNMENT.match(head)) is not None:
                if head[assignment.end():].startswith(("$(", "`")):
                    return [], condition  # the substitution is linted on its own
                words.pop(0)
            else:
                break
        return words, condition

    def _segment(self, segment: Segment, number: int) -> None:
        for op, target in segment.redirections:
            writes = ">" in op
            self._path_use(target, number, write=writes, append=">>" in op, how=f"`{op} {target}`")
        words, condition = self._command_words(segment)
        if not words:
            return
        command = os.path.basename(words[0])
        args = words[1:]
        plain = [a for a in args if not a.startswith("-")]
        if command == "date" and not _date_pinned(args):
            self.hit("I4", number, "`date` reads the clock: output that depends on the time changes on every run; "
                                   "leave the time out, or pin the first value in .status (`date -d` with it)")
        in_place = command in ("sed", "perl", "yq") and any(
            a == "-i" or a.startswith(("-i", "--in-place")) or (a.startswith("-") and not a.startswith("--")
                                                                 and "i" in a[1:] and command == "sed")
            for a in args)
        if command in ("[", "[[", "test"):
            for arg in args:
                for name in _METADATA_FILE.findall(arg):
                    self.metadata_tests.add(name.rstrip("/"))
            return
        destination = plain[-1] if command in _INPUT_WRITERS_DEST and len(plain) >= 2 else None
        for arg in args:
            value = arg.split("=", 1)[1] if command == "dd" and arg.startswith(("of=", "if=")) else arg
            write = (command in _INPUT_WRITERS_ANY and not arg.startswith("-")) or arg == destination or in_place \
                or (command == "dd" and arg.startswith("of="))
            append = command == "tee" and any(a in ("-a", "--append") for a in args)
            self._path_use(value, number, write=write, append=append, how=f"`{command} ... {value}`",
                           edit=in_place)
        self._network(command, args, number, guarded=condition or self.depth > 0 or segment.after == "||"
                      or segment.before in ("&&", "||"))

    def _path_use(self, path: str, number: int, *, write: bool, append: bool, how: str, edit: bool = False) -> None:
        if write and (path == INPUT or path.startswith(INPUT + "/")):
            self.hit("P1", number, f"writes to {INPUT} ({how}): the input volume is read-only, so this fails; "
                                   "write a copy to /tmp or /kratix/output")
        for name in _METADATA_FILE.findall(path):
            name = name.rstrip("/")
            if "$" in name:
                continue
            if write and append:
                self.hit("I2", number, f"appends to {METADATA}/{name} ({how}): a retry in the same pod "
                                       "(restartPolicy OnFailure keeps the volume) writes it twice; write with `>`")
            if write and not edit:
                self.metadata_writes.add(name)
            else:
                self.metadata_reads.append((name, number))

    def _network(self, command: str, args: list[str], number: int, *, guarded: bool) -> None:
        if guarded:
            return
        plain = [a for a in args if not a.startswith("-")]
        call: str | None = None
        if command in ("curl", "wget", "http", "https"):
            if not any(a in ("-I", "--head", "--spider") for a in args):
                call = command
        elif command == "kubectl":
            verb = plain[0] if plain else ""
            if verb in ("apply", "create", "replace") and not any(a.startswith("--dry-run") for a in args):
                call = f"kubectl {verb}"
        elif command in _CLOUD_CLIS:
            verbs = plain[:3]
            if verbs and not any(_READ_VERB.fullmatch(v) for v in verbs):
                call = " ".join([command, *verbs])
        if call is None:
            return
        if self.script.action == "delete":
            self.hit("I6", number, f"`{call}`: an unguarded network call in a delete pipeline fails when it runs "
                                   "again after the thing is gone; treat 404/not found as done")
        else:
            self.hit("I1", number, f"`{call}`: an unguarded network call repeats on every run (and fails when the "
                                   "thing already exists); describe before create, treat 409 as success")


def lint(scripts: Sequence[Script]) -> list[Finding]:
    """Warnings for ``scripts`` (see the module docstring), one per rule, file, line and message."""
    findings: list[Finding] = []
    linted = [(script, _ScriptLint(script).run()) for script in scripts]
    writes: dict[str, set[str]] = {}
    tests: dict[str, set[str]] = {}
    for script, result in linted:
        if script.group is not None:
            writes.setdefault(script.group, set()).update(result.metadata_writes)
            tests.setdefault(script.group, set()).update(result.metadata_tests)
    for script, result in linted:
        hits = list(result.hits)
        if script.group is not None:
            for name, number in result.metadata_reads:
                if name not in writes[script.group] and name not in tests[script.group]:
                    hits.append(Hit("P5", script.first_line + number - 1,
                                    f"reads {METADATA}/{name}, which no container of Pipeline {script.pipeline!r} "
                                    "writes: metadata is per pod (not shared across Pipelines), so it is never "
                                    "there; pass values through .status"))
        for hit in hits:
            findings.append(Finding(hit.rule, "warning", hit.message, script.pipeline, script.container, script.file,
                                    None, line=hit.line, source="lint"))
    seen: set[tuple[Any, ...]] = set()
    unique: list[Finding] = []
    for finding in findings:
        key = (finding.rule, finding.file, finding.line, finding.message)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def lint_promise(loaded: LoadedPromise, dirs: Sequence[ScriptDir]) -> list[Finding]:
    """Lint every script of a Promise (inline, and the files of ``dirs`` its containers use)."""
    return lint(collect_scripts(loaded, resolve_dirs(dirs, loaded)))
