"""The effective concurrency read from response times against requests in flight."""

import heapq

import numpy as np
import pytest

from sim.analysis.concurrency import fit_concurrency, in_flight_when_sent


def test_in_flight_counts_the_others_sent_and_unfinished():
    sent = np.array([0.0, 1.0, 1.5, 3.0, 3.0])
    finished = np.array([2.0, 1.2, 4.0, 3.5, 5.0])
    # at 0: none; at 1: the first; at 1.5: the first (the second finished at 1.2);
    # at 3: the third (the first finished at 2), and the two sent at 3 do not count each other
    assert in_flight_when_sent(sent, finished).tolist() == [0, 1, 1, 1, 1]


def _fifo_site(rng, *, workers, mean_s, rates_per_s, step_s=20.0, round_trip_s=0.001):
    """A FIFO site of ``workers`` servers, exponential service, unbounded backlog, under rising Poisson steps."""
    ns, rs = [], []
    for rate in rates_per_s:
        sent = np.cumsum(rng.exponential(1 / rate, int(rate * step_s)))
        free = [0.0] * workers  # when each server is next free
        finished = np.empty_like(sent)
        for i, t in enumerate(sent):
            start = max(t + round_trip_s / 2, free[0])
            end = start + rng.exponential(mean_s)
            heapq.heapreplace(free, end)
            finished[i] = end + round_trip_s / 2
        ns.append(in_flight_when_sent(sent, finished, round_trip_s=round_trip_s))
        rs.append(finished - sent)
    return np.concatenate(ns), np.concatenate(rs)


@pytest.mark.parametrize("workers", [1, 4, 16])
def test_the_hinge_is_the_number_of_workers(workers):
    mean_s = 0.02
    capacity = workers / mean_s
    n, r = _fifo_site(np.random.default_rng(workers), workers=workers, mean_s=mean_s,
                      rates_per_s=[capacity * f for f in (0.2, 0.5, 0.7, 0.85, 0.95)])
    fit = fit_concurrency(n, r, throughput_per_s=capacity)
    assert fit.workers == workers
    assert fit.base_s == pytest.approx(mean_s + 0.001, rel=0.2)  # the level: the group means are noisy


def test_too_few_groups_is_an_error():
    with pytest.raises(ValueError, match="too few responses"):
        fit_concurrency(np.zeros(50, dtype=int), np.full(50, 0.02), throughput_per_s=100.0)
    with pytest.raises(ValueError, match="throughput_per_s"):
        fit_concurrency(np.arange(50), np.full(50, 0.02), throughput_per_s=0.0)
