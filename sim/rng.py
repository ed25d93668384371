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
_BITS = _SIZE.bit_length()


class Rng:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        self._bits: dict[str, Callable[[int], int]] = {}  # stream name -> its ``getrandbits``

    def stream(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[name] = stream
        return stream

    def suffix(self, name: str = "names", length: int = 5) -> str:
        """A Kubernetes-style random name suffix (Job and pod names end in 5 such characters).

        Each character is ``random.choice(_ALPHABET)``'s draw, spelled out: ``choice`` takes
        ``_randbelow(n)``, which draws ``n.bit_length()`` bits until they are below ``n`` (CPython's random.py).
        The same draws without two Python calls per character (a Job and a pod name each cost ``length``)."""
        bits = self._bits.get(name)
        if bits is None:
            bits = self._bits[name] = self.stream(name).getrandbits
        chars = []
        for _ in range(length):
            drawn = bits(_BITS)
            while drawn >= _SIZE:
                drawn = bits(_BITS)
            chars.append(_ALPHABET[drawn])
        return "".join(chars)
