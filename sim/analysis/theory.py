"""Closed-form and exact-numeric queueing formulas used to check and size the simulator.

Pure functions of their arguments (numpy and :mod:`math` only):

* Erlang B and Erlang C, and the M/M/c waiting time (mean, tail, response, Little);
* M/M/c/K (finite room: ``capacity`` = total in system, blocked customers are lost);
* Erlang A (M/M/c+M: exponential patience, waiting customers abandon);
* the least number of servers meeting a waiting-time target (Erlang C staffing).

The fluid model of a many-server queue with abandonment is :mod:`sim.analysis.fluid`.

Rates are per second, times in seconds; ``offered_load`` is in Erlangs
(arrival rate / service rate). Every function validates its arguments and raises
``ValueError`` naming the bad one. Probabilities are computed by recursions or in
log space so that thousands of servers neither overflow nor lose precision.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "erlang_b",
    "erlang_c",
    "mmc_mean_wait_s",
    "mmc_wait_exceeds",
    "mmc_mean_response_s",
    "mmc_mean_in_system",
    "mmck_blocking",
    "mmck_stats",
    "MMCKStats",
    "erlang_a",
    "ErlangAResult",
    "min_servers_erlang_c",
]

# Erlang A: stop summing the tail once what is left is below this fraction of the total.
_TAIL_RTOL = 1e-16
# ... and refuse chains longer than this (a tiny abandonment rate under overload
# means a queue of ~(lambda - c mu) / theta customers: nothing to sum in memory).
_MAX_TAIL_STATES = 1 << 23


# --- argument validation ------------------------------------------------------------


def _servers(value, name: str = "servers") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'"{name}" must be an integer, got {value!r}')
    if value < 1:
        raise ValueError(f'"{name}" must be >= 1, got {value!r}')
    return int(value)


def _real(value, name: str, *, positive: bool = False, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f'"{name}" must be a number, got {value!r}')
    x = float(value)
    # "not (x >= 0)" also rejects NaN
    if positive and not (x > 0):
        raise ValueError(f'"{name}" must be > 0, got {value!r}')
    if not (x >= 0):
        raise ValueError(f'"{name}" must be >= 0, got {value!r}')
    if math.isinf(x) and not allow_inf:
        raise ValueError(f'"{name}" must be finite, got {value!r}')
    return x


def _rates(servers, arrival_rate_per_s, service_rate_per_s) -> tuple[int, float, float]:
    return (
        _servers(servers),
        _real(arrival_rate_per_s, "arrival_rate_per_s"),
        _real(service_rate_per_s, "service_rate_per_s", positive=True),
    )


# --- Erlang B / C and M/M/c ---------------------------------------------------------


def _erlang_b(c: int, a: float) -> float:
    # B(k) = a B(k-1) / (k + a B(k-1)): every term is in [0, 1], so no factorial overflows
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def _erlang_c_from_b(c: int, a: float, b: float) -> float:
    if a >= c:
        return 1.0
    return c * b / (c - a * (1.0 - b))


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of the M/M/c/c (Erlang loss) system with ``offered_load`` Erlangs."""
    c = _servers(servers)
    a = _real(offered_load, "offered_load")
    return _erlang_b(c, a)


def erlang_c(servers: int, offered_load: float) -> float:
    """P(wait > 0) in M/M/c with ``offered_load`` Erlangs; 1.0 when ``offered_load >= servers``."""
    c = _servers(servers)
    a = _real(offered_load, "offered_load")
    return _erlang_c_from_b(c, a, _erlang_b(c, a))


