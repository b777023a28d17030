"""A traffic profile fitted to an observed trace: baseline with its daily cycle, and the shares.

The model is the scenario's own (``sim.traffic.profile``): a baseline of
``baseline_per_day`` visitors with a cosine daily cycle, plus shares, each bringing
``visitors`` spread after its onset ``at_s`` by a decay kernel (exponential, the SEISMIC
power law, or a mix of the two). The counts per interval are taken as Poisson with the
model's expected count (its exact integral over the interval), and the parameters are
the maximum-likelihood ones (``scipy.optimize``, L-BFGS-B from several starts).

Shares are found one at a time: a share starts where the standardized residuals of the
fit so far run highest; it is kept when it lowers the quasi-BIC (the deviance divided by
the Pearson dispersion, so that overdispersed counts do not buy spurious shares, plus
``ln(intervals)`` per parameter, so that one noisy interval among thousands does not
either) by more than ``MIN_GAIN``. Each share's kernel is the family of lowest BIC, unless a burst
(all its visitors within its onset's interval or so) is within ``MIN_GAIN`` of it in quasi-BIC at a
robust dispersion: the share is then that burst, kept as a small share or dropped as noise by the
test of ``fit_tail``, which also splits each share's visitors into counted and extrapolated. Intervals (95 %) come from the observed information (a finite-difference
Hessian of the negative log-likelihood on the parameters' log scale, times the
dispersion when it exceeds 1); a parameter whose interval spans more than a factor of
100, or whose information is singular, is reported as not determined by the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from threadpoolctl import threadpool_limits

from sim.config.kernels import ExponentialKernel, Kernel, MixKernel, MixPart, PowerLawKernel
from sim.analysis.fit_tail import BurstEvidence, Reach, burst_noise, reach
from sim.analysis.trace_compare import poisson_deviance, r_squared
from sim.config.trace import Trace
from sim.errors import ConfigError

__all__ = ["FitResult", "FittedShare", "Estimate", "fit_trace", "KERNELS", "MIN_GAIN"]

DAY_S = 86_400.0
OMEGA_PER_H = 2 * math.pi / 24
KERNELS = ("exponential", "power_law", "mix")
MIN_GAIN = 10.0  # quasi-BIC units a new share must save ("very strong" evidence, 2 ln B > 10)
_Z95 = 1.959964
_UNDETERMINED_LOG = math.log(10.0)  # a log-scale half-width beyond this: the interval spans > 100x


@dataclass(frozen=True, kw_only=True)
class Estimate:
    value: float
    low: float | None = None  # None: not determined by the data
    high: float | None = None

    @property
    def determined(self) -> bool:
        return self.low is not None


@dataclass(frozen=True, kw_only=True)
class FittedShare:
    at_s: Estimate
    visitors: Estimate  # the kernel's whole, tail included: the model's parameter
    kernel: Kernel
    kernel_params: dict[str, Estimate]  # e.g. half_life_s, flat_s, theta, weight
    reach: Reach | None = None  # counted within the trace, extrapolated beyond it (``fit_tail``)
    burst: BurstEvidence | None = None  # set when the share is a burst with no tail: why it is a share


@dataclass(frozen=True, kw_only=True)
class FitResult:
    edges_s: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    start_hour: float
    baseline_per_day: Estimate
    diurnal_amplitude: Estimate
    diurnal_peak_hour: float
    diurnal_fitted: bool  # False when the intervals are too long to see a daily cycle
    shares: tuple[FittedShare, ...]
    noise: tuple[BurstEvidence, ...]  # bursts the evidence calls noise of the baseline: not shares
    deviance: float
    pearson_dispersion: float
    r2: float
    n_params: int
    warnings: tuple[str, ...] = field(default=())

    @property
    def residuals(self) -> np.ndarray:
        """Pearson residuals per interval: (observed - expected) / sqrt(expected)."""
        return (self.observed - self.expected) / np.sqrt(np.maximum(self.expected, 1e-12))


# -- the model: a parameter vector and the expected counts it gives --------------------------------
def _kernel(kind: str, p: np.ndarray) -> Kernel:
    if kind == "exponential":
        return ExponentialKernel(half_life_s=math.exp(p[0]))
    if kind == "power_law":
        return PowerLawKernel(flat_s=math.exp(p[0]), theta=math.exp(p[1]))
    w = 1.0 / (1.0 + math.exp(-p[0]))
    return MixKernel(parts=(MixPart(weight=w, kernel=PowerLawKernel(flat_s=math.exp(p[1]), theta=math.exp(p[2]))),
                            MixPart(weight=1.0 - w, kernel=ExponentialKernel(half_life_s=math.exp(p[3])))))


_KERNEL_NAMES = {"exponential": ("half_life_s",), "power_law": ("flat_s", "theta"),
                 "mix": ("weight", "flat_s", "theta", "half_life_s")}


class _Model:
    """Expected counts per interval from a vector: baseline (log level, cosine and sine of the
    daily cycle), then per share its onset, log visitors and its kernel's transformed parameters."""

    def __init__(self, edges_s: np.ndarray, start_hour: float, diurnal: bool, kinds: tuple[str, ...]) -> None:
        self.t0, self.t1 = edges_s[:-1], edges_s[1:]
        self.width = self.t1 - self.t0
        self.span = float(edges_s[-1] - edges_s[0])
        h0, h1 = start_hour + self.t0 / 3600, start_hour + self.t1 / 3600
        # Integral over each interval of cos and sin of the daily cycle, in seconds.
        self._cos = (np.sin(OMEGA_PER_H * h1) - np.sin(OMEGA_PER_H * h0)) * 3600 / OMEGA_PER_H
        self._sin = -(np.cos(OMEGA_PER_H * h1) - np.cos(OMEGA_PER_H * h0)) * 3600 / OMEGA_PER_H
        self.diurnal = diurnal
        self.kinds = kinds
        # Onsets are searched in units of the trace's interval, so that every parameter of the
        # search moves on a scale near 1 (seconds beside log-visitors conditions it badly).
        self.at_unit_s = float(np.median(self.width))
        self.n_base = 3 if diurnal else 1
        self.sizes = [2 + len(_KERNEL_NAMES[k]) for k in kinds]

    @property
    def n(self) -> int:
        return self.n_base + sum(self.sizes)

    def split(self, x: np.ndarray):
        shares, i = [], self.n_base
        for size in self.sizes:
            shares.append(x[i:i + size])
            i += size
        return x[:self.n_base], shares

    def baseline(self, xb: np.ndarray) -> np.ndarray:
        level = math.exp(xb[0]) / DAY_S
        if not self.diurnal:
            return level * self.width
        a, b = xb[1], xb[2]
        amp = math.hypot(a, b)
        if amp > 0.99:  # the cycle never takes the rate below zero
            a, b = a * 0.99 / amp, b * 0.99 / amp
        return level * (self.width + a * self._cos + b * self._sin)

    def share(self, kind: str, xs: np.ndarray) -> np.ndarray:
        k = _kernel(kind, xs[2:])
        at = xs[0] * self.at_unit_s
        return math.exp(xs[1]) * (k.cdf(self.t1 - at) - k.cdf(self.t0 - at))

    def expected(self, x: np.ndarray) -> np.ndarray:
        xb, shares = self.split(x)
        mu = self.baseline(xb)
        for kind, xs in zip(self.kinds, shares):
            mu = mu + self.share(kind, xs)
        return np.maximum(mu, 1e-9)


