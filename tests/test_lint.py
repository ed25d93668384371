"""The static lint of pipeline scripts (``conformance.idempotency.lint``): each check with its line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_pipeline_contract import EXAMPLES_DIR

from conformance.idempotency.lint import (
    Script,
    ScriptDir,
    collect_scripts,
    infer_target,
    lint,
    lint_promise,
    resolve_dirs,
    segments,
    shell_lines,
    unresolved_scripts,
)
from sim.cli import main
from sim.errors import InputError
from sim.model.loader import load_promise


def hits(text: str, *, action: str = "configure", group: str | None = "resource/configure/p") -> list[tuple[str, int]]:
    """(rule, line) of every warning for one script."""
    script = Script(text, "s.sh", 1, "p", "c", action, group)
    return sorted((f.rule, f.line or 0) for f in lint([script]))


# -- reading shell -------------------------------------------------------------------------------------------
def test_comments_and_heredocs() -> None:
    text = "\n".join([
        "echo hi # $RANDOM in a comment",  # 1
        "cat > /kratix/output/a <<'EOF'",  # 2
        "literal $RANDOM $(date)",  # 3
        "EOF",  # 4
        "cat > /kratix/output/b <<-EOF",  # 5
        "\tx: $(uuidgen)",  # 6
        "\tEOF",  # 7
        "echo 'quoted # not a comment' $RANDOM",  # 8
    ])
    lines = list(shell_lines(text))
    assert [(line.number, line.body is not None, line.expands) for line in lines] == [
        (1, False, False), (2, False, False), (3, True, False), (5, False, False), (6, True, True), (8, False, False)]
    assert lines[0].code == "echo hi "
    assert hits(text) == [("I4", 6), ("I4", 8)]


def test_segments_split_commands_and_redirections() -> None:
    parts = segments("a=1 b | tee -a /kratix/metadata/x && cp \"/in put\" /kratix/input/ 2>&1 || echo $(date -u) >> f")
    assert [(s.words, s.redirections, s.before, s.after) for s in parts] == [
        (["a=1", "b"], [], "", "|"),
        (["tee", "-a", "/kratix/metadata/x"], [], "|", "&&"),
        (["cp", "/in put", "/kratix/input/"], [], "&&", "||"),
        (["echo", "$(date -u)"], [(">>", "f")], "||", ""),
    ]


# -- each check ----------------------------------------------------------------------------------------------
def test_randomness_and_the_clock() -> None:
    text = "\n".join([
        "a=$RANDOM",  # 1
        "b=${RANDOM}",  # 2
        "c=$(uuidgen)",  # 3
        "d=$(head -c 8 /dev/urandom | od -An -tx1)",  # 4
        "e=$(cat /proc/sys/kernel/random/uuid)",  # 5
        "f=$(openssl rand -hex 8)",  # 6
        "now=$(date -u +%Y-%m-%dT%H:%M:%SZ)",  # 7
        "date > /kratix/output/when",  # 8
        "echo \"at `date`\"",  # 9
        "pinned=$(date -u -d \"@$created\" +%F)",  # 10
        "ref=$(date -r /kratix/input/object.yaml +%s)",  # 11
        "iso=$(date -Iseconds)",  # 12
        "echo update the date later",  # 13: not a command
        "TZ=UTC date +%H",  # 14
    ])
    assert hits(text) == [("I4", n) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 14)]


def test_appends_into_metadata() -> None:
    text = "\n".join([
        "echo a >> /kratix/metadata/status.yaml",  # 1
        "cat >>/kratix/metadata/destination-selectors.yaml <<EOF",  # 2
        "- matchLabels: {a: b}",
        "EOF",
        "echo b > /kratix/metadata/status.yaml",  # 5: fine
        "echo c | tee -a /kratix/metadata/extra.yaml",  # 6
        "echo d >> /kratix/output/log.txt",  # 7: output is not retried on dirty metadata... but fine
    ])
    assert hits(text) == [("I2", 1), ("I2", 2), ("I2", 6)]


def test_writes_to_input() -> None:
    text = "\n".join([
        "cp /kratix/input/object.yaml /kratix/input/object.yaml.orig",  # 1
        "sed -i 's/a/b/' /kratix/input/object.yaml",  # 2
        "echo x > /kratix/input/extra",  # 3
        "touch /kratix/input/marker",  # 4
        "cp /kratix/input/object.yaml /tmp/object.yaml",  # 5: reading is fine
        "yq -i '.a = 1' /kratix/input/object.yaml",  # 6
        "mv /tmp/x /kratix/input",  # 7
        "awk '{print}' /kratix/input/object.yaml > /kratix/output/o",  # 8: fine
        "dd if=/dev/zero of=/kratix/input/blob count=1",  # 9
    ])
    assert [(r, n) for r, n in hits(text) if r == "P1"] == [("P1", n) for n in (1, 2, 3, 4, 6, 7, 9)]


def test_metadata_reads_need_a_write_in_the_same_pipeline() -> None:
    reader = Script("x=$(cat /kratix/metadata/values.env)\n. /kratix/metadata/more.env\n", "render.sh", 1,
                    "render", "render", "configure", "resource/configure/render")
    writer = Script("echo A=1 > /kratix/metadata/values.env\n", "gen.sh", 1, "render", "gen", "configure",
                    "resource/configure/render")
    other = Script("echo A=1 > /kratix/metadata/more.env\n", "other.sh", 1, "generate", "gen", "configure",
                   "resource/configure/generate")
    found = [(f.rule, f.file, f.line, f.pipeline) for f in lint([reader, writer, other])]
    assert found == [("P5", "render.sh", 2, "render")]  # values.env is written in render; more.env only elsewhere
    guarded = Script("[ -f /kratix/metadata/x ] && cat /kratix/metadata/x\n", "g.sh", 1, "p", "c", "configure", "g")
    assert lint([guarded]) == []
    standalone = Script("cat /kratix/metadata/values.env\n", "alone.sh")
    assert lint([standalone]) == []  # no Pipeline known: not judged


def test_unguarded_network_calls() -> None:
    text = "\n".join([
        "curl -X POST https://hooks.example.com/notify",  # 1
        "curl -fsS https://api.example.com/x || true",  # 2: guarded (||)
        "if ! aws rds describe-db-instances --db-instance-identifier db; then",  # 3: a read, a condition
        "  aws rds create-db-instance --db-instance-identifier db",  # 4: inside if: guarded
        "fi",
        "aws s3 mb s3://bucket",  # 6
        "kubectl apply -f /kratix/output/x.yaml",  # 7
        "kubectl apply --dry-run=client -f x.yaml",  # 8: fine
        "kubectl get ns",  # 9: fine
        "vault secrets enable -path=kv kv-v2",  # 10
        "out=$(curl -s https://api.example.com/y)",  # 11
        "gcloud sql instances list",  # 12: a read
        "command -v curl >/dev/null",  # 13: a lookup
        "terraform apply -auto-approve",  # 14
    ])
    assert hits(text) == [("I1", n) for n in (1, 6, 7, 10, 11, 14)]
    assert hits("aws rds delete-db-instance --db-instance-identifier db\n", action="delete") == [("I6", 1)]


# -- where scripts come from ---------------------------------------------------------------------------------
PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: demo
spec:
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: make}
          spec:
            containers:
              - name: inline
                image: busybox
                command: [sh, -ec]
                args:
                  - |
                    echo start
                    id=$RANDOM
                    cat /kratix/metadata/from-file.env
              - name: one-liner
                image: busybox
                command: ["/bin/bash", "-c", "echo $(uuidgen) > /kratix/output/id"]
              - name: file
                image: busybox
                command: [sh, /opt/steps/step.sh]
      delete:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: remove}
          spec:
            containers:
              - name: remove
                image: busybox
                command: [sh, -c, "curl -X DELETE https://api.example.com/thing"]
"""