def mmc_mean_wait_s(servers: int, *, arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean time in queue of M/M/c, C / (c mu - lambda); ``inf`` when unstable (lambda >= c mu)."""
    c, lam, mu = _rates(servers, arrival_rate_per_s, service_rate_per_s)
    if lam >= c * mu:
        return math.inf
    return _erlang_c_from_b(c, lam / mu, _erlang_b(c, lam / mu)) / (c * mu - lam)


def mmc_wait_exceeds(
    servers: int, *, arrival_rate_per_s: float, service_rate_per_s: float, t_s: float
) -> float:
    """P(wait > t_s) in M/M/c = C exp(-(c mu - lambda) t_s); 1.0 when unstable."""
    c, lam, mu = _rates(servers, arrival_rate_per_s, service_rate_per_s)
    t = _real(t_s, "t_s")
    if lam >= c * mu:
        return 1.0
    a = lam / mu
    return _erlang_c_from_b(c, a, _erlang_b(c, a)) * math.exp(-(c * mu - lam) * t)


def mmc_mean_response_s(servers: int, *, arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean time in system of M/M/c (wait + service); ``inf`` when unstable."""
    wait = mmc_mean_wait_s(servers, arrival_rate_per_s=arrival_rate_per_s, service_rate_per_s=service_rate_per_s)
    return wait + 1.0 / float(service_rate_per_s)


def mmc_mean_in_system(servers: int, *, arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean number in M/M/c by Little's law, lambda x mean response; ``inf`` when unstable."""
    response = mmc_mean_response_s(
        servers, arrival_rate_per_s=arrival_rate_per_s, service_rate_per_s=service_rate_per_s
    )
    lam = float(arrival_rate_per_s)
    return 0.0 if lam == 0 else lam * response


# --- M/M/c/K ------------------------------------------------------------------------


@dataclass(frozen=True)
class MMCKStats:
    """Stationary M/M/c/K figures; waits and responses are of admitted customers."""

    p_block: float  # P(an arrival finds K in system and is lost), by PASTA
    mean_in_system: float
    mean_queue: float
    throughput_per_s: float  # admitted rate, lambda (1 - p_block)
    mean_wait_s: float  # time in queue, Little with the admitted rate
    mean_response_s: float


def _mmck_distribution(c: int, k_cap: int, lam: float, mu: float) -> np.ndarray:
    """Stationary probabilities of n = 0..K in M/M/c/K."""
    pi = np.zeros(k_cap + 1)
    if lam == 0:
        pi[0] = 1.0
        return pi
    n = np.arange(1, k_cap + 1)
    # log(pi_n / pi_{n-1}) = log(lambda / (min(n, c) mu)); cumulative sums stay finite
    # where a^n / n! would overflow, and subtracting the max before exp keeps the peak at 1
    log_pi = np.concatenate(([0.0], np.cumsum(math.log(lam / mu) - np.log(np.minimum(n, c)))))
    pi = np.exp(log_pi - log_pi.max())
    return pi / pi.sum()


def _mmck_args(servers, capacity, arrival_rate_per_s, service_rate_per_s) -> tuple[int, int, float, float]:
    c, lam, mu = _rates(servers, arrival_rate_per_s, service_rate_per_s)
    k_cap = _servers(capacity, "capacity")
    if k_cap < c:
        raise ValueError(f'"capacity" must be >= servers ({c}), got {capacity!r}')
    return c, k_cap, lam, mu


def mmck_blocking(
    servers: int, *, capacity: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> float:
    """Loss probability of M/M/c/K, ``capacity`` = K = most customers in system (queue + service)."""
    c, k_cap, lam, mu = _mmck_args(servers, capacity, arrival_rate_per_s, service_rate_per_s)
    return float(_mmck_distribution(c, k_cap, lam, mu)[-1])


def mmck_stats(
    servers: int, *, capacity: int, arrival_rate_per_s: float, service_rate_per_s: float
) -> MMCKStats:
    """Blocking, mean numbers and (admitted customers') mean times of M/M/c/K."""
    c, k_cap, lam, mu = _mmck_args(servers, capacity, arrival_rate_per_s, service_rate_per_s)
    pi = _mmck_distribution(c, k_cap, lam, mu)
    n = np.arange(k_cap + 1)
    p_block = float(pi[-1])
    mean_in_system = float(n @ pi)
    mean_queue = float(np.maximum(n - c, 0) @ pi)
    throughput = lam * (1.0 - p_block)
    if throughput == 0:  # no arrivals: nobody waits
        return MMCKStats(p_block, mean_in_system, mean_queue, 0.0, 0.0, 1.0 / mu)
    return MMCKStats(
        p_block, mean_in_system, mean_queue, throughput, mean_queue / throughput, mean_in_system / throughput
    )


# --- Erlang A (M/M/c+M) -------------------------------------------------------------


@dataclass(frozen=True)
class ErlangAResult:
    """Stationary M/M/c+M figures; ``mean_wait_s`` averages over all arrivals (abandoning ones too)."""

    p_abandon: float  # theta E[queue] / lambda
    p_wait: float  # P(wait > 0) = P(N >= c), by PASTA
    mean_wait_s: float  # time in queue, E[queue] / lambda by Little
    mean_queue: float
    mean_in_service: float  # = lambda (1 - p_abandon) / mu


def _erlang_a_tail(lam: float, c_mu: float, theta: float) -> np.ndarray:
    """log(pi_{c+k} / pi_c) for k = 0..L, L long enough that the rest is below _TAIL_RTOL."""
    # The chain's log-density is concave (the ratio lambda / (c mu + k theta) falls with k),
    # so its peak is near k* = (lambda - c mu) / theta and it drops ~ theta d^2 / (2 lambda)
    # a distance d beyond: start with k* + 10 sd, double if the remainder is still too big.
    k_peak = max(0.0, (lam - c_mu) / theta)
    too_long = ValueError(f'"abandon_rate_per_s" is too small for this overload, got {theta!r}: '
                          f"the queue would hold more than {_MAX_TAIL_STATES} customers")
    if k_peak > _MAX_TAIL_STATES:
        raise too_long
    length = int(min(k_peak + 10.0 * math.sqrt(lam / theta) + 64, _MAX_TAIL_STATES))
    while True:
        k = np.arange(1, length + 1)
        log_ratio = math.log(lam) - np.log(c_mu + k * theta)
        log_tail = np.concatenate(([0.0], np.cumsum(log_ratio)))
        # past the peak the remaining terms are bounded by a geometric series of ratio r
        r = lam / (c_mu + (length + 1) * theta)
        if r < 1:
            log_rest = log_tail[-1] + math.log(r) - math.log1p(-r)
            if log_rest < log_tail.max() + math.log(_TAIL_RTOL):
                return log_tail
        if length >= _MAX_TAIL_STATES:
            raise too_long
        length = min(2 * length, _MAX_TAIL_STATES)


def erlang_a(
    servers: int, *, arrival_rate_per_s: float, service_rate_per_s: float, abandon_rate_per_s: float
) -> ErlangAResult:
    """Exact Erlang A: M/M/c with exponential patience of rate theta (waiting customers abandon).

    Sums the birth-death chain's stationary distribution: pi_n ∝ a^n / n! for n <= c and
    pi_n = pi_c prod_{j=1}^{n-c} lambda / (c mu + j theta) above, in logs, truncated when
    the rest is below 1e-16 of the total. ``abandon_rate_per_s = 0`` falls back to M/M/c
    (queue and wait ``inf`` when unstable).
    """
    c, lam, mu = _rates(servers, arrival_rate_per_s, service_rate_per_s)
    theta = _real(abandon_rate_per_s, "abandon_rate_per_s")
    if lam == 0:
        return ErlangAResult(0.0, 0.0, 0.0, 0.0, 0.0)
    a = lam / mu
    if theta == 0:  # nobody abandons: plain M/M/c, which needs lambda < c mu
        if lam >= c * mu:
            return ErlangAResult(0.0, 1.0, math.inf, math.inf, float(c))
        wait = mmc_mean_wait_s(c, arrival_rate_per_s=lam, service_rate_per_s=mu)
        return ErlangAResult(0.0, erlang_c(c, a), wait, lam * wait, a)
    n = np.arange(c + 1)
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(n[1:]))))
    log_head = n * math.log(a) - log_factorial
    log_tail = log_head[-1] + _erlang_a_tail(lam, c * mu, theta)[1:]
    shift = max(log_head.max(), log_tail.max())  # the mode's term becomes 1: no overflow
    head = np.exp(log_head - shift)
    tail = np.exp(log_tail - shift)
    total = head.sum() + tail.sum()
    mean_queue = float(np.arange(1, tail.size + 1) @ tail / total)
    p_wait = float((head[-1] + tail.sum()) / total)
    mean_in_service = float((n @ head + c * tail.sum()) / total)
    return ErlangAResult(
        p_abandon=theta * mean_queue / lam,
        p_wait=p_wait,
        mean_wait_s=mean_queue / lam,
        mean_queue=mean_queue,
        mean_in_service=mean_in_service,
    )


# --- staffing -----------------------------------------------------------------------


def min_servers_erlang_c(
    arrival_rate_per_s: float, service_rate_per_s: float, *, wait_s: float, max_p: float
) -> int:
    """Least c with P(wait > wait_s) <= max_p in M/M/c (the Erlang C staffing answer).

    Searches upward from the least stable c (P(wait > t) falls as c grows), updating
    Erlang B by its recursion, so the cost is linear in the answer.
    """
    lam = _real(arrival_rate_per_s, "arrival_rate_per_s")
    mu = _real(service_rate_per_s, "service_rate_per_s", positive=True)
    t = _real(wait_s, "wait_s")
    p = _real(max_p, "max_p", positive=True)
    if p > 1:
        raise ValueError(f'"max_p" must be <= 1, got {max_p!r}')
    if lam == 0:
        return 1
    a = lam / mu
    c = math.floor(a) + 1  # the least c with a < c
    b = _erlang_b(c, a)
    while _erlang_c_from_b(c, a, b) * math.exp(-(c * mu - lam) * t) > p:
        c += 1
        b = a * b / (c + a * b)
    return c
