"""Predicted and measured bins pair by index, none dropped; disagreement only beyond Poisson noise."""

import math

import pytest

from sim.analysis.agreement import Z_LIMIT, disagreements, pair_bins


def _rows(starts, width, **cols):
    return [{"bin_start_s": s, "bin_end_s": s + width, **{k: v[i] for k, v in cols.items()}}
            for i, s in enumerate(starts)]


def test_edges_that_drift_in_their_last_digits_still_pair_every_bin():
    # the prediction's edges in wall seconds, as written; x 144 they drift (1500.0012 where 1500 was meant)
    scale, n = 144.0, 144
    predicted = _rows([(i * 1200 + 0.0012 * (i % 2)) / scale for i in range(n)], 1200 / scale, arrivals=[1] * n)
    measured = _rows([i * 1200.0 for i in range(n)], 1200.0, arrivals=[1] * n)
    assert any(round(p["bin_start_s"] * scale, 3) != m["bin_start_s"] for p, m in zip(predicted, measured))
    pairing = pair_bins(predicted, scale, measured)
    assert len(pairing.pairs) == n and pairing.only_predicted == pairing.only_measured == 0
    assert all(p is not None and m is not None for _, _, p, m in pairing.pairs)


def test_the_longer_series_keeps_its_extra_bins():
    pairing = pair_bins(_rows([0, 60, 120], 60, arrivals=[1, 2, 3]), 1.0, _rows([0, 60], 60, arrivals=[1, 2]))
    assert pairing.only_predicted == 1 and pairing.pairs[-1][2]["arrivals"] == 3 and pairing.pairs[-1][3] is None


def test_another_binning_is_refused():
    with pytest.raises(ValueError, match="bin 1 starts at 30"):
        pair_bins(_rows([0, 30], 30, arrivals=[1, 1]), 1.0, _rows([0, 60], 60, arrivals=[1, 1]))


def test_disagreement_is_flagged_beyond_the_noise_and_runs_merge():
    # 100 vs 100 agrees; 100 vs 200: z = 100 / sqrt(300) = 5.8 > 4; 100 vs 130: z = 1.7
    pred = [100, 100, 100, 100, 100, 100]
    meas = [100, 200, 200, 130, 40, 100]
    pairs = pair_bins(_rows(range(0, 360, 60), 60, arrivals=pred), 1.0,
                      _rows(range(0, 360, 60), 60, arrivals=meas)).pairs
    runs = disagreements(pairs, lambda r: r["arrivals"])
    z2 = 100 / math.sqrt(300)
    assert runs == [(60, 180, pytest.approx(z2), 1), (240, 300, pytest.approx(60 / math.sqrt(140)), -1)]
    assert z2 > Z_LIMIT > 30 / math.sqrt(230)
