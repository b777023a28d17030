"""The compiled loop against the reference: same seed, same results, to the last bit.

``sim.engine.compiled.loop`` transcribes the model's callbacks; any difference in the order of
two events, a rounding, a draw taken from the wrong place, or a request slot reused
while still referenced shows up as a different summary or time series. The scenarios
below switch every part of the model on and off: balancers, backlog limits, 504s,
dropping abandoned requests, retries, the database, the CDN, warm-up, the autoscaler
(its metrics, warm-up, cooldown and schedule), and constant times that put events on
the very same instant (ties broken by scheduling order).
"""

import json
import math
import tomllib

import pytest

from sim.engine import pick_engine, replication_seeds, simulate
from sim.engine.compiled import driver as fast_jit
from sim.engine.compiled.driver import simulate_compiled
from sim.stats.summary import TIMESERIES_COLUMNS, summarize, timeseries
from sim.config.scenario import parse_scenario
from tests.conftest import SCENARIOS


def _surge(**changes):
    """gentle.toml, 90 min around a share, on a site small enough to be overloaded by it."""
    with open(SCENARIOS / "gentle.toml", "rb") as fh:
        table = tomllib.load(fh)
    table["run"] = {"duration_s": 5400, "warmup_s": 300, "seed": 3, "bin_s": 60}
    table["traffic"]["shares"][0]["at_s"] = 900
    table["visitors"]["retry"] = {"probability": 0.6, "delay_s": {"dist": "exponential", "mean": 4.0}, "max": 2}
    table["site"]["app"].update(instances=3, workers=1, queue_limit=20, timeout_s=3,
                                page_s={"dist": "lognormal", "median": 0.3, "sigma": 0.5})
    for path, value in changes.items():
        *keys, last = path.split(".")
        node = table
        for k in keys:
            node = node.setdefault(k, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))


def _same(scenario):
    assert scenario.site.app is not None and pick_engine(scenario) == "fast"
    ref = simulate(scenario, engine="reference")
    jit = simulate_compiled(scenario, replication_seeds(scenario.run.seed, 1)[0])
    assert jit.error is None and not jit.partial
    sa, sb = summarize(ref), summarize(jit)
    assert json.dumps(sa, sort_keys=True) == json.dumps(sb, sort_keys=True)
    assert json.dumps(timeseries(ref)) == json.dumps(timeseries(jit))
    return sa


def _same_instances(scenario):
    """``_same``, and the instances in service bin by bin (the reference's, the very same in the compiled)."""
    s = _same(scenario)
    col = TIMESERIES_COLUMNS.index("instances")
    return s, [row[col] for row in timeseries(simulate(scenario, engine="reference"))]


# Constant service, query, think and retry times: many events fall on one instant, so ties must break
# in simpy's order.
_CONSTANT_TIMES = {
    "site.app.page_s": {"dist": "constant", "value": 0.25},
    "site.app.asset_s": {"dist": "constant", "value": 0.01},
    "site.db.query_s": {"dist": "constant", "value": 0.005},
    "visitors.think_s": {"dist": "constant", "value": 2.0},
    "visitors.retry.delay_s": {"dist": "constant", "value": 1.0},
    "site.app.timeout_s": 1.0,
}
CASES = {
    "round robin, drop abandoned": {"site.app.balancer": "round_robin", "site.app.drop_abandoned": True},
    "least connections, serve abandoned": {"site.app.balancer": "least_connections"},
    "random balancer": {"site.app.balancer": "random", "site.app.drop_abandoned": True},
    "no timeout, unbounded backlog": {"site.app.timeout_s": None, "site.app.queue_limit": None},
    "no database, no CDN": {"site.db": None, "site.cdn": None},
    "no retries, one instance": {"visitors.retry": None, "site.app.instances": 1, "site.app.workers": 3},
    "constant times (ties)": dict(_CONSTANT_TIMES),
    "dropped SYNs, drop abandoned": {"site.app.overflow": "drop", "site.app.queue_limit": 5,
                                     "site.app.drop_abandoned": True},
    "dropped SYNs, no timeout, constant times (ties)": {
        "site.app.overflow": "drop", "site.app.queue_limit": 0, "site.app.timeout_s": None,
        "site.app.syn_retries": 3, "site.app.syn_rto_s": 0.5,
        "site.app.page_s": {"dist": "constant", "value": 0.25},
        "site.app.asset_s": {"dist": "constant", "value": 0.25},
        "visitors.think_s": {"dist": "constant", "value": 2.0},
        "visitors.retry.delay_s": {"dist": "constant", "value": 1.0}},
}


