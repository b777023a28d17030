"""Streaming statistics for a run: latency histograms, per-bin series, time averages.

A surge run can serve tens of millions of requests, so nothing here keeps a value
per request: memory grows with the number of time bins (duration / bin width),
never with traffic.

* :class:`LogHistogram` -- mergeable log-bucketed histogram (the DDSketch layout).
* :class:`BinnedSeries` -- named counters and latency histograms per time bin.
* :class:`TimeWeighted` -- per-bin time average and peak of a piecewise-constant
  level (requests in system, queue length, busy servers, instances).
* :func:`mean_ci` and :func:`t_ppf` (from :mod:`sim.confidence`) -- Student-t intervals
  across replications.

Quantiles are *lower* quantiles: ``quantile(q)`` estimates the order statistic
``x_(k)`` with 1-based rank ``k = max(1, ceil(q * n))`` (``q * n`` in floating
point), i.e. ``numpy.quantile(x, q, method="inverted_cdf")``. For data in
``{0} U [min_value, max_value]`` the estimate ``e`` obeys ``|e - x_(k)| <= alpha * x_(k)``
(0.5 % with the default ``alpha``, inside the 1 % we promise). Values in
``(0, min_value)`` are counted as "low" and may be off by up to ``min_value`` in
absolute terms; values above ``max_value`` are clamped into the top bucket and
counted in ``overflow_count`` (their quantiles carry no guarantee).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Iterable

import numpy as np

from sim.confidence import mean_ci, t_ppf  # re-exported: one place to import statistics from

__all__ = ["LogHistogram", "BinnedSeries", "TimeWeighted", "mean_ci", "t_ppf", "DEFAULT_ALPHA"]

DEFAULT_ALPHA = 0.005
_ceil, _log = math.ceil, math.log  # module-level aliases: one lookup fewer in the hot path
_MIN_VALUE, _MAX_VALUE = 1e-6, 1e6


class _Layout:
    """Bucket geometry shared (via the cache below) by histograms with equal parameters.

    Bucket ``i`` (absolute index) holds ``(gamma**(i-1), gamma**i]``; its midpoint in the
    relative sense, ``2 gamma**i / (gamma + 1)``, is within ``alpha`` of every member.
    Slot ``s = i - offset`` is the position in a dense array covering min..max value.
    """

    def __init__(self, alpha: float, min_value: float, max_value: float) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if not 0.0 < min_value < max_value < math.inf:
            raise ValueError(f"need 0 < min_value < max_value < inf, got {min_value!r}, {max_value!r}")
        self.key = (alpha, min_value, max_value)
        self.alpha, self.min_value, self.max_value = alpha, min_value, max_value
        self.gamma = (1.0 + alpha) / (1.0 - alpha)
        self.log_gamma = math.log(self.gamma)
        # The scalar path in LogHistogram.add uses this very expression, so min_value
        # lands in slot 0 and max_value in the last slot exactly.
        self.offset = math.ceil(math.log(min_value) / self.log_gamma)
        self.size = math.ceil(math.log(max_value) / self.log_gamma) - self.offset + 1
        i = np.arange(self.offset, self.offset + self.size, dtype=np.float64)
        self.values = 2.0 * np.exp(i * self.log_gamma) / (self.gamma + 1.0)
        self.values.flags.writeable = False

    def slots(self, x: np.ndarray) -> np.ndarray:
        """Slots of values within [min_value, max_value] (vectorised ``add``)."""
        s = np.ceil(np.log(x) / self.log_gamma).astype(np.int64) - self.offset
        # np.log may differ from math.log by an ulp; never step outside the array.
        return np.clip(s, 0, self.size - 1, out=s)


@functools.lru_cache(maxsize=None)
def _layout(alpha: float, min_value: float, max_value: float) -> _Layout:
    return _Layout(float(alpha), float(min_value), float(max_value))


class LogHistogram:
    """Mergeable histogram of non-negative values (latencies, seconds); see the module doc.

    Buckets live in a fixed numpy int64 array covering ``min_value .. max_value``
    (2764 slots, 22 kB, by default), so adding values never allocates. Histograms
    made by :class:`BinnedSeries` use the same class with a window of slots that
    grows to the observed range, which keeps one histogram per bin affordable.
    """

    __slots__ = ("_layout", "_lo", "_counts", "_low", "_over", "_n", "_sum", "_min", "_max",
                 "_minv", "_maxv", "_lg", "_off", "_top")

    def __init__(self, alpha: float = DEFAULT_ALPHA, min_value: float = _MIN_VALUE,
                 max_value: float = _MAX_VALUE) -> None:
        self._init(_layout(alpha, min_value, max_value), dense=True)

    def _init(self, layout: _Layout, dense: bool) -> None:
        self._layout = layout
        self._lo = 0  # slot of self._counts[0]
        self._counts = np.zeros(layout.size if dense else 0, dtype=np.int64)
        self._low = self._over = self._n = 0
        self._sum = 0.0
        self._min, self._max = math.inf, -math.inf
        # Copied onto the instance because add() runs once per request: attribute
        # lookups through self._layout would cost more than the arithmetic.
        self._minv, self._maxv = layout.min_value, layout.max_value
        self._lg, self._off, self._top = layout.log_gamma, layout.offset, layout.size - 1

    @classmethod
    def _window(cls, layout: _Layout) -> "LogHistogram":
        h = cls.__new__(cls)
        h._init(layout, dense=False)
        return h

    def _cover(self, lo: int, hi: int) -> None:
        """Widen the slot window to include slots ``lo .. hi-1`` (a no-op when dense)."""
        cur_lo, cur_hi = self._lo, self._lo + len(self._counts)
        if cur_lo <= lo and hi <= cur_hi:
            return
        if cur_hi > cur_lo:
            lo, hi = min(lo, cur_lo), max(hi, cur_hi)
        # Grow only the side that needs it, with slack proportional to the width, so
        # widening is amortised O(1) yet a window stays near the range it has seen.
        pad = max(8, (hi - lo) // 4)
        new_lo = max(0, lo - pad) if lo < cur_lo or cur_hi == cur_lo else cur_lo
        new_hi = min(self._layout.size, hi + pad) if hi > cur_hi or cur_hi == cur_lo else cur_hi
        counts = np.zeros(new_hi - new_lo, dtype=np.int64)
        if cur_hi > cur_lo:
            counts[cur_lo - new_lo:cur_hi - new_lo] = self._counts
        self._lo, self._counts = new_lo, counts

    def add(self, x: float) -> None:
        """Count one value ``x >= 0`` (ValueError for negative or nan)."""
        if self._minv <= x <= self._maxv:
            s = _ceil(_log(x) / self._lg) - self._off
        elif x > self._maxv:
            s = self._top
            self._over += 1
        elif x >= 0.0:
            s = -1
            self._low += 1
        else:  # negative or nan: every comparison above was False
            raise ValueError(f"histogram values must be >= 0, got {x!r}")
        if s >= 0:
            j = s - self._lo
            c = self._counts
            if 0 <= j < len(c):
                c[j] += 1
            else:
                self._cover(s, s + 1)
                self._counts[s - self._lo] += 1
        self._n += 1
        self._sum += x
        if x < self._min:
            self._min = x
        if x > self._max:
            self._max = x

    def add_many(self, values: Any) -> "LogHistogram":
        """Count every value of an array (same result as ``add`` on each); returns self."""
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size == 0:
            return self
        if not (x >= 0.0).all():
            raise ValueError("histogram values must be >= 0 (found a negative value or nan)")
        mid = (x >= self._minv) & (x <= self._maxv)
        n_over = int(np.count_nonzero(x > self._maxv))
        slots = self._layout.slots(x[mid])
        if n_over:
            slots = np.concatenate([slots, np.full(n_over, self._top, dtype=np.int64)])
        if slots.size:
            self._cover(int(slots.min()), int(slots.max()) + 1)
            self._counts += np.bincount(slots - self._lo, minlength=len(self._counts))
        self._over += n_over
        self._low += x.size - slots.size
        self._n += x.size
        self._sum += float(x.sum())
        self._min, self._max = min(self._min, float(x.min())), max(self._max, float(x.max()))
        return self

    def merge(self, other: "LogHistogram") -> "LogHistogram":
        """Add ``other``'s counts into this histogram (in place); returns self."""
        if not isinstance(other, LogHistogram) or other._layout.key != self._layout.key:
            raise ValueError("can only merge LogHistograms with equal alpha, min_value and max_value")
        nz = np.flatnonzero(other._counts)
        if nz.size:  # copy only the occupied range, so windows stay narrow
            part = other._counts[nz[0]:nz[-1] + 1]
            lo = other._lo + int(nz[0])
            self._cover(lo, lo + len(part))
            self._counts[lo - self._lo:lo - self._lo + len(part)] += part
        self._low += other._low
        self._over += other._over
        self._n += other._n
        self._sum += other._sum
        self._min, self._max = min(self._min, other._min), max(self._max, other._max)
        return self

    def copy(self) -> "LogHistogram":
        return LogHistogram(*self._layout.key).merge(self)

    count = property(lambda self: self._n, doc="Number of values added.")
    sum = property(lambda self: float(self._sum), doc="Exact (floating-point) running sum.")
    low_count = property(lambda self: self._low, doc="Values below min_value (exact zeros included).")
    overflow_count = property(lambda self: self._over, doc="Values above max_value (clamped).")
    alpha = property(lambda self: self._layout.alpha, doc="Relative accuracy of quantiles.")

    @property
    def mean(self) -> float:
        return self._sum / self._n if self._n else math.nan

    @property
    def min(self) -> float:
        return float(self._min) if self._n else math.nan

    @property
    def max(self) -> float:
        return float(self._max) if self._n else math.nan

    @property
    def storage_nbytes(self) -> int:
        """Bytes held by the bucket array (constant for a histogram you construct)."""
        return self._counts.nbytes

    def bucket_counts(self) -> np.ndarray:
        """Counts of all slots, min_value .. max_value (a dense copy)."""
        out = np.zeros(self._layout.size, dtype=np.int64)
        out[self._lo:self._lo + len(self._counts)] = self._counts
        return out

    def quantiles(self, qs: Any) -> np.ndarray:
        """Lower quantiles (rank ``max(1, ceil(q*n))``) for an array of q in [0, 1]; nan if empty."""
        q = np.asarray(qs, dtype=np.float64)
        if not ((q >= 0.0) & (q <= 1.0)).all():
            raise ValueError(f"quantile levels must be within [0, 1], got {qs!r}")
        if self._n == 0:
            return np.full(q.shape, math.nan)
        # Rank among the bucketed values; <= 0 means the answer is a "low" value.
        rank = np.maximum(np.ceil(q * self._n), 1.0) - self._low
        cum = np.cumsum(self._counts)
        if cum.size:
            j = np.minimum(np.searchsorted(cum, rank, side="left"), cum.size - 1)
            est = np.where(rank <= 0, 0.0, self._layout.values[self._lo + j])
        else:
            est = np.zeros(q.shape)
        # The true quantile lies in [min, max], so clamping can only reduce the error;
        # it makes q=0 and q=1 exact.
        return np.clip(est, self._min, self._max)

    def fraction_above(self, t: float) -> float:
        """Fraction of values greater than ``t`` (to bucket resolution: within ``alpha`` of ``t``)."""
        if self._n == 0:
            return math.nan
        if t < self._layout.min_value:
            return (self._n - self._low) / self._n
        slot = int(self._layout.slots(np.asarray([t], dtype=np.float64))[0]) - self._lo
        above = int(self._counts[max(slot + 1, 0):].sum())
        return above / self._n

    def quantile(self, q: float) -> float:
        return float(self.quantiles(q))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready sparse encoding: absolute bucket indices and their counts."""
        nz = np.flatnonzero(self._counts)
        alpha, min_value, max_value = self._layout.key
        return {
            "alpha": alpha, "min_value": min_value, "max_value": max_value,
            "count": int(self._n), "sum": float(self._sum),
            "min": self.min if self._n else None, "max": self.max if self._n else None,
            "low_count": int(self._low), "overflow_count": int(self._over),
            "index": (nz + self._lo + self._layout.offset).tolist(),
            "counts": self._counts[nz].tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LogHistogram":
        h = cls(d["alpha"], d["min_value"], d["max_value"])
        slots = np.asarray(d["index"], dtype=np.int64) - h._off
        counts = np.asarray(d["counts"], dtype=np.int64)
        if (slots.shape != counts.shape or slots.ndim != 1 or (counts < 0).any()
                or ((slots < 0) | (slots > h._top)).any() or np.unique(slots).size != slots.size):
            raise ValueError("bad LogHistogram dict: index/counts mismatch, out of range or repeated")
        h._counts[slots] = counts
        h._low, h._over, h._n = int(d["low_count"]), int(d["overflow_count"]), int(d["count"])
        h._sum = float(d["sum"])
        if h._n:
            h._min, h._max = float(d["min"]), float(d["max"])
        if h._n != h._low + int(counts.sum()) or h._over > h._counts[-1]:
            raise ValueError("bad LogHistogram dict: counts do not add up")
        return h

    def __repr__(self) -> str:
        return f"LogHistogram(count={self._n}, mean={self.mean:.6g}, alpha={self.alpha})"


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
                 min_value: float = _MIN_VALUE, max_value: float = _MAX_VALUE) -> None:
        self._bins = _Bins(duration_s, bin_s)
        self._layout = _layout(alpha, min_value, max_value)
        self._counters: dict[str, np.ndarray] = {}
        self._hists: dict[str, list[LogHistogram | None]] = {}

    n_bins = property(lambda self: self._bins.n)
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

    def mean_series(self, name: str) -> np.ndarray:
        return self._per_bin(name, lambda h: h.mean, math.nan)

    def bin_histogram(self, name: str, b: int) -> LogHistogram:
        """Bin ``b``'s histogram of ``name`` as a (dense) LogHistogram."""
        out = LogHistogram(*self._layout.key)
        h = self._hists[name][b] if name in self._hists else None
        return out if h is None else out.merge(h)

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
        # The current bin's area and peak so far; the arrays are written on leaving it (sim.fold).
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
        """Each ``(t, level)`` change in order, folded by ``sim.fold`` (compiled), the one
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
        from sim.fold import fold_levels  # numba loads on first use, not with this module

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
