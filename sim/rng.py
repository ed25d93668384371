"""The only source of randomness: one seed forked into named, independent streams.

A stream's draws depend only on (seed, name), so adding draws to one stream (a new fault) does not shift
another (the executor's failures).
"""

from __future__ import annotations

import hashlib
import random

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' utilrand alphabet for generated names


class Rng:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[name] = stream
        return stream

    def suffix(self, name: str = "names", length: int = 5) -> str:
        """A Kubernetes-style random name suffix (Job and pod names end in 5 such characters)."""
        stream = self.stream(name)
        return "".join(stream.choice(_ALPHABET) for _ in range(length))