# The landing page's edge TTL and the signature queue (sim.engine.compiled.sigqueue), with the
# retries and patience of _surge: each case also says what it must have exercised.
QUEUE = {"ack_s": {"dist": "exponential", "mean": 0.02}}
MITIGATIONS = {
    "landing page cached 10 s": ({"site.cdn.landing_ttl_s": 10.0}, "ttl"),
    "landing page cached 0.5 s, least connections": (
        {"site.cdn.landing_ttl_s": 0.5, "site.app.balancer": "least_connections"}, "ttl"),
    "landing page static (inf)": ({"site.cdn.landing_ttl_s": math.inf}, "static"),
    "signature queue, 1 writer, database": ({"site.signature_queue": dict(QUEUE)}, "waits"),
    "signature queue, 3 writers, database, drop abandoned": (
        {"site.signature_queue": {**QUEUE, "writers": 3, "write_s": {"dist": "lognormal", "median": 0.5, "sigma": 1.0}},
         "site.app.drop_abandoned": True}, "queue"),
    "signature queue, 1 writer, no database": ({"site.signature_queue": dict(QUEUE), "site.db": None}, "waits"),
    "signature queue, 3 writers, no database, random balancer": (
        {"site.signature_queue": {**QUEUE, "writers": 3}, "site.db": None, "site.app.balancer": "random"}, "waits"),
    "signature queue and TTL, constant times (ties)": ({
        "site.signature_queue": {"ack_s": 0.05, "writers": 2, "write_s": 0.25},
        "site.cdn.landing_ttl_s": 2.0,
        **_CONSTANT_TIMES}, "waits"),
}


@pytest.mark.parametrize("changes, expect", MITIGATIONS.values(), ids=list(MITIGATIONS))
def test_mitigations_same_as_reference(changes, expect):
    result = simulate(_surge(**changes), engine="fast")  # the same run as _same's (its time series)
    s = _same(_surge(**changes))
    assert s["requests"]["completed"] > 1_000
    sig = s["signatures"]
    if expect in ("ttl", "static"):
        base = summarize(simulate(_surge(), engine="fast"))
        # the landing page's HTML comes from the edge: fewer origin requests, fewer visitors lost
        # (not more CDN hits overall: fewer retried pages also means fewer asset hits)
        assert s["requests"]["arrived"] < base["requests"]["arrived"]
        assert s["visitors"]["lost"] < base["visitors"]["lost"]
        assert sig["queued"] == 0 and math.isnan(sig["max_lag_s"])
    else:
        # every acknowledged submit is queued, and queued = written + pending
        assert sig["queued"] == s["actions"]["completed"] > 0 and sig["written"] > 0
        assert sig["pending_at_end"] == sig["queued"] - sig["written"] >= 0
        assert sig["max_lag_s"] > 0 and s["visitors"]["retries"] > 0 and s["requests"]["abandoned"] > 0
        if expect == "waits":  # some signature waited for a writer: the ring was used
            column = TIMESERIES_COLUMNS.index("signature_queue")
            assert max(row[column] for row in timeseries(result)) > 0


