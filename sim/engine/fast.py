"""The fast engine: the reference model without simpy, with the reference's results to the last bit.

* A scenario with an app tier runs in a compiled event loop (``sim.engine.compiled``,
  numba): the model's callbacks transcribed over arrays, events on a heap of
  ``(time, seq)``.
* A site with no app tier (nothing to queue at) runs the model's own callbacks on
  :class:`~sim.engine.clock.HeapClock`, which has no Event objects, no processes and no
  generators.

On both paths ties at one instant are broken by scheduling order, exactly as simpy's
(time, priority, id) does for the events the model schedules, and every time is
``now + delay`` as in simpy, so one seed gives the reference's results to the last bit
(``tests/engine/test_fast.py``, ``tests/engine/test_compiled.py``).

Both paths model every part of a scenario: the waiting room (the compiled loop in
``sim.engine.compiled.room``), the autoscaler (``sim.engine.compiled.autoscale``), the signature
queue and the landing page's TTL (``sim.engine.compiled.sigqueue``). A part a later version adds
to the model before the compiled loop has it is listed in :data:`NOT_MODELLED` and refused
(:class:`~sim.errors.NotModelled`, naming the key), so that ``auto`` takes the reference.
"""

from __future__ import annotations

import numpy as np

from sim.config.scenario import Scenario
from sim.engine.clock import HeapClock
from sim.engine.reference.model import Model
from sim.engine.run import RunResult
from sim.errors import NotModelled

__all__ = ["FastEngine", "NOT_MODELLED"]

# Scenario parts the fast engine refuses, by key.
NOT_MODELLED: tuple[str, ...] = ()  # "site.<section>" keys; none today


class FastEngine:
    name = "fast"

    def check(self, scenario: Scenario) -> None:
        site = scenario.site
        for key in NOT_MODELLED:
            present = getattr(site, key.split(".", 1)[1], None) is not None
            if present:
                raise NotModelled(key, self.name, source=scenario.path or None)

    def run(self, scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
        self.check(scenario)
        if scenario.site.app is not None:
            from sim.engine.compiled.driver import simulate_compiled  # numba loads in about 0.5 s

            return simulate_compiled(scenario, seed_seq)
        return Model(scenario, seed_seq, HeapClock()).run(self.name)
