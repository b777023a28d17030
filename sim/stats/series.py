"""Per-bin statistics for a run: named counters and latency histograms per time bin, time averages.

A surge run can serve tens of millions of requests, so nothing here keeps a value
per request: memory grows with the number of time bins (duration / bin width),
never with traffic.

* :class:`BinnedSeries` -- named counters and latency histograms (:class:`~sim.stats.histogram.LogHistogram`)
  per time bin.
* :class:`TimeWeighted` -- per-bin time average and peak of a piecewise-constant
  level (requests in system, queue length, busy servers, instances).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.stats.histogram import DEFAULT_ALPHA, MAX_VALUE, MIN_VALUE, LogHistogram, bucket_layout

__all__ = ["BinnedSeries", "TimeWeighted"]

class _Bins:
    """Bins ``[k*bin_s, (k+1)*bin_s)`` covering ``[0, duration_s]``; the last may be shorter.

    Edges are ``k*bin_s`` as computed in floating point, and :meth:`index` agrees with
    them exactly (as ``numpy.histogram`` does), so counts match a histogram on ``edges``.
    """

    def __init__(self, duration_s: float, bin_s: float) -> None:
        if not (0.0 < bin_s < math.inf and 0.0 < duration_s < math.inf):
            raise ValueError(f"need finite duration_s > 0 and bin_s > 0, got {duration_s!r}, {bin_s!r}")
        self.duration_s, self.bin_s = float(duration_s), float(bin_s)
        # The tolerance avoids a sliver bin when duration/bin is an integer up to rounding.
        self.n = max(1, math.ceil(self.duration_s / self.bin_s - 1e-9))
        self.edges = [k * self.bin_s for k in range(self.n)] + [self.duration_s]
        self.edges_array = np.array(self.edges)
        self.lengths = np.diff(self.edges_array)

    def index(self, t: float) -> int:
        if not 0.0 <= t <= self.duration_s:
            raise ValueError(f"time {t!r} is outside the run [0, {self.duration_s}]")
        n, e = self.n, self.edges
        b = min(int(t / self.bin_s), n - 1)
        if t < e[b]:  # the quotient rounded up across an edge
            b -= 1
        elif b < n - 1 and t >= e[b + 1]:
            b += 1
        return b

    def same_as(self, other: "_Bins") -> bool:
        return (self.duration_s, self.bin_s) == (other.duration_s, other.bin_s)


class BinnedSeries:
    """Named per-bin counters and per-bin latency histograms for one run.

    Arrays and histograms are created on first use of a name; an unknown name reads
    as all zeros (counters) or all nan (quantiles), since "nothing happened" is a
    legitimate outcome (no errors, say). Per-bin histograms hold only the range of
    buckets they have seen, so memory is per bin and modest.
    """

    def __init__(self, duration_s: float, bin_s: float, *, alpha: float = DEFAULT_ALPHA,
                 min_value: float = MIN_VALUE, max_value: float = MAX_VALUE) -> None:
        self._bins = _Bins(duration_s, bin_s)
        self._layout = bucket_layout(alpha, min_value, max_value)
        self._counters: dict[str, np.ndarray] = {}
        self._hists: dict[str, list[LogHistogram | None]] = {}

    n_bins = property(lambda self: self._bins.n)
    bins = property(lambda self: self._bins)  # the bin edges, shared with whoever counts into these bins
    duration_s = property(lambda self: self._bins.duration_s)
    bin_s = property(lambda self: self._bins.bin_s)
    edges_s = property(lambda self: self._bins.edges_array.copy(), doc="n_bins + 1 bin edges (s).")
    bin_lengths_s = property(lambda self: self._bins.lengths.copy())
    counter_names = property(lambda self: tuple(sorted(self._counters)))
    histogram_names = property(lambda self: tuple(sorted(self._hists)))

    def bin_index(self, t: float) -> int:
        """The bin holding time ``t`` (ValueError outside [0, duration_s]; duration_s is in the last)."""
        return self._bins.index(t)

    def count(self, name: str, t: float, k: float = 1) -> None:
        """Add ``k`` to counter ``name`` in bin(t). Counters are float64: exact for integer counts < 2**53."""
        arr = self._counters.get(name)
        if arr is None:
            arr = self._counters[name] = np.zeros(self._bins.n)
        arr[self._bins.index(t)] += k

    def _hist_at(self, name: str, t: float) -> LogHistogram:
        """The histogram ``name`` of bin(t), made on first use (bins nobody observes cost nothing)."""
        b = self._bins.index(t)
        hists = self._hists.get(name)
        if hists is None:
            hists = self._hists[name] = [None] * self._bins.n
        h = hists[b]
        if h is None:
            h = hists[b] = LogHistogram._window(self._layout)
        return h

    def observe(self, name: str, t: float, value: float) -> None:
        """Add ``value`` to the histogram ``name`` of bin(t)."""
        self._hist_at(name, t).add(value)

    def observe_many(self, name: str, t: float, values: Any) -> None:
        """Add every value of ``values`` to the histogram ``name`` of bin(t) (as ``observe`` on each)."""
        self._hist_at(name, t).add_many(values)

    def counter(self, name: str) -> np.ndarray:
        arr = self._counters.get(name)
        return np.zeros(self._bins.n) if arr is None else arr.copy()

    def _per_bin(self, name: str, fn, empty: float) -> np.ndarray:
        out = np.full(self._bins.n, empty, dtype=np.float64)
        for b, h in enumerate(self._hists.get(name, ())):
            if h is not None and h.count:
                out[b] = fn(h)
        return out

    def observations(self, name: str) -> np.ndarray:
        """How many values ``observe`` put in each bin."""
        return self._per_bin(name, lambda h: h.count, 0.0).astype(np.int64)

    def quantile_series(self, name: str, q: float) -> np.ndarray:
        """Lower q-quantile per bin (nan for bins without observations)."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile level must be within [0, 1], got {q!r}")
        return self._per_bin(name, lambda h: h.quantile(q), math.nan)

    def bin_histogram(self, name: str, b: int) -> LogHistogram:
        """Bin ``b``'s histogram of ``name`` as a (dense) LogHistogram."""
        out = LogHistogram(*self._layout.key)
        h = self._hists[name][b] if name in self._hists else None
        return out if h is None else out.merge(h)

    def span_histogram(self, name: str, lo: int, hi: int) -> LogHistogram:
        """Bins ``lo`` .. ``hi - 1`` of ``name`` merged into one (dense) LogHistogram."""
        out = LogHistogram(*self._layout.key)
        for h in self._hists.get(name, ())[lo:hi]:
            if h is not None:
                out.merge(h)
        return out

    def total_histogram(self, name: str, from_s: float = 0.0) -> LogHistogram:
        """All bins of ``name`` merged, or only bins starting at or after ``from_s`` (a warm-up cut)."""
        out = LogHistogram(*self._layout.key)
        for start, h in zip(self._bins.edges, self._hists.get(name, ())):
            if h is not None and start >= from_s:
                out.merge(h)
        return out

    def merge(self, other: "BinnedSeries") -> "BinnedSeries":
        """Add another replication's counts and histograms (same bins and layout); returns self."""
        if not self._bins.same_as(other._bins) or self._layout.key != other._layout.key:
            raise ValueError("can only merge BinnedSeries with equal duration_s, bin_s and histogram layout")
        for name, arr in other._counters.items():
            self._counters.setdefault(name, np.zeros(self._bins.n))[:] += arr
        for name, theirs in other._hists.items():
            mine = self._hists.setdefault(name, [None] * self._bins.n)
            for b, h in enumerate(theirs):
                if h is not None:
                    if mine[b] is None:
                        mine[b] = LogHistogram._window(self._layout)
                    mine[b].merge(h)
        return self


