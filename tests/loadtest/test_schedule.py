import numpy as np
import pytest

from sim.errors import ConfigError
from sim.loadtest.schedule import ASSET, DOCUMENT, FORM, LoadPlan
from sim.config.scenario import load_scenario
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def anca():
    return load_scenario(SCENARIOS / "anca-2020.toml")


def test_rate_is_the_profile_compressed_and_scaled(anca):
    plan = LoadPlan(anca, time_scale=144, scale=0.001)
    for t in (0.0, 30.0, 25.5, 599.0):
        assert plan.target_rate_per_s(t) == pytest.approx(0.001 * 144 * float(plan.profile.rate_per_s(144 * t)))
    assert plan.duration_s == pytest.approx(172_800 / 144)
    assert plan.target_rate_per_s(plan.duration_s + 1) == 0


def test_arrivals_follow_the_target_per_bin(anca):
    plan = LoadPlan(anca, time_scale=144, scale=0.05, duration_s=600)
    edges, target = plan.target_per_bin()
    times = plan.arrivals(np.random.default_rng(3))
    observed, _ = np.histogram(times * plan.time_scale, edges)
    keep = target >= 20
    z = (observed[keep] - target[keep]) / np.sqrt(target[keep])
    assert keep.sum() > 100 and np.max(np.abs(z)) < 5
    assert len(times) == pytest.approx(target.sum(), rel=0.03)


def test_drivers_share_the_rate(anca):
    plan = LoadPlan(anca, time_scale=144, scale=0.01, duration_s=300)
    seqs = np.random.SeedSequence(1).spawn(2)
    parts = [plan.arrivals(np.random.default_rng(s), share=0.5) for s in seqs]
    total = sum(len(p) for p in parts)
    expected = plan.expected_visitors()
    assert abs(total - expected) < 5 * np.sqrt(expected)
    assert not np.array_equal(parts[0][:10], parts[1][:10])


@pytest.mark.parametrize("mode", ["all", "misses", "none"])
def test_visits_follow_the_journey(anca, mode):
    plan = LoadPlan(anca, time_scale=144, scale=0.001, assets=mode)
    visits = plan.visits(np.random.default_rng(0), 2000)
    site = anca.loadtest.site
    acted = 0
    for visit in visits:
        first_think, first, assets = visit.steps[0]
        assert first_think == 0 and first.path == site.landing_path and first.kind == DOCUMENT
        if visit.intends_action:
            acted += 1
            assert visit.steps[-1][1].kind == FORM and visit.steps[-1][1].path == site.submit_path
            assert visit.steps[-2][1].path == site.action_path
        for _, doc, assets in visit.steps:
            assert all(a.kind == ASSET and a.path in site.asset_paths for a in assets)
            if mode == "all" and doc.kind == DOCUMENT:
                assert len(assets) == 69
            if mode == "none":
                assert assets == ()
    assert acted / len(visits) == pytest.approx(0.05, abs=0.015)
    thinks = [t for v in visits for t, _, _ in v.steps[1:]]
    assert np.median(thinks) == pytest.approx(15 / 144, rel=0.15)  # lognormal median 15 s, compressed


@pytest.mark.parametrize("kwargs, flag", [
    ({"time_scale": 0}, "--time-scale"), ({"scale": -1}, "--scale"), ({"duration_s": 0}, "--duration-s"),
    ({"assets": "some"}, "--assets"),
])
def test_bad_plan(anca, kwargs, flag):
    with pytest.raises(ConfigError) as err:
        LoadPlan(anca, **kwargs)
    assert err.value.key == flag


def test_a_load_test_of_more_visitors_than_the_limit_is_refused_before_any_is_drawn(anca):
    import time

    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"--scale: the load test expects .* visitors \(1e\+06 x the scenario's\), "
                                          r"more than the 1e\+07 a load test may send"):
        LoadPlan(anca, time_scale=144, scale=1e6)
    assert time.perf_counter() - started < 5
