"""Percentiles of sparse bins: neighbouring bins merged until each holds enough responses."""

from __future__ import annotations

import numpy as np
import pytest

from sim.stats.coarse import MIN_RESPONSES, merged_quantiles, merged_ratio, sparse_groups
from sim.stats.histogram import LogHistogram
from sim.stats.series import BinnedSeries


def test_min_responses_is_the_least_count_whose_p99_is_not_the_maximum():
    for n in (MIN_RESPONSES - 1, MIN_RESPONSES):
        values = np.arange(1.0, n + 1)  # 1 .. n s
        p99 = LogHistogram().add_many(values).quantile(0.99)
        slowest = p99 == pytest.approx(n, rel=0.01)  # the histogram's 0.5 % accuracy
        assert slowest is (n < MIN_RESPONSES), (n, p99)


def test_groups_close_at_the_count_and_at_the_widest():
    counts = [30, 30, 30, 30, 500, 0, 60, 50, 10]
    # 30+30+30+30 = 120 >= 100 closes at bin 4; 500 alone; 0+60+50 = 110; the remainder (10) joins it
    assert sparse_groups(counts, min_count=100, max_bins=60) == [(0, 4), (4, 5), (5, 9)]
    # at most 2 bins wide: every pair short of 100 closes at its width (the caller flags it by its count)
    assert sparse_groups(counts, min_count=100, max_bins=2) == [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9)]
    assert sparse_groups([], min_count=100) == []
    assert sparse_groups([5], min_count=100) == [(0, 1)]


@pytest.mark.parametrize("bad", [{"min_count": 0}, {"max_bins": 0}])
def test_bad_group_arguments_are_named(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        sparse_groups([1, 2], **bad)


def _series(per_bin: list[np.ndarray], bin_s: float = 60.0) -> BinnedSeries:
    s = BinnedSeries(len(per_bin) * bin_s, bin_s)
    for b, values in enumerate(per_bin):
        if len(values):
            s.observe_many("response_s", b * bin_s, values)
    return s


def test_merged_percentiles_are_those_of_all_the_group_s_responses():
    rng = np.random.default_rng(7)
    sizes = [40, 40, 40, 900, 20, 20, 5]  # a night, a surge minute, a night
    per_bin = [rng.lognormal(np.log(0.1), 0.8, n) for n in sizes]
    merged = merged_quantiles(_series(per_bin), min_count=100, max_bins=3)
    # 40+40+40 = 120; 900 alone; 20+20+5 = 45 at the widest (3 bins): too few
    assert merged.edges_s.tolist() == [0.0, 180.0, 240.0, 420.0]
    assert merged.counts.tolist() == [120, 900, 45]
    assert merged.enough.tolist() == [True, True, False]
    for g, (lo, hi) in enumerate([(0, 3), (3, 4), (4, 7)]):
        pooled = LogHistogram().add_many(np.concatenate(per_bin[lo:hi]))
        for q in (0.5, 0.95, 0.99):
            assert merged.values[q][g] == pooled.quantile(q)
    # the night's p99 over 120 responses is their 2nd slowest, not the slowest of a 40-response bin
    night = np.sort(np.concatenate(per_bin[:3]))
    assert merged.values[0.99][0] == pytest.approx(night[-2], rel=0.01)


def test_replications_are_pooled():
    rng = np.random.default_rng(8)
    a = [rng.exponential(0.2, 60), rng.exponential(0.2, 60)]
    b = [rng.exponential(0.2, 60), rng.exponential(0.2, 60)]
    merged = merged_quantiles([_series(a), _series(b)], min_count=100)
    assert merged.counts.tolist() == [120, 120]  # each bin: 60 + 60 over the two replications
    pooled = LogHistogram().add_many(np.concatenate([a[1], b[1]]))
    assert merged.values[0.99][1] == pooled.quantile(0.99)
    with pytest.raises(ValueError, match="share their bins"):
        merged_quantiles([_series(a), _series(a, bin_s=30.0)])


def test_a_lost_fraction_is_taken_over_enough_actions():
    edges = np.arange(0.0, 7 * 60.0, 60.0)  # 6 bins
    lost = [1, 0, 2, 30, 0, 1]
    ended = [10, 40, 60, 200, 5, 5]
    merged = merged_ratio(edges, lost, ended, min_count=100, max_bins=4)
    # 10 + 40 + 60 = 110 closes (3 lost); 200 alone closes (30 lost); the short remainder 5 + 5 joins it (3 bins,
    # within 4): 31 of 210
    assert merged.edges_s.tolist() == [0.0, 180.0, 360.0]
    assert merged.counts.tolist() == [110.0, 210.0]
    assert merged.ratio.tolist() == [3 / 110, 31 / 210]
    assert merged.enough.tolist() == [True, True]
    short = merged_ratio(edges, lost, ended, min_count=1000, max_bins=2)  # every pair closes at its width
    assert short.counts.tolist() == [50.0, 260.0, 10.0] and short.enough.tolist() == [False, False, False]
    with pytest.raises(ValueError, match="one part and one whole per bin"):
        merged_ratio(edges, lost[:-1], ended)
