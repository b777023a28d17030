"""The model against queueing theory, with replications and 99 % confidence intervals.

Each check runs R independent replications (SeedSequence.spawn), takes one estimate
per replication after the warm-up, and asserts that the formula lies within the
99 % Student-t interval of their mean: the tolerance comes from the run-to-run
noise, not from a number chosen to pass.
"""

import json
import math

import numpy as np
import pytest
from scipy import stats

from sim.analysis import theory
from sim.engine import replication_seeds, simulate
from sim.stats.summary import summarize
from sim.config.scenario import load_scenario, parse_scenario
from tests.conftest import SCENARIOS


def textbook(*, servers, arrival_rate_per_s, queue_limit=math.inf, patience=None, drop=True,
             duration_s=2_000.0, warmup_s=200.0, seed=1):
    visitors = {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0}
    if patience is not None:
        visitors["patience_s"] = patience
    return parse_scenario({
        "run": {"duration_s": duration_s, "warmup_s": warmup_s, "seed": seed, "bin_s": 100},
        "traffic": {"constant_per_s": arrival_rate_per_s},
        "visitors": visitors,
        "site": {"app": {"instances": 1, "workers": servers, "queue_limit": queue_limit,
                         "page_s": {"dist": "exponential", "mean": 1.0}, "drop_abandoned": drop}},
    })


def replicate(scenario, replications, estimate):
    values = []
    for seed_seq in replication_seeds(scenario.run.seed, replications):
        result = simulate(scenario, engine="reference", seed_seq=seed_seq)
        values.append(estimate(result, summarize(result)))
    return np.asarray(values, dtype=float)


def assert_within_ci(values, expected, *, confidence=0.99, slack=0.0):
    mean = values.mean()
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    assert abs(mean - expected) <= half + slack, f"theory {expected:.5g} outside {mean:.5g} ± {half:.3g} + {slack:.3g}"


MMC = [(1, 0.5), (4, 0.7), (10, 0.85)]


@pytest.mark.parametrize("servers, rho", MMC)
def test_mmc_mean_wait_matches_erlang_c(servers, rho):
    lam = servers * rho
    sc = textbook(servers=servers, arrival_rate_per_s=lam)
    waits = replicate(sc, 8, lambda r, s: s["wait_s"]["mean"])
    assert_within_ci(waits, theory.mmc_mean_wait_s(servers, arrival_rate_per_s=lam, service_rate_per_s=1.0))


@pytest.mark.slow
@pytest.mark.parametrize("servers, rho", [(32, 0.95), (2, 0.9)])
def test_mmc_mean_wait_heavy_load(servers, rho):
    lam = servers * rho
    sc = textbook(servers=servers, arrival_rate_per_s=lam, duration_s=4_000.0, warmup_s=500.0)
    waits = replicate(sc, 8, lambda r, s: s["wait_s"]["mean"])
    assert_within_ci(waits, theory.mmc_mean_wait_s(servers, arrival_rate_per_s=lam, service_rate_per_s=1.0))


@pytest.mark.parametrize("t_s", [0.0, 0.5])
def test_mmc_probability_of_waiting_longer_than_t(t_s):
    servers, lam = 10, 8.5
    sc = textbook(servers=servers, arrival_rate_per_s=lam)
    probs = replicate(sc, 8, lambda r, s: r.recorder.wait.fraction_above(t_s))
    assert_within_ci(probs, theory.mmc_wait_exceeds(servers, arrival_rate_per_s=lam, service_rate_per_s=1.0, t_s=t_s))


@pytest.mark.parametrize("servers, load", [(1, 0.8), (5, 4.0), (10, 9.0)])
def test_queue_limit_zero_blocks_as_erlang_b(servers, load):
    sc = textbook(servers=servers, arrival_rate_per_s=load, queue_limit=0)
    blocked = replicate(sc, 8, lambda r, s: s["requests"]["rejected"] / s["requests"]["arrived"])
    assert_within_ci(blocked, theory.erlang_b(servers, load))