def _nll(mu: np.ndarray, y: np.ndarray) -> float:
    """The negative log-likelihood less its value at the saturated model (half the deviance): the
    same minimum, but near the number of intervals instead of near the number of visitors, so that
    finite differences keep their digits."""
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(np.sum(term - (y - mu)))


def _pearson(mu: np.ndarray, y: np.ndarray, n_params: int) -> float:
    dof = max(len(y) - n_params, 1)
    return float(np.sum((y - mu) ** 2 / mu) / dof)


def _robust_dispersion(mu: np.ndarray, y: np.ndarray) -> float:
    """The noise's dispersion from the median squared Pearson residual (0.4549 for chi^2 with 1 dof),
    at least 1: unlike the Pearson dispersion, shares not yet fitted elsewhere in the trace do not
    inflate it."""
    return max(float(np.median((y - mu) ** 2 / mu)) / 0.454936, 1.0)


# -- the search -------------------------------------------------------------------------------------
@dataclass
class _Fit:
    model: _Model
    x: np.ndarray
    bounds: list
    nll: float
    bursts: tuple[BurstEvidence | None, ...] = ()  # per share: its evidence when it is a burst

    def mu(self) -> np.ndarray:
        return self.model.expected(self.x)


def _minimise(model: _Model, y: np.ndarray, x0: np.ndarray, bounds: list) -> _Fit:
    def f(x):
        return _nll(model.expected(x), y)

    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    # ftol: a change of 1e-7 x the half-deviance (about 1e-5 of it here) moves no estimate visibly.
    res = optimize.minimize(f, x0, method="L-BFGS-B", bounds=bounds, options={"maxiter": 2000, "ftol": 1e-7})
    return _Fit(model=model, x=res.x, bounds=bounds, nll=float(res.fun))


