"""The site's components in tiny worlds: exact sequences of (event, time)."""

import gc
import math
import weakref

import numpy as np
import simpy

from sim.config.distributions import Constant
from sim.engine.clock import SimpyClock
from sim.engine.reference.app_tier import AppTier, Request
from sim.config.site import AppConfig, DbConfig
from sim.vocabulary import OUTCOMES, PAGE


class Log:
    """A recorder that writes down what happens, and when."""

    def __init__(self, env):
        self.env, self.events = env, []

    def __getattr__(self, name):
        if name in ("app_levels", "app_capacity", "db_levels"):
            return lambda *a: None

        def note(req, *_):
            self.events.append((name.replace("request_", ""), req.tag, self.env.now))
        return note


def _tier(env, *, workers=1, queue_limit=math.inf, instances=1, balancer="round_robin", timeout_s=math.inf,
          drop_abandoned=False, db=None, **overflow):
    cfg = AppConfig(instances=instances, workers=workers, queue_limit=queue_limit, balancer=balancer,
                    page_s=Constant(value=1.0), timeout_s=timeout_s, drop_abandoned=drop_abandoned, **overflow)
    log = Log(env)
    return AppTier(env, cfg, db_config=db, recorder=log, rng=np.random.default_rng(0)), log


def _send(env, tier, tag, *, at=0.0, service_s=1.0, patience_s=math.inf, queries=None):
    def go(_ev):
        req = Tagged(now=env.now, kind=PAGE, count=1, service_s=service_s, query_s=queries, measured=True,
                     on_done=lambda _owner, outcome: seen.append((tag, OUTCOMES[outcome], env.now)))
        req.tag = tag
        tier.submit(req, patience_s=patience_s)
    seen = _send.seen
    env.timeout(at).callbacks.append(go)


class Tagged(Request):
    __slots__ = ("tag",)


def _world():
    env = simpy.Environment()
    _send.seen = []
    return env


def test_backlog_then_503():
    env = _world()
    tier, log = _tier(env, workers=1, queue_limit=1)
    for tag in "abc":
        _send(env, tier, tag)
    env.run()
    assert _send.seen == [("c", "rejected", 0), ("a", "ok", 1), ("b", "ok", 2)]
    assert log.events == [("arrived", "a", 0), ("started", "a", 0), ("arrived", "b", 0), ("arrived", "c", 0),
                          ("rejected", "c", 0), ("completed", "a", 1), ("started", "b", 1), ("completed", "b", 2)]


def test_queue_limit_zero_rejects_when_all_workers_are_busy():
    env = _world()
    tier, _ = _tier(env, workers=2, queue_limit=0)
    for tag in "abc":
        _send(env, tier, tag)
    env.run()
    assert _send.seen == [("c", "rejected", 0), ("a", "ok", 1), ("b", "ok", 1)]


def test_a_dropped_syn_is_sent_again_after_1_then_2_s_then_the_connection_fails():
    """Linux's back-off: tries at 0, 1 s, 3 s; with 2 retries the connect gives up at 7 s."""
    env = _world()
    tier, log = _tier(env, workers=1, queue_limit=0, overflow="drop", syn_retries=2, syn_rto_s=1.0)
    _send(env, tier, "a", service_s=2.5)
    _send(env, tier, "b")  # tries at 0 and 1 dropped (a is served), at 3 served
    _send(env, tier, "c", at=0.5)  # tries at 0.5, 1.5, 3.5 (b is served) dropped: fails at 7.5
    _send(env, tier, "d", at=3.25, service_s=10.0)  # tries at 3.25 (b), then at 4.25 served
    env.run()
    assert _send.seen == [("a", "ok", 2.5), ("b", "ok", 4.0), ("c", "rejected", 7.5), ("d", "ok", 14.25)]
    assert log.events == [
        ("arrived", "a", 0), ("started", "a", 0), ("arrived", "b", 0), ("arrived", "c", 0.5),
        ("completed", "a", 2.5), ("started", "b", 3.0), ("arrived", "d", 3.25), ("completed", "b", 4.0),
        ("started", "d", 4.25), ("rejected", "c", 7.5), ("completed", "d", 14.25)]


