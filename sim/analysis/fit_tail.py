"""What a fitted share says beyond its trace, and whether a burst is a share at all.

Extrapolation (``reach``): the trace counts a share's visitors from its onset to the trace's
end (``watched_s``). Beyond the end only the kernel speaks, and a kernel fitted to a few
intervals can put most of its visitors there (a power law with a tiny exponent spreads them
over billions of days). So a share's visitors beyond the trace are extrapolated by its kernel
to at most ``HORIZON_WATCHED`` times the time the trace watched it after the trace's end, and
only when the trace determines the tail (its visitors and every kernel parameter that is not
shorter than the trace's interval have a 95 % interval); otherwise none. What the kernel puts
further on is the model's, not the data's, and is said apart.

Bursts (``burst_noise``): a share whose visitors all come within its onset's interval or two
has no tail to tell it from an outlier of the baseline's noise. The baseline's noise is taken
as negative binomial (variance ``mu + mu^2 / k``, ``k`` by maximum likelihood on the whole
trace, which suits counts with the bursts of web traffic); the burst's peak is compared with
it. When the noise alone would reach that peak in ``NOISE_LEVEL`` or more intervals of a trace
this long (its tail probability times the intervals), the burst is noise; below, a small share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from sim.config.kernels import Kernel

__all__ = ["HORIZON_WATCHED", "NOISE_LEVEL", "Reach", "reach", "half_within_s", "BurstEvidence", "burst_noise"]

HORIZON_WATCHED = 1.0  # extrapolate at most as long again after the trace as the trace watched the share
NOISE_LEVEL = 0.01  # a burst the noise would reach in fewer than 0.01 intervals of the trace is a share


@dataclass(frozen=True, kw_only=True)
class Reach:
    counted: float  # the share's visitors within the trace (the fitted model's part of the counts)
    extrapolated: float  # beyond the trace's end, up to horizon_s after the onset (0 when not determined)
    beyond: float  # what the kernel puts after that: the model's, not the data's
    watched_s: float  # from the onset to the trace's end
    horizon_s: float  # after the onset, where the extrapolation stops
    tail_determined: bool


def reach(visitors: float, kernel: Kernel, at_s: float, end_s: float, tail_determined: bool) -> Reach:
    """A share's visitors split at the trace's end and at the extrapolation's horizon."""
    watched = max(end_s - at_s, 0.0)
    horizon = watched * (1.0 + HORIZON_WATCHED) if tail_determined else watched
    counted = visitors * float(kernel.cdf(watched))
    upto = visitors * float(kernel.cdf(horizon))
    return Reach(counted=counted, extrapolated=upto - counted, beyond=max(visitors - upto, 0.0),
                 watched_s=watched, horizon_s=horizon, tail_determined=tail_determined)


def half_within_s(kernel: Kernel, horizon_s: float) -> float:
    """When half of a share's visitors up to ``horizon_s`` have come, after its onset (bisection)."""
    target = 0.5 * float(kernel.cdf(horizon_s))
    lo, hi = 0.0, max(horizon_s, 1e-9)
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(kernel.cdf(mid)) < target else (lo, mid)
    return hi


@dataclass(frozen=True, kw_only=True)
class BurstEvidence:
    noise: bool
    at_s: float  # the start of the burst's peak interval
    peak: float  # the burst's largest count
    expected: float  # the baseline's expected count there
    k: float  # the negative binomial's shape fitted to the trace's noise
    by_chance: float  # how many intervals of a trace this long the noise alone would take that high

    def words(self) -> str:
        what = "noise" if self.noise else "a small share"
        return (f"{what} by the evidence: {self.peak:,.0f} counted against {self.expected:,.1f} expected; the "
                f"baseline's noise (negative binomial, k = {self.k:.3g}) reaches that in {self.by_chance:.2g} "
                f"intervals of a trace this long (a share needs under {NOISE_LEVEL:g})")


def _nb_shape(y: np.ndarray, mu: np.ndarray) -> float:
    """The negative binomial's shape k of the counts about ``mu``, by maximum likelihood."""
    def nll(log_k: float) -> float:
        k = math.exp(log_k)
        return -float(stats.nbinom.logpmf(y, k, k / (k + mu)).sum())

    # k from e^-5 (wild bursts) to e^15 (Poisson to 7 digits): the bounds of what a trace can show
    return math.exp(optimize.minimize_scalar(nll, bounds=(-5.0, 15.0), method="bounded").x)


def burst_noise(y: np.ndarray, mu_base: np.ndarray, peak: int, at_s: float) -> BurstEvidence:
    """Is the burst peaking at interval ``peak`` noise of the baseline ``mu_base``, or a small share?"""
    k = _nb_shape(y, mu_base)
    m = float(mu_base[peak])
    p = float(stats.nbinom.sf(y[peak] - 1, k, k / (k + m)))
    by_chance = p * len(y)
    return BurstEvidence(noise=by_chance >= NOISE_LEVEL, at_s=at_s, peak=float(y[peak]), expected=m, k=k,
                         by_chance=by_chance)
