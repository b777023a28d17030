"""The fast engine: the reference model without simpy, on three paths, each with the reference's results.

* A scenario with an app tier runs in a compiled event loop (``sim.fast_jit``, numba):
  the model's callbacks transcribed over arrays, events on a heap of ``(time, seq)``.
* A scenario that is a single FIFO queue (one instance, one page per visitor, patience and
  a bounded backlog without retries: ``sim.fast_fifo.fifo_applies``) skips the events
  altogether: ``sim.fast_fifo`` computes the same starts, give-ups and completions by the
  Kiefer-Wolfowitz recursion.
* A site with no app tier (nothing to queue at) runs the model's own callbacks on
  :class:`HeapClock`, which has no Event objects, no processes and no generators.

On every path ties at one instant are broken by scheduling order, exactly as simpy's
(time, priority, id) does for the events the model schedules, and every time is
``now + delay`` as in simpy, so one seed gives the reference's results to the last bit
(``tests/test_fast.py``, ``tests/test_fast_jit.py``).

What the engine does not model it refuses, naming the key: the autoscaler (a periodic
controller reading time-averaged metrics) and the waiting room stay with
``--engine reference``.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from sim.engine import RunResult, _Model, replication_seeds
from sim.errors import ConfigError
from sim.fast_fifo import fifo_applies, simulate_fifo
from sim.scenario import Scenario

__all__ = ["HeapClock", "simulate_fast", "fast_supported", "UNSUPPORTED"]

# Scenario parts the fast engine refuses: key -> why.
UNSUPPORTED = {
    "site.autoscale": "is not modelled by --engine fast; use --engine reference",
    "site.waiting_room": "is not modelled by --engine fast; use --engine reference",
}


class HeapClock:
    """``call(delay, fn, arg)`` runs ``fn(arg)`` at ``now + delay``; ``run_until(t)`` runs events before t."""

    __slots__ = ("now", "_queue", "_seq")

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list = []
        self._seq = itertools.count()

    def call(self, delay: float, fn, arg) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._seq), fn, arg))

    def timer(self, fn):
        """``call`` bound to ``fn`` (the site's hot paths hold one per callback)."""
        queue, seq, push = self._queue, self._seq, heapq.heappush

        def schedule(delay: float, arg) -> None:
            push(queue, (self.now + delay, next(seq), fn, arg))
        return schedule

    def run_until(self, until: float) -> None:
        # Events at exactly ``until`` wait for the next slice, as simpy's run(until=...) leaves them.
        queue, pop = self._queue, heapq.heappop
        while queue and queue[0][0] < until:
            self.now, _, fn, arg = pop(queue)
            fn(arg)
        self.now = until


def fast_supported(scenario: Scenario) -> str | None:
    """None if the fast engine models the whole scenario, else why not (``key: reason``)."""
    site = scenario.site
    for key, present in (("site.autoscale", site.autoscale is not None),
                         ("site.waiting_room", site.waiting_room is not None)):
        if present:
            return f"{key}: {UNSUPPORTED[key]}"
    return None


def jit_applies(scenario: Scenario) -> bool:
    """True if the compiled loop (``sim.fast_jit``) models the scenario: it has an app tier to queue at."""
    return scenario.site.app is not None and fast_supported(scenario) is None


def simulate_fast(scenario: Scenario, *, seed_seq: np.random.SeedSequence | None = None) -> RunResult:
    """One run on the heap clock; ConfigError for a scenario part it does not model."""
    reason = fast_supported(scenario)
    if reason is not None:
        key, message = reason.split(": ", 1)
        raise ConfigError(key, message, source=scenario.path or None)
    if seed_seq is None:
        seed_seq = replication_seeds(scenario.run.seed, 1)[0]
    if fifo_applies(scenario):
        return simulate_fifo(scenario, seed_seq)
    if jit_applies(scenario):
        from sim.fast_jit import simulate_jit  # imported here: numba loads in about 0.5 s

        return simulate_jit(scenario, seed_seq)
    return _Model(scenario, seed_seq, HeapClock()).run("fast")
