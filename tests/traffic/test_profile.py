import math

import numpy as np
import pytest

from sim.traffic.profile import Cascade, build_profile
from sim.config.kernels import ExponentialKernel, MixKernel, MixPart, PowerLawKernel
from sim.config.scenario import parse_scenario

MIX = {"kernel": "mix", "parts": [
    {"weight": 0.4, "kernel": "power_law", "flat_s": 300, "theta": 0.2315},
    {"weight": 0.6, "kernel": "exponential", "half_life_s": 14400}]}


def _scenario(traffic, duration_s=172_800.0):
    return parse_scenario({"run": {"duration_s": duration_s}, "traffic": traffic})


def test_constant_rate_total():
    p = build_profile(_scenario({"constant_per_s": 2.5}, duration_s=1000))
    assert p.expected_visitors() == pytest.approx(2500, rel=1e-12)
    assert np.all(p.rate_per_s([0, 500, 999]) == 2.5)


@pytest.mark.parametrize("extra", [{}, {"diurnal_amplitude": 0.9, "diurnal_peak_hour": 3.5},
                                   {"hourly_weights": list(range(1, 25))}])
@pytest.mark.parametrize("start_hour", [0.0, 17.25])
def test_diurnal_baseline_spreads_exactly_the_daily_total(extra, start_hour):
    p = build_profile(_scenario({"baseline_per_day": 30_000, "start_hour": start_hour, **extra}))
    assert p.expected_visitors() == pytest.approx(60_000, rel=1e-12)  # 48 h: two whole days
    assert p.expected_visitors(3600, 3600 + 86_400) == pytest.approx(30_000, rel=1e-12)
    # cumulative is the integral of the rate
    t = np.linspace(0, 7200, 720_001)
    assert np.trapezoid(p.rate_per_s(t), t) == pytest.approx(p.expected_visitors(0, 7200), rel=1e-5)


def test_hourly_weights_shape_the_day():
    weights = [0.0] * 24
    weights[12] = 1.0
    p = build_profile(_scenario({"baseline_per_day": 2400, "hourly_weights": weights}, duration_s=86_400))
    assert p.expected_visitors(12 * 3600, 13 * 3600) == pytest.approx(2400)
    assert p.expected_visitors(0, 12 * 3600) == 0


def _share(**kw):
    base = {"at_s": 3600, "followers": 188e6, "reach": 0.19, "click_through": 0.02, "reshare_factor": 1.3,
            "decay": {"kernel": "exponential", "half_life_s": 14_400}}
    return {**base, **kw}


def test_share_expected_visitors_is_the_product():
    sc = _scenario({"shares": [_share()]})
    assert sc.traffic.shares[0].expected_visitors == pytest.approx(188e6 * 0.19 * 0.02 * 1.3, rel=1e-15)


def test_exponential_share_with_reshares_has_a_closed_form_total():
    sc = _scenario({"constant_per_s": 0.5, "shares": [_share()]})
    p = build_profile(sc)
    s = sc.traffic.shares[0]
    lam = math.log(2) / 14_400 * (1 - s.branching_ratio)
    expected = 0.5 * 172_800 + s.expected_visitors * (1 - math.exp(-lam * (172_800 - 3600)))
    assert p.expected_visitors() == pytest.approx(expected, rel=1e-12)


def test_peak_of_a_single_exponential_share():
    sc = _scenario({"constant_per_s": 0.5, "shares": [_share(at_s=5000)]})
    summary = build_profile(sc).summary()
    s = sc.traffic.shares[0]
    # rate = b + V lam (1-n) e^{-lam (1-n) (t - at)}: highest at the post, V lam (1-n) = direct clicks x lam
    assert summary.peak_at_s == 5000
    assert summary.peak_rate_per_s == pytest.approx(0.5 + s.direct_clicks * math.log(2) / 14_400, rel=1e-12)
    # half the surge within the run: solve 1 - e^{-k x} = F(T)/2
    lam = math.log(2) / 14_400 * (1 - s.branching_ratio)
    half = -math.log(1 - (1 - math.exp(-lam * (172_800 - 5000))) / 2) / lam
    assert summary.half_surge_at_s == pytest.approx(5000 + half, abs=1.0)


