"""Fault schedules: ``at``, ``every`` (first one period after ``from``, up to ``until``) or a Poisson ``rate``
per hour drawn from the seeded stream ``faults:<index>``. Each firing calls the simulation's hook."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from sim.scenario import Fault

if TYPE_CHECKING:
    from sim.simulation import Simulation


def fire_times_ms(fault: Fault, index: int, sim: Simulation, horizon_ms: int) -> Iterator[int]:
    """Simulated times (ms) at which ``fault`` fires, in order, up to the horizon."""
    end_ms = horizon_ms if fault.until is None else min(horizon_ms, round(fault.until * 1000))
    if fault.at is not None:
        at = round(fault.at * 1000)
        if at <= horizon_ms:
            yield at
        return
    start = round(fault.from_ * 1000)
    if fault.every is not None:
        period = round(fault.every * 1000)
        t = start + period
        while t <= end_ms:
            yield t
            t += period
        return
    assert fault.rate is not None
    stream = sim.rng.stream(f"faults:{index}")
    t = start
    while True:
        t += max(1, round(stream.expovariate(fault.rate) * 3_600_000))
        if t > end_ms:
            return
        yield t


def _object_key(target: str | None, promise: str) -> str | None:
    """The object a fault names, as the trace names objects (``promise/<name>``, ``namespace/name``); None for
    none or any (``*``)."""
    if target is None or target == "*":
        return None
    if target == "promise":
        return f"promise/{promise}"
    return target if "/" in target else f"default/{target}"


def schedule(sim: Simulation, fault: Fault, index: int, horizon_ms: int) -> Generator[Any, Any, None]:
    """A simpy process that applies ``fault`` at each of its times. A controller-restart holds this process for
    its downtime: a time of the same schedule that falls within it is skipped (a restart has no effect while
    the controller is down)."""
    for t in fire_times_ms(fault, index, sim, horizon_ms):
        if t < sim.env.now:
            continue
        yield sim.env.timeout(t - int(sim.env.now))
        sim.cluster.emit("fault_injected", reason=fault.kind, object=_object_key(fault.target, sim.promise.name))
        yield from sim.apply_fault(fault)
