"""Student-t confidence intervals across replications, without scipy.

``sim`` must not depend on scipy, so the t quantile is computed here: exact forms for
1 and 2 degrees of freedom, a Cornish-Fisher start refined by Newton's method on the
regularised incomplete beta function otherwise.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Iterable

import numpy as np

__all__ = ["mean_ci", "t_ppf"]


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """Regularised incomplete beta I_x(a, b), with y = 1 - x passed in to avoid cancellation."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y))
    if x < (a + 1.0) / (a + b + 2.0):  # the continued fraction converges fast here
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for I_x(a, b) by the modified Lentz method (Numerical Recipes 6.4)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        for aa in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                   -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")  # pragma: no cover


def _t_isf(q: float, df: float) -> float:
    """t such that P(T > t) = q for 0 < q < 0.5 (so t > 0)."""
    if df == 1.0:  # Cauchy: closed form
        return math.cos(math.pi * q) / math.sin(math.pi * q)
    if df == 2.0:  # closed form: t = (1 - 2q) / sqrt(2 q (1 - q))
        return (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    z = NormalDist().inv_cdf(1.0 - q)
    # Cornish-Fisher expansion: a good start, and already exact to ~1e-12 for huge df,
    # where the continued fraction would need many terms.
    z2 = z * z
    t = z * (1 + (z2 + 1) / (4 * df) + ((5 * z2 + 16) * z2 + 3) / (96 * df**2)
             + (((3 * z2 + 19) * z2 + 17) * z2 - 15) / (384 * df**3)
             + ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / (92160 * df**4))
    if df > 1000.0:
        return t
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    lo, hi = 0.0, math.inf
    t = t if t > 0.0 else 1.0
    # Newton's method; in the far tail on log(tail) against log(t), since the tail is
    # nearly a power of t there. A bracket guards against overshooting with small df.
    for _ in range(200):
        tail = 0.5 * _betainc(df / 2, 0.5, df / (df + t * t), t * t / (df + t * t))
        if tail > q:
            lo = t
        else:
            hi = t
        dens = math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))
        if tail > 0.1:  # near the median the tail is almost linear in t
            new = t + (tail - q) / dens
        else:
            new = t * math.exp(min((math.log(tail) - math.log(q)) * tail / (t * dens), 5.0))
        if not lo < new < hi:
            new = 2.0 * t if hi == math.inf else (lo + hi) / 2 if lo == 0.0 else math.sqrt(lo * hi)
        if abs(new - t) <= 1e-14 * t:
            return new
        t = new
    return t  # pragma: no cover


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` > 0 degrees of freedom (like scipy.stats.t.ppf)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    if not 0.0 < df < math.inf:
        raise ValueError(f"df must be > 0 and finite, got {df!r}")
    if p == 0.5:
        return 0.0
    return _t_isf(1.0 - p, float(df)) if p > 0.5 else -_t_isf(p, float(df))


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Sample mean and half-width of its two-sided Student-t confidence interval.

    The half-width is ``t_{(1+c)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation; it is nan when n < 2 (one replication says nothing about spread), and
    the mean is nan when there are no values.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64).ravel()
    if x.size == 0:
        return math.nan, math.nan
    m = float(x.mean())
    if x.size < 2:
        return m, math.nan
    # For the upper tail use 1 - (1-c)/2 rather than (1+c)/2: same value, stated as a tail.
    t = _t_isf((1.0 - confidence) / 2.0, float(x.size - 1))
    return m, t * float(x.std(ddof=1)) / math.sqrt(x.size)