@pytest.mark.parametrize("kernel", [
    PowerLawKernel(flat_s=300, theta=0.2315),
    MixKernel(parts=(MixPart(weight=0.4, kernel=PowerLawKernel(flat_s=300, theta=0.2315)),
                     MixPart(weight=0.6, kernel=ExponentialKernel(half_life_s=14_400)))),
])
def test_numerical_cascade_matches_monte_carlo_of_the_branching_process(kernel):
    n = 1 - 1 / 1.6
    cascade = Cascade(kernel, n, horizon_s=172_800)
    rng = np.random.default_rng(5)
    m = 400_000
    generations = rng.geometric(1 - n, m)  # K + 1 kernel delays, P(K = k) = (1-n) n^k

    def draw(size):  # kernel delays by inverting the cdf on a fine log grid
        grid = np.concatenate([[0.0], np.geomspace(1e-3, 1e12, 200_000)])
        return np.interp(rng.random(size), kernel.cdf(grid), grid)

    delays = np.zeros(m)
    for g in range(1, generations.max() + 1):
        alive = generations >= g
        delays[alive] += draw(int(alive.sum()))
    for t in (300.0, 1800.0, 7200.0, 36_000.0, 172_800.0):
        empirical = np.mean(delays <= t)
        se = math.sqrt(empirical * (1 - empirical) / m)
        assert abs(float(cascade.cdf(t)) - empirical) < 4.5 * se + 2e-4, t


def test_cascade_pdf_integrates_to_its_cdf():
    kernel = MixKernel(parts=(MixPart(weight=0.5, kernel=PowerLawKernel(flat_s=300, theta=0.5)),
                              MixPart(weight=0.5, kernel=ExponentialKernel(half_life_s=3600))))
    c = Cascade(kernel, 0.3, horizon_s=86_400)
    t = np.linspace(0, 86_400, 2_000_001)
    assert np.trapezoid(c.pdf(t), t) == pytest.approx(float(c.cdf(86_400.0)), rel=1e-5)


def test_binned_counts_sum_to_the_total():
    sc = _scenario({"baseline_per_day": 30_000, "shares": [_share(decay=MIX)]})
    p = build_profile(sc)
    edges, counts = p.binned(7 * 60)  # does not divide 48 h: the last bin is short
    assert edges[-1] == 172_800 and counts.sum() == pytest.approx(p.expected_visitors(), rel=1e-12)


@pytest.mark.parametrize("reshare_factor", [100.0, 1e4])
def test_the_numerical_cascade_sums_every_generation(reshare_factor):
    """An exponential kernel in a one-part mix takes the numerical path: it must match the closed form.

    With R = 100 the branching ratio is 0.99: 200 generations hold only 1 - 0.99^201 = 87 % of the
    visitors, so a sum cut there would lose 13 % of them."""
    n = 1 - 1 / reshare_factor
    half_life = 10.0
    numerical = Cascade(MixKernel(parts=(MixPart(weight=1.0, kernel=ExponentialKernel(half_life_s=half_life)),)),
                        n, horizon_s=36_000)
    closed = ExponentialKernel(half_life_s=half_life / (1 - n))
    t = np.array([30.0, 600.0, 3_600.0, 18_000.0, 36_000.0])
    assert np.max(np.abs(numerical.cdf(t) - closed.cdf(t))) < 1e-4 * float(closed.cdf(36_000.0))  # cut at 200: 13 %, 91 %
    if reshare_factor == 100:  # most of the cascade is within 10 h: the sum reaches about all of it
        assert float(numerical.cdf(36_000.0)) > 0.99


def test_a_run_builds_its_profile_once(monkeypatch, tmp_path):
    from sim.analysis.verdict import peak_demand
    from sim.engine import simulate_replications
    from sim.traffic import profile as profile_module

    sc = parse_scenario({"run": {"duration_s": 600, "warmup_s": 0, "seed": 1},
                         "traffic": {"constant_per_s": 2.0},
                         "site": {"app": {"instances": 1, "workers": 2, "page_s": 0.5}}})
    built = []
    real_init = profile_module.Profile.__init__

    def counting_init(self, **kw):
        built.append(kw["duration_s"])
        real_init(self, **kw)

    monkeypatch.setattr(profile_module.Profile, "__init__", counting_init)
    profile_module._build_profile.cache_clear()
    simulate_replications(sc, 2, engine="reference")  # the arrival windows of each replication
    peak_demand(sc)  # the verdict's sizing
    assert build_profile(sc) is build_profile(sc)
    assert built == [600.0]
    # A trace rewritten in place is read again: its size and time of change are in the key.
    trace = tmp_path / "trace.csv"
    trace.write_text("t_start,visitors\n2020-01-01T00:00:00,10\n2020-01-01T00:01:00,20\n")
    with_trace = parse_scenario({"run": {"duration_s": 120}, "traffic": {"trace": str(trace)}})
    first = build_profile(with_trace).expected_visitors()
    trace.write_text("t_start,visitors\n2020-01-01T00:00:00,10\n2020-01-01T00:01:00,20000\n")
    assert build_profile(with_trace).expected_visitors() > first
