"""The reference engine: the model (:mod:`~sim.engine.reference.model`) on a simpy clock.

It is the model's readable specification: it models every part of a scenario, and the
fast engine is checked against it to the last bit.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.config.scenario import Scenario
from sim.engine.clock import SimpyClock
from sim.engine.reference.autoscaler import autoscaler
from sim.engine.reference.model import Model
from sim.engine.run import RunResult

__all__ = ["ReferenceEngine"]


class ReferenceEngine:
    name = "reference"

    def check(self, scenario: Scenario) -> None:
        """Every part of a scenario is modelled here."""

    def run(self, scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
        env = simpy.Environment()
        model = Model(scenario, seed_seq, SimpyClock(env))
        if scenario.site.autoscale is not None:
            env.process(autoscaler(env, model.app, scenario.site.autoscale))
        return model.run(self.name)
