"""surge fit's estimator recovers known profiles from noisy traces, and says what it cannot know.

Tolerances are 4 standard deviations of each estimate's run-to-run spread, measured on
independent Poisson draws of the same profiles (``python tests/analysis/fit_spread.py
CASE R``: seeds from ``SeedSequence(2026).spawn(R)``); the figures are beside each case.
A draw beyond 4 sd of a normal estimate happens once in about 16,000.
"""

import math

import numpy as np
import pytest

from sim.analysis.fit import fit_trace
from sim.config.scenario import parse_scenario
from sim.config.trace import Trace
from sim.errors import ConfigError
from sim.traffic.profile import build_profile
from tests.analysis.fit_spread import MIX, TRUE, coverage_fit, covered, synthetic


def _draw(case: str, seed) -> tuple[Trace, np.ndarray]:
    edges, mu = synthetic(case)
    y = np.random.default_rng(seed).poisson(mu).astype(float)
    return Trace(edges_s=edges, counts=y), mu


# hourly-exp, 30 draws: baseline sd 241, amplitude sd 0.011, peak hour sd 0.062 h, onset sd 7.0 s,
# visitors sd 1,030, half-life sd 19 s; the exponential kernel chosen 30 times of 30; the 95 % intervals
# held the truth 29 (baseline), 29 (visitors) and 30 (onset) times of 30.
HOURLY_SD = {"baseline": 241, "amp": 0.011, "peak_hour": 0.062, "at_s": 7.0, "visitors": 1030, "half_life_s": 19}


def test_an_hourly_trace_gives_back_its_baseline_cycle_and_share():
    trace, _ = _draw("hourly-exp", 11)
    r = fit_trace(trace, start_hour=17)
    t = TRUE["hourly-exp"]
    assert len(r.shares) == 1 and r.shares[0].kernel.kind == "exponential"
    s = r.shares[0]
    sd = HOURLY_SD
    assert abs(r.baseline_per_day.value - 30_000) < 4 * sd["baseline"]
    assert abs(r.diurnal_amplitude.value - 0.5) < 4 * sd["amp"]
    assert abs(r.diurnal_peak_hour - 20) < 4 * sd["peak_hour"]
    assert abs(s.at_s.value - t["at_s"]) < 4 * sd["at_s"]
    assert abs(s.visitors.value - 1e6) < 4 * sd["visitors"]
    assert abs(s.kernel_params["half_life_s"].value - 14_400) < 4 * sd["half_life_s"]
    # Under Poisson noise the dispersion is chi^2(dof) / dof: mean 1, sd sqrt(2 / dof); 4 sd either side.
    dof = len(trace.counts) - r.n_params
    assert r.warnings == () and abs(r.pearson_dispersion - 1) < 4 * (2 / dof) ** 0.5 and r.r2 > 0.999


# The intervals' coverage, tested so that 95 % passes and 80 % fails. With n independent draws the number
# of intervals holding the truth is binomial(n, p); the test passes when at least k of n do, for each of the
# three parameters below. n = 141, k = 124 is the smallest design (scipy.stats.binom) with
#   P(fewer than 124 of 141 | p = 0.95) = 2.5e-4 for one parameter, 7.6e-4 for any of the three: a right
#     95 % interval passes 99.9 % of the time;
#   P(at least 124 of 141 | p = 0.80) = 0.0091: an interval that covers 80 % fails 99 % of the time (one
#     covering 90 % still passes 83 % of the time: this tells 95 from 80, not from 90).
# The fits are the one-share exponential fits of fit_spread.coverage_fit (the model the full search picks
# for hourly-exp 30 times of 30, with the same intervals, in a tenth of the time or less). Measured on a
# 2-core machine shared with other test runs: 51 s for the 141 at load 4 (the 10 full fits this test made
# before: 34 s), 72-81 s at load 5-6; `python tests/analysis/fit_spread.py coverage 200` gives the coverage
# of 200 other draws.
COVERAGE_DRAWS, COVERAGE_LEAST = 141, 124


@pytest.mark.slow
def test_the_95_percent_intervals_cover_the_truth_about_95_times_in_100():
    edges, mu = synthetic("hourly-exp")
    held = {"baseline": 0, "visitors": 0, "half_life_s": 0}
    for seed in np.random.SeedSequence(7).spawn(COVERAGE_DRAWS):
        r = coverage_fit(Trace(edges_s=edges, counts=np.random.default_rng(seed).poisson(mu).astype(float)))
        assert len(r.shares) == 1
        for name, ok in covered(r).items():
            if name in held:
                held[name] += ok
    assert all(n >= COVERAGE_LEAST for n in held.values()), held


# minute-mix (48 h per minute), 20 draws: weight sd 0.0045, flat_s sd 1.9 s, theta sd 0.0054, half-life
# sd 30 s, visitors sd 4,650, onset sd 0.24 s, baseline sd 371; the mix chosen 20 times of 20, one share
# each time; the 95 % intervals held the truth 20 of 20 (baseline, visitors, onset). (Under a quasi-AIC
# rule one draw of 20, the one below, also got a 109-visitor share for one noisy minute: hence the BIC.)
MINUTE_SD = {"weight": 0.0045, "flat_s": 1.9, "theta": 0.0054, "half_life_s": 30, "visitors": 4650, "at_s": 0.24}