@pytest.fixture
def promise_dir(tmp_path: Path) -> Path:
    (tmp_path / "promise.yaml").write_text(PROMISE)
    scripts = tmp_path / "steps"
    scripts.mkdir()
    (scripts / "step.sh").write_text("#!/bin/sh\nset -eu\n. /opt/steps/lib.sh\n"
                                     "echo ok > /kratix/metadata/from-file.env\n")
    (scripts / "lib.sh").write_text("stamp=$(date)\n")
    (scripts / "unused.sh").write_text("#!/bin/sh\necho $RANDOM\ncat /kratix/metadata/never.yaml\n")
    (scripts / "README.md").write_text("$RANDOM is not a script here\n")
    return tmp_path


def test_inline_and_referenced_scripts_with_their_lines(promise_dir: Path) -> None:
    loaded = load_promise(promise_dir / "promise.yaml")
    dirs = resolve_dirs([ScriptDir(promise_dir / "steps")], loaded)
    assert dirs[0].target == "/opt/steps"
    scripts = collect_scripts(loaded, dirs)
    assert [(Path(s.file).name, s.first_line, s.container) for s in scripts] == [
        ("promise.yaml", 19, "inline"), ("promise.yaml", 24, "one-liner"), ("step.sh", 1, "file"),
        ("lib.sh", 1, "file"), ("promise.yaml", 36, "remove"), ("unused.sh", 1, None)]
    found = sorted((f.rule, Path(f.file or "").name, f.line, f.container) for f in lint(scripts))
    assert found == [
        ("I4", "lib.sh", 1, "file"),
        ("I4", "promise.yaml", 20, "inline"),
        ("I4", "promise.yaml", 24, "one-liner"),
        ("I4", "unused.sh", 2, None),
        ("I6", "promise.yaml", 36, "remove"),
    ]  # from-file.env is written by the `file` container of the same Pipeline: no P5; never.yaml: no Pipeline


