"""The landing page cached at the edge for ``site.cdn.landing_ttl_s``: exact (request, time) sequences."""

import json
import math

import pytest

from sim.engine.run import RunResult
from sim.config.scenario import parse_scenario
from sim.stats.summary import summarize
from sim.vocabulary import OUTCOMES
from tests.engine.fixed_arrivals import compiled_run, reference_model


def _scenario(ttl_s, *, page_s=2.0):
    # One worker, no backlog: a landing page that misses while the worker is busy gets a 503 and
    # is retried 1 s later. html_hit_ratio = 1: the pre-drawn hits that the TTL rule overrides.
    return parse_scenario({
        "run": {"duration_s": 20.0, "seed": 1, "bin_s": 10},
        "traffic": {"constant_per_s": 1.0},
        "visitors": {"pages_per_visit": 1, "requests_per_page": 1,
                     "retry": {"probability": 1.0, "delay_s": 1.0, "max": 3}},
        "site": {"cdn": {"hit_ratio": 0.0, "html_hit_ratio": 1.0, "landing_ttl_s": ttl_s},
                 "app": {"workers": 1, "queue_limit": 0, "page_s": page_s}},
    })


def _landing_pages(monkeypatch, scenario, times):
    """(t, "edge") for each landing page served at the edge, (t, outcome, at) for each sent to the origin.

    Visitors at t > 0 only: one at 0 starts as the model is made, before these hooks are in."""
    m, env = reference_model(monkeypatch, scenario, times)
    seen = []
    submit, hits = m.app.submit, m.recorder.cdn_hits

    def to_origin(req, patience_s):
        done, sent = req.on_done, env.now

        def on_done(v, outcome):
            seen.append((sent, OUTCOMES[outcome], env.now))
            done(v, outcome)
        req.on_done = on_done
        submit(req, patience_s)

    def at_edge(t, k):
        seen.extend([(t, "edge")] * k)
        hits(t, k)
    m.app.submit, m.recorder.cdn_hits = to_origin, at_edge
    env.run(until=scenario.run.duration_s)
    return sorted(seen, key=lambda e: (e[0], len(e)))


def test_a_landing_page_misses_once_per_ttl_retries_included(monkeypatch):
    """TTL 0.5 s, a page 2 s. 1: miss (fresh to 1.5), served to 3. 2: miss (fresh to 2.5), 503 (the
    worker is busy), retried at 3: miss again (2.5 has passed; fresh to 3.5), served 3-5 (the first
    page finished first at 3). 3.2: an edge hit. 4: miss, 503, retried at 5: miss, served 5-7."""
    seen = _landing_pages(monkeypatch, _scenario(0.5), [1.0, 2.0, 3.2, 4.0])
    assert seen == [(1.0, "ok", 3.0), (2.0, "rejected", 2.0), (3.0, "ok", 5.0), (3.2, "edge"),
                    (4.0, "rejected", 4.0), (5.0, "ok", 7.0)]


def test_a_miss_renews_the_copy_whatever_the_origin_answers(monkeypatch):
    """TTL 5 s, a page 6 s. 1: miss (fresh to 6), served to 7. 6.5: miss (fresh to 11.5), 503: the
    copy is renewed all the same (the stale one is served on an origin error), so its retry at
    7.5 and the visitor at 8 are edge hits."""
    seen = _landing_pages(monkeypatch, _scenario(5.0, page_s=6.0), [1.0, 6.5, 8.0])
    assert seen == [(1.0, "ok", 7.0), (6.5, "rejected", 6.5), (7.5, "edge"), (8.0, "edge")]


def test_a_static_landing_page_is_fetched_once(monkeypatch):
    seen = _landing_pages(monkeypatch, _scenario(math.inf), [1.0, 2.0, 8.0, 15.0])
    assert seen == [(1.0, "ok", 3.0), (2.0, "edge"), (8.0, "edge"), (15.0, "edge")]


@pytest.mark.parametrize("ttl_s", [0.5, math.inf])
def test_the_compiled_loop_gives_the_same(monkeypatch, ttl_s):
    times = [0.0, 1.0, 2.2, 3.0, 9.0, 9.25]
    m, _ = reference_model(monkeypatch, _scenario(ttl_s), times)
    ref = m.run("reference")
    jit = compiled_run(monkeypatch, _scenario(ttl_s), times)
    assert isinstance(ref, RunResult) and json.dumps(summarize(ref)) == json.dumps(summarize(jit))
    assert summarize(jit)["requests"]["cdn_hits"] == (2 if ttl_s == 0.5 else 5)
