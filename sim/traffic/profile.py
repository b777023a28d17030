"""The traffic profile: visitors per second over time, a pure function of the scenario.

``rate_per_s(t)`` is the baseline (a diurnal cycle, a flat rate or a replayed trace)
plus every share's visitors. A share brings ``direct_clicks`` spread by its decay
kernel, and a reshare cascade: each visitor brings on average ``n = 1 - 1/R``
more, each generation delayed by the same kernel (a Hawkes process with branching
ratio n). A random visitor's delay after the post is therefore the sum of K + 1
kernel delays with P(K = k) = (1 - n) n^k, and the share's rate is
``expected_visitors * cascade_pdf(t - at_s)``, integrating to exactly
followers x reach x click_through x reshare_factor.

For an exponential kernel the cascade is again exponential, with rate
``lambda (1 - n)`` (a closed form). For other kernels the first generation is
exact and the reshared generations are convolved numerically (FFT on a grid).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import numpy as np

from sim.config.kernels import ExponentialKernel, Kernel, MixKernel, PowerLawKernel
from sim.config.scenario import Scenario, Share, TrafficConfig
from sim.config.trace import Trace, read_trace

__all__ = ["Cascade", "Profile", "ProfileSummary", "build_profile"]

DAY_S = 86_400.0
HOUR_S = 3_600.0


def _time_scale_s(kernel: Kernel) -> float:
    """The shortest time over which the kernel changes shape (sets the grid step)."""
    if isinstance(kernel, ExponentialKernel):
        return kernel.half_life_s
    if isinstance(kernel, PowerLawKernel):
        return kernel.flat_s
    if isinstance(kernel, MixKernel):
        return min(_time_scale_s(p.kernel) for p in kernel.parts)
    raise TypeError(kernel)  # pragma: no cover


class Cascade:
    """The delay of a random visitor after the post: a density on t >= 0 that integrates to 1."""

    def __init__(self, kernel: Kernel, branching: float, horizon_s: float) -> None:
        self.kernel = kernel
        self.branching = branching
        self._closed: Kernel | None = None
        if branching == 0:
            self._closed = kernel
        elif isinstance(kernel, ExponentialKernel):
            # sum_k (1-n) n^k Gamma(k+1, lam) = Exp(lam (1-n)): the cascade is exponential again.
            self._closed = ExponentialKernel(half_life_s=kernel.half_life_s / (1 - branching))
        else:
            self._tabulate(max(horizon_s, 1.0))

    def _tabulate(self, horizon_s: float) -> None:
        dt = min(_time_scale_s(self.kernel) / 50, horizon_s / 1000)
        n_cells = int(min(math.ceil(horizon_s / dt), 1 << 20))
        dt = horizon_s / n_cells
        edges = np.arange(n_cells + 1) * dt
        cell = np.diff(self.kernel.cdf(edges))  # exact probability of each cell
        # On a grid of half cells a cell's mass sits at its midpoint (odd index 2i + 1), so a sum of
        # k + 1 kernel delays lands on the grid exactly (at the sum of the indices), whatever k.
        half = 2 * n_cells + 1  # index 2 n_cells: the horizon itself
        a = np.zeros(half)
        a[1::2] = cell
        # Transforms of the points before the horizon (2 n_cells of them): their products, up to
        # index 4 n_cells - 2, fit a circular convolution of 4 n_cells without wrapping round.
        size = 1 << int(math.ceil(math.log2(4 * n_cells)))

        def spectrum(x: np.ndarray) -> np.ndarray:
            return np.fft.rfft(x[:-1], size)

        def within(product: np.ndarray) -> np.ndarray:
            return np.maximum(np.fft.irfft(product, size)[:half], 0.0)  # FFT round-off

        n = self.branching
        # Every generation of the cascade, summed by doubling: with A_K = a^{*K} and
        # S_K = sum_{k=1..K} (1 - n) n^k a^{*(k+1)} (the reshared visitors of generations 1..K),
        # S_2K = S_K + n^K (S_K * A_K) and A_2K = A_K * A_K. Delays are >= 0, so what falls beyond
        # the horizon never comes back and each product is cut there. What generations beyond K
        # would add within the horizon is at most n^(K+1) times A_K's mass there: stop below 1e-12.
        spectrum_a = spectrum(a)
        offspring = within(spectrum_a * spectrum_a) * ((1 - n) * n)
        power, k = a, 1
        while n ** (k + 1) * float(power.sum()) > 1e-12 and k < 1 << 62:
            spectrum_p = spectrum_a if k == 1 else spectrum(power)
            offspring = offspring + n**k * within(spectrum(offspring) * spectrum_p)
            power = within(spectrum_p * spectrum_p)
            k *= 2
        # The offspring CDF at the cell edges: each point mass spread over the cell around it.
        cum = np.concatenate([[0.0], np.cumsum(offspring)])
        self._dt = dt
        self._edges = edges
        self._offspring_cdf = cum[0::2] + 0.5 * offspring[0::2]

    def cdf(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self._closed is not None:
            return self._closed.cdf(t)
        direct = (1 - self.branching) * self.kernel.cdf(t)
        return direct + np.interp(t, self._edges, self._offspring_cdf, left=0.0)

    def pdf(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self._closed is not None:
            return self._closed.pdf(t)
        direct = (1 - self.branching) * self.kernel.pdf(t)
        rates = np.diff(self._offspring_cdf) / self._dt
        idx = np.floor(t / self._dt).astype(np.int64)
        inside = (idx >= 0) & (idx < len(rates))
        return direct + np.where(inside, rates[np.clip(idx, 0, len(rates) - 1)], 0.0)


class _Diurnal:
    """``baseline_per_day`` spread over the clock: a cosine cycle or 24 hourly weights (mean 1)."""

    def __init__(self, traffic: TrafficConfig) -> None:
        self.mean_rate_per_s = (traffic.baseline_per_day or 0.0) / DAY_S
        self.amplitude = traffic.diurnal_amplitude
        self.peak_hour = traffic.diurnal_peak_hour
        self.start_hour = traffic.start_hour
        w = None if traffic.hourly_weights is None else np.asarray(traffic.hourly_weights, dtype=float)
        self.weights = None if w is None else w * 24 / w.sum()

    def _hours(self, t: np.ndarray) -> np.ndarray:
        return self.start_hour + np.asarray(t, dtype=float) / HOUR_S

    def _integral_h(self, x: np.ndarray) -> np.ndarray:
        """Integral of the weight over clock hours [0, x] (x may exceed 24)."""
        if self.weights is None:
            omega = 2 * math.pi / 24
            return x + self.amplitude / omega * np.sin(omega * (x - self.peak_hour))
        cum = np.concatenate([[0.0], np.cumsum(self.weights)])
        days, within = np.divmod(x, 24.0)
        hour = np.minimum(np.floor(within).astype(int), 23)
        return days * 24 + cum[hour] + (within - hour) * self.weights[hour]

    def rate_per_s(self, t: np.ndarray) -> np.ndarray:
        x = self._hours(t)
        if self.weights is None:
            w = 1 + self.amplitude * np.cos(2 * math.pi / 24 * (x - self.peak_hour))
        else:
            w = self.weights[np.minimum(np.floor(np.mod(x, 24)).astype(int), 23)]
        return self.mean_rate_per_s * w

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        x = self._hours(t)
        return self.mean_rate_per_s * HOUR_S * (self._integral_h(x) - self._integral_h(np.asarray(self.start_hour)))


class _Constant:
    def __init__(self, rate_per_s: float) -> None:
        self.mean_rate_per_s = rate_per_s

    def rate_per_s(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self.mean_rate_per_s)

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        return self.mean_rate_per_s * np.asarray(t, dtype=float)


@dataclass(frozen=True, kw_only=True)
class ProfileSummary:
    baseline_rate_per_s: float
    peak_rate_per_s: float
    peak_at_s: float
    half_surge_at_s: float | None
    visitors_total: float
    surge_visitors_total: float


class Profile:
    """Visitors per second over ``[0, duration_s]``: ``rate_per_s(t)`` and its exact integral."""

    def __init__(self, *, duration_s: float, baseline, shares: tuple[Share, ...] = ()) -> None:
        self.duration_s = float(duration_s)
        self.baseline = baseline
        self.shares = shares
        self.cascades = [
            Cascade(s.decay, s.branching_ratio, self.duration_s - s.at_s) for s in shares
        ]

    # -- the pure functions -------------------------------------------------------------
    def share_rate_per_s(self, i: int, t: np.ndarray) -> np.ndarray:
        share = self.shares[i]
        return share.expected_visitors * self.cascades[i].pdf(np.asarray(t, dtype=float) - share.at_s)

    def share_cumulative(self, i: int, t: np.ndarray) -> np.ndarray:
        share = self.shares[i]
        return share.expected_visitors * self.cascades[i].cdf(np.asarray(t, dtype=float) - share.at_s)

    def baseline_rate_per_s(self, t: np.ndarray) -> np.ndarray:
        return self.baseline.rate_per_s(np.asarray(t, dtype=float))

    def rate_per_s(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        return self.baseline_rate_per_s(t) + sum(
            (self.share_rate_per_s(i, t) for i in range(len(self.shares))), np.zeros_like(t)
        )

    def cumulative(self, t) -> np.ndarray:
        """Expected visitors arrived in [0, t]."""
        t = np.asarray(t, dtype=float)
        return self.baseline.cumulative(t) + sum(
            (self.share_cumulative(i, t) for i in range(len(self.shares))), np.zeros_like(t)
        )

    def expected_visitors(self, t0: float = 0.0, t1: float | None = None) -> float:
        t1 = self.duration_s if t1 is None else t1
        return float(self.cumulative(t1) - self.cumulative(t0))

    def binned(self, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Bin edges over [0, duration_s] and the expected visitors in each bin."""
        n = int(math.ceil(self.duration_s / bin_s - 1e-9))
        edges = np.minimum(np.arange(n + 1) * bin_s, self.duration_s)
        return edges, np.diff(self.cumulative(edges))

    # -- figures ---------------------------------------------------------------------------
    def summary(self) -> ProfileSummary:
        # A 1 s grid (at most 2e6 points), plus every share's instant, finds the peak.
        step = max(1.0, self.duration_s / 2e6)
        grid = np.unique(np.concatenate([
            np.arange(0.0, self.duration_s, step), [s.at_s for s in self.shares if s.at_s <= self.duration_s]
        ]))
        rates = self.rate_per_s(grid)
        peak = int(np.argmax(rates))
        surge = float(sum(self.share_cumulative(i, self.duration_s) for i in range(len(self.shares))))
        half_at = None
        if self.shares and surge > 0:
            cum = sum(self.share_cumulative(i, grid) for i in range(len(self.shares)))
            half_at = float(grid[np.searchsorted(cum, surge / 2)]) if cum[-1] >= surge / 2 else self.duration_s
        elif isinstance(self.baseline, Trace):
            cum = self.baseline.cumulative(grid)
            half_at = float(grid[min(np.searchsorted(cum, cum[-1] / 2), len(grid) - 1)])
        return ProfileSummary(
            baseline_rate_per_s=self._baseline_level(),
            peak_rate_per_s=float(rates[peak]),
            peak_at_s=float(grid[peak]),
            half_surge_at_s=half_at,
            visitors_total=self.expected_visitors(),
            surge_visitors_total=surge,
        )

    def _baseline_level(self) -> float:
        if isinstance(self.baseline, Trace):
            # A replayed trace has no separate baseline: its median rate stands for the usual level.
            edges = self.baseline.edges_s
            return float(np.median(self.baseline.counts / np.diff(edges)))
        return float(self.baseline.mean_rate_per_s)


def build_profile(scenario: Scenario) -> Profile:
    """The scenario's profile, built once per traffic, duration and trace file's contents.

    A run asks for it in several places (the arrival windows of every replication, the surge
    window, the verdict's peak demand, the advice's sizing); a profile is immutable once built
    (a cascade's table included), so they share one. The trace file's size and time of change
    are part of the key: a trace rewritten in place is read again.
    """
    traffic = scenario.traffic
    stamp = None
    if traffic.trace is not None:
        try:
            st = os.stat(traffic.trace)
            stamp = (st.st_size, st.st_mtime_ns)
        except OSError:
            pass  # read_trace names the missing file
    return _build_profile(traffic, scenario.run.duration_s, stamp)


@functools.lru_cache(maxsize=8)  # a handful of traffics in one process (advise's variants share one)
def _build_profile(traffic: TrafficConfig, duration_s: float, _trace_stamp) -> Profile:
    if traffic.trace is not None:
        baseline = read_trace(traffic.trace)
    elif traffic.constant_per_s is not None:
        baseline = _Constant(traffic.constant_per_s)
    else:
        baseline = _Diurnal(traffic)
    return Profile(duration_s=duration_s, baseline=baseline, shares=traffic.shares)