@pytest.mark.parametrize("servers, extra, lam", [(1, 3, 0.9), (4, 4, 3.8), (8, 8, 9.0)])
def test_finite_backlog_blocks_as_mmck(servers, extra, lam):
    sc = textbook(servers=servers, arrival_rate_per_s=lam, queue_limit=extra)
    blocked = replicate(sc, 8, lambda r, s: s["requests"]["rejected"] / s["requests"]["arrived"])
    assert_within_ci(blocked, theory.mmck_blocking(servers, capacity=servers + extra, arrival_rate_per_s=lam,
                                                   service_rate_per_s=1.0))


@pytest.mark.parametrize("servers, lam, theta", [(10, 12.0, 0.5), (4, 3.6, 1.0), (20, 18.0, 0.2)])
def test_exponential_patience_abandons_as_erlang_a(servers, lam, theta):
    sc = textbook(servers=servers, arrival_rate_per_s=lam, drop=True,
                  patience={"dist": "exponential", "mean": 1 / theta})
    abandoned = replicate(sc, 8, lambda r, s: s["requests"]["abandoned"] / s["requests"]["arrived"])
    expected = theory.erlang_a(servers, arrival_rate_per_s=lam, service_rate_per_s=1.0, abandon_rate_per_s=theta)
    assert_within_ci(abandoned, expected.p_abandon)


@pytest.mark.parametrize("queue_limit, patience", [(math.inf, None), (5, None), (math.inf, 2.0)])
def test_littles_law_at_the_app_tier(queue_limit, patience):
    """L = lambda W over requests admitted to the app tier (rejected ones never enter)."""
    servers, lam = 6, 5.4
    sc = textbook(servers=servers, arrival_rate_per_s=lam, queue_limit=queue_limit,
                  patience=None if patience is None else {"dist": "exponential", "mean": patience})

    def gap(result, s):
        span = result.end_s - result.recorder.warmup_s
        entered = (s["requests"]["arrived"] - s["requests"]["rejected"]) / span
        # abandoned requests leave the queue at once (drop_abandoned): their sojourn is their wait
        sojourn = (s["response_s"]["mean"] * s["requests"]["completed"]
                   + result.recorder.abandoned_wait_s) / (s["requests"]["completed"] + s["requests"]["abandoned"])
        # Over a finite window L and lambda W differ by the requests straddling its two ends:
        # at most about 2 L W / T (those in system at the start and at the end of the window).
        slacks.append(2 * s["in_system"]["app"] * sojourn / span)
        return s["in_system"]["app"] - entered * sojourn

    slacks = []
    gaps = replicate(sc, 8, gap)
    assert_within_ci(gaps, 0.0, slack=float(np.mean(slacks)))


def test_every_visitor_is_accounted_for():
    sc = load_scenario(SCENARIOS / "anca-2020.toml")
    sc = parse_scenario({**_table(sc), "run": {"duration_s": 5400, "warmup_s": 0, "seed": 5, "bin_s": 60}},
                        path=sc.path)
    s = summarize(simulate(sc, engine="reference"))
    v = s["visitors"]
    assert v["arrived"] == v["served"] + v["abandoned"] + v["failed"] + v["in_system"]
    assert v["in_system"] >= 0 and v["abandoned"] + v["failed"] > 0  # the small site breaks under the surge
    a = s["actions"]
    assert a["completed"] + a["lost"] <= a["attempted"]
    r = s["requests"]
    assert r["arrived"] == r["completed"] + r["rejected"] + r["timed_out"] + r["abandoned"] + r["in_system"]


def _table(scenario):
    import tomllib

    with open(scenario.path, "rb") as fh:
        return tomllib.load(fh)


