"""The model's journey in a tiny world: one visitor, constant times, the exact sequence of (request, time)."""

import numpy as np
import pytest
import simpy

from sim.config.scenario import parse_scenario
from sim.engine.clock import SimpyClock
from sim.engine.reference.model import Model
from sim.vocabulary import ASSETS, OUTCOMES, PAGE, SUBMIT


def _scenario(**app_changes):
    app = {"instances": 1, "workers": 1, "page_s": 0.1, "asset_s": 0.05, "submit_s": 0.2, **app_changes}
    return parse_scenario({
        "run": {"duration_s": 1000.0, "seed": 1, "bin_s": 10},
        "traffic": {"constant_per_s": 0.002},  # the first visitor is alone for minutes
        "visitors": {"pages_per_visit": 1, "requests_per_page": 3, "action_rate": 1.0, "think_s": 5.0},
        "site": {"cdn": {"hit_ratio": 0.0, "html_hit_ratio": 0.0}, "app": app},
    })


def _first_visitor_requests(scenario):
    """(kind, time since the visitor arrived, outcome) of the first visitor's requests, and when it left."""
    env = simpy.Environment()
    model = Model(scenario, np.random.SeedSequence(5), SimpyClock(env))
    seen, first = [], {}
    submit = model.app.submit

    def logged(req, patience_s):
        owner = req.owner
        first.setdefault("v", owner)
        first.setdefault("t0", env.now)
        if owner is first["v"]:
            done = req.on_done

            def on_done(v, outcome, kind=req.kind, sent=env.now - first["t0"]):
                seen.append((kind, round(sent, 9), round(env.now - first["t0"], 9), OUTCOMES[outcome]))
                done(v, outcome)
            req.on_done = on_done
        submit(req, patience_s)
    model.app.submit = logged
    left = model.recorder.visitor_left

    def leave(now, *args, **kw):
        if "t0" in first and "left" not in first:
            first["left"] = round(now - first["t0"], 9)
        left(now, *args, **kw)
    model.recorder.visitor_left = leave
    env.run(until=first_gap(model))
    return seen, first["left"]


def first_gap(model):
    """A time before the second visitor arrives (the first one's journey takes about 11 s)."""
    times = model._current.times
    assert len(times) == 1 or times[1] - times[0] > 30, "the test needs the first visitor alone"
    return times[0] + 20


def test_assets_one_after_another_then_think():
    seen, left = _first_visitor_requests(_scenario())
    # landing page, its two asset misses one after another, think 5 s, the action page and its
    # assets, think 5 s, the submit: the visitor leaves when it is answered.
    assert seen == [
        (PAGE, 0.0, 0.1, "ok"), (ASSETS, 0.1, 0.15, "ok"), (ASSETS, 0.15, 0.2, "ok"),
        (PAGE, 5.2, 5.3, "ok"), (ASSETS, 5.3, 5.35, "ok"), (ASSETS, 5.35, 5.4, "ok"),
        (SUBMIT, 10.4, 10.6, "ok"),
    ]
    assert left == pytest.approx(10.6)


def test_an_asset_timed_out_or_refused_does_not_stop_the_next():
    """A 504 frees the browser, not the worker: the next asset finds it busy and no backlog (503)."""
    seen, left = _first_visitor_requests(_scenario(page_s=0.02, asset_s=0.05, submit_s=0.01, timeout_s=0.03,
                                                   queue_limit=0))
    assert seen == [
        (PAGE, 0.0, 0.02, "ok"), (ASSETS, 0.02, 0.05, "timed_out"), (ASSETS, 0.05, 0.05, "rejected"),
        (PAGE, 5.05, 5.07, "ok"), (ASSETS, 5.07, 5.1, "timed_out"), (ASSETS, 5.1, 5.1, "rejected"),
        (SUBMIT, 10.1, 10.11, "ok"),
    ]
    assert left == pytest.approx(10.11)