# The autoscaler on the overloaded site above: it scales out in the surge, in after it.
_SCALE = {"target": 0.6, "max": 8, "warmup_s": 120, "period_s": 60, "cooldown_s": 180, "step": 2}
AUTOSCALE_CASES = {
    "utilization, db, retries, patience": {"site.autoscale": _SCALE},
    "in flight, no database, least connections": {
        "site.autoscale": {**_SCALE, "metric": "in_flight", "target": 2.0, "step": 1, "cooldown_s": 0},
        "site.db": None, "site.app.balancer": "least_connections"},
    "schedule, random balancer, drop abandoned": {
        "site.autoscale": {**_SCALE, "schedule": [{"at_s": 600, "min": 6}, {"at_s": 2400, "min": 2}]},
        "site.app.balancer": "random", "site.app.drop_abandoned": True},
    "dropped SYNs at retired instances, no warm-up, no retries": {
        "site.autoscale": {**_SCALE, "warmup_s": 0, "cooldown_s": 0, "period_s": 30},
        "site.app.overflow": "drop", "site.app.queue_limit": 2, "visitors.retry": None},
    "constant times (ties), schedule on an evaluation's instant": {
        "site.autoscale": {**_SCALE, "warmup_s": 60, "schedule": [{"at_s": 0, "min": 3}, {"at_s": 600, "min": 5},
                                                                  {"at_s": 1800, "min": 1}]},
        **_CONSTANT_TIMES},
}


@pytest.mark.parametrize("changes", AUTOSCALE_CASES.values(), ids=list(AUTOSCALE_CASES))
def test_autoscaled_same_as_reference(changes):
    s, instances = _same_instances(_surge(**changes))
    assert s["requests"]["completed"] > 1_000
    peak = instances.index(max(instances))
    assert max(instances) > 3 and min(instances[peak:]) < max(instances)  # scaled out, then in


def test_a_scheduled_raise_is_in_service_warmup_s_later_in_both_engines():
    """min 7 from 600 s: seven instances in service over the bin after 600 + warmup_s, whatever the load."""
    sc = _surge(**{"site.autoscale": {**_SCALE, "warmup_s": 120, "schedule": [{"at_s": 600, "min": 7}]}})
    s, instances = _same_instances(sc)
    assert instances[11] < 7 and instances[12] == 7  # bins of 60 s: asked at 600 s, serving from 720 s
    assert s["instances"]["max"] >= 7


@pytest.mark.parametrize("changes", CASES.values(), ids=list(CASES))
def test_same_as_reference(changes):
    s = _same(_surge(**changes))
    r = s["requests"]
    assert r["completed"] > 1_000 and s["visitors"]["lost"] > 0  # loaded, and overloaded at the peak


def _room(**room):
    return {"active_limit": 20, "session_s": 30, **room}


# The waiting room in front of the same overloaded site (retries, the database, visitors' patience at the
# app tier, warm-up), with each queueing method, an admission gap, finite and unbounded queue patience,
# each law the room draws from its stream, and constant times that put its events on one instant.
ROOM_CASES = {
    "room fifo, patience inf": {"site.waiting_room": _room()},
    "room fifo, lognormal session, exponential patience, drop abandoned": {
        "site.app.drop_abandoned": True,
        "site.waiting_room": _room(session_s={"dist": "lognormal", "median": 20, "sigma": 0.8},
                                   queue_patience_s={"dist": "exponential", "mean": 120})},
    "room random, gamma patience, uniform session": {
        "site.waiting_room": _room(queueing_method="random", session_s={"dist": "uniform", "low": 5, "high": 60},
                                   queue_patience_s={"dist": "gamma", "shape": 2.0, "scale": 60})},
    "room random, patience inf, no retries, no database": {
        "visitors.retry": None, "site.db": None, "site.waiting_room": _room(queueing_method="random", refresh_s=5)},
    "room reject": {"site.waiting_room": _room(queueing_method="reject")},
    "room reject, new users per minute, no database": {
        "site.db": None, "site.waiting_room": _room(active_limit=40, queueing_method="reject", new_users_per_minute=40)},
    "room fifo, new users per minute, empirical patience": {
        "site.waiting_room": _room(active_limit=40, new_users_per_minute=30,
                                   session_s={"dist": "exponential", "mean": 30},
                                   queue_patience_s={"dist": "empirical", "samples": [30, 90, 600, 3600]})},
    "room random, new users per minute, patience inf, refresh inf": {
        "site.waiting_room": _room(active_limit=60, queueing_method="random", new_users_per_minute=90,
                                   refresh_s=float("inf"))},
    "room fifo, new users per minute, constant times (ties)": {
        "site.app.page_s": {"dist": "constant", "value": 0.25},
        "site.app.asset_s": {"dist": "constant", "value": 0.01},
        "site.db.query_s": {"dist": "constant", "value": 0.005},
        "visitors.think_s": {"dist": "constant", "value": 2.0},
        "visitors.retry.delay_s": {"dist": "constant", "value": 1.0},
        "site.waiting_room": _room(new_users_per_minute=60, session_s=10, queue_patience_s=120, refresh_s=10)},
}


