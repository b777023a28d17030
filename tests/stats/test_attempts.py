import math

import numpy as np
import pytest

from sim.stats.attempts import attempt_quantiles
from sim.stats.histogram import LogHistogram


def _hist(values):
    h = LogHistogram()
    h.add_many(np.asarray(values, dtype=float))
    return h


def test_every_attempt_answered_gives_the_histogram_percentiles():
    h = _hist(np.linspace(0.01, 1.0, 100))
    got = attempt_quantiles(h, attempts=100, answered=100)
    assert got["p95"] == h.quantile(0.95) and got["p50"] == h.quantile(0.50)
    assert got["answered_fraction"] == 1.0


def test_failures_beyond_five_percent_make_the_p95_unanswered():
    # 100 attempts, 90 answered in 0.1 s: the p95's rank (95) falls among the 10 failures.
    h = _hist([0.1] * 90)
    got = attempt_quantiles(h, attempts=100, answered=90)
    assert got["p95"] == math.inf and got["p99"] == math.inf
    assert got["p50"] == pytest.approx(0.1, rel=0.01)
    assert got["answered_fraction"] == 0.9


def test_failures_push_the_percentile_up_the_answered_ones():
    # 200 attempts: 196 answered (1..196 ms), 4 failed. The p95's rank is 190: the 190th fastest answer.
    values = np.arange(1, 197) / 1000
    h = _hist(values)
    got = attempt_quantiles(h, attempts=200, answered=196)
    assert got["p95"] == h.quantile(190 / 196)
    assert got["p95"] == pytest.approx(0.190, rel=0.01)
    assert got["p99"] == math.inf  # rank 198 > 196 answered


def test_edge_answers_count_as_instant():
    # 100 attempts: 60 served at the edge, 40 by the origin in 1 s each.
    h = _hist([1.0] * 40)
    got = attempt_quantiles(h, attempts=100, answered=100)
    assert got["p50"] == 0.0
    assert got["p95"] == pytest.approx(1.0, rel=0.01)


def test_no_attempt_is_nan():
    got = attempt_quantiles(LogHistogram(), attempts=0, answered=0)
    assert math.isnan(got["p95"]) and math.isnan(got["answered_fraction"])