def test_same_seed_same_summary_other_seed_other_summary():
    a = summarize(simulate(textbook(servers=3, arrival_rate_per_s=2.5, duration_s=500, seed=4), engine="reference"))
    b = summarize(simulate(textbook(servers=3, arrival_rate_per_s=2.5, duration_s=500, seed=4), engine="reference"))
    c = summarize(simulate(textbook(servers=3, arrival_rate_per_s=2.5, duration_s=500, seed=5), engine="reference"))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a, sort_keys=True) != json.dumps(c, sort_keys=True)


def test_time_weighted_update_many_is_update_in_bulk():
    """The recorder folds buffered level changes with ``update_many``: the same areas, peaks and
    means as one ``update`` at a time, to the last bit, however the changes are batched."""
    from sim.stats.series import TimeWeighted

    rng = np.random.default_rng(7)
    for trial in range(60):
        duration, bin_s = float(rng.choice([10.0, 97.3])), float(rng.choice([0.3, 1.0, 7.0]))
        t = np.sort(rng.uniform(0.0, duration, int(rng.integers(1, 300))))
        if trial % 3 == 0:  # repeated instants and changes exactly on bin edges
            t = np.sort(np.concatenate([t, np.round(t[: t.size // 3] / bin_s) * bin_s, t[: t.size // 5]]))
            t = t[t <= duration]
        levels = rng.integers(0, 20, t.size)
        one, bulk = TimeWeighted(duration, bin_s), TimeWeighted(duration, bin_s)
        for x, y in zip(t, levels):
            one.update(float(x), int(y))
        cuts = np.sort(rng.integers(0, t.size + 1, 4))
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, t.size]):
            bulk.update_many(t[lo:hi], levels[lo:hi])
        one.finish(duration)
        bulk.finish(duration)
        assert np.array_equal(one.area_per_bin(), bulk.area_per_bin())
        assert np.array_equal(one.max_per_bin(), bulk.max_per_bin(), equal_nan=True)
        assert one.mean(3.0) == bulk.mean(3.0)
    with pytest.raises(ValueError):
        bulk = TimeWeighted(10.0, 1.0)
        bulk.update_many([2.0, 1.0], [1, 2])


def test_gc_thresholds_of_runs_overlapping_in_threads_are_restored_by_the_last_to_end():
    """Runs in threads (a Dask worker's) share the process's thresholds: A starts, B starts, A ends, B ends."""
    import gc
    import threading

    from sim.engine.run import few_gc_passes

    before = gc.get_threshold()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def run_a():
        with few_gc_passes():
            a_in.set()
            assert b_in.wait(10)
        seen["after_a"] = gc.get_threshold()
        a_out.set()

    def run_b():
        assert a_in.wait(10)
        with few_gc_passes():
            b_in.set()
            assert a_out.wait(10)
            seen["b_alone"] = gc.get_threshold()

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["after_a"] == seen["b_alone"] == (100_000, 50, 100)  # B still running: still few passes
    assert gc.get_threshold() == before  # the last to end restores what was there before the first


def test_gc_thresholds_are_restored_after_a_run_even_an_interrupted_one(monkeypatch):
    import gc

    import dataclasses

    from sim.engine.reference import model as engine_module

    before = gc.get_threshold()
    # 1,300 s: the first 600 s arrival window is counted inside the run
    engine = "reference"
    scenario = textbook(servers=2, arrival_rate_per_s=1.0, duration_s=1_300.0, warmup_s=0.0, queue_limit=5)
    app = dataclasses.replace(scenario.site.app, timeout_s=30.0)
    scenario = dataclasses.replace(scenario, site=dataclasses.replace(scenario.site, app=app))
    simulate(scenario, engine=engine)
    assert gc.get_threshold() == before
    during = []

    def interrupt_once(self, *args):
        if not during:
            during.append(gc.get_threshold())
            raise KeyboardInterrupt

    monkeypatch.setattr(engine_module.Recorder, "visitors_arrived", interrupt_once)
    result = simulate(scenario, engine=engine)
    assert result.partial and result.error == "interrupted"
    assert during[0][0] > before[0] and gc.get_threshold() == before