@pytest.mark.parametrize("changes", ROOM_CASES.values(), ids=list(ROOM_CASES))
def test_waiting_room_same_as_reference(changes):
    s = _same(_surge(**changes))
    room = changes["site.waiting_room"]
    assert s["visitors"]["served"] > 500 and s["requests"]["completed"] > 1_000
    if room.get("queueing_method") == "reject":
        assert s["waiting_room"]["rejected"] > 1_000 and s["peak_queue"]["waiting_room"] == 0
        assert s["waiting_room"]["refreshes"] == 0
    else:
        assert s["peak_queue"]["waiting_room"] > 100 and s["waiting_room"]["rejected"] == 0
        assert (s["waiting_room"]["refreshes"] > 1_000) == (room.get("refresh_s") != float("inf"))
        patient = room.get("queue_patience_s", float("inf")) == float("inf")
        assert (s["visitors"]["abandoned_in_waiting_room"] == 0) == patient


def test_every_outcome_happens_in_the_default_case():
    """The comparison above is not vacuous: 503s, 504s, give-ups, wasted work, retries, actions."""
    s = _same(_surge(**{"site.app.balancer": "least_connections"}))
    r = s["requests"]
    assert r["rejected"] > 0 and r["timed_out"] > 0 and r["abandoned"] > 0 and r["wasted"] > 0
    assert s["visitors"]["retries"] > 0 and s["actions"]["completed"] > 0 and s["utilization"]["db"] > 0


def _sizes_as_they_grow(monkeypatch, measure) -> list:
    """Tiny first pools and output buffers; ``measure(loop)`` after each time the loop makes room."""
    monkeypatch.setattr(fast_jit, "_START", 128)
    monkeypatch.setattr(fast_jit, "_OUT", 128)
    sizes = []
    real = fast_jit._Loop.make_headroom

    def spy(self):
        real(self)
        sizes.append(measure(self))

    monkeypatch.setattr(fast_jit._Loop, "make_headroom", spy)
    return sizes


def test_growth_and_packing_keep_the_results(monkeypatch):
    """Tiny first pools and output buffers: every ring, pool and the step arena grows or is packed
    many times over, and the results stay the reference's."""
    grown = _sizes_as_they_grow(monkeypatch,
                                lambda self: (len(self.req_i), len(self.step_i), self.queues.shape[1] - 4, len(self.deadlines)))
    _same(_surge(**{"site.app.queue_limit": None, "site.app.timeout_s": 30}))  # long queues, many deadlines
    assert len(grown) > 100
    rows, arena, queue, deadlines = zip(*grown)
    assert min(rows) == 128 < max(rows) and max(arena) > 128 and max(queue) > 128 and max(deadlines) > 128


