"""The fast engine against the reference: same seed, same results; refusals name the key.

Both engines run the model's callbacks (``sim.engine.reference.model._Model``), the reference on simpy
and the fast one on a plain heap; with continuous service and patience distributions
no two events share an instant by chance, so the schedulers must agree event for
event and the summaries must be equal to the last bit. A scheduler that broke ties
differently, rounded times differently or dropped an event would show here.
"""

import json
import math

import pytest

from sim.cli import main
from sim.engine import pick_engine, simulate
from sim.engine.fast import FastEngine
from sim.errors import NotModelled
from sim.stats.summary import summarize, timeseries
from sim.config.scenario import parse_scenario
from tests.conftest import SCENARIOS


def _mmc(**app):
    return parse_scenario({
        "run": {"duration_s": 1_500.0, "warmup_s": 100.0, "seed": 11, "bin_s": 50},
        "traffic": {"constant_per_s": 9.5},
        "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0,
                     "patience_s": app.pop("patience_s", math.inf)},
        "site": {"app": {"instances": 1, "workers": 10, "page_s": {"dist": "exponential", "mean": 1.0}, **app}},
    })


def _gentle_table():
    import tomllib

    with open(SCENARIOS / "gentle.toml", "rb") as fh:
        table = tomllib.load(fh)
    table["run"] = {"duration_s": 5400, "warmup_s": 300, "seed": 3, "bin_s": 60}
    table["traffic"]["shares"][0]["at_s"] = 900
    return table


def _gentle_short():
    table = _gentle_table()
    table["visitors"]["retry"] = {"probability": 0.6, "delay_s": {"dist": "exponential", "mean": 4.0}, "max": 2}
    # A slower site than gentle.toml's, so that the surge overloads it: 503s, 504s, abandonment.
    table["site"]["app"].update(balancer="least_connections", drop_abandoned=True, instances=2, workers=1,
                                queue_limit=20, timeout_s=3,
                                page_s={"dist": "lognormal", "median": 0.3, "sigma": 0.5})
    return parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))


def _reference(sc):
    return simulate(sc, engine="reference")


def simulate_fast(sc):
    return simulate(sc, engine="fast")


def _same(a, b):
    sa, sb = summarize(a), summarize(b)
    assert json.dumps(sa, sort_keys=True) == json.dumps(sb, sort_keys=True)
    assert json.dumps(timeseries(a)) == json.dumps(timeseries(b))
    return sa


def test_mmc_same_as_reference():
    sc = _mmc()
    s = _same(_reference(sc), simulate_fast(sc))
    assert s["requests"]["completed"] > 10_000 and s["wait_s"]["mean"] > 0  # a loaded queue, not an idle one


def test_mmck_with_patience_same_as_reference():
    sc = _mmc(queue_limit=5, patience_s={"dist": "exponential", "mean": 2.0}, drop_abandoned=True)
    s = _same(_reference(sc), simulate_fast(sc))
    assert s["requests"]["rejected"] > 0 and s["requests"]["abandoned"] > 0


def test_multi_tier_surge_same_as_reference():
    """Journeys, think times, CDN, asset requests, DB pool, 503s, 504s, patience, retries, a balancer."""
    sc = _gentle_short()
    s = _same(_reference(sc), simulate_fast(sc))
    r = s["requests"]
    assert s["visitors"]["retries"] > 0 and r["rejected"] > 0 and r["abandoned"] > 0 and r["cdn_hits"] > 0
    assert r["timed_out"] > 0 and s["actions"]["completed"] > 0 and s["utilization"]["db"] > 0


def test_other_seed_other_results():
    """The comparison above can fail: another seed gives another summary."""
    a = _mmc()
    b = parse_scenario({**_table(a), "run": {"duration_s": 1_500.0, "warmup_s": 100.0, "seed": 12, "bin_s": 50}})
    assert summarize(simulate_fast(a)) != summarize(simulate_fast(b))


def _table(sc):
    return {"traffic": {"constant_per_s": 9.5},
            "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0},
            "site": {"app": {"instances": 1, "workers": 10, "page_s": {"dist": "exponential", "mean": 1.0}}}}


