"""A scenario's expected visitors against an observed trace, interval by interval (``surge profile --compare``).

The intervals are the trace's own. Where the trace runs past the scenario's
``run.duration_s``, only the intervals that end within the run are compared (an
interval cut by the run's end is left out whole: its count cannot be split).

Figures, over the compared intervals, with y the observed and mu the expected counts:

- totals, and their ratio observed / expected;
- R^2 of the counts: ``1 - sum (y - mu)^2 / sum (y - mean y)^2`` (1 when they agree exactly;
  below 0 when the scenario is worse than a flat line at the observed mean);
- the Poisson deviance: ``2 sum [y log(y / mu) - (y - mu)]`` (``y log(y / mu)`` is 0 where
  y = 0), and per interval; if the counts were Poisson draws of mu, the deviance per
  interval would be about 1 (for counts of more than a few visitors);
- the peak interval of each, with its start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["TraceComparison", "compare_to_trace", "compared_intervals", "r_squared", "poisson_deviance"]

_END_TOLERANCE = 1e-9  # relative: an interval ending at duration_s (to round-off) is within the run


def compared_intervals(edges_s, duration_s: float) -> int:
    """How many of the trace's first intervals end within ``[0, duration_s]``; raises ValueError when none does."""
    edges = np.asarray(edges_s, dtype=float)
    within = int(np.searchsorted(edges[1:], duration_s * (1 + _END_TOLERANCE), side="right"))
    if within == 0:
        raise ValueError(f"the trace's first interval ends at {edges[1]:g} s, after the run's "
                         f"{duration_s:g} s: no interval to compare")
    return within


def r_squared(observed, expected) -> float | None:
    """``1 - SS_res / SS_tot`` of the observed counts; None when the observed counts are all equal (and
    differ from the expected: SS_tot = 0 leaves nothing to explain)."""
    y, mu = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    ss_res = float(np.sum((y - mu) ** 2))
    if ss_res == 0:
        return 1.0
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return None if ss_tot == 0 else 1.0 - ss_res / ss_tot


def poisson_deviance(observed, expected) -> float:
    """``2 sum [y log(y / mu) - (y - mu)]``; infinite where visitors were observed but none expected."""
    y, mu = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    if np.any((mu <= 0) & (y > 0)):
        return math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / np.where(mu > 0, mu, 1.0)), 0.0)
    return float(max(0.0, 2.0 * np.sum(term - (y - mu))))  # >= 0 in exact arithmetic


@dataclass(frozen=True, kw_only=True, eq=False)
class TraceComparison:
    edges_s: np.ndarray  # the compared intervals' boundaries (n + 1), from the trace's start
    observed: np.ndarray  # n observed counts
    expected: np.ndarray  # n expected counts, the profile's visitors in the same intervals
    trace_intervals: int  # in the whole trace
    trace_end_s: float  # where the whole trace ends
    duration_s: float  # the scenario's run
    observed_total: float
    expected_total: float
    ratio: float | None  # observed / expected (None when nothing was expected)
    r_squared: float | None
    deviance: float
    deviance_per_interval: float
    unexpected_intervals: int  # intervals with visitors observed where the profile expects none
    peak_observed: float
    peak_observed_at_s: float  # the peak interval's start
    peak_expected: float
    peak_expected_at_s: float

    @property
    def intervals(self) -> int:
        return len(self.observed)

    @property
    def truncated(self) -> bool:
        """The trace runs past the scenario's run: only the overlap is compared."""
        return self.intervals < self.trace_intervals

    def figures(self) -> dict:
        """The figures as plain numbers (profile.json's "compare")."""
        return {
            "intervals": self.intervals,
            "trace_intervals": self.trace_intervals,
            "compared_from_s": float(self.edges_s[0]),
            "compared_to_s": float(self.edges_s[-1]),
            "trace_end_s": self.trace_end_s,
            "truncated_to_run": self.truncated,
            "observed_total": self.observed_total,
            "expected_total": self.expected_total,
            "observed_vs_expected": self.ratio,
            "r_squared": self.r_squared,
            "poisson_deviance": self.deviance,
            "poisson_deviance_per_interval": self.deviance_per_interval,
            "intervals_observed_where_none_expected": self.unexpected_intervals,
            "peak_observed": self.peak_observed,
            "peak_observed_at_s": self.peak_observed_at_s,
            "peak_expected": self.peak_expected,
            "peak_expected_at_s": self.peak_expected_at_s,
        }


def compare_to_trace(edges_s, observed, cumulative: Callable[[np.ndarray], np.ndarray], *,
                     duration_s: float) -> TraceComparison:
    """Compare a trace's counts (``edges_s``: n + 1 boundaries from 0, ``observed``: n counts) with the
    expected visitors ``np.diff(cumulative(edges))`` over the intervals that end within ``[0, duration_s]``.

    Raises ValueError when no interval of the trace ends within the run.
    """
    edges = np.asarray(edges_s, dtype=float)
    counts = np.asarray(observed, dtype=float)
    if edges.ndim != 1 or len(edges) != len(counts) + 1 or len(counts) == 0:
        raise ValueError(f"need n + 1 edges for n >= 1 counts, got {len(edges)} edges and {len(counts)} counts")
    within = compared_intervals(edges, duration_s)
    edges, counts = edges[: within + 1], counts[:within]
    expected = np.maximum(np.diff(np.asarray(cumulative(edges), dtype=float)), 0.0)  # round-off
    obs_total, exp_total = float(counts.sum()), float(expected.sum())
    deviance = poisson_deviance(counts, expected)
    i_obs, i_exp = int(np.argmax(counts)), int(np.argmax(expected))
    return TraceComparison(
        edges_s=edges, observed=counts, expected=expected,
        trace_intervals=len(np.asarray(observed)), trace_end_s=float(np.asarray(edges_s, dtype=float)[-1]),
        duration_s=float(duration_s),
        observed_total=obs_total, expected_total=exp_total,
        ratio=obs_total / exp_total if exp_total > 0 else None,
        r_squared=r_squared(counts, expected),
        deviance=deviance, deviance_per_interval=deviance / within,
        unexpected_intervals=int(np.sum((expected <= 0) & (counts > 0))),
        peak_observed=float(counts[i_obs]), peak_observed_at_s=float(edges[i_obs]),
        peak_expected=float(expected[i_exp]), peak_expected_at_s=float(edges[i_exp]),
    )
