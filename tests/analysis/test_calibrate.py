"""Calibration: the fit on synthetic data (end to end against real servers: tests/validation/test_matrix.py)."""

import dataclasses
import heapq
import math

import numpy as np
import pytest

from sim.analysis.calibrate import StepResult, fit_service, fit_site, saturated
from sim.analysis.site_file import site_toml
from sim.config.scenario import load_scenario


def test_service_fit_recovers_a_shifted_exponential():
    rng = np.random.default_rng(2)
    fit = fit_service("page", 0.0015 + rng.exponential(0.020, 2000))
    assert fit.law == "exponential"
    assert fit.mean_s == pytest.approx(0.020, rel=0.05) and fit.round_trip_s == pytest.approx(0.0015, abs=1e-4)


def test_service_fit_prefers_lognormal_when_it_fits_better():
    rng = np.random.default_rng(3)
    data = 0.001 + rng.lognormal(math.log(0.05), 0.4, 2000)
    fit = fit_service("submit", data, round_trip_s=0.001, round_trip_source="TCP connects")
    assert fit.law == "lognormal" and fit.sigma == pytest.approx(0.4, rel=0.05)
    assert fit.median_s == pytest.approx(0.05, rel=0.05)
    # the law written has the fitted mean: median x exp(sigma^2 / 2)
    assert fit.median_s * math.exp(fit.sigma**2 / 2) == pytest.approx(fit.mean_s, rel=1e-12)
    assert fit.distances["lognormal"] < fit.ks_critical < fit.distances["exponential"]


def test_a_near_constant_page_is_constant_once_the_round_trip_is_measured_apart():
    # 30 ms renders with 1 ms of jitter, 0.2 ms round trip. The fastest response (~28 ms) taken as the
    # round trip leaves ~2 ms of "service": the error this replaces.
    rng = np.random.default_rng(4)
    data = 0.0002 + rng.normal(0.030, 0.001, 500)
    old = fit_service("page", data)
    assert old.mean_s < 0.01
    fit = fit_service("page", data, round_trip_s=0.0002)
    assert fit.law == "constant" and fit.mean_s == pytest.approx(0.030, rel=0.01)
    assert fit.toml() == f'{{ dist = "constant", value = {fit.mean_s:.6g} }}' and "CV" in fit.quality()


def test_a_round_trip_measured_during_the_load_comes_off_by_its_mean_and_spread():
    # A 25 ms near-constant page (CV 0.02) behind an overhead of 4 ms on average with a long tail
    # (exponential: mean 4 ms, sd 4 ms), as on a machine whose cores the client and the server share.
    # Pings sent meanwhile see the same overhead: taking its mean and its spread off, the page is
    # constant with its own mean; taking a handshake's 0.6 ms off, it is neither.
    rng = np.random.default_rng(8)
    service, overhead = rng.normal(0.025, 0.0005, 800), rng.exponential(0.004, 800)
    pings = rng.exponential(0.004, 800)
    before = fit_service("page", service + overhead, round_trip_s=0.0006)
    assert before.law != "constant" and before.mean_s > 0.028
    fit = fit_service("page", service + overhead, round_trip_s=float(pings.mean()),
                      round_trip_sd_s=float(pings.std(ddof=1)))
    # the mean's error: the service's and the two overheads' sampling, sd about 4 ms / sqrt(800) x sqrt(2)
    assert fit.law == "constant" and fit.mean_s == pytest.approx(0.025, abs=4 * 0.004 * math.sqrt(2 / 800))


def test_an_exponential_behind_a_measured_round_trip_keeps_its_mean():
    # Subtracting a mean round trip makes some responses shorter than it; dropping them would bias
    # the mean up by about the round trip's spread. The mean is over every response.
    rng = np.random.default_rng(9)
    overhead = 0.002 + rng.exponential(0.002, 3000)
    fit = fit_service("page", rng.exponential(0.020, 3000) + overhead, round_trip_s=0.004, round_trip_sd_s=0.002)
    assert fit.mean_s == pytest.approx(0.020, abs=4 * 0.020 / math.sqrt(3000))


