import math

import numpy as np
import pytest
from scipy import integrate

from sim.errors import ConfigError
from sim.config.kernels import ExponentialKernel, MixKernel, MixPart, PowerLawKernel, kernel_from_table

KERNELS = [
    ExponentialKernel(half_life_s=14_400),
    ExponentialKernel(half_life_s=60),
    PowerLawKernel(flat_s=300, theta=0.2315),
    PowerLawKernel(flat_s=10, theta=2.0),
    MixKernel(parts=(MixPart(weight=0.4, kernel=PowerLawKernel(flat_s=300, theta=0.23)),
                     MixPart(weight=0.6, kernel=ExponentialKernel(half_life_s=14_400)))),
]


def _integral_of_pdf(kernel) -> float:
    # Integrate t * pdf(t) over u = log t: the power law's heavy tail becomes a decaying exponential in u.
    lo = integrate.quad(lambda t: float(kernel.pdf(t)), 0, 1e-3, limit=200)[0]
    hi = integrate.quad(lambda u: float(kernel.pdf(math.exp(u))) * math.exp(u), math.log(1e-3), 700, limit=2000,
                        points=[math.log(300), math.log(10)])[0]
    return lo + hi


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: repr(k)[:40])
def test_each_kernel_integrates_to_one(kernel):
    assert abs(_integral_of_pdf(kernel) - 1) < 1e-6


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: repr(k)[:40])
def test_cdf_is_the_integral_of_the_pdf(kernel):
    for t in (0.5, 100.0, 300.0, 3_600.0, 86_400.0):
        numeric = integrate.quad(lambda s: float(kernel.pdf(s)), 0, t, points=[min(300.0, t)], limit=500)[0]
        assert float(kernel.cdf(t)) == pytest.approx(numeric, rel=1e-7, abs=1e-10)
    assert float(kernel.cdf(-1.0)) == 0.0 and float(kernel.pdf(-1.0)) == 0.0


def test_seismic_kernel_matches_published_figures():
    # Zhao et al. 2015: c = 6.27e-4 /s; ~19 % within 5 min, median ~41 min, ~54 % within an hour.
    k = PowerLawKernel(flat_s=300, theta=0.2315)
    assert k.height_per_s == pytest.approx(6.27e-4, rel=1e-3)
    assert float(k.cdf(300)) == pytest.approx(0.188, abs=0.001)
    assert float(k.cdf(41 * 60)) == pytest.approx(0.5, abs=0.01)
    assert float(k.cdf(3600)) == pytest.approx(0.54, abs=0.01)


def test_exponential_half_life():
    k = ExponentialKernel(half_life_s=1000)
    assert float(k.cdf(1000)) == pytest.approx(0.5, rel=1e-12)


def test_mix_weights_must_sum_to_one():
    with pytest.raises(ConfigError, match="sum to 1, got 0.9"):
        kernel_from_table({"kernel": "mix", "parts": [
            {"weight": 0.4, "kernel": "exponential", "half_life_s": 10},
            {"weight": 0.5, "kernel": "exponential", "half_life_s": 20}]})


@pytest.mark.parametrize("table, key", [
    ({"kernel": "exponential", "half_life_s": -1}, "half_life_s"),
    ({"kernel": "exponential", "half_lfe_s": 1}, "half_lfe_s"),
    ({"kernel": "power_law", "flat_s": 300}, "theta"),
    ({"kernel": "gaussian"}, "kernel"),
    ({"kernel": "mix", "parts": [{"kernel": "exponential", "half_life_s": 1}]}, "parts[0].weight"),
    ({"kernel": "mix", "parts": [{"weight": 1, "kernel": "mix", "parts": []}]}, "parts[0]"),
])
def test_bad_kernel_tables_name_the_key(table, key):
    with pytest.raises(ConfigError) as err:
        kernel_from_table(table)
    assert err.value.key.startswith(key)


def test_kernels_take_arrays():
    k = KERNELS[-1]
    t = np.array([0.0, 10.0, 1e5])
    assert k.pdf(t).shape == (3,) and np.all(np.diff(k.cdf(t)) > 0)
