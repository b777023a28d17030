"""The saturated throughput's 95 % interval by batch means, and holding saturated steps until it is narrow.

A saturated site's answers are not independent Poisson counts: a worker's answers follow each
other a service apart (a constant service answers like a clock, far steadier than Poisson), and a
machine whose cores the client and the server share answers in slow and fast spells (a garbage
collection, another process) that last longer than one answer. Either way, the count of answers
in one second says something about the next one, and ``sqrt(count)`` is the wrong spread.

Batch means (Law & Kelton, *Simulation Modeling and Analysis*, 9.5.3): each saturated step's
window is cut into ``k`` batches of equal length; a batch's throughput is its answers over its
length; the capacity is their mean (the pooled throughput, as the steps' windows are equal), and
its standard error their standard deviation over ``sqrt(B)``, with ``B`` batches in all. That
holds when the batch means are about uncorrelated, so the batch length is chosen from the data:

* the shortest batch expected to hold ``MIN_ANSWERS_PER_BATCH`` answers (the batch means then
  close to normal), with at least ``MIN_BATCHES`` batches in all;
* doubled while the batch means' lag-1 autocorrelation (pairs within a step) is above
  ``MAX_LAG1``, as long as ``MIN_BATCHES`` batches remain;
* a correlation still above ``MAX_LAG1`` at the longest length (a spell as long as a step, or
  steps at different offered rates answering at different rates) widens the standard error by
  the factor of an AR(1) series, ``sqrt((1 + r1) / (1 - r1))``; one within it is taken as none (its
  estimate's own spread is ``1 / sqrt(B)``, 0.08 with 150 batches).

The interval is the mean +- Student's t (0.975, ``B - 1`` degrees of freedom) standard errors: with
ten batches t is 2.26 where the normal's 1.96 would claim too much.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

# A step is a sim.analysis.calibrate.StepResult, read here only (its answered_in_window, window_s,
# duration_s, done_s): that module imports this one, so the type is not imported back.

__all__ = ["CapacityInterval", "capacity_interval", "pooled_throughput_per_s", "hold_saturated", "MIN_BATCHES", "MIN_ANSWERS_PER_BATCH",
           "MAX_LAG1", "DEFAULT_PRECISION"]

DEFAULT_PRECISION = 0.03  # calibrate --precision: the capacity within +-3 % (95 %)
MIN_BATCHES = 10  # fewer and t's quantile grows fast (2.26 at 10, 2.78 at 5)
MIN_ANSWERS_PER_BATCH = 20  # a batch's count then near normal (Poisson's skew 1 / sqrt(20) = 0.22)
MAX_LAG1 = 0.1  # batch means this little correlated widen the interval by at most sqrt(1.1 / 0.9) = 1.11
MAX_USED_LAG1 = 0.8  # the AR(1) widening is capped at sqrt(1.8 / 0.2) = 3: beyond, batches say little


@dataclass(frozen=True, kw_only=True)
class CapacityInterval:
    capacity_per_s: float  # the pooled saturated throughput
    low_per_s: float  # 95 %
    high_per_s: float
    batches: int  # B, over every saturated step
    batch_s: float  # their length (of the first step's window, the steps' being equal)
    lag1: float  # the batch means' lag-1 autocorrelation at that length
    steps: int  # saturated steps used

    @property
    def precision(self) -> float:
        """The interval's half-width relative to the capacity (inf: nothing answered)."""
        if self.capacity_per_s <= 0:
            return math.inf
        return (self.high_per_s - self.low_per_s) / 2 / self.capacity_per_s


def pooled_throughput_per_s(steps: list) -> float:
    """The saturated throughput: every saturated step's answers over their windows together.

    Each saturated step measures the same capacity; the best of them would pick the
    luckiest noise (a short step's count is off by several percent), the pool averages it."""
    return sum(s.answered_in_window for s in steps) / sum(s.window_s for s in steps)


def _batch_counts(step, k: int) -> np.ndarray:
    """Answers that completed in each of ``k`` equal batches of the step's window."""
    start = step.duration_s - step.window_s
    edges = np.linspace(start, step.duration_s, k + 1)
    return np.histogram(step.done_s, bins=edges)[0]


def _lag1(series: list[np.ndarray], mean: float) -> float:
    """Lag-1 autocorrelation of the batch means, pairs taken within each step (a step's end is not its
    next step's start: the site drained between them)."""
    den = sum(float(np.sum((y - mean) ** 2)) for y in series)
    if den == 0:
        return 0.0
    num = sum(float(np.sum((y[:-1] - mean) * (y[1:] - mean))) for y in series)
    pairs = sum(len(y) - 1 for y in series)
    return num / pairs / (den / sum(len(y) for y in series)) if pairs else 0.0


def capacity_interval(steps: list) -> CapacityInterval:
    """The 95 % batch-means interval of the throughput of ``steps`` (the saturated ones; see the module
    docstring). ``steps`` must hold at least one step with an answer in its window."""
    if not steps:
        raise ValueError("no saturated steps to read the capacity from")
    answered = sum(s.answered_in_window for s in steps)
    x = pooled_throughput_per_s(steps)
    # batches per step: expected MIN_ANSWERS_PER_BATCH each, MIN_BATCHES in all at least
    k = max(math.floor(answered / len(steps) / MIN_ANSWERS_PER_BATCH), math.ceil(MIN_BATCHES / len(steps)), 2)
    while True:
        series = [_batch_counts(s, k) / (s.window_s / k) for s in steps]
        means = np.concatenate(series)
        r1 = _lag1(series, float(means.mean()))
        if r1 <= MAX_LAG1 or (k // 2) * len(steps) < MIN_BATCHES or k // 2 < 2:
            break
        k //= 2
    b = len(means)
    used = min(r1, MAX_USED_LAG1) if r1 > MAX_LAG1 else 0.0  # within MAX_LAG1: taken as uncorrelated
    widen = math.sqrt((1 + used) / (1 - used))
    half = float(stats.t.ppf(0.975, b - 1)) * float(means.std(ddof=1)) / math.sqrt(b) * widen
    return CapacityInterval(capacity_per_s=x, low_per_s=max(x - half, 0.0), high_per_s=x + half, batches=b,
                            batch_s=steps[0].window_s / k, lag1=r1, steps=len(steps))


def hold_saturated(steps: list, measure: Callable[[], object], *, saturated: Callable,
                   precision: float, step_s: float, left_s: float) -> CapacityInterval | None:
    """Measure more saturated steps (``measure()``, each ``step_s`` long, appended to ``steps``) until the
    capacity's 95 % interval is within +-``precision`` or the next step would not fit in ``left_s`` seconds.

    ``saturated(step)`` says which steps count (``sim.analysis.calibrate.saturated``). Returns the last
    interval, None when no step of ``steps`` saturated (nothing to hold). A
    KeyboardInterrupt in ``measure`` leaves ``steps`` holding every step measured before it."""
    if not any(saturated(s) for s in steps):
        return None
    interval = capacity_interval([s for s in steps if saturated(s)])
    while interval.precision > precision and left_s >= step_s:
        steps.append(measure())
        left_s -= step_s
        interval = capacity_interval([s for s in steps if saturated(s)])
    return interval
