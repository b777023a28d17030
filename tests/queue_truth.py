"""M/M/c/K figures for tests that hold a prediction and a measurement against the truth.

Written apart from ``sim.analysis.theory`` (the code under test must not make its own
expected values): the stationary law by the birth-death balance, the response time of an
admitted request in closed form, and the variance of a count over a run by the counting
process's asymptotic variance (a Markovian arrival process: Neuts' formula).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = ["MMCK", "constant_scenario"]


@dataclass(frozen=True, kw_only=True)
class MMCK:
    """c servers of rate ``mu_per_s``, at most ``k`` in the system, Poisson arrivals at ``lam_per_s``."""

    c: int
    k: int
    mu_per_s: float
    lam_per_s: float

    def pi(self) -> np.ndarray:
        """P(n in system), n = 0..K: pi_n / pi_{n-1} = lambda / (min(n, c) mu)."""
        ratios = [self.lam_per_s / (min(n, self.c) * self.mu_per_s) for n in range(1, self.k + 1)]
        p = np.concatenate(([1.0], np.cumprod(ratios)))
        return p / p.sum()

    @property
    def p_block(self) -> float:
        return float(self.pi()[-1])  # an arrival sees the time-stationary state (PASTA)

    @property
    def served_per_s(self) -> float:
        return self.lam_per_s * (1.0 - self.p_block)

    def response_exceeds(self, t_s: float) -> float:
        """P(response > t) of an admitted request: wait Erlang(n - c + 1, c mu) behind n >= c, then Exp(mu).

        P(W + S > t) = P(W > t) + e^{-mu t} (c / (c - 1))^j P(Gamma(j, (c - 1) mu) <= t) for W ~ Gamma(j, c mu)."""
        c, mu = self.c, self.mu_per_s
        pi = self.pi()
        admitted = pi[:-1] / (1.0 - pi[-1])
        total = 0.0
        for n, w in enumerate(admitted):
            if n < c:
                total += w * math.exp(-mu * t_s)
            else:
                j = n - c + 1
                behind = stats.gamma.cdf(t_s, j, scale=1 / ((c - 1) * mu))
                total += w * (stats.gamma.sf(t_s, j, scale=1 / (c * mu))
                              + math.exp(-mu * t_s) * (c / (c - 1)) ** j * behind)
        return total

    def response_quantile(self, q: float) -> float:
        return optimize.brentq(lambda t: self.response_exceeds(t) - (1 - q), 0.0, 100.0 / self.mu_per_s, xtol=1e-9)

    def count_variance_per_s(self, which: str) -> float:
        """Var(N(T)) / T for large T of the count of ``served`` or ``refused`` requests.

        With Q the generator and D1 the rates of the counted transitions (the process a MAP),
        Var(N(T)) / T -> r - 2 r^2 + 2 pi D1 (1 pi - Q)^{-1} D1 1, r = pi D1 1 (Neuts)."""
        c, k, lam, mu = self.c, self.k, self.lam_per_s, self.mu_per_s
        q = np.zeros((k + 1, k + 1))
        d1 = np.zeros((k + 1, k + 1))
        for n in range(k + 1):
            if n < k:
                q[n, n + 1] = lam
            if n > 0:
                q[n, n - 1] = min(n, c) * mu
                if which == "served":
                    d1[n, n - 1] = min(n, c) * mu
        if which == "refused":
            d1[k, k] = lam  # a refusal leaves the state as it is
        elif which != "served":
            raise ValueError(which)
        np.fill_diagonal(q, -q.sum(axis=1))
        pi = self.pi()
        one = np.ones(k + 1)
        rate = float(pi @ d1 @ one)
        z = np.linalg.inv(np.outer(one, pi) - q)
        return rate - 2 * rate**2 + 2 * float(pi @ d1 @ z @ d1 @ one)


def constant_scenario(path, *, rate_per_s: float, duration_s: float, bin_s: float, seed: int) -> str:
    """One request per visitor at a flat Poisson rate, no CDN and no assets: the M/M/c/K arrival stream."""
    path.write_text(f"[run]\nduration_s = {duration_s:g}\nbin_s = {bin_s:g}\nseed = {seed}\n"
                    f"[traffic]\nconstant_per_s = {rate_per_s:g}\n"
                    "[visitors]\npages_per_visit = 1\nrequests_per_page = 1\naction_rate = 0\n"
                    "[loadtest.site]\nasset_paths = []\n")
    return str(path)
