"""Kratix's objects as typed models, and the loader for every API shape."""

from sim.model.loader import (
    LoadedPromise,
    LoadedResource,
    load_kratix_file,
    load_promise,
    load_promises,
    load_resources,
)
from sim.model.promise import Container, Pipeline, Promise, ResourceRequest

__all__ = [
    "Container",
    "LoadedPromise",
    "LoadedResource",
    "Pipeline",
    "Promise",
    "ResourceRequest",
    "load_kratix_file",
    "load_promise",
    "load_promises",
    "load_resources",
]
