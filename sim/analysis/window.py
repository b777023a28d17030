"""The surge's window: the stretch of a run a figure zooms to, from shortly before the first share to
when the profile's rate is back near its baseline.

"Near" is one rule: the rate above the baseline is at most ``near`` (10 %) of the larger of the
baseline there and the peak's height above the baseline. The first term is "within 10 % of the
baseline"; the second ends the window of a surge whose long tail stays above 1.1x the baseline for
days (anca-2020's power-law tail is still 1.4x the baseline 46 h after the post) once it has fallen to
a tenth of its peak. The margin on each side is ``margin`` (10 %) of the span from the first share to
that end, so the quiet before and after is seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SurgeWindow", "surge_window", "NEAR", "MARGIN", "WHOLE_RUN_SHARE"]

NEAR = 0.10
MARGIN = 0.10
# A window over 90 % of the run shows what the whole run shows: the figures draw the run once.
WHOLE_RUN_SHARE = 0.9
_POINTS = 200_000  # grid points over the run (at most; never finer than 1 s)


@dataclass(frozen=True, kw_only=True)
class SurgeWindow:
    start_s: float
    end_s: float
    duration_s: float
    why: str = "the whole run"  # what ended the window, for a figure's title

    @property
    def whole_run(self) -> bool:
        """True when the window is the run, or so near it that zooming would show nothing more."""
        return bool(self.end_s - self.start_s >= WHOLE_RUN_SHARE * self.duration_s)


def surge_window(profile, *, near: float = NEAR, margin: float = MARGIN) -> SurgeWindow:
    """The window of ``profile`` (a :class:`sim.traffic.profile.Profile`) to show; the whole run when it
    has no share within the run or no instant where the rate is not near the baseline."""
    if not near > 0:
        raise ValueError(f"near must be > 0, got {near!r}")
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    duration = profile.duration_s
    whole = SurgeWindow(start_s=0.0, end_s=duration, duration_s=duration)
    starts = [s.at_s for s in profile.shares if 0 <= s.at_s < duration]
    if not starts:
        return whole
    step = max(1.0, duration / _POINTS)
    grid = np.unique(np.concatenate([np.arange(0.0, duration, step), starts, [duration]]))
    base = profile.baseline_rate_per_s(grid)
    excess = profile.rate_per_s(grid) - base
    allowed = near * np.maximum(base, excess.max())
    far = np.flatnonzero(excess > allowed)
    if not far.size:
        return whole
    first = min(starts)
    back = grid[min(far[-1] + 1, len(grid) - 1)]  # the first grid instant after the last one far from it
    pad = margin * (back - first)
    last = far[-1]
    if last == len(grid) - 1:
        why = "to the end of the run (the rate is not back near the baseline within it)"
    elif excess.max() > base[last]:
        why = f"until the rate above the baseline has fallen to {near:.0%} of its peak height"
    else:
        why = f"until the rate is back within {near:.0%} of the baseline"
    return SurgeWindow(start_s=float(max(0.0, first - pad)), end_s=float(min(duration, back + pad)),
                       duration_s=float(duration), why=why)
