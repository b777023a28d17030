import math

import numpy as np
import pytest

from sim.config.distributions import Constant, Empirical, Exponential, Gamma, Lognormal, Uniform, distribution_from_table
from sim.errors import ConfigError

CASES = [
    Constant(value=2.0), Exponential(mean_s=0.05), Lognormal(median=3.0, sigma=1.0),
    Uniform(low=1.0, high=4.0), Gamma(shape=2.5, scale=0.4), Empirical(samples=(1.0, 2.0, 10.0)),
]


@pytest.mark.parametrize("dist", CASES, ids=lambda d: d.kind)
def test_sample_mean_matches_mean(dist):
    x = dist.sample(np.random.default_rng(9), 400_000)
    sd = float(np.std(x))
    assert abs(x.mean() - dist.mean) <= 5 * sd / math.sqrt(len(x)) + 1e-12
    assert isinstance(dist.sample(np.random.default_rng(1)), float)


def test_tables_and_numbers():
    assert distribution_from_table(1.5) == Constant(value=1.5)
    assert distribution_from_table({"dist": "exponential", "mean": 0.05}).mean == 0.05
    assert distribution_from_table({"dist": "lognormal", "median": 3, "sigma": 1}).mean == pytest.approx(3 * math.exp(0.5))
    assert math.isinf(distribution_from_table({"dist": "exponential", "mean": math.inf}).sample(np.random.default_rng(0)))


@pytest.mark.parametrize("table, key", [
    ({"dist": "uniform", "low": 3, "high": 1}, "high"),
    ({"dist": "gamma", "shape": 0, "scale": 1}, "shape"),
    ({"dist": "empirical", "samples": []}, "samples"),
    ({"dist": "empirical", "samples": [1, -2]}, "samples[1]"),
    ({"dist": "exponential"}, "mean"),
    ({"dist": "exponential", "mean": True}, "mean"),
])
def test_bad_tables(table, key):
    with pytest.raises(ConfigError) as err:
        distribution_from_table(table)
    assert err.value.key == key