def test_target_inference_and_parsing(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("true\n")
    assert ScriptDir.parse(f"{tmp_path}:/x/y/") == ScriptDir(tmp_path, "/x/y")
    assert ScriptDir.parse(str(tmp_path)) == ScriptDir(tmp_path, None)
    with pytest.raises(InputError, match="not a folder"):
        ScriptDir.parse(str(tmp_path / "missing"))
    assert infer_target(tmp_path, []) == "/scripts"
    loaded = load_promise(EXAMPLES_DIR / "i2-append" / "promise.yaml")
    assert unresolved_scripts(loaded, []) == ["/scripts/i2-append/configure.sh"]  # said in the report: not linted
    assert unresolved_scripts(loaded, resolve_dirs([ScriptDir(EXAMPLES_DIR / "i2-append" / "scripts")], loaded)) == []


@pytest.mark.parametrize("name", ["idempotent", "i1-timestamp", "p1-writes-input", "p5-cross-pipeline-metadata"])
def test_examples_lint(name: str) -> None:
    loaded = load_promise(EXAMPLES_DIR / name / "promise.yaml")
    found = [(f.rule, Path(f.file or "").name, f.line) for f in lint_promise(loaded, [ScriptDir(EXAMPLES_DIR / name /
                                                                                                 "scripts")])]
    expected = {
        "idempotent": [],
        "i1-timestamp": [("I4", "configure.sh", 7)],
        "p1-writes-input": [("P1", "configure.sh", 5), ("P1", "configure.sh", 6)],
        "p5-cross-pipeline-metadata": [("P5", "render.sh", 5)],
    }[name]
    assert found == expected


def test_lint_only_command(promise_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["idempotency", str(promise_dir / "promise.yaml"), "--lint-only", "--scripts",
                 f"{promise_dir / 'steps'}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {(f["rule"], Path(f["file"]).name, f["line"]) for f in report["findings"]} == {
        ("I4", "lib.sh", 1), ("I4", "promise.yaml", 20), ("I4", "promise.yaml", 24), ("I4", "unused.sh", 2),
        ("I6", "promise.yaml", 36)}
    assert all(f["severity"] == "warning" and f["source"] == "lint" for f in report["findings"])
    # argparse: mutually exclusive options, one line of bad input
    assert main(["idempotency", str(promise_dir / "promise.yaml"), "--lint-only", "--no-lint"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kratix-sim: error: idempotency: argument --no-lint: not allowed")
