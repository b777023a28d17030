import numpy as np
import pytest

from sim.traffic.arrivals import sample_arrivals
from sim.traffic.profile import build_profile
from sim.config.scenario import load_scenario, parse_scenario
from tests.conftest import SCENARIOS


def _z_scores(arrivals, profile, bin_s):
    edges, expected = profile.binned(bin_s)
    observed, _ = np.histogram(arrivals, edges)
    keep = expected >= 20  # normal approximation to the Poisson count
    return (observed[keep] - expected[keep]) / np.sqrt(expected[keep])


def test_counts_per_bin_follow_the_profile_on_the_default_scenario():
    profile = build_profile(load_scenario(SCENARIOS / "anca-2020.toml"))
    arrivals = sample_arrivals(profile, np.random.default_rng(12345))
    z = _z_scores(arrivals, profile, 60.0)
    assert len(z) > 1000
    # Independent Poisson bins: z ~ N(0, 1). Over ~2,800 bins P(max |z| > 5) < 2e-3;
    # the mean of z^2 has sd sqrt(2 / n) ~ 0.027, so 1 +- 0.15 is over 5 sd.
    assert np.max(np.abs(z)) < 5.0
    assert abs(np.mean(z**2) - 1) < 0.15
    assert abs(np.mean(z)) < 5 / np.sqrt(len(z))
    assert len(arrivals) == pytest.approx(profile.expected_visitors(), rel=5 * profile.expected_visitors() ** -0.5)


def test_arrivals_resolve_the_flat_part_of_a_power_law_share():
    sc = parse_scenario({"run": {"duration_s": 7200}, "traffic": {"shares": [
        {"at_s": 600, "followers": 1e6, "reach": 1.0, "click_through": 0.1,
         "decay": {"kernel": "power_law", "flat_s": 300, "theta": 0.5}}]}})
    profile = build_profile(sc)
    arrivals = sample_arrivals(profile, np.random.default_rng(1))
    assert arrivals.min() >= 600  # nothing before the post
    z = _z_scores(arrivals, profile, 5.0)
    assert np.max(np.abs(z)) < 5.0


def test_same_seed_same_arrivals_other_seed_other_arrivals():
    profile = build_profile(parse_scenario({"run": {"duration_s": 600}, "traffic": {"constant_per_s": 3.0}}))
    a = sample_arrivals(profile, np.random.default_rng(7))
    b = sample_arrivals(profile, np.random.default_rng(7))
    c = sample_arrivals(profile, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(np.diff(a) >= 0) and a.min() >= 0 and a.max() < 600


def test_exponential_gaps_for_a_constant_rate():
    profile = build_profile(parse_scenario({"run": {"duration_s": 20_000}, "traffic": {"constant_per_s": 5.0}}))
    gaps = np.diff(sample_arrivals(profile, np.random.default_rng(3)))
    # mean 0.2 s, and P(gap > 0.4) = e^-2 for a Poisson process
    assert gaps.mean() == pytest.approx(0.2, rel=0.01)
    assert np.mean(gaps > 0.4) == pytest.approx(np.exp(-2), abs=0.005)


def test_zero_rate_gives_no_arrivals_and_scale_multiplies():
    profile = build_profile(parse_scenario({"run": {"duration_s": 100}, "traffic": {"constant_per_s": 0.0}}))
    assert len(sample_arrivals(profile, np.random.default_rng(0))) == 0
    profile = build_profile(parse_scenario({"run": {"duration_s": 1000}, "traffic": {"constant_per_s": 100.0}}))
    n = len(sample_arrivals(profile, np.random.default_rng(0), scale=0.01))
    assert abs(n - 1000) < 5 * 1000**0.5
