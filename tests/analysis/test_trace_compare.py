"""A profile against an observed trace: totals, R^2, Poisson deviance, peaks, and the overlap with the run."""

import math

import numpy as np
import pytest

from sim.analysis.trace_compare import compare_to_trace, poisson_deviance, r_squared


def cumulative_of(edges, counts):
    """A cumulative function that brings exactly ``counts`` in the intervals between ``edges``."""
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    return lambda t: np.interp(np.asarray(t, dtype=float), edges, cum)


def test_equal_counts_give_r_squared_1_and_deviance_0():
    edges = np.arange(0.0, 6 * 3600 + 1, 3600)
    counts = np.array([10.0, 250.0, 90.0, 0.0, 40.0, 12.0])
    c = compare_to_trace(edges, counts, cumulative_of(edges, counts), duration_s=6 * 3600)
    assert c.r_squared == 1.0 and c.deviance == pytest.approx(0.0, abs=1e-9)
    assert c.observed_total == c.expected_total == 402.0 and c.ratio == pytest.approx(1.0)
    assert c.intervals == c.trace_intervals == 6 and not c.truncated


def test_a_small_case_by_hand():
    # y = [2, 4, 6], mu = [3, 3, 6]
    # R^2 = 1 - (1 + 1 + 0) / ((2-4)^2 + 0 + (6-4)^2) = 1 - 2/8 = 0.75
    # D = 2 [2 ln(2/3) + 1 + 4 ln(4/3) - 1 + 0] = 2 (-0.8109302 + 1.1507283) = 0.6795961
    edges = np.array([0.0, 600.0, 1200.0, 1800.0])
    c = compare_to_trace(edges, [2, 4, 6], cumulative_of(edges, [3, 3, 6]), duration_s=1800)
    assert c.r_squared == pytest.approx(0.75)
    assert c.deviance == pytest.approx(0.6795961, abs=1e-7)
    assert c.deviance_per_interval == pytest.approx(0.6795961 / 3, abs=1e-7)
    assert (c.observed_total, c.expected_total, c.ratio) == (12.0, 12.0, 1.0)
    assert (c.peak_observed, c.peak_observed_at_s, c.peak_expected, c.peak_expected_at_s) == (6, 1200, 6, 1200)
    assert list(c.expected) == pytest.approx([3, 3, 6])


def test_a_zero_count_adds_twice_its_expected_count():
    # y = 0: the term is 2 (0 - (0 - mu)) = 2 mu; R^2 = 1 - 1 / 12.5
    assert poisson_deviance([0, 5], [1, 5]) == pytest.approx(2.0)
    assert r_squared([0, 5], [1, 5]) == pytest.approx(0.92)


def test_visitors_where_none_are_expected_make_the_deviance_infinite():
    edges = np.array([0.0, 60.0, 120.0])
    c = compare_to_trace(edges, [3, 1], cumulative_of(edges, [3, 0]), duration_s=120)
    assert math.isinf(c.deviance) and c.unexpected_intervals == 1
    assert c.figures()["poisson_deviance"] == math.inf  # written as null in JSON
    assert poisson_deviance([0, 0], [0, 2]) == pytest.approx(4.0)  # none observed, none expected: 0


def test_r_squared_is_none_for_flat_observed_counts_that_differ_from_expected():
    assert r_squared([5, 5, 5], [4, 5, 6]) is None
    assert r_squared([5, 5, 5], [5, 5, 5]) == 1.0


def test_a_trace_past_the_run_is_compared_over_the_overlap_only():
    edges = np.arange(0.0, 5 * 3600 + 1, 3600)  # 5 hourly intervals
    counts = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    cum = cumulative_of(edges, counts)
    c = compare_to_trace(edges, counts, cum, duration_s=2 * 3600)
    assert c.truncated and (c.intervals, c.trace_intervals) == (2, 5)
    assert list(c.edges_s) == [0, 3600, 7200] and list(c.observed) == [100, 200]
    assert c.observed_total == 300 and c.trace_end_s == 5 * 3600
    f = c.figures()
    assert f["truncated_to_run"] is True and f["compared_to_s"] == 7200 and f["intervals"] == 2
    # an interval cut by the run's end is left out whole
    cut = compare_to_trace(edges, counts, cum, duration_s=2.5 * 3600)
    assert cut.intervals == 2 and cut.edges_s[-1] == 7200
    # an interval that ends at the run's end, to round-off, is in
    assert compare_to_trace(edges, counts, cum, duration_s=3 * 3600 * (1 - 1e-12)).intervals == 3
    # a trace shorter than the run: all of it
    whole = compare_to_trace(edges, counts, cum, duration_s=48 * 3600)
    assert whole.intervals == 5 and not whole.truncated


def test_no_interval_within_the_run_is_refused():
    edges = np.array([0.0, 3600.0, 7200.0])
    with pytest.raises(ValueError, match="no interval to compare"):
        compare_to_trace(edges, [1, 2], cumulative_of(edges, [1, 2]), duration_s=600)


def test_poisson_noise_gives_a_deviance_of_about_1_per_interval():
    edges = np.arange(0.0, 400 * 60 + 1, 60)
    mu = np.full(400, 500.0)
    y = np.random.default_rng(7).poisson(mu)
    c = compare_to_trace(edges, y, cumulative_of(edges, mu), duration_s=edges[-1])
    assert 0.8 < c.deviance_per_interval < 1.2  # sd of the mean over 400 intervals: about 0.07