def test_gamma_and_empirical_laws_are_found_where_they_fit():
    rng = np.random.default_rng(5)
    gamma = fit_service("page", 0.0005 + rng.gamma(4.0, 0.005, 3000), round_trip_s=0.0005)
    assert gamma.law == "gamma" and gamma.shape == pytest.approx(4.0, rel=0.1)
    assert gamma.distances["gamma"] < gamma.ks_critical
    # cache hits (5 ms) and misses (80 ms): no single law fits, the empirical one keeps both modes
    mixed = np.where(rng.random(3000) < 0.7, rng.normal(0.005, 0.0005, 3000), rng.normal(0.080, 0.004, 3000))
    emp = fit_service("page", 0.0005 + mixed, round_trip_s=0.0005)
    assert emp.law == "empirical" and min(emp.distances.values()) > emp.ks_critical
    assert len(emp.quantiles_s) == 101 and emp.ks_distance < emp.ks_critical
    assert emp.mean_s == pytest.approx(float(np.mean(mixed)), rel=0.01)
    from sim.config.distributions import distribution_from_table
    import tomllib
    law = distribution_from_table(tomllib.loads("x = " + emp.toml())["x"])
    assert law.mean == pytest.approx(emp.mean_s, rel=0.05)  # 101 quantiles stand for the 3,000 samples


def _step(rate, answered_per_s, response_s, rejected, duration=10.0):
    n = int(answered_per_s * duration)
    return StepResult(kind="page", rate_per_s=rate, duration_s=duration, response_s=np.full(n, response_s),
                      done_s=np.linspace(0, duration, n), statuses={200: n, 503: rejected})


def test_site_fit_reads_workers_and_backlog_from_saturation(tmp_path):
    rng = np.random.default_rng(4)
    light = {"page": StepResult(kind="page", rate_per_s=20, duration_s=10, response_s=0.001 + rng.exponential(0.02, 400),
                                done_s=np.zeros(400), statuses={200: 400})}
    steps = [_step(100, 100, 0.03, 0), _step(300, 200, 0.001 + 0.02 + 30 / 200, 1000)]
    assert not saturated(steps[0]) and saturated(steps[1])
    fit = fit_site(light, steps)
    assert fit.workers == 4 and fit.services["page"].mean_s == pytest.approx(0.02, rel=0.02)
    assert abs(fit.queue_raw - 30) < 1.5
    (tmp_path / "site.toml").write_text(site_toml(fit, host="http://127.0.0.1:1", when="now"))
    (tmp_path / "s.toml").write_text('include = "site.toml"\n[traffic]\nconstant_per_s = 1\n')
    scenario = load_scenario(tmp_path / "s.toml")
    assert scenario.site.app.workers == 4 and scenario.site.app.queue_limit == fit.queue_limit
    # The measured services hold the site's database work: a scenario's [site.db] must not add it again.
    (tmp_path / "db.toml").write_text('include = "site.toml"\n[traffic]\nconstant_per_s = 1\n'
                                      "[site.db]\nconnections = 10\nquery_s = 0.005\nqueries_per_page = 2\n")
    merged = load_scenario(tmp_path / "db.toml")  # the scenario's own tables go on top: it may keep its database
    assert merged.site.db.queries_per_page == 2
    from sim.config.scenario import read_site_file
    db = read_site_file(str(tmp_path / "site.toml"))["db"]  # surge run --site replaces the scenario's
    assert db["queries_per_page"] == 0 and db["queries_per_submit"] == 0


def _simulated_steps(rng, *, workers, mean_s, queue_limit, rates_per_s, step_s, round_trip_s=0.001, jitter_s=0.0,
                     constant=False, drop_syns=False):
    """Page steps against a simulated FIFO site (``workers``, exponential service, backlog limit), with the
    client's send and finish times; ``jitter_s``: a mean extra client delay, exponential, on every response;
    ``drop_syns``: a full backlog drops the SYN (tried again after 1 s, 2 s, ...), else it answers 503."""
    out = []
    for rate in rates_per_s:
        sent = np.cumsum(rng.exponential(1 / rate, int(rate * step_s * 1.2)))
        sent = sent[sent < step_s]
        free, in_site = [0.0] * workers, []  # servers' next free times; departures of those in the site
        finished, ok = np.empty_like(sent), np.zeros(len(sent), dtype=bool)
        connect = np.full(len(sent), round_trip_s)
        tries = [(t + round_trip_s / 2, i, 0) for i, t in enumerate(sent)]  # (reaches the site, request, try)
        while tries:  # in time order: the FIFO below needs arrivals in order
            arrive, i, k = heapq.heappop(tries)
            while in_site and in_site[0] <= arrive:
                heapq.heappop(in_site)
            if len(in_site) >= workers + queue_limit:
                if drop_syns and k < 6:
                    heapq.heappush(tries, (arrive + 2.0 ** k, i, k + 1))
                else:
                    finished[i] = arrive + round_trip_s / 2  # a 503 at once
                continue
            connect[i] = arrive + round_trip_s / 2 - sent[i]
            end = max(arrive, free[0]) + (mean_s if constant else rng.exponential(mean_s))
            heapq.heapreplace(free, end)
            heapq.heappush(in_site, end)
            extra = rng.exponential(jitter_s) if jitter_s else 0.0
            finished[i], ok[i] = end + round_trip_s / 2 + extra, True
        out.append(StepResult(kind="page", rate_per_s=rate, duration_s=step_s, response_s=(finished - sent)[ok],
                              done_s=finished[ok], statuses={200: int(ok.sum()), 503: int((~ok).sum())},
                              sent_s=sent, finished_s=finished, ok=ok, connect_s=connect if drop_syns else None))
    return out


