"""A mergeable log-bucketed latency histogram (the DDSketch layout): memory per histogram, not per value.

Quantiles are *lower* quantiles: ``quantile(q)`` estimates the order statistic
``x_(k)`` with 1-based rank ``k = max(1, ceil(q * n))`` (``q * n`` in floating
point), i.e. ``numpy.quantile(x, q, method="inverted_cdf")``. For data in
``{0} U [min_value, max_value]`` the estimate ``e`` obeys ``|e - x_(k)| <= alpha * x_(k)``
(0.5 % with the default ``alpha``, the accuracy docs/outputs.md states). Values in
``(0, min_value)`` are counted as "low" and may be off by up to ``min_value`` in
absolute terms; values above ``max_value`` are clamped into the top bucket and
counted in ``overflow_count`` (their quantiles carry no guarantee).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["LogHistogram", "DEFAULT_ALPHA", "MIN_VALUE", "MAX_VALUE", "bucket_layout"]

DEFAULT_ALPHA = 0.005
_ceil, _log = math.ceil, math.log  # module-level aliases: one lookup fewer in the hot path
MIN_VALUE, MAX_VALUE = 1e-6, 1e6


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
def bucket_layout(alpha: float, min_value: float, max_value: float) -> _Layout:
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

    def __init__(self, alpha: float = DEFAULT_ALPHA, min_value: float = MIN_VALUE,
                 max_value: float = MAX_VALUE) -> None:
        self._init(bucket_layout(alpha, min_value, max_value), dense=True)

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
