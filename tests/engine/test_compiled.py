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


CASES = {
    "round robin, drop abandoned": {"site.app.balancer": "round_robin", "site.app.drop_abandoned": True},
    "least connections, serve abandoned": {"site.app.balancer": "least_connections"},
    "random balancer": {"site.app.balancer": "random", "site.app.drop_abandoned": True},
    "no timeout, unbounded backlog": {"site.app.timeout_s": None, "site.app.queue_limit": None},
    "no database, no CDN": {"site.db": None, "site.cdn": None},
    "no retries, one instance": {"visitors.retry": None, "site.app.instances": 1, "site.app.workers": 3},
    "constant times (ties)": {
        "site.app.page_s": {"dist": "constant", "value": 0.25},
        "site.app.asset_s": {"dist": "constant", "value": 0.01},
        "site.db.query_s": {"dist": "constant", "value": 0.005},
        "visitors.think_s": {"dist": "constant", "value": 2.0},
        "visitors.retry.delay_s": {"dist": "constant", "value": 1.0},
        "site.app.timeout_s": 1.0},
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
        "site.app.page_s": {"dist": "constant", "value": 0.25},
        "site.app.asset_s": {"dist": "constant", "value": 0.01},
        "site.db.query_s": {"dist": "constant", "value": 0.005},
        "visitors.think_s": {"dist": "constant", "value": 2.0},
        "visitors.retry.delay_s": {"dist": "constant", "value": 1.0},
        "site.app.timeout_s": 1.0},
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


def test_every_outcome_happens_in_the_default_case():
    """The comparison above is not vacuous: 503s, 504s, give-ups, wasted work, retries, actions."""
    s = _same(_surge(**{"site.app.balancer": "least_connections"}))
    r = s["requests"]
    assert r["rejected"] > 0 and r["timed_out"] > 0 and r["abandoned"] > 0 and r["wasted"] > 0
    assert s["visitors"]["retries"] > 0 and s["actions"]["completed"] > 0 and s["utilization"]["db"] > 0


def test_growth_and_packing_keep_the_results(monkeypatch):
    """Tiny first pools and output buffers: every ring, pool and the step arena grows or is packed
    many times over, and the results stay the reference's."""
    monkeypatch.setattr(fast_jit, "_START", 128)
    monkeypatch.setattr(fast_jit, "_OUT", 128)
    grown = []
    real = fast_jit._Loop.make_room

    def spy(self):
        real(self)
        grown.append((len(self.Ri), len(self.Si), self.Q.shape[1] - 4, len(self.DL)))

    monkeypatch.setattr(fast_jit._Loop, "make_room", spy)
    _same(_surge(**{"site.app.queue_limit": None, "site.app.timeout_s": 30}))  # long queues, many deadlines
    assert len(grown) > 100
    rows, arena, queue, deadlines = zip(*grown)
    assert min(rows) == 128 < max(rows) and max(arena) > 128 and max(queue) > 128 and max(deadlines) > 128


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


def test_instances_retired_with_a_backlog_take_more_rows(monkeypatch):
    """Scale-in every 20 s while retired instances still drain long backlogs (and dropped SYNs are due
    at them): the instance rows run short and grow, and the results stay the reference's."""
    monkeypatch.setattr(fast_jit, "_START", 128)
    monkeypatch.setattr(fast_jit, "_OUT", 128)
    rows = []
    real = fast_jit._Loop.make_room

    def spy(self):
        real(self)
        rows.append(len(self.X))

    monkeypatch.setattr(fast_jit._Loop, "make_room", spy)
    _same(_surge(**{"site.autoscale": {"target": 0.3, "max": 8, "warmup_s": 10, "period_s": 20, "cooldown_s": 0,
                                       "step": 4},
                    "site.app.queue_limit": None, "site.app.timeout_s": 30, "site.app.overflow": "drop"}))
    assert min(rows) == 3 + 8 < max(rows)  # instances + max at first
