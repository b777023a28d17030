"""Running a scenario: one ``simulate`` over two engines with the same results.

* :mod:`~sim.engine.dispatch`: ``simulate(scenario, engine="auto"|"reference"|"fast")``.
* :mod:`~sim.engine.base`: the interface every engine implements (``check``, ``run``).
* :mod:`~sim.engine.run`: what every run shares: streams, arrival windows, slices, the result.
* :mod:`~sim.engine.reference`: the model on simpy, the readable specification.
* :mod:`~sim.engine.fast`: the same model on a plain heap or compiled (:mod:`~sim.engine.compiled`).
* :mod:`~sim.engine.recorder`: what a run reports, streamed into ``sim.stats``.
"""

from sim.engine.dispatch import ENGINES, pick_engine, simulate, simulate_replications
from sim.engine.run import RunResult, replication_seeds

__all__ = ["ENGINES", "RunResult", "pick_engine", "replication_seeds", "simulate", "simulate_replications"]
