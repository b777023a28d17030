"""A deterministic fluid model of a many-server queue with abandonment (Whitt 2006).

Under a time-varying arrival rate, the simulator's back-of-envelope twin: what ``surge
plan`` uses to say what the current site loses where the peak overwhelms it. Rates are
per second, times in seconds; arguments are validated as in :mod:`sim.analysis.theory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.analysis.theory import _real

__all__ = ["fluid_abandonment", "FluidResult"]


# --- fluid model with abandonment ---------------------------------------------------


@dataclass(frozen=True, eq=False)
class FluidResult:
    """Per-bin flows and averages of the fluid model (arrays of one entry per bin).

    Per bin, ``arrivals = served + abandoned + (end_queue + end_in_service)`` minus the
    same at the end of the previous bin (the model starts empty).
    """

    bin_s: float
    arrivals: np.ndarray  # fluid customers arriving in the bin
    served: np.ndarray  # service completions in the bin
    abandoned: np.ndarray  # abandonments in the bin
    mean_queue: np.ndarray  # time-average queue over the bin
    mean_in_service: np.ndarray  # time-average busy servers over the bin
    end_queue: np.ndarray  # queue at the end of the bin
    end_in_service: np.ndarray  # busy servers at the end of the bin

    @property
    def total_arrivals(self) -> float:
        return float(self.arrivals.sum())

    @property
    def total_served(self) -> float:
        return float(self.served.sum())

    @property
    def total_abandoned(self) -> float:
        return float(self.abandoned.sum())

    @property
    def p_abandon(self) -> float:
        """Fraction of all arrivals that abandon (0 when nobody arrives)."""
        total = self.total_arrivals
        # Sums of exact per-bin flows can exceed the arrivals by a rounding error: a fraction stays <= 1.
        return min(self.total_abandoned / total, 1.0) if total > 0 else 0.0


def _phi(rate: float, t: float) -> float:
    """integral_0^t exp(-rate u) du = (1 - exp(-rate t)) / rate, without cancellation."""
    return -math.expm1(-rate * t) / rate


def _psi(rate: float, t: float) -> float:
    """integral_0^t phi(rate, u) du = (t - phi(rate, t)) / rate, without cancellation."""
    z = rate * t
    if z < 1e-4:  # Taylor series: the closed form loses digits as z -> 0
        return t * t * (0.5 - z / 6.0 + z * z / 24.0)
    return t * t * (math.expm1(-z) + z) / (z * z)


def fluid_abandonment(
    rate_per_s: np.ndarray,
    *,
    bin_s: float,
    servers: float,
    service_rate_per_s: float,
    patience_mean_s: float,
) -> FluidResult:
    """Deterministic fluid model of a many-server queue with abandonment (Whitt 2006).

    The simplest usable form of Whitt's G/GI/s+GI fluid model: ``x(t)`` fluid in service
    (at most ``servers``), ``q(t)`` fluid waiting, starting empty, with

    * ``x < s`` (so ``q = 0``): arrivals go straight into service, ``dx/dt = lambda - mu x``;
    * ``x = s``: completions ``mu s`` free servers for the queue,
      ``dq/dt = lambda - mu s - q / patience_mean_s``.

    ``rate_per_s[i]`` is lambda, constant over bin i of ``bin_s`` seconds. Approximations:
    fluid (no randomness, so no abandonment at all while lambda < mu s, where the real
    queue loses a few near critical load); exponential service (completion rate mu x);
    exponential patience, the abandonment rate taken as q / mean patience; a piecewise-
    constant arrival rate. Within a bin the linear ODE of each regime is solved exactly
    (exponentials, at most one switch of regime per bin), so no step size limits accuracy
    or stability, and arrivals = served + abandoned + change in fluid holds to rounding.
    """
    rates = np.asarray(rate_per_s, dtype=float)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f'"rate_per_s" must be a non-empty 1-D array, got shape {rates.shape}')
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        bad = int(np.flatnonzero(~(np.isfinite(rates) & (rates >= 0)))[0])
        raise ValueError(f'"rate_per_s" must be finite and >= 0, got {rates[bad]!r} at index {bad}')
    h = _real(bin_s, "bin_s", positive=True)
    s = _real(servers, "servers")
    mu = _real(service_rate_per_s, "service_rate_per_s", positive=True)
    theta = 1.0 / _real(patience_mean_s, "patience_mean_s", positive=True)

    nb = rates.size
    out = {k: np.zeros(nb) for k in ("served", "abandoned", "int_q", "int_x", "end_q", "end_x")}
    x = q = 0.0
    for i, lam in enumerate(rates.tolist()):
        left = h
        served = abandoned = int_q = int_x = 0.0
        while left > 0:
            if q > 0 or (x >= s and lam > mu * s):
                # all servers busy: the queue relaxes towards (lambda - mu s) / theta
                x = s
                drift = lam - mu * s
                dt = left
                if drift < 0:  # the queue empties at time log1p(q theta / -drift) / theta
                    dt = min(left, math.log1p(q * theta / -drift) / theta)
                iq = q * _phi(theta, dt) + drift * _psi(theta, dt)
                q = 0.0 if dt < left else max(q * math.exp(-theta * dt) + drift * _phi(theta, dt), 0.0)
                served += mu * s * dt
                abandoned += theta * iq
                int_q += iq
                int_x += s * dt
            else:
                # spare servers: x relaxes towards lambda / mu, until it reaches s
                dt = left
                if lam > mu * s:
                    dt = min(left, math.log1p((s - x) / (lam / mu - s)) / mu)
                ix = x * _phi(mu, dt) + lam * _psi(mu, dt)
                x = s if dt < left else min(x * math.exp(-mu * dt) + lam * _phi(mu, dt), s)
                served += mu * ix
                int_x += ix
            left -= dt  # a switch of regime leaves the rest of the bin to the other branch
        out["served"][i], out["abandoned"][i] = served, abandoned
        out["int_q"][i], out["int_x"][i] = int_q, int_x
        out["end_q"][i], out["end_x"][i] = q, x

    arrays = {
        "arrivals": rates * h,
        "served": out["served"],
        "abandoned": out["abandoned"],
        "mean_queue": out["int_q"] / h,
        "mean_in_service": out["int_x"] / h,
        "end_queue": out["end_q"],
        "end_in_service": out["end_x"],
    }
    for arr in arrays.values():
        arr.flags.writeable = False  # frozen means frozen
    return FluidResult(bin_s=h, **arrays)
