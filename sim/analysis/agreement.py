"""Predicted against measured, bin by bin: pairing the two time series and where they disagree.

``surge run --time-scale X`` writes its bins in wall seconds of the test, ``surge loadtest``
in simulated seconds; bin ``i`` of one is bin ``i`` of the other. They are paired by
index (matching start times by rounding drops bins whose edges drift in the last digits),
every bin of the longer series is kept, and a pair whose starts differ by more than a
thousandth of a bin is refused as two different binnings.

Disagreement is judged on counts, where each side is one Poisson-like draw: a bin
disagrees when ``|p - m| > Z_LIMIT * sqrt(p + m)``. With Z_LIMIT = 4 a bin of two draws
of the same process is flagged with probability about 6e-5, so a run of 150 bins and
four count series shows a false flag about 4 % of the time.

A count that is not Poisson-like passes its own variance per row: refusals at overload
are arrivals minus the servers' departures, two independent counts, so their variance
is about ``arrivals + served``, (lambda + X) / (lambda - X) times their mean (5x at
1.5x capacity), and judged as Poisson nearly every bin of an overload would be flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Pairing", "pair_bins", "disagreements", "Z_LIMIT"]

Z_LIMIT = 4.0


@dataclass(frozen=True, kw_only=True)
class Pairing:
    pairs: list[tuple[float, float, dict | None, dict | None]]  # start, end (simulated s), predicted row, measured row
    only_predicted: int
    only_measured: int


def pair_bins(predicted: list[dict], time_scale: float, measured: list[dict]) -> Pairing:
    """Bin i with bin i; the longer series' extra bins kept with None on the other side.

    Raises ValueError when a pair's starts differ by more than 1e-3 of a bin (another run.bin_s)."""
    n = min(len(predicted), len(measured))
    pairs = []
    for i in range(n):
        p, m = predicted[i], measured[i]
        start_p = p["bin_start_s"] * time_scale
        width = max(m["bin_end_s"] - m["bin_start_s"], 1e-9)
        if abs(start_p - m["bin_start_s"]) > 1e-3 * width:
            raise ValueError(f"bin {i} starts at {start_p:g} s (simulated) in the prediction and at "
                             f"{m['bin_start_s']:g} s in the measurement: same scenario and run.bin_s?")
        pairs.append((m["bin_start_s"], m["bin_end_s"], p, m))
    for p in predicted[n:]:
        pairs.append((p["bin_start_s"] * time_scale, p["bin_end_s"] * time_scale, p, None))
    for m in measured[n:]:
        pairs.append((m["bin_start_s"], m["bin_end_s"], None, m))
    return Pairing(pairs=pairs, only_predicted=max(len(predicted) - n, 0), only_measured=max(len(measured) - n, 0))


def disagreements(pairs, get, variance=None) -> list[tuple[float, float, float, int]]:
    """Runs of consecutive paired bins where the count ``get(row)`` differs beyond its noise:
    (start, end, the largest |z| in the run, the sign of measured - predicted).

    ``variance(row)`` is a row's variance of the count (default: the count, Poisson)."""
    runs: list[list[float]] = []
    prev_end = None
    for start, end, p, m in pairs:
        if p is None or m is None:
            prev_end = None
            continue
        a, b = float(get(p)), float(get(m))
        var = a + b if variance is None else float(variance(p)) + float(variance(m))
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(var)) or var <= 0:
            prev_end = None
            continue
        z = (b - a) / math.sqrt(var)
        if abs(z) > Z_LIMIT:
            sign = 1 if z > 0 else -1
            if runs and prev_end == start and runs[-1][3] == sign:
                runs[-1][1] = end
                runs[-1][2] = max(runs[-1][2], abs(z))
            else:
                runs.append([start, end, abs(z), sign])
            prev_end = end
        else:
            prev_end = None
    return [(r[0], r[1], r[2], int(r[3])) for r in runs]
