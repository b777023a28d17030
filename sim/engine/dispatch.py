"""One way to run a scenario: ``simulate(scenario, engine=...)`` picks the engine and runs it.

``auto`` takes the fast engine where it models every part of the scenario, else the
reference; a named engine that does not model a part raises
:class:`~sim.errors.NotModelled` with the key, before anything runs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sim.config.scenario import Scenario
from sim.engine.base import Engine
from sim.engine.fast import FastEngine
from sim.engine.reference import ReferenceEngine
from sim.engine.run import RunResult, replication_seeds
from sim.engine.recorder import Recorder
from sim.errors import ConfigError, NotModelled
from sim.interrupts import reason

__all__ = ["ENGINES", "engine_named", "pick_engine", "simulate", "simulate_replications"]

_IMPLEMENTATIONS: dict[str, Engine] = {e.name: e for e in (ReferenceEngine(), FastEngine())}
ENGINES = ("auto", *_IMPLEMENTATIONS)


def engine_named(name: str) -> Engine:
    try:
        return _IMPLEMENTATIONS[name]
    except KeyError:
        raise ConfigError("--engine", f"must be one of {', '.join(ENGINES)}, got {name!r}") from None


def pick_engine(scenario: Scenario, engine: str = "auto") -> str:
    """The engine that runs ``scenario``: ``auto`` becomes fast where fast models it, else reference."""
    if engine == "auto":
        try:
            _IMPLEMENTATIONS["fast"].check(scenario)
        except NotModelled:
            return "reference"
        return "fast"
    engine_named(engine).check(scenario)
    return engine


def simulate(scenario: Scenario, *, engine: str = "auto",
             seed_seq: np.random.SeedSequence | None = None) -> RunResult:
    """One run of the scenario (replication 0 of ``run.seed`` unless a seed sequence is given).

    Ctrl-C or SIGTERM (under the command line) never escapes: the result is partial, with the reason."""
    if seed_seq is None:
        seed_seq = replication_seeds(scenario.run.seed, 1)[0]
    chosen = engine_named(pick_engine(scenario, engine))
    try:
        return chosen.run(scenario, seed_seq)
    except KeyboardInterrupt as exc:  # stopped while the run was set up, before its first slice
        return _stopped_at_start(scenario, reason(exc), chosen.name)


def _stopped_at_start(scenario: Scenario, why: str, engine: str) -> RunResult:
    recorder = Recorder(scenario)
    recorder.finish(0.0)
    return RunResult(scenario=scenario, recorder=recorder, end_s=0.0, partial=True, error=why, engine=engine)


def simulate_replications(scenario: Scenario, replications: int, *, engine: str = "auto",
                          progress: Callable[[int, int], None] | None = None) -> list[RunResult]:
    """Independent replications in turn; stops early (keeping what is done) on Ctrl-C or an error.

    The last result is partial if the run stopped early (then it holds what that replication
    had computed); ``progress(done, replications)`` before the first and after each."""
    results: list[RunResult] = []
    try:
        if progress:
            progress(0, replications)
        for i, seed_seq in enumerate(replication_seeds(scenario.run.seed, replications)):
            results.append(simulate(scenario, engine=engine, seed_seq=seed_seq))
            if results[-1].partial:
                break
            if progress:
                progress(i + 1, replications)
    except KeyboardInterrupt as exc:  # between two replications
        results.append(_stopped_at_start(scenario, reason(exc), pick_engine(scenario, engine)))
    return results
