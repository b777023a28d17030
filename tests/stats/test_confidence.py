"""Student-t quantiles and confidence intervals against scipy."""

import math

import numpy as np
import pytest
from scipy import stats

from sim.stats.confidence import mean_ci, t_ppf


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
