"""sim.analysis.theory against independent computations: textbook values, exact rational sums,
brute-force stationary distributions (solve pi Q = 0), Little's law, monotonicity, and
for the fluid model see test_fluid.py."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

from sim.analysis.theory import (
    ErlangAResult,
    MMCKStats,
    erlang_a,
    erlang_b,
    erlang_c,
    min_servers_erlang_c,
    mmc_mean_in_system,
    mmc_mean_response_s,
    mmc_mean_wait_s,
    mmc_wait_exceeds,
    mmck_blocking,
    mmck_stats,
)

FAST = settings(max_examples=60, deadline=None)


# --- independent references ----------------------------------------------------------


def stationary(birth: np.ndarray, death: np.ndarray) -> np.ndarray:
    """Stationary law of a finite birth-death chain by linear algebra: pi Q = 0, sum pi = 1.

    birth[n] is the rate n -> n+1 (n = 0..N-1), death[n] the rate n+1 -> n.
    """
    size = len(birth) + 1
    q = np.zeros((size, size))
    q[np.arange(size - 1), np.arange(1, size)] = birth
    q[np.arange(1, size), np.arange(size - 1)] = death
    q[np.diag_indices(size)] = -q.sum(axis=1)
    lhs = q.T.copy()
    lhs[-1, :] = 1.0  # replace one (redundant) balance equation by the normalisation
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    return np.linalg.solve(lhs, rhs)


def mmc_chain(c, lam, mu, states, theta=0.0):
    """M/M/c(+M) truncated at `states`-1 customers: pi and n."""
    n = np.arange(1, states)
    pi = stationary(np.full(states - 1, lam), np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta)
    return pi, np.arange(states)


def erlang_b_exact(c: int, a: Fraction) -> Fraction:
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def erlang_c_exact(c: int, a: Fraction) -> Fraction:
    last = a**c / math.factorial(c) * c / (c - a)
    return last / (sum(a**k / math.factorial(k) for k in range(c)) + last)


def erlang_c_logspace(c: int, a: float) -> float:
    """Closed-form Erlang C in logs (scipy), for large c."""
    k = np.arange(c)
    log_terms = k * math.log(a) - special.gammaln(k + 1)
    log_last = c * math.log(a) - special.gammaln(c + 1) + math.log(c / (c - a))
    return math.exp(log_last - special.logsumexp(np.append(log_terms, log_last)))


# --- reference values --------------------------------------------------------------


def test_textbook_values():
    assert erlang_b(10, 9) == pytest.approx(0.167963, rel=2e-6)
    assert erlang_c(10, 9) == pytest.approx(0.66873, rel=1e-5)
    assert mmc_mean_wait_s(10, arrival_rate_per_s=9, service_rate_per_s=1) == pytest.approx(0.66873, rel=1e-5)
    res = erlang_a(10, arrival_rate_per_s=12, service_rate_per_s=1, abandon_rate_per_s=0.5)
    assert isinstance(res, ErlangAResult)
    assert res.p_abandon == pytest.approx(0.19566, abs=5e-6)  # to 5 digits


@pytest.mark.parametrize("c, a", [(1, Fraction(1, 2)), (3, Fraction(5, 2)), (10, Fraction(9)), (25, Fraction(31, 2)),
                                  (8, Fraction(0)), (5, Fraction(40))])
def test_erlang_b_and_c_match_exact_rational_sums(c, a):
    assert erlang_b(c, float(a)) == pytest.approx(float(erlang_b_exact(c, a)), rel=1e-12, abs=1e-300)
    expected_c = float(erlang_c_exact(c, a)) if a < c else 1.0
    assert erlang_c(c, float(a)) == pytest.approx(expected_c, rel=1e-12, abs=1e-300)


def test_large_server_counts_do_not_overflow():
    c, a = 2000, 1900.0
    assert erlang_c(c, a) == pytest.approx(erlang_c_logspace(c, a), rel=1e-9)
    b = erlang_b(20_000, 19_000.0)
    assert 0 < b < 1e-3 and math.isfinite(b)
    assert erlang_c(c, c) == 1.0 and erlang_c(c, 2.5 * c) == 1.0


# --- M/M/c waiting time, response and Little -----------------------------------------


@pytest.mark.parametrize("c, lam, mu", [(1, 0.6, 1.0), (4, 3.0, 1.0), (10, 9.0, 1.0), (7, 20.0, 4.0)])
def test_mmc_against_brute_force_chain(c, lam, mu):
    pi, n = mmc_chain(c, lam, mu, states=c + 700)
    queue = np.maximum(n - c, 0)
    mean_queue, mean_in_system = queue @ pi, n @ pi
    p_wait = pi[n >= c].sum()
    assert erlang_c(c, lam / mu) == pytest.approx(p_wait, rel=1e-9)
    wait = mmc_mean_wait_s(c, arrival_rate_per_s=lam, service_rate_per_s=mu)
    assert wait == pytest.approx(mean_queue / lam, rel=1e-9)  # Little on the queue
    response = mmc_mean_response_s(c, arrival_rate_per_s=lam, service_rate_per_s=mu)
    assert response == pytest.approx(wait + 1 / mu, rel=1e-12)
    in_system = mmc_mean_in_system(c, arrival_rate_per_s=lam, service_rate_per_s=mu)
    assert in_system == pytest.approx(mean_in_system, rel=1e-9)
    assert in_system == pytest.approx(lam * response, rel=1e-12)  # Little on the system
    # P(W > t): an arrival finding n >= c waits for n - c + 1 departures at rate c mu (PASTA)
    for t in (0.0, 0.3, 2.0):
        tail = pi[n >= c] @ stats.gamma.sf(t, n[n >= c] - c + 1, scale=1 / (c * mu))
        got = mmc_wait_exceeds(c, arrival_rate_per_s=lam, service_rate_per_s=mu, t_s=t)
        assert got == pytest.approx(tail, rel=1e-8)


def test_unstable_and_idle_mmc():
    kw = dict(arrival_rate_per_s=10.0, service_rate_per_s=1.0)
    assert mmc_mean_wait_s(10, **kw) == math.inf
    assert mmc_mean_response_s(10, **kw) == math.inf
    assert mmc_mean_in_system(10, **kw) == math.inf
    assert mmc_wait_exceeds(10, t_s=5.0, **kw) == 1.0
    idle = dict(arrival_rate_per_s=0.0, service_rate_per_s=2.0)
    assert mmc_mean_wait_s(3, **idle) == 0.0 and mmc_mean_response_s(3, **idle) == 0.5
    assert mmc_mean_in_system(3, **idle) == 0.0 and mmc_wait_exceeds(3, t_s=0.0, **idle) == 0.0


# --- M/M/c/K -------------------------------------------------------------------------


@pytest.mark.parametrize("c, k, lam, mu", [(1, 1, 2.0, 1.0), (1, 6, 0.8, 1.0), (3, 10, 5.0, 1.0),
                                           (10, 20, 9.0, 1.0), (4, 30, 12.0, 2.0), (2, 5, 0.0, 1.0)])
def test_mmck_against_brute_force_chain(c, k, lam, mu):
    n = np.arange(k + 1)
    pi = stationary(np.full(k, lam), np.minimum(n[1:], c) * mu)
    got = mmck_stats(c, capacity=k, arrival_rate_per_s=lam, service_rate_per_s=mu)
    assert isinstance(got, MMCKStats)
    assert got.p_block == pytest.approx(pi[-1], rel=1e-9, abs=1e-15)
    assert mmck_blocking(c, capacity=k, arrival_rate_per_s=lam, service_rate_per_s=mu) == got.p_block
    assert got.mean_in_system == pytest.approx(n @ pi, rel=1e-9, abs=1e-15)
    assert got.mean_queue == pytest.approx(np.maximum(n - c, 0) @ pi, rel=1e-9, abs=1e-15)
    assert got.throughput_per_s == pytest.approx(lam * (1 - pi[-1]), rel=1e-9, abs=1e-15)
    # flow balance: what is admitted is served, so mean busy servers = throughput / mu
    assert np.minimum(n, c) @ pi == pytest.approx(got.throughput_per_s / mu, rel=1e-9, abs=1e-15)
    if lam > 0:  # Little with the admitted rate
        assert got.mean_wait_s == pytest.approx(got.mean_queue / got.throughput_per_s, rel=1e-12)
        assert got.mean_response_s == pytest.approx(got.mean_wait_s + 1 / mu, rel=1e-9)


def test_mmck_limits():
    # K = c is the Erlang loss system; a big room is M/M/c
    assert mmck_blocking(10, capacity=10, arrival_rate_per_s=9, service_rate_per_s=1) == pytest.approx(
        erlang_b(10, 9), rel=1e-12)
    big = mmck_stats(10, capacity=2000, arrival_rate_per_s=9, service_rate_per_s=1)
    assert big.p_block < 1e-80
    assert big.mean_wait_s == pytest.approx(mmc_mean_wait_s(10, arrival_rate_per_s=9, service_rate_per_s=1))
    # heavy overload with a big room: no overflow, nearly every arrival lost, servers saturated
    over = mmck_stats(500, capacity=100_000, arrival_rate_per_s=5000, service_rate_per_s=1)
    assert over.p_block == pytest.approx(0.9, rel=1e-9)
    assert over.throughput_per_s == pytest.approx(500, rel=1e-9)


@FAST
@given(c=st.integers(1, 30), extra=st.integers(0, 30), a=st.floats(0.01, 60))
def test_mmck_blocking_falls_with_room(c, extra, a):
    b1 = mmck_blocking(c, capacity=c + extra, arrival_rate_per_s=a, service_rate_per_s=1.0)
    b2 = mmck_blocking(c, capacity=c + extra + 1, arrival_rate_per_s=a, service_rate_per_s=1.0)
    assert 0 <= b2 <= b1 * (1 + 1e-12) <= 1
    assert b1 <= erlang_b(c, a) * (1 + 1e-12)


# --- Erlang A ------------------------------------------------------------------------


@pytest.mark.parametrize("c, lam, mu, theta", [(10, 12.0, 1.0, 0.5), (1, 0.5, 1.0, 2.0), (5, 3.0, 1.0, 0.05),
                                               (20, 40.0, 1.0, 1.0), (3, 10.0, 2.0, 5.0), (50, 45.0, 1.0, 0.2)])
def test_erlang_a_against_brute_force_chain(c, lam, mu, theta):
    pi, n = mmc_chain(c, lam, mu, states=c + 600, theta=theta)
    assert pi[-1] < 1e-15  # the truncation is harmless (solver rounding only)
    queue = np.maximum(n - c, 0) @ pi
    got = erlang_a(c, arrival_rate_per_s=lam, service_rate_per_s=mu, abandon_rate_per_s=theta)
    assert got.mean_queue == pytest.approx(queue, rel=1e-8)
    assert got.p_wait == pytest.approx(pi[n >= c].sum(), rel=1e-8)
    assert got.p_abandon == pytest.approx(theta * queue / lam, rel=1e-8)
    assert got.mean_wait_s == pytest.approx(queue / lam, rel=1e-8)  # Little on the queue
    assert got.mean_in_service == pytest.approx(np.minimum(n, c) @ pi, rel=1e-8)
    # flow balance: those who do not abandon are served
    assert got.mean_in_service == pytest.approx(lam * (1 - got.p_abandon) / mu, rel=1e-8)


def test_erlang_a_many_servers_matches_the_fluid_limit_and_balances():
    # 1000 servers, 5 % overload: a^n / n! overflows unless summed in logs
    got = erlang_a(1000, arrival_rate_per_s=1050.0, service_rate_per_s=1.0, abandon_rate_per_s=0.1)
    assert got.p_abandon == pytest.approx(50 / 1050, rel=1e-3)  # (lambda - c mu) / lambda
    assert got.mean_queue == pytest.approx(50 / 0.1, rel=1e-3)  # (lambda - c mu) / theta
    assert got.mean_in_service == pytest.approx(1050 * (1 - got.p_abandon), rel=1e-10)
    assert got.p_wait == pytest.approx(1.0, abs=1e-5)


def test_erlang_a_without_abandonment_is_mmc():
    kw = dict(arrival_rate_per_s=9.0, service_rate_per_s=1.0)
    got = erlang_a(10, abandon_rate_per_s=0.0, **kw)
    assert got.p_abandon == 0.0 and got.p_wait == pytest.approx(erlang_c(10, 9.0), rel=1e-12)
    assert got.mean_wait_s == pytest.approx(mmc_mean_wait_s(10, **kw), rel=1e-12)
    assert got.mean_queue == pytest.approx(9.0 * mmc_mean_wait_s(10, **kw), rel=1e-12)
    # a very patient crowd is nearly M/M/c (continuity at theta -> 0)
    near = erlang_a(10, abandon_rate_per_s=1e-7, **kw)
    assert near.mean_wait_s == pytest.approx(got.mean_wait_s, rel=1e-4)
    unstable = erlang_a(10, arrival_rate_per_s=12.0, service_rate_per_s=1.0, abandon_rate_per_s=0.0)
    assert unstable.mean_queue == math.inf and unstable.p_wait == 1.0
    idle = erlang_a(3, arrival_rate_per_s=0.0, service_rate_per_s=1.0, abandon_rate_per_s=1.0)
    assert idle == ErlangAResult(0.0, 0.0, 0.0, 0.0, 0.0)


@FAST
@given(c=st.integers(1, 40), rho=st.floats(0.1, 3.0), theta=st.floats(0.01, 10.0))
def test_erlang_a_abandonment_grows_with_impatience(c, rho, theta):
    kw = dict(arrival_rate_per_s=rho * c, service_rate_per_s=1.0)
    lo = erlang_a(c, abandon_rate_per_s=theta, **kw)
    hi = erlang_a(c, abandon_rate_per_s=theta * 1.5, **kw)
    assert 0 <= lo.p_abandon <= hi.p_abandon * (1 + 1e-9) + 1e-15 <= 1 + 1e-9
    assert hi.p_wait <= lo.p_wait * (1 + 1e-9)
    # impatience cannot lose more than an Erlang loss system (theta -> inf) does
    assert hi.p_abandon <= erlang_b(c, rho * c) * (1 + 1e-9)


# --- Erlang B / C properties ---------------------------------------------------------


@FAST
@given(c=st.integers(1, 200), a=st.floats(0.0, 300.0))
def test_erlang_b_and_c_properties(c, a):
    b, b_next = erlang_b(c, a), erlang_b(c + 1, a)
    assert 0 <= b_next <= b <= 1
    assert erlang_b(c, a * 1.1 + 0.01) >= b  # more load, more blocking
    ec, ec_next = erlang_c(c, a), erlang_c(c + 1, a)
    assert 0 <= ec <= 1 and 0 <= ec_next <= ec
    assert ec >= b * (1 - 1e-12)  # waiting is likelier than being lost


@FAST
@given(c=st.integers(1, 60), rho=st.floats(0.01, 0.99), t=st.floats(0.0, 5.0))
def test_wait_tail_properties(c, rho, t):
    kw = dict(arrival_rate_per_s=rho * c, service_rate_per_s=1.0)
    p0 = mmc_wait_exceeds(c, t_s=0.0, **kw)
    assert p0 == pytest.approx(erlang_c(c, rho * c), rel=1e-12)
    assert 0 <= mmc_wait_exceeds(c, t_s=t, **kw) <= p0
    assert mmc_wait_exceeds(c + 1, t_s=t, **kw) <= mmc_wait_exceeds(c, t_s=t, **kw)


# --- staffing ------------------------------------------------------------------------


def brute_force_staffing(lam, mu, wait_s, max_p):
    a = lam / mu
    for c in range(1, 10_000):
        if c > a and erlang_c_logspace(c, a) * math.exp(-(c * mu - lam) * wait_s) <= max_p:
            return c
    raise AssertionError("no answer")


@pytest.mark.parametrize("lam, mu, wait_s, max_p", [
    (9.0, 1.0, 0.0, 0.7), (9.0, 1.0, 0.0, 0.6), (100.0, 0.5, 0.1, 0.2), (2.0, 1.0, 0.0, 1.0),
    (0.3, 1.0, 1.0, 0.01), (1000.0, 1.0, 0.02, 0.2), (50.0, 1 / 180, 20.0, 0.2), (4.0, 1.0, 0.0, 1e-12),
])
def test_staffing_matches_brute_force(lam, mu, wait_s, max_p):
    c = min_servers_erlang_c(lam, mu, wait_s=wait_s, max_p=max_p)
    assert c == brute_force_staffing(lam, mu, wait_s, max_p)
    assert mmc_wait_exceeds(c, arrival_rate_per_s=lam, service_rate_per_s=mu, t_s=wait_s) <= max_p
    if c - 1 > lam / mu:  # the answer is the least stable c or the one below fails
        assert mmc_wait_exceeds(c - 1, arrival_rate_per_s=lam, service_rate_per_s=mu, t_s=wait_s) > max_p


def test_staffing_known_answers():
    assert min_servers_erlang_c(9.0, 1.0, wait_s=0.0, max_p=0.7) == 10  # C(10, 9) = 0.6687
    assert min_servers_erlang_c(9.0, 1.0, wait_s=0.0, max_p=0.6) == 11
    assert min_servers_erlang_c(10.0, 1.0, wait_s=0.0, max_p=1.0) == 11  # c = a is unstable
    assert min_servers_erlang_c(0.0, 1.0, wait_s=0.0, max_p=0.01) == 1


# --- argument validation -------------------------------------------------------------

MMC = dict(arrival_rate_per_s=1.0, service_rate_per_s=1.0)


@pytest.mark.parametrize("call, name", [
    (lambda: erlang_b(0, 1.0), "servers"),
    (lambda: erlang_b(2.5, 1.0), "servers"),
    (lambda: erlang_b(True, 1.0), "servers"),
    (lambda: erlang_b(3, -1.0), "offered_load"),
    (lambda: erlang_b(3, math.nan), "offered_load"),
    (lambda: erlang_c(3, math.inf), "offered_load"),
    (lambda: erlang_c(3, "2"), "offered_load"),
    (lambda: mmc_mean_wait_s(-1, **MMC), "servers"),
    (lambda: mmc_mean_wait_s(2, arrival_rate_per_s=-1.0, service_rate_per_s=1.0), "arrival_rate_per_s"),
    (lambda: mmc_mean_response_s(2, arrival_rate_per_s=1.0, service_rate_per_s=0.0), "service_rate_per_s"),
    (lambda: mmc_mean_in_system(2, arrival_rate_per_s=1.0, service_rate_per_s=-2.0), "service_rate_per_s"),
    (lambda: mmc_wait_exceeds(2, t_s=-1.0, **MMC), "t_s"),
    (lambda: mmck_blocking(3, capacity=2, **MMC), "capacity"),
    (lambda: mmck_stats(3, capacity=4.0, **MMC), "capacity"),
    (lambda: mmck_stats(0, capacity=4, **MMC), "servers"),
    (lambda: erlang_a(2, abandon_rate_per_s=-0.1, **MMC), "abandon_rate_per_s"),
    (lambda: erlang_a(2, abandon_rate_per_s=math.inf, **MMC), "abandon_rate_per_s"),
    (lambda: erlang_a(2, arrival_rate_per_s=3.0, service_rate_per_s=1.0, abandon_rate_per_s=1e-12),
     "abandon_rate_per_s"),
    (lambda: min_servers_erlang_c(1.0, 1.0, wait_s=0.0, max_p=0.0), "max_p"),
    (lambda: min_servers_erlang_c(1.0, 1.0, wait_s=0.0, max_p=1.5), "max_p"),
    (lambda: min_servers_erlang_c(1.0, 1.0, wait_s=-1.0, max_p=0.5), "wait_s"),
    (lambda: min_servers_erlang_c(1.0, 0.0, wait_s=0.0, max_p=0.5), "service_rate_per_s"),
    (lambda: min_servers_erlang_c(math.nan, 1.0, wait_s=0.0, max_p=0.5), "arrival_rate_per_s"),
])
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=f'"{name}"'):
        call()


def test_keyword_only_rates():
    with pytest.raises(TypeError):
        mmc_mean_wait_s(10, 9.0, 1.0)  # type: ignore[misc]
