"""Level changes folded into per-bin areas and peaks, compiled: ``TimeWeighted.update`` in bulk.

The fold is the very arithmetic of :meth:`sim.stats.series.TimeWeighted.update`, change by
change, so a level gets the same areas to the last bit however its changes are
batched (the event engines buffer them, the compiled loop hands them over in blocks).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["fold_levels", "ST_B", "ST_BIN_END", "ST_T", "ST_LEVEL", "ST_AREA", "ST_MAX"]

# The running state: current bin, its end, time and level of the latest change, the current
# bin's area and peak so far.
ST_B, ST_BIN_END, ST_T, ST_LEVEL, ST_AREA, ST_MAX = range(6)


@numba.njit(cache=True)
def fold_levels(times: np.ndarray, levels: np.ndarray, area: np.ndarray, peak: np.ndarray, edges: np.ndarray,
                bin_s: float, st: np.ndarray) -> None:
    """``update(t, level)`` for each pair; ``times`` non-decreasing, after ``st[ST_T]``, within the bins."""
    n = len(edges) - 1
    b, bin_end, t0, lvl = int(st[ST_B]), st[ST_BIN_END], st[ST_T], st[ST_LEVEL]
    cur_area, cur_max = st[ST_AREA], st[ST_MAX]
    for j in range(len(times)):
        t = times[j]
        dt = t - t0
        if dt > 0.0:
            if t <= bin_end:
                cur_area += lvl * dt
                if lvl > cur_max:
                    cur_max = lvl
                t0 = t
            else:  # close bin b, fill the bins wholly spanned, open the bin holding t
                k = min(int(t / bin_s), n - 1)  # as sim.stats.series._Bins.index
                if t < edges[k]:
                    k -= 1
                elif k < n - 1 and t >= edges[k + 1]:
                    k += 1
                if t == edges[k]:  # the segment ends on an edge: bin k gets nothing yet
                    k -= 1
                cur_area += lvl * (bin_end - t0)
                if bin_end > t0:
                    cur_max = max(cur_max, lvl)
                area[b] = cur_area
                peak[b] = cur_max if cur_max > -np.inf else np.nan
                for m in range(b + 1, k):
                    area[m] = lvl * (edges[m + 1] - edges[m])
                    peak[m] = lvl
                b, bin_end, t0 = k, edges[k + 1], t
                cur_area = lvl * (t - edges[k])
                cur_max = lvl if t > edges[k] else -np.inf
        lvl = levels[j]
    st[ST_B], st[ST_BIN_END], st[ST_T], st[ST_LEVEL], st[ST_AREA], st[ST_MAX] = b, bin_end, t0, lvl, cur_area, cur_max