def test_the_waiting_rooms_ring_grows_and_keeps_the_results(monkeypatch):
    """Tiny first arrays: the tickets' ring (numbered tickets kept in place) and the room's level rows
    grow many times while patience events for tickets in it are pending."""
    rings = _sizes_as_they_grow(monkeypatch, lambda self: len(self.room_ring))
    for method in ("fifo", "random"):
        rings.clear()
        s = _same(_surge(**{"site.waiting_room": _room(queueing_method=method, new_users_per_minute=120,
                                                       queue_patience_s={"dist": "exponential", "mean": 900})}))
        assert min(rings) == 128 and max(rings) >= 1024 and s["peak_queue"]["waiting_room"] > 1_000


def test_growth_keeps_the_signature_queue_results(monkeypatch):
    """One writer at 20 s a signature (about 900 of them in 5,400 s): the queue outgrows a tiny first ring."""
    rings = _sizes_as_they_grow(monkeypatch, lambda self: len(self.sig_ring))
    s = _same(_surge(**{"site.signature_queue": {"write_s": 20.0}}))
    assert max(rings) > 128 and s["signatures"]["pending_at_end"] > 128


def test_the_fast_engine_takes_the_compiled_loop(monkeypatch):
    calls = []
    real = fast_jit.simulate_compiled
    monkeypatch.setattr(fast_jit, "simulate_compiled", lambda sc, ss: calls.append(sc) or real(sc, ss))
    sc = _surge(**{"run.duration_s": 1200})
    assert simulate(sc, engine="fast").engine == "fast" and calls == [sc]
    assert simulate(sc).engine == "fast" and len(calls) == 2  # auto: the fast engine models it


def test_other_seed_other_results():
    a = summarize(simulate_compiled(_surge(), replication_seeds(3, 1)[0]))
    b = summarize(simulate_compiled(_surge(), replication_seeds(4, 1)[0]))
    assert json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)


def test_interrupted_keeps_what_it_computed(monkeypatch):
    """Ctrl-C between two arrival windows: a partial result up to where the loop stood."""
    sc = _surge()
    seen = []
    real = fast_jit._Loop.install

    def interrupt_later(self, times, plans, end_s):
        seen.append(end_s)
        if len(seen) == 4:
            raise KeyboardInterrupt
        real(self, times, plans, end_s)

    monkeypatch.setattr(fast_jit._Loop, "install", interrupt_later)
    result = simulate_compiled(sc, replication_seeds(sc.run.seed, 1)[0])
    assert result.partial and result.error == "interrupted"
    assert 0 < result.end_s < sc.run.duration_s
    s = summarize(result)
    assert s["visitors"]["arrived"] > 0 and s["requests"]["completed"] > 0


@pytest.mark.parametrize("ack_s", [0.05, {"dist": "lognormal", "median": 0.02, "sigma": 1.0}], ids=["constant", "lognormal"])
def test_a_signature_queue_meets_the_same_visitors(ack_s):
    # ack_s comes from the queue's own stream: the visitors' draws do not move, whatever its distribution
    changes = {"run.duration_s": 1800}
    base = summarize(simulate(_surge(**changes), engine="reference"))
    queued = summarize(simulate(_surge(**changes, **{"site.signature_queue": {"ack_s": ack_s, "writers": 2}}),
                                engine="reference"))
    assert queued["visitors"]["arrived"] == base["visitors"]["arrived"] > 100
    assert queued["actions"]["attempted"] == base["actions"]["attempted"] > 10


def test_instances_retired_with_a_backlog_take_more_rows(monkeypatch):
    """Scale-in every 20 s while retired instances still drain long backlogs (and dropped SYNs are due
    at them): the instance rows run short and grow, and the results stay the reference's."""
    rows = _sizes_as_they_grow(monkeypatch, lambda self: len(self.instance_table))
    _same(_surge(**{"site.autoscale": {"target": 0.3, "max": 8, "warmup_s": 10, "period_s": 20, "cooldown_s": 0,
                                       "step": 4},
                    "site.app.queue_limit": None, "site.app.timeout_s": 30, "site.app.overflow": "drop"}))
    assert min(rows) == 3 + 8 < max(rows)  # instances + max at first