@pytest.mark.parametrize("section, table", [
    ("autoscale", {"target": 0.6, "max": 4}),
])
def test_refuses_what_it_does_not_model(section, table, monkeypatch):
    import sim.engine.fast

    # It models every part of a scenario today: the refusal is checked on a part it is told to refuse.
    monkeypatch.setattr(sim.engine.fast, "NOT_MODELLED", (f"site.{section}",))
    sc = _mmc()
    raw = {"run": {"duration_s": 100.0, "seed": 1}, **_table(sc)}
    raw["site"][section] = table
    sc = parse_scenario(raw)
    with pytest.raises(NotModelled, match=f"^site.{section}: is not modelled by --engine fast") as refused:
        FastEngine().check(sc)
    assert refused.value.key == f"site.{section}" and refused.value.engine == "fast"
    with pytest.raises(NotModelled):
        simulate_fast(sc)  # refused before anything runs
    assert pick_engine(sc) == "reference"
    FastEngine().check(_mmc())  # models the rest
    assert pick_engine(_mmc()) == "fast"


def test_a_site_without_app_tier_same_as_reference():
    """No app tier: the fast engine runs the model's callbacks on a plain heap (CDN hits, origin counted)."""
    table = _gentle_table()
    del table["site"]["app"]
    table["site"].pop("db", None)
    sc = parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))
    s = _same(_reference(sc), simulate_fast(sc))
    assert s["requests"]["cdn_hits"] > 0 and s["visitors"]["served"] > 1_000


def test_a_site_without_app_tier_with_a_waiting_room_same_as_reference():
    """No app tier, a waiting room (random pick, an admission gap, patience): the heap path runs the
    reference's own waiting room, with its draws in the same order."""
    table = _gentle_table()
    del table["site"]["app"]
    table["site"].pop("db", None)
    table["site"]["waiting_room"] = {"active_limit": 30, "session_s": {"dist": "exponential", "mean": 60},
                                     "queue_patience_s": {"dist": "lognormal", "median": 120, "sigma": 1.0},
                                     "queueing_method": "random", "new_users_per_minute": 120, "refresh_s": 15}
    sc = parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))
    assert pick_engine(sc) == "fast"
    s = _same(_reference(sc), simulate_fast(sc))
    assert s["visitors"]["abandoned_in_waiting_room"] > 100 and s["waiting_room"]["refreshes"] > 1_000
    assert s["visitors"]["served"] > 1_000 and s["peak_queue"]["waiting_room"] > 100


def test_cli_engine_fast_and_refusal(tmp_path, capsys, monkeypatch):
    import sim.engine.fast

    monkeypatch.setattr(sim.engine.fast, "NOT_MODELLED", ("site.autoscale",))  # a part it is told to refuse
    steady = (SCENARIOS / "steady.toml").read_text().replace("duration_s = 3600", "duration_s = 400")
    (tmp_path / "steady.toml").write_text(steady)
    (tmp_path / "scaled.toml").write_text(steady + "\n[site.autoscale]\ntarget = 0.6\nmax = 3\n")
    for engine in ("reference", "fast"):
        assert main(["run", str(tmp_path / "steady.toml"), "--engine", engine]) == 0
    assert main(["run", str(tmp_path / "scaled.toml"), "--engine", "fast"]) == 2
    assert "scaled.toml: site.autoscale: is not modelled by --engine fast" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "scaled.toml"), "--engine", "reference"]) == 0
    monkeypatch.setattr(sim.engine.fast, "NOT_MODELLED", ())  # as it is: the fast engine models autoscaling
    assert main(["run", str(tmp_path / "scaled.toml"), "--engine", "fast"]) == 0


# -- single M/G/c/K(+G) queues -------------------------------------------------------------------------
# One instance, one page per visitor: the scenarios of queueing theory, with patience, a bounded
# backlog and dropped or served give-ups; the compiled loop must meet the reference event for event.

