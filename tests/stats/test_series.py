"""BinnedSeries and TimeWeighted: per-bin counts, histograms and time averages."""

import math

import numpy as np
import pytest

from sim.stats.histogram import LogHistogram
from sim.stats.series import BinnedSeries, TimeWeighted
from tests.stats.test_histogram import assert_same, lower_quantile


def brute_force_areas(times, levels, initial, edges, t_end):
    """Exact per-bin integral of a step function, by overlapping every segment with every bin."""
    starts = [0.0] + list(times)
    ends = list(times) + [t_end]
    lv = [initial] + list(levels)
    area = np.zeros(len(edges) - 1)
    for s, e, level in zip(starts, ends, lv):
        overlap = np.clip(np.minimum(e, edges[1:]) - np.maximum(s, edges[:-1]), 0.0, None)
        area += level * overlap
    return area


def test_time_weighted_hand_example():
    tw = TimeWeighted(duration_s=10.0, bin_s=2.0)  # bins [0,2) [2,4) [4,6) [6,8) [8,10]
    steps = [(0.5, 2), (1.0, 5), (1.0, 1), (5.5, 4), (6.0, 0), (9.0, 3)]
    for t, level in steps:
        tw.update(t, level)
    # Before finish, the queries cover [0, 9]: the last bin is half covered at level 0.
    np.testing.assert_allclose(tw.mean_per_bin(), [1.0, 1.0, 1.75, 0.0, 0.0])
    tw.finish(10.0)
    # Level 1 holds over [1, 5.5], spanning bins 0, 1 and 2; level 5 holds for no time.
    np.testing.assert_allclose(tw.area_per_bin(), [2.0, 2.0, 3.5, 0.0, 3.0])
    np.testing.assert_allclose(tw.mean_per_bin(), [1.0, 1.0, 1.75, 0.0, 1.5])
    np.testing.assert_array_equal(tw.max_per_bin(), [2, 1, 4, 0, 3])
    assert tw.max_level == 4
    assert tw.mean() == pytest.approx(1.05)
    assert tw.mean(from_s=4.0) == pytest.approx(6.5 / 6)
    assert tw.mean(from_s=7.0) == pytest.approx(1.0)  # level constant within the cut bin: exact
    assert tw.mean(from_s=5.0) == pytest.approx((3.5 / 2 + 3.0) / 5)  # pro-rated cut bin
    assert math.isnan(tw.mean(from_s=10.0))
    with pytest.raises(ValueError):
        tw.update(10.0, 1)


def test_time_weighted_against_brute_force():
    rng = np.random.default_rng(2)
    for duration, bin_s in [(10.0, 1.0), (7.3, 0.7), (3.0, 5.0)]:
        times = np.sort(rng.uniform(0.0, duration, 300))
        times[::7] = np.round(times[::7] / bin_s) * bin_s  # some changes exactly on edges
        times = np.sort(np.minimum(times, duration))
        times[100:104] = times[100]  # simultaneous changes (still sorted)
        levels = rng.integers(0, 20, times.size)
        tw = TimeWeighted(duration, bin_s, initial_level=3)
        for t, level in zip(times.tolist(), levels.tolist()):
            tw.update(t, level)
        tw.finish()
        edges = tw.edges_s
        area = brute_force_areas(times, levels, 3, edges, duration)
        np.testing.assert_allclose(tw.area_per_bin(), area, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(tw.mean_per_bin(), area / np.diff(edges), rtol=1e-9)
        assert tw.mean() == pytest.approx(area.sum() / duration, rel=1e-9)


def test_time_weighted_bad_input():
    tw = TimeWeighted(5.0, 1.0)
    tw.update(2.0, 1)
    with pytest.raises(ValueError):
        tw.update(1.0, 2)
    with pytest.raises(ValueError):
        tw.update(6.0, 2)
    assert math.isnan(tw.mean_per_bin()[3]) and math.isnan(tw.max_per_bin()[3])


@pytest.mark.parametrize("duration, bin_s", [(10.0, 3.0), (1.0, 0.1), (60.0, 1.0), (0.7, 0.1)])
def test_binned_counters_match_numpy_histogram(duration, bin_s):
    rng = np.random.default_rng(4)
    edges_guess = np.arange(0.0, duration, bin_s)
    t = np.concatenate([rng.uniform(0.0, duration, 5000), edges_guess, [0.0, duration]])
    k = rng.integers(1, 4, t.size)
    series = BinnedSeries(duration, bin_s)
    for ti, ki in zip(t.tolist(), k.tolist()):
        series.count("requests", ti)
        series.count("bytes", ti, ki)
    edges = series.edges_s
    assert edges[0] == 0.0 and edges[-1] == duration and series.n_bins == math.ceil(round(duration / bin_s, 9))
    np.testing.assert_array_equal(series.counter("requests"), np.histogram(t, bins=edges)[0])
    np.testing.assert_array_equal(series.counter("bytes"), np.histogram(t, bins=edges, weights=k)[0])
    np.testing.assert_array_equal(series.counter("never"), np.zeros(series.n_bins))
    for ti in (-0.1, duration * 1.001):
        with pytest.raises(ValueError):
            series.bin_index(ti)


def test_binned_histograms():
    rng = np.random.default_rng(8)
    t = rng.uniform(0.0, 100.0, 20_000)
    lat = rng.lognormal(-2.0, 1.0, t.size)
    a, b = BinnedSeries(100.0, 10.0), BinnedSeries(100.0, 10.0)
    half = t.size // 2
    for ti, x in zip(t[:half].tolist(), lat[:half].tolist()):
        a.observe("latency", ti, x)
    for ti, x in zip(t[half:].tolist(), lat[half:].tolist()):
        b.observe("latency", ti, x)
    b.count("requests", 5.0)
    a.merge(b)
    bins = np.array([a.bin_index(ti) for ti in t.tolist()])
    for q in (0.5, 0.99):
        est = a.quantile_series("latency", q)
        true = np.array([lower_quantile(lat[bins == i], q) for i in range(a.n_bins)])
        assert np.all(np.abs(est - true) <= 0.01 * true)
    np.testing.assert_array_equal(a.observations("latency"), np.bincount(bins, minlength=a.n_bins))
    assert_same(a.total_histogram("latency"), LogHistogram().add_many(lat))
    assert_same(a.total_histogram("latency", from_s=30.0), LogHistogram().add_many(lat[t >= 30.0]))
    assert_same(a.bin_histogram("latency", 3), LogHistogram().add_many(lat[bins == 3]))
    assert a.counter("requests")[0] == 1
    assert np.isnan(a.quantile_series("other", 0.5)).all()
    size = LogHistogram().storage_nbytes
    assert all(h.storage_nbytes < size / 2 for h in a._hists["latency"])  # windows, not full arrays
    with pytest.raises(ValueError):
        a.merge(BinnedSeries(100.0, 5.0))
