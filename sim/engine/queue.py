"""controller-runtime's rate-limited work queue (K1, K2), on the simulated clock.

A key is queued at most once; a key re-added while being processed is queued again when done. ``add_after``
keeps the earliest pending time per key. ``add_rate_limited`` waits base*2^n (capped) for the n-th
consecutive error of that key; ``forget`` resets n.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy


class WorkQueue:
    def __init__(self, env: simpy.Environment, name: str, error_base_ms: float, error_cap_ms: float) -> None:
        self.env = env
        self.name = name
        self.error_base_ms = error_base_ms
        self.error_cap_ms = error_cap_ms
        self._items: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._wakeup: simpy.Event | None = None
        self.epoch = 0  # bumped by clear(): timers of an older epoch are void

    def add(self, key: str) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._items.append(key)
            if self._wakeup is not None and not self._wakeup.triggered:
                self._wakeup.succeed()

    def add_after(self, key: str, delay_ms: int) -> None:
        if delay_ms <= 0:
            self.add(key)
            return
        ready = int(self.env.now) + delay_ms
        current = self._waiting.get(key)
        if current is not None and current <= ready:
            return
        self._waiting[key] = ready
        epoch = self.epoch
        timer = self.env.timeout(delay_ms)
        timer.callbacks.append(lambda _event: self._fire(key, ready, epoch))

    def _fire(self, key: str, ready: int, epoch: int) -> None:
        if epoch != self.epoch or self._waiting.get(key) != ready:
            return
        del self._waiting[key]
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        delay = min(self.error_base_ms * 2**failures, self.error_cap_ms)
        self.add_after(key, max(1, round(delay)))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def get(self) -> Generator[Any, Any, str]:
        while not self._items:
            self._wakeup = self.env.event()
            yield self._wakeup
        key = self.pop()
        assert key is not None
        return key

    def pop(self) -> str | None:
        """``get`` without waiting: the next key (now being processed), or None when the queue is empty."""
        if not self._items:
            return None
        self._wakeup = None
        key = self._items.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._items.append(key)

    def clear(self) -> None:
        """A controller restart loses everything in memory (K3)."""
        self._items.clear()
        self._dirty.clear()
        self._processing.clear()
        self._waiting.clear()
        self._failures.clear()
        self._wakeup = None
        self.epoch += 1

    def __len__(self) -> int:
        return len(self._items)