def _kernel_start(kind: str, half_life_s: float, span: float, width: float, variant: int = 0) -> tuple[list[float], list]:
    """Start values and bounds of a kernel's transformed parameters; ``variant`` 1 starts the power
    law short and steep where 0 starts it long and shallow (its likelihood has more than one hollow)."""
    lo_t, hi_t = math.log(max(1.0, width / 20)), math.log(span * 10)
    hl = min(max(half_life_s, math.exp(lo_t) * 2), span)
    if kind == "exponential":
        return [math.log(hl)], [(lo_t, hi_t)]
    flat = max(hl / 10, math.exp(lo_t) * 2) if variant == 0 else max(width / 4, math.exp(lo_t) * 2)
    theta = math.log(0.5) if variant == 0 else math.log(0.2)
    if kind == "power_law":
        return [math.log(flat), theta], [(lo_t, hi_t), (math.log(0.01), math.log(20.0))]
    return ([0.0, math.log(flat), theta, math.log(hl)],
            [(-8.0, 8.0), (lo_t, hi_t), (math.log(0.01), math.log(20.0)), (lo_t, hi_t)])


def _onset_candidates(fit: _Fit, y: np.ndarray) -> tuple[list[float], int, float, float]:
    """Where a new share would start: the run of high residuals around the largest one not yet
    explained. Returns candidate onsets, the run's first interval, its excess and a half-life guess."""
    m = fit.model
    mu = fit.mu()
    z = (y - mu) / np.sqrt(mu)
    peak = int(np.argmax(z))
    start = peak
    while start > 0 and z[start - 1] > 2.0:
        start -= 1
    excess = np.maximum(y[start:] - mu[start:], 0.0)
    total = float(excess.sum())
    # Half-life guess: from the run's peak until the excess falls below half of it.
    rel = excess / max(excess.max(), 1e-9)
    top = int(np.argmax(rel))
    below = np.nonzero(rel[top:] < 0.5)[0]
    after_peak = float(m.t0[start + top + below[0]] - m.t0[start + top]) if len(below) else m.span / 4
    half_life = max(after_peak, float(m.width[start]) / 2)
    cands = []
    for i in (start - 1, start):
        if 0 <= i < len(m.t0):
            cands += [float(m.t0[i] + f * m.width[i]) / m.at_unit_s for f in (0.0, 0.25, 0.5, 0.75)]
    return cands, start, total, half_life


def _qbic(fit: _Fit, y: np.ndarray, phi: float) -> float:
    return 2 * _nll(fit.mu(), y) / phi + math.log(len(y)) * fit.model.n  # 2 x _nll: the deviance


def _gain(fit: _Fit, bigger: _Fit, y: np.ndarray) -> float:
    """How much ``bigger`` (one share more) lowers the quasi-BIC."""
    phi = max(_pearson(bigger.mu(), y, bigger.model.n), 1.0)
    return _qbic(fit, y, phi) - _qbic(bigger, y, phi)


