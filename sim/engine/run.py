"""What every engine's run shares: its result, its random streams, its arrival windows, its slices.

These are contracts between the engines: the compiled engine is checked against the
reference to the last bit, so both must draw the same streams in the same order, the
same arrival windows, and stop at the same slice boundaries.

* **Streams.** Seven independent children of one ``SeedSequence``, in this order:
  arrivals, visitor journeys (drawn in arrival order, so every site a sweep compares
  meets the same visitors), retries, the balancer's picks, the waiting room, the
  signature writers' ``write_s``, the signature queue's ``ack_s`` (drawn a window at a
  time, for the window's submits in step order). A child does not depend on how many
  are spawned, so the first five are as they were before the queue's two.
  Replication r of seed s uses ``SeedSequence(s).spawn(R)[r]`` (:func:`replication_seeds`),
  so a single run is replication 0.
* **Windows.** Arrivals and journeys are drawn a window at a time, so memory follows
  simulated time, not traffic: a window spans 600 s, or less where the profile expects
  more than 20,000 visitors in it (:class:`ArrivalWindows`).
* **Slices.** A run advances in slices of simulated time (a bin, or 1/200 of the run if
  longer); Ctrl-C or an error between slices keeps what was computed, and the result is
  marked partial with the reason (:func:`run_in_slices`).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.config.scenario import RunConfig, Scenario
from sim.engine.recorder import Recorder
from sim.interrupts import reason
from sim.traffic.arrivals import sample_arrivals
from sim.traffic.journey import JourneyPlans, draw_journeys

__all__ = ["RunResult", "replication_seeds", "Streams", "ArrivalWindows", "run_in_slices", "few_gc_passes",
           "ARRIVAL_WINDOW_S", "WINDOW_VISITORS"]

ARRIVAL_WINDOW_S = 600.0
WINDOW_VISITORS = 20_000


@dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    """One run: what the recorder holds, how far it got, and which engine ran it."""

    scenario: Scenario
    recorder: Recorder
    end_s: float
    partial: bool
    error: str | None = None
    engine: str = "reference"


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """Independent seed sequences, one per replication."""
    return np.random.SeedSequence(seed).spawn(replications)


@dataclass(frozen=True, eq=False)
class Streams:
    """The run's random generators, one per part of the model (the order is the contract)."""

    arrivals: np.random.Generator
    visitors: np.random.Generator
    retry: np.random.Generator
    balancer: np.random.Generator
    room: np.random.Generator
    signatures: np.random.Generator
    acks: np.random.Generator

    @classmethod
    def spawn(cls, seed_seq: np.random.SeedSequence) -> "Streams":
        return cls(*(np.random.default_rng(s) for s in seed_seq.spawn(7)))


def window_end(profile, t0: float, t1: float) -> float:
    """``t1``, or the first whole second after ``t0`` where the expected arrivals pass the cap."""
    nodes = np.arange(t0, t1, 1.0)[1:]
    if nodes.size == 0:
        return t1
    expected = profile.cumulative(nodes) - float(profile.cumulative(np.asarray([t0]))[0])
    k = int(np.searchsorted(expected, WINDOW_VISITORS))
    return float(nodes[k]) if k < nodes.size else t1


class ArrivalWindows:
    """The run's visitors, a window at a time: arrival times and their journeys."""

    def __init__(self, scenario: Scenario, profile, streams: Streams) -> None:
        self.scenario, self.profile = scenario, profile
        self._arrivals, self._visitors, self._acks = streams.arrivals, streams.visitors, streams.acks

    def draw(self, t0: float) -> tuple[np.ndarray, JourneyPlans, float]:
        """The window starting at ``t0`` (before the run's end): times, journeys, end."""
        duration = self.scenario.run.duration_s
        t1 = window_end(self.profile, t0, min(t0 + ARRIVAL_WINDOW_S, duration))
        times = sample_arrivals(self.profile, self._arrivals, t0_s=t0, t1_s=t1)
        return times, draw_journeys(self.scenario, self._visitors, len(times), self._acks), t1


# A run allocates millions of short-lived objects and few cycles; with the default thresholds
# the cyclic GC runs every 700 allocations and rescans every live request often (about 10 % of
# a reference run, benchmarks/README.md). The thresholds are the process's: runs in threads
# (a Dask worker's) share one change, made by the first to start and undone by the last to end.
_FEW_GC_PASSES = (100_000, 50, 100)
_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def few_gc_passes():
    """Fewer cyclic GC passes while inside, in any number of threads at once; restored after the last."""
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*_FEW_GC_PASSES)
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)


def run_in_slices(run: RunConfig, advance: Callable[[float], None]) -> str | None:
    """``advance(t)`` slice by slice up to ``run.duration_s``; None when done, else why it stopped."""
    duration = run.duration_s
    slice_s = max(run.bin_s, duration / 200)
    with few_gc_passes():
        try:
            t = 0.0
            while t < duration:
                t = min(t + slice_s, duration)
                advance(t)
            return None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under the command line (sim.interrupts)
            return reason(exc)
        except Exception as exc:  # keep what was computed; the caller reports the error
            return f"{type(exc).__name__}: {exc}"
