"""Which engine runs a scenario: ``auto`` takes the fast engine where it models every part asked for."""

from __future__ import annotations

import numpy as np

from sim.engine import run_engine as _run_on
from sim.errors import ConfigError
from sim.fast import fast_supported
from sim.scenario import Scenario

__all__ = ["ENGINES", "run_engine", "pick_engine"]

ENGINES = ("auto", "reference", "fast")


def pick_engine(scenario: Scenario, engine: str) -> str:
    """``auto`` becomes ``fast`` when the fast engine models the scenario, else ``reference``."""
    if engine not in ENGINES:
        raise ConfigError("--engine", f"must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "reference":
        return engine
    reason = fast_supported(scenario)
    if engine == "fast" and reason:
        raise ConfigError("--engine", f"fast: {reason}; use --engine reference")
    return "reference" if reason else "fast"


def run_engine(scenario: Scenario, seed_seq: np.random.SeedSequence, engine: str = "auto"):
    return _run_on(scenario, seed_seq, pick_engine(scenario, engine))
