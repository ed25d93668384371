"""The only source of randomness: one seed forked into named, independent streams.

A stream's draws depend only on (seed, name), so adding draws to one stream (a new fault) does not shift
another (the executor's failures).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' utilrand alphabet for generated names
_SIZE = len(_ALPHABET)


class Rng:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        self._below: dict[str, Callable[[int], int]] = {}  # stream name -> its ``_randbelow``

    def stream(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[name] = stream
        return stream

    def suffix(self, name: str = "names", length: int = 5) -> str:
        """A Kubernetes-style random name suffix (Job and pod names end in 5 such characters)."""
        below = self._below.get(name)
        if below is None:
            # ``choice(seq)`` is ``seq[_randbelow(len(seq))]`` (CPython's random.py): the same draws, without
            # choice's per-character call (a Job and a pod name each cost ``length`` draws).
            below = self._below[name] = self.stream(name)._randbelow  # type: ignore[attr-defined]
        return "".join([_ALPHABET[below(_SIZE)] for _ in range(length)])
