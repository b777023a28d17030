"""Which engine runs a scenario: the simpy reference, or the fast engine where it models everything asked."""

from __future__ import annotations

import numpy as np

from sim.errors import ConfigError
from sim.scenario import Scenario

__all__ = ["ENGINES", "run_engine", "pick_engine"]

ENGINES = ("auto", "reference", "fast")


def _fast():
    try:
        from sim.fast import fast_supported, simulate_fast
    except ImportError:  # pragma: no cover - the fast engine ships with the package
        return None, None
    return simulate_fast, fast_supported


def pick_engine(scenario: Scenario, engine: str) -> str:
    """``auto`` becomes ``fast`` when the fast engine models every part of the scenario."""
    if engine not in ENGINES:
        raise ConfigError("--engine", f"must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "reference":
        return engine
    simulate_fast, supported = _fast()
    reason = "the fast engine is not available" if supported is None else supported(scenario)
    if engine == "fast" and reason:
        raise ConfigError("--engine", f"fast: {reason}; use --engine reference")
    return "reference" if reason else "fast"


def run_engine(scenario: Scenario, seed_seq: np.random.SeedSequence, engine: str = "auto"):
    from sim.engine import simulate

    if pick_engine(scenario, engine) == "fast":
        return _fast()[0](scenario, seed_seq=seed_seq)
    return simulate(scenario, seed_seq=seed_seq)
