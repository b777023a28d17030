"""Visitors at given times instead of the profile's: tiny worlds for the model's exact sequences."""

from __future__ import annotations

import numpy as np
import simpy

from sim.engine.clock import SimpyClock
from sim.engine.compiled import driver
from sim.engine.reference import model
from sim.engine.run import ArrivalWindows
from sim.traffic.journey import draw_journeys


def fixed_windows(times):
    """An ArrivalWindows whose one window holds visitors at ``times`` (journeys drawn as usual)."""

    class Fixed(ArrivalWindows):
        def draw(self, t0):
            due = np.asarray([t for t in times if t >= t0] if t0 == 0.0 else [], dtype=float)
            return due, draw_journeys(self.scenario, self._visitors, len(due), self._acks), self.scenario.run.duration_s

    return Fixed


def reference_model(monkeypatch, scenario, times):
    """The reference Model with visitors at ``times``, on simpy (not yet run), and its environment."""
    monkeypatch.setattr(model, "ArrivalWindows", fixed_windows(times))
    env = simpy.Environment()
    return model.Model(scenario, np.random.SeedSequence(5), SimpyClock(env)), env


def compiled_run(monkeypatch, scenario, times):
    """The compiled loop's run with visitors at ``times`` (the same seed as :func:`reference_model`)."""
    monkeypatch.setattr(driver, "ArrivalWindows", fixed_windows(times))
    return driver.simulate_compiled(scenario, np.random.SeedSequence(5))