def _add_share(fit: _Fit, y: np.ndarray, kinds: tuple[str, ...], start_hour: float,
               noise: list[BurstEvidence]) -> _Fit | None:
    """The fit with one share more, or None when no share is worth its parameters (a burst that the
    evidence calls noise is added to ``noise``)."""
    m = fit.model
    cands, start, excess, half_life = _onset_candidates(fit, y)
    if excess <= 0 or not cands:
        return None
    width = float(np.median(m.width))
    at_lo, at_hi = float(m.t0[max(start - 1, 0)]) / m.at_unit_s, float(m.t1[start]) / m.at_unit_s
    edges = np.concatenate([m.t0, m.t1[-1:]])

    def attempt(kind: str, at: float, k0: list[float], kb: list) -> _Fit:
        model = _Model(edges, start_hour, m.diurnal, m.kinds + (kind,))
        x0 = np.concatenate([fit.x, [at, math.log(max(excess, 1.0))], k0])
        return _minimise(model, y, x0, fit.bounds + [(at_lo, at_hi), (0.0, math.log(1e10))] + kb)

    best: _Fit | None = None
    by_onset: dict[float, float] = {}
    for kind in kinds:
        starts = [_kernel_start(kind, half_life, m.span, width, variant) for variant in range(2 if kind != "exponential" else 1)]
        onsets = cands
        if kind != "exponential" and by_onset:
            # the exponential's two best onsets stand for all of them
            onsets = sorted(cands, key=lambda at: by_onset.get(at, math.inf))[:2]
        # Onsets several an interval apart: the likelihood has a kink wherever an onset crosses an
        # interval's edge, which a gradient search may not step across.
        tried = [(at, attempt(kind, at, k0, kb)) for at in onsets for k0, kb in starts]
        if kind == "exponential":
            by_onset = {at: f.nll for at, f in tried}
        cand = min((f for _, f in tried), key=lambda f: f.nll)
        if best is None or _qbic(cand, y, 1.0) < _qbic(best, y, 1.0):
            best = cand
        if kind == kinds[0] and _gain(fit, best, y) <= MIN_GAIN / 2:
            # Not even close with the first family: a share with more parameters buys more
            # freedom than evidence; stop here (saves the other families' searches).
            return None
    if _gain(fit, best, y) <= MIN_GAIN:
        return None
    # A burst: all its visitors within its onset's interval or so (a half-life of at most a quarter
    # interval leaves 1/16 of them for the next). Unless the tail lowers the quasi-BIC by MIN_GAIN more,
    # the share is that burst, not a share with a tail the counts cannot see. The dispersion is the
    # noise's about the share with its tail (a robust one: shares not yet fitted do not inflate it),
    # so that a tail bought by overdispersed counts is not taken for evidence.
    phi = _robust_dispersion(best.mu(), y)
    lo_t = math.log(max(1.0, width / 20))
    spike_bound = [(lo_t, max(math.log(width / 4), lo_t + 1e-6))]
    onsets = sorted(cands, key=lambda at: by_onset.get(at, math.inf))[:2] if by_onset else cands
    spike = min((attempt("exponential", at, [spike_bound[0][1]], spike_bound) for at in onsets),
                key=lambda f: f.nll)
    if _qbic(spike, y, phi) < _qbic(best, y, phi) + MIN_GAIN:
        peak = int(np.argmax(spike.model.share("exponential", spike.model.split(spike.x)[1][-1])))
        evidence = burst_noise(y, fit.mu(), peak, float(m.t0[peak]))
        if evidence.noise:
            noise.append(evidence)
            return None
        spike.bursts = fit.bursts + (evidence,)
        return spike
    best.bursts = fit.bursts + (None,)
    return best