def test_a_per_minute_trace_finds_the_power_law_and_exponential_mix():
    trace, _ = _draw("minute-mix", np.random.SeedSequence(2026).spawn(20)[19])
    r = fit_trace(trace, start_hour=17)
    assert len(r.shares) == 1 and r.shares[0].kernel.kind == "mix"
    s = r.shares[0]
    p = {k: v.value for k, v in s.kernel_params.items()}
    truth = {"weight": 0.4, "flat_s": 300, "theta": 0.2315, "half_life_s": 14_400}
    for name, value in truth.items():
        assert abs(p[name] - value) < 4 * MINUTE_SD[name], name
    assert abs(s.visitors.value - 1e6) < 4 * MINUTE_SD["visitors"]
    assert abs(s.at_s.value - TRUE["minute-mix"]["at_s"]) < 4 * MINUTE_SD["at_s"]


def test_what_an_hourly_trace_cannot_see_is_said_not_guessed():
    # A 300 s flat part of the kernel inside 3,600 s intervals: no interval for it, a warning instead.
    edges, mu = synthetic("hourly-mix")
    r = fit_trace(Trace(edges_s=edges, counts=np.random.default_rng(1).poisson(mu).astype(float)), start_hour=17)
    s = r.shares[0]
    assert not s.kernel_params["flat_s"].determined
    assert any("flat_s" in w and "shorter than the trace's interval" in w for w in r.warnings)
    # the onset is known to its hour, and that hour holds the true onset
    assert s.at_s.high - s.at_s.low >= 3600 and s.at_s.low <= TRUE["hourly-mix"]["at_s"] <= s.at_s.high


def test_a_second_wave_a_day_later_is_a_second_share():
    edges, mu = synthetic("second-wave")
    r = fit_trace(Trace(edges_s=edges, counts=np.random.default_rng(2).poisson(mu).astype(float)), start_hour=17)
    assert len(r.shares) == 2
    first, second = sorted(r.shares, key=lambda s: s.at_s.value)
    assert first.at_s.low <= 3600 <= first.at_s.high and second.at_s.low <= 26 * 3600 <= second.at_s.high
    assert abs(second.visitors.value - 3e5) / 3e5 < 0.05


def test_flat_noise_buys_no_share_even_overdispersed():
    edges = np.arange(0, 2 * 86_400 + 1, 3600.0)
    rng = np.random.default_rng(4)
    mu = np.full(48, 1250.0)
    poisson = rng.poisson(mu).astype(float)
    # Overdispersed (negative binomial, variance 5x the mean): the quasi-AIC's dispersion keeps it honest.
    lumpy = rng.negative_binomial(n=1250 / 4, p=1 / 5, size=48).astype(float)
    for y in (poisson, lumpy):
        r = fit_trace(Trace(edges_s=edges, counts=y))
        assert r.shares == () and abs(r.baseline_per_day.value - 30_000) / 30_000 < 0.05


def test_paper_magazine_2014_a_peak_on_the_third_day_is_expressed():
    # Published (../shared/reference/traffic-parameters.md): 20 k visits/day before, 6.4 M on the peak
    # day, the peak on the third day of the surge. The other days' figures are assumptions: a first wave
    # on the day of the post, a bigger second one (media coverage) two days later, then decay.
    daily = [20e3, 20e3, 1.2e6, 2.5e6, 6.4e6, 2.0e6, 0.7e6, 0.3e6, 0.12e6, 60e3]
    edges = np.arange(len(daily) + 1) * 86_400.0
    r = fit_trace(Trace(edges_s=edges, counts=np.array(daily)))
    assert not r.diurnal_fitted and len(r.shares) >= 2
    expected = r.expected
    assert int(np.argmax(expected)) == 4  # the third day of the surge, as observed
    assert abs(expected[4] - 6.4e6) / 6.4e6 < 0.05
    assert abs(r.baseline_per_day.value - 20e3) / 20e3 < 0.5  # two quiet days: loosely known
    # the written scenario, read back, expects what the fit did
    from sim.output.fitted import fitted_scenario_text
    import tomllib
    sc = parse_scenario(tomllib.loads(fitted_scenario_text(r, trace_name="paper.csv", name="paper")), path="paper")
    np.testing.assert_allclose(np.diff(build_profile(sc).cumulative(edges)), expected, rtol=1e-4)


def test_the_written_scenario_reproduces_the_fitted_counts():
    import tomllib

    from sim.output.fitted import fitted_scenario_text

    trace, _ = _draw("hourly-mix", 5)
    r = fit_trace(trace, start_hour=17)
    sc = parse_scenario(tomllib.loads(fitted_scenario_text(r, trace_name="t.csv", name="t")), path="t")
    # rtol: the file's numbers are written to 6 significant digits
    np.testing.assert_allclose(np.diff(build_profile(sc).cumulative(trace.edges_s)), r.expected, rtol=1e-4)
    assert sc.run.duration_s == 2 * 86_400 and sc.run.bin_s == 3600


def test_bad_arguments_name_the_flag():
    trace, _ = _draw("hourly-exp", 1)
    with pytest.raises(ConfigError, match="--max-shares"):
        fit_trace(trace, max_shares=-1)
    with pytest.raises(ConfigError, match="--kernel"):
        fit_trace(trace, kernels=("gaussian",))
    with pytest.raises(ConfigError, match="at least 4 intervals"):
        fit_trace(Trace(edges_s=np.arange(4.0), counts=np.ones(3)))
    assert math.isfinite(fit_trace(trace, max_shares=0).deviance)