def test_workers_are_where_responses_start_to_wait_not_a_rounded_product():
    # A light load that overstates the service by a client's jitter (as a busy test machine does):
    # throughput x service rounds to 5; the hinge of response against requests in flight says 4.
    rng = np.random.default_rng(7)
    light, *steps = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=10.0, jitter_s=0.004,
                                     rates_per_s=[40, 50, 100, 150, 200, 250, 300])
    fit = fit_site({"page": light}, steps)
    assert round(fit.workers_raw) == 5 and fit.workers == 4 and fit.concurrency.workers == 4
    assert fit.saturated_throughput_per_s == pytest.approx(200, rel=0.05)


def test_a_constant_service_has_its_hinge_where_it_is():
    """A request finding c busy workers of a constant service waits S / (c + 1), not S / c = 1 / X:
    the hinge fit takes the CV into account, else it would say 3 workers for these 2."""
    for seed in range(5):
        rng = np.random.default_rng(40 + seed)
        light, *steps = _simulated_steps(rng, workers=2, mean_s=0.025, queue_limit=10**6, step_s=10.0,
                                         rates_per_s=[10, 40, 60, 100, 120], constant=True)
        fit = fit_site({"page": light}, steps, round_trip_s=0.001)
        assert fit.workers == 2, (seed, fit.workers)


def test_intervals_hold_the_truth_and_nothing_is_said_when_the_data_determine_it():
    """Over 20 simulated calibrations (4 workers, 20 ms exponential, backlog 32): the 95 % intervals of the
    saturated throughput (truth 200/s) and of the light-load mean service (truth 20 ms) hold the truth in at
    least 16 of 20 (19 expected; 16 or fewer has a binomial chance below 2 %), and no warning is given."""
    held_x = held_s = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        light, *steps = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=10.0,
                                         rates_per_s=[40, 100, 250, 300])
        fit = fit_site({"page": light}, steps, round_trip_s=0.001)
        lo, hi = fit.throughput_interval_per_s
        held_x += lo <= 200 <= hi
        slo, shi = fit_service("page", light.response_s, round_trip_s=0.001).mean_interval_s
        held_s += slo <= 0.02 <= shi
        assert fit.warnings == (), fit.warnings
        assert fit.workers_raw_interval[0] < fit.workers_raw < fit.workers_raw_interval[1]
    assert held_x >= 17 and held_s >= 17


def test_what_the_data_cannot_determine_is_said():
    rng = np.random.default_rng(3)
    # never saturated: 4 workers at 20 ms hold 200/s, the steps go to 150/s
    light, *steps = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=10.0,
                                     rates_per_s=[40, 100, 150])
    fit = fit_site({"page": light}, steps, round_trip_s=0.001)
    assert any("never saturated up to 150 requests/s" in w for w in fit.warnings)
    assert fit.saturated_at_per_s is None and fit.queue_limit == 0
    assert 1 <= fit.workers <= 4  # a lower bound: the model errs on the side of too little capacity
    text = site_toml(fit, host="http://127.0.0.1:1", when="now")
    assert "NOT saturated" in text and "# WARNING: the site never saturated" in text
    # too few samples: 15 light-load responses
    few = StepResult(kind="page", rate_per_s=20, duration_s=1, response_s=light.response_s[:15],
                     done_s=light.done_s[:15], statuses={200: 15})
    light2, *steps2 = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=10.0,
                                       rates_per_s=[40, 250, 300])
    fit = fit_site({"page": few}, steps2, round_trip_s=0.001)
    assert any("only 15 light-load samples" in w for w in fit.warnings)
    # the page's mean under load comes from the throughput; its light-load mean's spread widens the workers
    assert any(w.startswith("workers: throughput x service") and "measure longer" in w for w in fit.warnings)


