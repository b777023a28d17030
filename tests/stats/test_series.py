import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.stats.series import BinnedSeries, TimeWeighted
from sim.stats.histogram import LogHistogram
from sim.stats.confidence import mean_ci, t_ppf

QS = np.concatenate([np.linspace(0.0, 1.0, 201), [1e-4, 0.001, 0.999, 0.9999]])


def lower_quantile(x, q):
    """The definition LogHistogram documents: order statistic of rank max(1, ceil(q*n))."""
    s = np.sort(np.asarray(x, dtype=float))
    return s[max(1, math.ceil(q * len(s))) - 1]


def assert_same(h1, h2):
    """Bucket-by-bucket equality of two histograms (the sums may differ in rounding)."""
    np.testing.assert_array_equal(h1.bucket_counts(), h2.bucket_counts())
    assert (h1.count, h1.low_count, h1.overflow_count) == (h2.count, h2.low_count, h2.overflow_count)
    assert (h1.min, h1.max) == (h2.min, h2.max) or h1.count == 0
    assert h1.sum == pytest.approx(h2.sum, rel=1e-12)


SAMPLES = {
    "lognormal": lambda rng, n: rng.lognormal(-3.0, 1.5, n),
    "exponential": lambda rng, n: rng.exponential(0.05, n),
    "uniform": lambda rng, n: rng.uniform(0.0, 2.0, n),
}


@pytest.mark.parametrize("kind", SAMPLES)
def test_quantile_relative_error_on_random_data(kind):
    x = SAMPLES[kind](np.random.default_rng(7), 20_000)
    x[:50] = 0.0  # exact zeros (zero queueing time) must come back exactly
    h = LogHistogram().add_many(x)
    est = h.quantiles(QS)
    true = np.array([lower_quantile(x, q) for q in QS])
    np.testing.assert_array_equal(true, np.quantile(x, QS, method="inverted_cdf"))
    assert np.all(np.abs(est - true) <= 0.01 * true)
    assert np.all(np.abs(est - true) <= (h.alpha + 1e-12) * true)  # the sharper stated bound
    assert h.quantile(0.0) == x.min() and h.quantile(1.0) == x.max()
    assert h.mean == pytest.approx(x.mean(), rel=1e-12) and h.count == x.size


def test_add_and_add_many_agree():
    x = np.random.default_rng(3).lognormal(0.0, 4.0, 5_000)
    x[:10] = [0.0, 1e-9, 1e-6, 1e6, 2e6, math.inf, 5e-7, 1.0, 1e-3, 3.0]
    one = LogHistogram()
    for v in x.tolist():
        one.add(v)
    assert_same(one, LogHistogram().add_many(x))
    assert one.overflow_count == np.count_nonzero(x > 1e6) and one.low_count == np.count_nonzero(x < 1e-6)


values = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=1e6))


@settings(max_examples=150, deadline=None)
@given(st.lists(values, min_size=1, max_size=200), st.floats(min_value=0.0, max_value=1.0))
def test_quantile_relative_error_hypothesis(xs, q):
    h = LogHistogram()
    for v in xs:
        h.add(v)
    true = lower_quantile(xs, q)
    assert abs(h.quantile(q) - true) <= 0.01 * true


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=100),
       st.floats(min_value=0.0, max_value=1.0))
def test_values_below_min_value_are_off_by_less_than_it(xs, q):
    true = lower_quantile(xs, q)
    assert abs(LogHistogram().add_many(xs).quantile(q) - true) <= 0.01 * true + 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e7), max_size=80),
       st.lists(st.floats(min_value=0.0, max_value=1e7), max_size=80))
def test_merge_equals_histogram_of_concatenation(a, b):
    merged = LogHistogram().add_many(a).merge(LogHistogram().add_many(b))
    assert_same(merged, LogHistogram().add_many(a + b))


def test_merge_rejects_other_layouts():
    with pytest.raises(ValueError):
        LogHistogram().merge(LogHistogram(alpha=0.001))


def test_dict_round_trip_through_json():
    rng = np.random.default_rng(5)
    h = LogHistogram().add_many(np.concatenate([rng.exponential(0.2, 3000), [0.0, 0.0, 1e-8, 5e6]]))
    d = json.loads(json.dumps(h.to_dict()))
    assert len(d["index"]) < 2000  # sparse: only occupied buckets
    back = LogHistogram.from_dict(d)
    assert_same(back, h)
    assert back.sum == h.sum and back.to_dict() == d
    np.testing.assert_array_equal(back.quantiles(QS), h.quantiles(QS))
    empty = LogHistogram.from_dict(json.loads(json.dumps(LogHistogram().to_dict())))
    assert empty.count == 0 and math.isnan(empty.quantile(0.5))
    with pytest.raises(ValueError):
        LogHistogram.from_dict({**d, "count": d["count"] + 1})
    with pytest.raises(ValueError):
        LogHistogram.from_dict({**d, "index": d["index"][:-1]})


def test_empty_histogram_and_bad_input():
    h = LogHistogram()
    assert math.isnan(h.quantile(0.5)) and math.isnan(h.mean) and h.count == 0
    assert np.isnan(h.quantiles([0.1, 0.9])).all()
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError):
            h.add(bad)
        with pytest.raises(ValueError):
            h.add_many([1.0, bad])
    with pytest.raises(ValueError):
        h.quantile(1.5)
    assert h.count == 0


def test_memory_does_not_grow_with_values():
    h = LogHistogram()
    counts, nbytes = h._counts, h.storage_nbytes
    rng = np.random.default_rng(11)
    for _ in range(10):
        h.add_many(rng.lognormal(0.0, 3.0, 100_000))
    for v in rng.exponential(1.0, 20_000).tolist():
        h.add(v)
    assert h.count == 1_020_000
    assert h._counts is counts and h.storage_nbytes == nbytes == counts.size * 8


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


@pytest.mark.parametrize("p", [0.6, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 0.99999])
def test_t_ppf_matches_scipy(p):
    for df in list(range(1, 201)) + [0.5, 2.5, 500, 1000, 1001, 5000, 1e6]:
        assert t_ppf(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)
        assert t_ppf(1 - p, df) == pytest.approx(stats.t.ppf(1 - p, df), rel=1e-9)
    assert t_ppf(0.5, 3) == 0.0


def test_mean_ci_matches_scipy():
    rng = np.random.default_rng(6)
    for n in (2, 3, 5, 10, 30, 201):
        x = rng.normal(10.0, 2.0, n)
        for conf in (0.9, 0.95, 0.99):
            m, hw = mean_ci(x, conf)
            lo, hi = stats.t.interval(conf, n - 1, loc=x.mean(), scale=stats.sem(x))
            assert m == pytest.approx(x.mean()) and hw == pytest.approx((hi - lo) / 2, rel=1e-9)
    m, hw = mean_ci([4.0])
    assert m == 4.0 and math.isnan(hw)
    assert all(math.isnan(v) for v in mean_ci([]))
    assert mean_ci([1.0, 1.0, 1.0]) == (1.0, 0.0)
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], confidence=1.0)