def _standard_errors(fit: _Fit, y: np.ndarray, phi: float) -> np.ndarray:
    """Standard errors of each parameter (transformed scale), nan where not determined."""
    x = fit.x
    n = len(x)

    def f(v):
        return _nll(fit.model.expected(v), y)

    h = np.maximum(1e-3 * np.maximum(np.abs(x), 1.0), 1e-4)
    f0 = f(x)
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h[i], h[j]
            if i == j:
                v = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
            else:
                v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = v
    se = np.full(n, np.nan)
    try:
        cov = np.linalg.inv(hess) * max(phi, 1.0)
        d = np.diag(cov)
        ok = np.isfinite(d) & (d > 0)
        se[ok] = np.sqrt(d[ok])
    except np.linalg.LinAlgError:
        pass
    at_bound = np.array([min(x[i] - b[0], b[1] - x[i]) < 1e-6 * max(1.0, abs(x[i])) for i, b in enumerate(fit.bounds)])
    se[at_bound] = np.nan
    return se


def _log_estimate(x: float, se: float) -> Estimate:
    if not math.isfinite(se) or se * _Z95 > _UNDETERMINED_LOG:
        return Estimate(value=math.exp(x))
    return Estimate(value=math.exp(x), low=math.exp(x - _Z95 * se), high=math.exp(x + _Z95 * se))


def _logit_estimate(x: float, se: float) -> Estimate:
    def s(v):
        return 1.0 / (1.0 + math.exp(-v))
    if not math.isfinite(se) or se * _Z95 > _UNDETERMINED_LOG:
        return Estimate(value=s(x))
    return Estimate(value=s(x), low=s(x - _Z95 * se), high=s(x + _Z95 * se))


def _result(fit: _Fit, y: np.ndarray, edges: np.ndarray, start_hour: float, warnings: list[str],
            noise: tuple[BurstEvidence, ...]) -> FitResult:
    m = fit.model
    mu = fit.mu()
    phi = _pearson(mu, y, m.n)
    se = _standard_errors(fit, y, phi)
    xb, shares_x = m.split(fit.x)
    _, shares_se = m.split(se)
    width = float(np.median(np.diff(edges)))
    base = _log_estimate(xb[0], se[0])
    amp, peak_hour = Estimate(value=0.0), 20.0
    if m.diurnal:
        a, b = xb[1], xb[2]
        value = min(math.hypot(a, b), 0.99)
        half = _Z95 * math.hypot(se[1], se[2]) / math.sqrt(2) if np.all(np.isfinite(se[1:3])) else math.nan
        amp = Estimate(value=value, low=max(value - half, 0.0), high=min(value + half, 1.0)) if math.isfinite(half) \
            else Estimate(value=value)
        peak_hour = (math.atan2(b, a) / OMEGA_PER_H) % 24
    shares = []
    for j, (kind, xs, ss) in enumerate(zip(m.kinds, shares_x, shares_se)):
        xs, ss = xs.copy(), ss.copy()
        xs[0], ss[0] = xs[0] * m.at_unit_s, ss[0] * m.at_unit_s  # the onset in seconds again
        # Counts per interval say in which interval a share began, not where within it (the rest
        # is the kernel's shape, itself estimated): the onset's interval covers its interval at least.
        # On an interval's edge the likelihood has a kink (no curvature to read): both intervals then.
        i = max(min(int(np.searchsorted(edges, xs[0], side="right")) - 1, len(y) - 1), 0)
        lo, hi = float(edges[i]), float(edges[i + 1])
        if xs[0] - lo < 0.01 * (hi - lo) and i > 0:
            lo = float(edges[i - 1])
        elif hi - xs[0] < 0.01 * (hi - lo) and i + 2 < len(edges):
            hi = float(edges[i + 2])
        half = _Z95 * ss[0] if math.isfinite(ss[0]) else 0.0
        at = Estimate(value=float(xs[0]), low=min(float(xs[0] - half), lo), high=max(float(xs[0] + half), hi))
        params, too_short = {}, set()
        for name, v, s in zip(_KERNEL_NAMES[kind], xs[2:], ss[2:]):
            est = _logit_estimate(v, s) if name == "weight" else _log_estimate(v, s)
            if name.endswith("_s") and est.value < width:
                # A time shorter than the trace's interval leaves no trace in its counts.
                est = Estimate(value=est.value)
                too_short.add(name)
                warnings.append(f"share {j + 1}: {name} = {est.value:.4g} s is shorter than the trace's "
                                f"interval ({width:g} s): not determined by the data")
            params[name] = est
        visitors, kernel = _log_estimate(xs[1], ss[1]), _kernel(kind, xs[2:])
        # A tail is determined when the visitors and every kernel parameter are (a time shorter
        # than the interval shapes the share's first interval, not its tail).
        tail = visitors.determined and all(e.determined for n, e in params.items() if n not in too_short)
        burst = fit.bursts[j] if j < len(fit.bursts) else None
        share = FittedShare(at_s=at, visitors=visitors, kernel=kernel, kernel_params=params, burst=burst,
                            reach=reach(visitors.value, kernel, at.value, float(edges[-1]), tail))
        for name, est in [("at_s", at), ("visitors", share.visitors), *params.items()]:
            if not est.determined and name not in too_short:
                warnings.append(f"share {j + 1}: {name} is not determined by the data")
        shares.append(share)
    if not base.determined:
        warnings.append("baseline_per_day is not determined by the data")
    r2 = r_squared(y, mu)
    return FitResult(edges_s=edges, observed=y, expected=mu, start_hour=start_hour, baseline_per_day=base,
                     diurnal_amplitude=amp, diurnal_peak_hour=peak_hour, diurnal_fitted=m.diurnal,
                     shares=tuple(shares), noise=noise, deviance=poisson_deviance(y, mu), pearson_dispersion=phi,
                     r2=math.nan if r2 is None else r2,
                     n_params=m.n, warnings=tuple(warnings))