class TimeWeighted:
    """Per-bin time average and peak of a piecewise-constant level, from t = 0.

    ``update(t, level)`` says the level becomes ``level`` at time ``t`` (t non-decreasing);
    the previous level's area over ``[t_prev, t]`` is split across the bins it spans.
    Updates within the current bin are O(1) pure-Python operations; crossing bins
    costs O(bins crossed). Peaks count only levels held for a positive time, so a
    level set and replaced at the same instant (an artefact of event ordering) is
    ignored. Queries cover ``[0, t_last]`` where ``t_last`` is the latest update or
    the time given to :meth:`finish`.
    """

    def __init__(self, duration_s: float, bin_s: float, initial_level: float = 0.0) -> None:
        self._bins = _Bins(duration_s, bin_s)
        self._area = np.zeros(self._bins.n)
        self._peak = np.full(self._bins.n, math.nan)
        self._b, self._bin_end = 0, self._bins.edges[1]
        self._t, self._level = 0.0, initial_level
        # The current bin's area and peak so far; the arrays are written on leaving it (sim.stats.fold).
        self._cur_area, self._cur_max = 0.0, -math.inf
        self._finished = False

    level = property(lambda self: self._level, doc="The current level.")
    time_s = property(lambda self: self._t, doc="Time of the latest update (or finish).")
    edges_s = property(lambda self: self._bins.edges_array.copy())

    def update(self, t: float, level: float) -> None:
        """The level becomes ``level`` at ``t`` (one change; the recorder batches its many changes)."""
        if t < self._t:
            raise ValueError(f"time must not decrease: {t!r} after {self._t!r}")
        self.update_many((t,), (level,))

    def update_many(self, times: Any, levels: Any) -> None:
        """Each ``(t, level)`` change in order, folded by ``sim.stats.fold`` (compiled), the one
        implementation: batching the changes differently gives the same areas to the last bit."""
        if self._finished:
            raise ValueError("TimeWeighted.update after finish()")
        times = np.ascontiguousarray(times, dtype=np.float64)
        levels = np.ascontiguousarray(levels, dtype=np.float64)
        if times.size == 0:
            return
        if not (times[0] >= self._t and (times.size == 1 or (np.diff(times) >= 0.0).all())
                and times[-1] <= self._bins.duration_s):
            raise ValueError("times must be non-decreasing and within the run")
        from sim.stats.fold import fold_levels  # numba loads on first use, not with this module

        st = np.array([self._b, self._bin_end, self._t, self._level, self._cur_area, self._cur_max])
        fold_levels(times, levels, self._area, self._peak, self._bins.edges_array, self._bins.bin_s, st)
        self._b, self._bin_end, self._t = int(st[0]), float(st[1]), float(st[2])
        self._level, self._cur_area, self._cur_max = float(st[3]), float(st[4]), float(st[5])

    def finish(self, t_end: float | None = None) -> None:
        """Hold the current level until ``t_end`` (default duration_s); later updates are errors."""
        self.update(self._bins.duration_s if t_end is None else t_end, self._level)
        self._finished = True

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(area, peak, covered seconds) per bin, the current bin included."""
        area, peak = self._area.copy(), self._peak.copy()
        area[self._b] = self._cur_area
        peak[self._b] = self._cur_max if self._cur_max > -math.inf else math.nan
        covered = np.clip(self._t - self._bins.edges_array[:-1], 0.0, self._bins.lengths)
        return area, peak, covered

    def area_per_bin(self) -> np.ndarray:
        return self._snapshot()[0]

    def mean_per_bin(self) -> np.ndarray:
        """Area / covered length per bin (the bin length for bins before t_last); nan if uncovered."""
        area, _, covered = self._snapshot()
        return np.divide(area, covered, out=np.full(area.shape, math.nan), where=covered > 0)

    def max_per_bin(self) -> np.ndarray:
        return self._snapshot()[1]

    @property
    def max_level(self) -> float:
        peak = self._snapshot()[1]
        peak = peak[~np.isnan(peak)]
        return float(peak.max()) if peak.size else math.nan

    def mean(self, from_s: float = 0.0) -> float:
        """Time average over ``[from_s, t_last]``; nan if that is empty.

        Exact when ``from_s`` is a bin edge; otherwise the bin holding ``from_s`` is
        pro-rated as if its level were constant (only per-bin areas are kept).
        """
        if not from_s >= 0.0:
            raise ValueError(f"from_s must be >= 0, got {from_s!r}")
        if from_s >= self._t:
            return math.nan
        area, _, covered = self._snapshot()
        starts = self._bins.edges_array[:-1]
        total = float(area[starts >= from_s].sum())
        k = self._bins.index(from_s)
        if starts[k] < from_s and covered[k] > 0:
            total += float(area[k]) * max(0.0, starts[k] + covered[k] - from_s) / float(covered[k])
        return total / (self._t - from_s)