def test_the_overflow_seen_decides_the_backlog(tmp_path):
    rng = np.random.default_rng(11)
    # a site that refuses nothing (a thread pool's queue, a listen backlog never full): unbounded
    light, *steps = _simulated_steps(rng, workers=3, mean_s=0.02, queue_limit=10**6, step_s=10.0,
                                     rates_per_s=[30, 100, 180, 220])
    fit = fit_site({"page": light}, steps, round_trip_s=0.001)
    assert fit.overflow == "none" and fit.queue_limit == math.inf and fit.workers == 3
    (tmp_path / "site.toml").write_text(site_toml(fit, host="http://127.0.0.1:1", when="now"))
    (tmp_path / "s.toml").write_text('include = "site.toml"\n[traffic]\nconstant_per_s = 1\n')
    assert load_scenario(tmp_path / "s.toml").site.app.queue_limit == math.inf
    # 503s: a limit read by M/M/c/K
    light, *steps = _simulated_steps(rng, workers=3, mean_s=0.02, queue_limit=10, step_s=10.0,
                                     rates_per_s=[30, 100, 180, 220])
    fit = fit_site({"page": light}, steps, round_trip_s=0.001)
    assert fit.overflow == "503" and fit.queue_limit < 30
    # the same steps, their 503s seen as connections refused (status -1): said, and mapped onto 503s
    refused = [dataclasses.replace(s, statuses={k if k != 503 else -1: n for k, n in s.statuses.items()})
               for s in steps]
    fit2 = fit_site({"page": light}, refused, round_trip_s=0.001)
    assert fit2.overflow == "connection errors" and any(w.startswith("overflow:") for w in fit2.warnings)


def test_dropped_syns_are_seen_and_written_as_overflow_drop(tmp_path):
    rng = np.random.default_rng(12)
    light, *steps = _simulated_steps(rng, workers=3, mean_s=0.02, queue_limit=6, step_s=20.0,
                                     rates_per_s=[30, 100, 180, 220], drop_syns=True)
    assert sum(s.dropped_syns for s in steps) > 100  # the steps overflowed by dropped SYNs, not 503s
    fit = fit_site({"page": light}, steps, round_trip_s=0.001)
    # The in-flight counts start at each handshake's end, the waits after it: workers and backlog
    # as they are (counted from the first SYN, gunicorn with 2 workers was once fitted 3).
    assert fit.overflow == "dropped SYNs" and fit.workers == 3
    assert abs(fit.queue_limit - 6) <= 1, fit.queue_limit
    (tmp_path / "site.toml").write_text(site_toml(fit, host="http://127.0.0.1:1", when="now"))
    (tmp_path / "s.toml").write_text('include = "site.toml"\n[traffic]\nconstant_per_s = 1\n')
    app = load_scenario(tmp_path / "s.toml").site.app
    assert app.overflow == "drop" and app.queue_limit == fit.queue_limit



def test_the_light_load_service_bounds_the_workers_from_below():
    """With the round trip measured during the light loads, the light-load service is the worker's own
    time, and a saturated worker's is that plus its overheads: c = X * E[S at saturation] is at least
    X * E[S at light load], so a neighbour below that product's 95 % interval is never chosen."""
    rng = np.random.default_rng(11)
    # 3 workers whose cycle at saturation is 30 ms, of which the light load sees 26 (4 ms of overheads):
    # the bound leaves the hinge its two neighbours, and it finds 3.
    light, *steps = _simulated_steps(rng, workers=3, mean_s=0.030, queue_limit=10**6, step_s=10.0,
                                     rates_per_s=[15, 40, 70, 90, 110, 130])
    fit = fit_site({"page": dataclasses.replace(light, response_s=light.response_s - 0.004)}, steps,
                   round_trip_s=0.001, typical_round_trip_s=0.001)
    assert fit.workers == 3 and fit.concurrency.workers == 3
    # A light load that says 8 ms more than saturation allows (X * E[S] = 3.8, 95 % from above 3): the
    # hinge alone says 3, the bound rules 3 out; with handshakes for the round trip there is no bound.
    slow = dataclasses.replace(light, response_s=light.response_s + 0.008)
    bounded = fit_site({"page": slow}, steps, round_trip_s=0.001, typical_round_trip_s=0.001)
    free = fit_site({"page": slow}, steps, round_trip_s=0.001)
    assert bounded.workers_raw_interval[0] > 3
    assert (free.workers, bounded.workers) == (3, 4)