def fit_trace(trace: Trace, *, start_hour: float = 0.0, max_shares: int = 3, kernels: tuple[str, ...] = KERNELS,
              diurnal: bool | None = None) -> FitResult:
    """The profile that best explains ``trace``: baseline, daily cycle and up to ``max_shares`` shares.

    ``start_hour`` is the clock hour of the trace's first row; ``diurnal`` None fits the daily
    cycle when the intervals are at most 3 h long (longer ones average it away) and the trace
    spans 2 days or more."""
    if not 0 <= max_shares <= 10:
        raise ConfigError("--max-shares", f"must be between 0 and 10, got {max_shares!r}")
    for k in kernels:
        if k not in KERNELS:
            raise ConfigError("--kernel", f"must be one of {', '.join(KERNELS)}, got {k!r}")
    edges = np.asarray(trace.edges_s, dtype=float)
    y = np.asarray(trace.counts, dtype=float)
    if len(y) < 4:
        raise ConfigError("", f"a fit needs at least 4 intervals, got {len(y)}")
    width = float(np.median(np.diff(edges)))
    warnings = []
    if diurnal is None:
        # Two cycles at least: over one day a daily cycle and a surge's tail explain the same counts.
        diurnal = width <= 3 * 3600 and edges[-1] - edges[0] >= 2 * DAY_S - 1e-6
        if width <= 3 * 3600 and not diurnal:
            warnings.append("the daily cycle is not fitted: the trace spans less than 2 days")
    rate = y / np.diff(edges)
    level = max(float(np.quantile(rate, 0.25)) * DAY_S, 1e-3)
    base_bounds = [(math.log(1e-3), math.log(1e12))]
    x0 = [math.log(level)]
    if diurnal:
        base_bounds += [(-0.95, 0.95), (-0.95, 0.95)]
        x0 += [0.0, 0.0]
    # One BLAS thread: L-BFGS-B's products are tiny, and threads spinning for them cost 3x the time
    # (more on a machine with other work).
    with threadpool_limits(limits=1, user_api="blas"):
        fit = _minimise(_Model(edges, start_hour, diurnal, ()), y, np.array(x0), base_bounds)
        noise: list[BurstEvidence] = []
        for _ in range(max_shares):
            bigger = _add_share(fit, y, kernels, start_hour, noise)
            if bigger is None:
                break
            fit = bigger
        return _result(fit, y, edges, start_hour, warnings, tuple(noise))
