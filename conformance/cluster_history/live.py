"""``trace import --from-cluster``: read Jobs, pods, Events, Promises and resources from a live cluster.

Every API call goes through ``ClusterClient`` (list Jobs, pods, Events, custom objects), which returns the
raw JSON the API server sent, so tests replay recorded responses with a fake client. ``connect`` builds the
real one from the user's kubeconfig with the official ``kubernetes`` package (the ``cluster`` extra:
``pip install 'kratix-sim[cluster]'``), imported only here and only when asked for.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Protocol

from conformance.cluster_history.kubectl import KubeObject, objects_from_data
from sim.errors import InputError
from sim.model.promise import Promise

MANAGED_BY = "app.kubernetes.io/managed-by=Kratix"  # the label of every Kratix workflow Job and pod
KRATIX_GROUP, KRATIX_VERSION = "platform.kratix.io", "v1alpha1"
INSTALL = "--from-cluster needs the Kubernetes client: pip install 'kratix-sim[cluster]'"


class ClusterClient(Protocol):
    """The API calls the import makes; each returns the decoded JSON List (``namespace`` None: all)."""

    def list_jobs(self, namespace: str | None, label_selector: str) -> Any: ...

    def list_pods(self, namespace: str | None, label_selector: str) -> Any: ...

    def list_events(self, namespace: str | None) -> Any: ...

    def list_custom(self, group: str, version: str, plural: str, namespace: str | None) -> Any: ...


class KubernetesClient:
    """``ClusterClient`` over the official client; ``_preload_content=False`` keeps the server's JSON as is."""

    def __init__(self, api_client: Any) -> None:
        client = importlib.import_module("kubernetes.client")
        self.batch = client.BatchV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def list_jobs(self, namespace: str | None, label_selector: str) -> Any:
        if namespace is None:
            return self._json(self.batch.list_job_for_all_namespaces(label_selector=label_selector,
                                                                     _preload_content=False))
        return self._json(self.batch.list_namespaced_job(namespace, label_selector=label_selector,
                                                         _preload_content=False))

    def list_pods(self, namespace: str | None, label_selector: str) -> Any:
        if namespace is None:
            return self._json(self.core.list_pod_for_all_namespaces(label_selector=label_selector,
                                                                    _preload_content=False))
        return self._json(self.core.list_namespaced_pod(namespace, label_selector=label_selector,
                                                        _preload_content=False))

    def list_events(self, namespace: str | None) -> Any:
        if namespace is None:
            return self._json(self.core.list_event_for_all_namespaces(_preload_content=False))
        return self._json(self.core.list_namespaced_event(namespace, _preload_content=False))

    def list_custom(self, group: str, version: str, plural: str, namespace: str | None) -> Any:
        if namespace is None:
            return self._json(self.custom.list_cluster_custom_object(group, version, plural,
                                                                     _preload_content=False))
        return self._json(self.custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                                    _preload_content=False))


def connect(context: str | None, kubeconfig: Path | None = None) -> KubernetesClient:
    """The real client for a kubeconfig context (the current one when None); no request is made here."""
    try:
        config = importlib.import_module("kubernetes.config")
    except ImportError as exc:
        raise InputError(INSTALL) from exc
    try:
        api_client = config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None,
                                                   context=context)
    except (config.ConfigException, OSError, ValueError) as exc:
        raise InputError(f"kubeconfig: {exc}".splitlines()[0]) from exc
    return KubernetesClient(api_client)


def _resource_apis(promises: list[KubeObject], promise: Promise | None) -> list[tuple[str, str, str]]:
    """(group, version, plural) of each Promise's API (its CRD in ``spec.api``), sorted."""
    apis: set[tuple[str, str, str]] = set()
    specs = [p.field("spec", "api") for p in promises] + [promise.spec.api if promise is not None else None]
    for api in specs:
        if not isinstance(api, dict) or not isinstance(api.get("spec"), dict):
            continue
        crd = api["spec"]
        plural = (crd.get("names") or {}).get("plural")
        versions = [v for v in crd.get("versions") or [] if isinstance(v, dict) and v.get("name")]
        stored = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else None)
        if isinstance(crd.get("group"), str) and isinstance(plural, str) and isinstance(stored, str):
            apis.add((crd["group"], stored, plural))
    return sorted(apis)


def _call(what: str, call: Any, *args: Any) -> Any:
    """One API call; a failure (HTTP error, unreachable server) is one line of bad input."""
    try:
        return call(*args)
    except InputError:
        raise
    except Exception as exc:
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", None)
        detail = f"HTTP {status} {reason}" if status is not None else f"{type(exc).__name__}: {exc}"
        raise InputError(f"cluster: listing {what} failed: {detail}".splitlines()[0]) from exc


def fetch(client: ClusterClient, namespace: str | None, promise: Promise | None = None) -> list[KubeObject]:
    """Every object the import needs: Kratix Jobs and pods, Events, Promises and their resources."""
    objects: list[KubeObject] = []
    objects += objects_from_data(_call("jobs", client.list_jobs, namespace, MANAGED_BY), "cluster:jobs")
    objects += objects_from_data(_call("pods", client.list_pods, namespace, MANAGED_BY), "cluster:pods")
    objects += objects_from_data(_call("events", client.list_events, namespace), "cluster:events")
    promises = objects_from_data(_call("promises", client.list_custom, KRATIX_GROUP, KRATIX_VERSION, "promises",
                                       None), "cluster:promises")
    objects += promises
    for group, version, plural in _resource_apis(promises, promise):
        data = _call(plural, client.list_custom, group, version, plural, namespace)
        objects += objects_from_data(data, f"cluster:{plural}.{group}")
    return objects