def _single_queue(*, workers, rate, duration_s, warmup_s, service, seed=5):
    return parse_scenario({
        "run": {"duration_s": duration_s, "warmup_s": warmup_s, "seed": seed, "bin_s": 30},
        "traffic": {"constant_per_s": rate},
        "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0},
        "site": {"app": {"instances": 1, "workers": workers, "page_s": service}},
    })


@pytest.mark.parametrize("workers, rate, duration_s, service", [
    (1, 0.97, 4_000.0, {"dist": "lognormal", "median": 0.8, "sigma": 0.6}),  # heavy load, one server
    (10, 9.0, 2_000.0, {"dist": "exponential", "mean": 1.0}),  # the benchmark's M/M/10, rho = 0.9
    (3, 4.5, 1_500.0, {"dist": "exponential", "mean": 1.0}),  # rho = 1.5: a backlog left at the end
    (40, 38.0, 1_300.0, {"dist": "gamma", "shape": 4.0, "scale": 0.25}),  # windows cut at 20,000 visitors
])
def test_single_queue_same_as_reference(workers, rate, duration_s, service):
    sc = _single_queue(workers=workers, rate=rate, duration_s=duration_s, warmup_s=250.0, service=service)
    s = _same(_reference(sc), simulate_fast(sc))
    assert s["requests"]["completed"] > 1_000 and s["wait_s"]["mean"] > 0


INF = math.inf
EXP2 = {"dist": "exponential", "mean": 2.0}


@pytest.mark.parametrize("drop, workers, rate, patience, limit", [
    (True, 10, 11.0, EXP2, INF),  # Erlang A at rho = 1.1: the queue lives on give-ups
    (False, 10, 9.5, EXP2, INF),  # give-ups served anyway: wasted work
    (False, 2, 1.5, {"dist": "lognormal", "median": 1.0, "sigma": 1.0}, INF),  # one server's waste slows the next
    (True, 40, 38.0, {"dist": "uniform", "low": 0.0, "high": 3.0}, INF),  # windows cut at 20,000 visitors
    (True, 4, 5.0, "inf", 6),  # M/M/4/10 at rho = 1.25: 503s, no patience
    (False, 3, 2.5, "inf", 0),  # Erlang B: refused whenever every worker is busy
    (True, 10, 12.0, EXP2, 8),  # 503s and give-ups dropped: both leave the queue
    (False, 10, 10.5, EXP2, 8),  # give-ups still hold their place in the queue
])
def test_single_queue_with_patience_and_backlog_same_as_reference(drop, workers, rate, patience, limit):
    visitors = {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0}
    if patience != "inf":
        visitors["patience_s"] = patience
    sc = parse_scenario({
        "run": {"duration_s": 1_300.0, "warmup_s": 200.0, "seed": 9, "bin_s": 30},
        "traffic": {"constant_per_s": rate},
        "visitors": visitors,
        "site": {"app": {"instances": 1, "workers": workers, "drop_abandoned": drop, "queue_limit": limit,
                         "page_s": {"dist": "exponential", "mean": 1.0}}},
    })
    s = _same(_reference(sc), simulate_fast(sc))
    req = s["requests"]
    assert req["completed"] > 1_000
    assert (req["abandoned"] > 100) == (patience != "inf")
    assert (req["rejected"] > 100) == (limit != INF)
    assert (req["wasted"] > 0) == (not drop and patience != "inf")


def test_a_landing_ttl_without_an_app_tier_same_as_reference():
    """No app tier: the model's own callbacks on the heap clock, the TTL rule deciding the landing pages."""
    table = _gentle_table()
    del table["site"]["app"], table["site"]["db"]
    base = summarize(simulate_fast(parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))))
    table["site"]["cdn"]["landing_ttl_s"] = 30.0
    sc = parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))
    s = _same(_reference(sc), simulate_fast(sc))
    # html_hit_ratio = 0: every landing page went to the origin; now at most one per 30 s does
    assert s["visitors"]["arrived"] == base["visitors"]["arrived"] > 1_000
    assert s["requests"]["cdn_hits"] - base["requests"]["cdn_hits"] >= s["visitors"]["arrived"] - 5400 / 30 - 1