def test_a_visitor_gives_up_or_a_504_comes_while_the_syn_is_retried():
    env = _world()
    tier, log = _tier(env, workers=1, queue_limit=0, overflow="drop", timeout_s=5.0)
    _send(env, tier, "a", service_s=20.0)
    _send(env, tier, "b", patience_s=2.0)
    _send(env, tier, "c", at=0.5)
    env.run()
    assert _send.seen == [("b", "abandoned", 2.0), ("a", "timed_out", 5.0), ("c", "timed_out", 5.5)]
    # Their later tries find the outcome settled and stop: neither is ever served.
    assert [e for e in log.events if e[0] in ("started", "abandoned", "timed_out")] == [
        ("started", "a", 0), ("abandoned", "b", 2.0), ("timed_out", "a", 5.0), ("timed_out", "c", 5.5)]


def test_patience_wasted_worker_unless_dropped():
    for drop, expected in ((False, [("b", "abandoned", 0.5), ("a", "ok", 1), ("c", "ok", 3)]),
                           (True, [("b", "abandoned", 0.5), ("a", "ok", 1), ("c", "ok", 2)])):
        env = _world()
        tier, log = _tier(env, drop_abandoned=drop)
        _send(env, tier, "a")
        _send(env, tier, "b", patience_s=0.5)
        _send(env, tier, "c", at=0.1)
        env.run()
        assert _send.seen == expected, drop
        if not drop:
            assert ("wasted", "b", 2) in log.events


def test_a_started_request_is_waited_for():
    env = _world()
    tier, _ = _tier(env)
    _send(env, tier, "a", service_s=5.0, patience_s=0.5)
    env.run()
    assert _send.seen == [("a", "ok", 5)]


def test_balancer_timeout_gives_504_and_the_server_finishes_anyway():
    env = _world()
    tier, log = _tier(env, timeout_s=1.5)
    _send(env, tier, "a")
    _send(env, tier, "b")
    env.run()
    assert _send.seen == [("a", "ok", 1), ("b", "timed_out", 1.5)]
    assert log.events[-1] == ("wasted", "b", 2)


def test_round_robin_and_least_connections():
    env = _world()
    tier, _ = _tier(env, instances=2, balancer="round_robin")
    for tag in "abcd":
        _send(env, tier, tag)
    env.run()
    assert sorted(_send.seen) == [("a", "ok", 1), ("b", "ok", 1), ("c", "ok", 2), ("d", "ok", 2)]
    env = _world()
    tier, _ = _tier(env, instances=2, balancer="least_connections")
    _send(env, tier, "long", service_s=10)
    for tag, at in (("x", 0.5), ("y", 2.0), ("z", 3.5)):
        _send(env, tier, tag, at=at)
    env.run()
    # the short ones all go to the idle instance: never behind the 10 s request
    assert sorted(_send.seen) == [("long", "ok", 10), ("x", "ok", 1.5), ("y", "ok", 3.0), ("z", "ok", 4.5)]


def test_submit_holds_its_worker_while_waiting_for_a_connection():
    env = _world()
    db = DbConfig(connections=1, query_s=Constant(value=2.0))
    tier, _ = _tier(env, workers=2, db=db)
    _send(env, tier, "a", service_s=0.0, queries=np.array([2.0]))
    _send(env, tier, "b", service_s=0.0, queries=np.array([2.0]))
    _send(env, tier, "c", at=0.5, service_s=0.0)  # no queries, but both workers are held
    env.run()
    assert _send.seen == [("a", "ok", 2), ("c", "ok", 2), ("b", "ok", 4)]


class _Arg:
    pass


def test_simpy_timer_fires_in_time_then_call_order_and_lets_its_arguments_go():
    """Bound timers recycle their events: order as simpy's, and a spare event holds nothing."""
    env = simpy.Environment()
    clock = SimpyClock(env)
    seen = []
    a_timer = clock.timer(lambda arg: seen.append(("a", arg.n, env.now)))
    b_timer = clock.timer(lambda arg: seen.append(("b", arg.n, env.now)))
    args = []
    for n, (timer, delay) in enumerate([(a_timer, 2.0), (b_timer, 1.0), (a_timer, 1.0), (b_timer, 2.0)]):
        arg = _Arg()
        arg.n = n
        args.append(weakref.ref(arg))
        timer(delay, arg)
    del arg
    env.run()
    assert seen == [("b", 1, 1.0), ("a", 2, 1.0), ("a", 0, 2.0), ("b", 3, 2.0)]
    last = _Arg()
    last.n = 4
    a_timer(0.5, last)  # takes a recycled event
    env.run()
    assert seen[-1] == ("a", 4, 2.5)
    gc.collect()
    assert [ref() for ref in args] == [None] * 4
