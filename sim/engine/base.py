"""The engine interface: what the dispatcher asks of every engine.

An engine checks a scenario before anything runs (``check`` raises
:class:`~sim.errors.NotModelled` naming the first part it does not model) and runs one
replication of it from a seed sequence (``run``), returning a
:class:`~sim.engine.run.RunResult`. Engines differ in speed, never in results: one seed
gives the same figures on every engine that models the scenario.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.config.scenario import Scenario
from sim.engine.run import RunResult

__all__ = ["Engine"]


class Engine(Protocol):
    name: str

    def check(self, scenario: Scenario) -> None:
        """Raise NotModelled if the engine does not model every part of ``scenario``."""

    def run(self, scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
        """One run of ``scenario``; partial (with the reason) if interrupted or failed midway."""
