"""``trace import --from-cluster``: the live path through the client seam, replayed from recorded API JSON
(tests/cluster_exports/api/, typed Lists whose items omit kind as the API server sends them), and the real
``kubernetes`` client built from a kubeconfig file without any request."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.cluster_history import live
from conformance.cluster_history.importer import ImportOptions, import_history
from conformance.cluster_history.kubectl import read_objects
from sim.cli import main
from sim.errors import InputError
from sim.trace import Trace

EXPORTS = Path(__file__).parent / "cluster_exports"
API = EXPORTS / "api"


class RecordedCluster:
    """A ``ClusterClient`` answering from recorded responses, remembering every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def _load(self, name: str) -> Any:
        return json.loads((API / name).read_text())

    def list_jobs(self, namespace: str | None, label_selector: str) -> Any:
        self.calls.append(("jobs", namespace, label_selector))
        return self._load("jobs.json")

    def list_pods(self, namespace: str | None, label_selector: str) -> Any:
        self.calls.append(("pods", namespace, label_selector))
        return self._load("pods.json")

    def list_events(self, namespace: str | None) -> Any:
        self.calls.append(("events", namespace))
        return self._load("events.json")

    def list_custom(self, group: str, version: str, plural: str, namespace: str | None) -> Any:
        self.calls.append(("custom", group, version, plural, namespace))
        return self._load(f"{plural}.json")


def test_live_fetch_gives_the_same_trace_as_kubectl_files() -> None:
    cluster = RecordedCluster()
    fetched = import_history(live.fetch(cluster, None))
    halted = EXPORTS / "halted"
    files = [*read_objects(halted / "jobs-pods.yaml"), *read_objects(halted / "events.yaml"),
             *read_objects(halted / "objects.yaml"), *read_objects(API / "promises.json")]
    assert fetched.to_jsonl() == import_history(files, ImportOptions()).to_jsonl()
    assert cluster.calls == [
        ("jobs", None, live.MANAGED_BY), ("pods", None, live.MANAGED_BY), ("events", None),
        ("custom", "platform.kratix.io", "v1alpha1", "promises", None),
        ("custom", "marketplace.kratix.io", "v1alpha1", "postgresqls", None),  # from the Promise's spec.api
    ]


def test_from_cluster_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    cluster = RecordedCluster()
    asked: list[tuple[str | None, Path | None]] = []

    def connect(context: str | None, kubeconfig: Path | None = None) -> RecordedCluster:
        asked.append((context, kubeconfig))
        return cluster

    monkeypatch.setattr(live, "connect", connect)
    out = tmp_path / "live.jsonl"
    assert main(["trace", "import", "--from-cluster", "--context", "kind-platform", "--namespace", "default",
                 "--out", str(out)]) == 0
    assert asked == [("kind-platform", None)]
    assert ("jobs", "default", live.MANAGED_BY) in cluster.calls
    assert Trace.read(out).named("job_failed")[0]["job"] == "kratix-postgresql-billing-db-provision-d8r2k"
    assert "evidence missing: restart-history" in capsys.readouterr().out


def test_an_api_error_is_one_line_of_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    class Forbidden(Exception):
        status, reason = 403, "Forbidden"

    class Denied(RecordedCluster):
        def list_jobs(self, namespace: str | None, label_selector: str) -> Any:
            raise Forbidden("jobs.batch is forbidden: User cannot list resource")

    monkeypatch.setattr(live, "connect", lambda context, kubeconfig=None: Denied())
    assert main(["trace", "import", "--from-cluster", "--out", str(tmp_path / "t.jsonl")]) == 2
    assert capsys.readouterr().err == "kratix-sim: error: cluster: listing jobs failed: HTTP 403 Forbidden\n"


def test_the_real_client_is_built_from_a_kubeconfig(tmp_path: Path) -> None:
    client_module = pytest.importorskip("kubernetes.client")
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("""apiVersion: v1
kind: Config
clusters:
- name: kind-platform
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: not-a-real-token}
contexts:
- name: kind-platform
  context: {cluster: kind-platform, user: admin}
current-context: kind-platform
""")
    client = live.connect("kind-platform", kubeconfig)
    assert isinstance(client.batch, client_module.BatchV1Api)
    assert isinstance(client.custom, client_module.CustomObjectsApi)
    assert client.core.api_client.configuration.host == "https://127.0.0.1:6443"
    with pytest.raises(InputError, match=r"kubeconfig: .*no-such-context"):
        live.connect("no-such-context", kubeconfig)


def test_without_the_kubernetes_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes.config", None)  # what an absent package gives: ImportError
    with pytest.raises(InputError) as caught:
        live.connect(None)
    assert str(caught.value) == "--from-cluster needs the Kubernetes client: pip install 'kratix-sim[cluster]'"
