"""The durable signature queue: exact (event, time) sequences, alone and in the model."""

import json
import math

import numpy as np
import pytest
import simpy

from sim.config.distributions import Constant
from sim.config.scenario import parse_scenario
from sim.config.site import DbConfig
from sim.engine.clock import SimpyClock
from sim.engine.draws import BlockDraws
from sim.engine.reference.db_pool import DbPool
from sim.engine.reference.signature_queue import SignatureQueue
from sim.stats.summary import TIMESERIES_COLUMNS, summarize, timeseries
from tests.engine.fixed_arrivals import compiled_run, reference_model


class Log:
    """A recorder that writes down what the queue reports, and when."""

    def __init__(self, env):
        self.env, self.events = env, []

    def signature_queued(self, measured):
        self.events.append(("queued", self.env.now))

    def signature_written(self, lag_s, measured):
        self.events.append(("written", self.env.now, lag_s))

    def signature_levels(self, t, waiting):
        self.events.append(("waiting", t, waiting))

    def db_levels(self, t, busy, waiting):
        pass


def _queue(env, *, writers, write_s, db=None):
    log = Log(env)
    clock = SimpyClock(env)
    pool = DbPool(clock, db, log.db_levels) if db else None
    draws = BlockDraws(np.random.default_rng(0), Constant(value=write_s))
    return SignatureQueue(clock, writers=writers, draws=draws, db=pool, recorder=log), log


def _answer(env, queue, at, queries=None):
    env.timeout(at).callbacks.append(lambda _ev: queue.enqueue(env.now, queries, True))


def test_one_writer_writes_then_queries_and_the_next_waits():
    """write_s 1, two queries of 0.5 on one connection: a (answered at 0) is written 0-1, queried 1-2;
    b (0.2) waits for the writer until 2, then 2-4; c (3.5) waits until 4, then 4-6."""
    env = simpy.Environment()
    queue, log = _queue(env, writers=1, write_s=1.0, db=DbConfig(connections=1, query_s=Constant(value=0.5)))
    for tag_at in (0.0, 0.2, 3.5):
        _answer(env, queue, tag_at, [0.5, 0.5])
    env.run()
    assert log.events == [
        ("queued", 0.0), ("queued", 0.2), ("waiting", 0.2, 1), ("written", 2.0, 2.0), ("waiting", 2.0, 0),
        ("queued", 3.5), ("waiting", 3.5, 1), ("written", 4.0, pytest.approx(3.8)), ("waiting", 4.0, 0),
        ("written", 6.0, 2.5)]
    assert queue.idle == 1 and not queue.waiting


def test_three_writers_without_a_database():
    """Four answered at once: three written at 1, the fourth taken at 1 and written at 2."""
    env = simpy.Environment()
    queue, log = _queue(env, writers=3, write_s=1.0)
    for _ in range(4):
        _answer(env, queue, 0.0)
    env.run()
    assert log.events == [
        ("queued", 0), ("queued", 0), ("queued", 0), ("queued", 0), ("waiting", 0, 1),
        ("written", 1, 1), ("waiting", 1, 0), ("written", 1, 1), ("written", 1, 1), ("written", 2, 2)]
    assert queue.idle == 3


def test_a_signature_query_waits_behind_a_page_query_fifo():
    """The pool is shared: a page's query holding the one connection 0-3 delays the write's query."""
    env = simpy.Environment()
    queue, log = _queue(env, writers=1, write_s=1.0, db=DbConfig(connections=1, query_s=Constant(value=0.5)))

    class Page:
        query_s, qi = [3.0], 0

        class instance:
            @staticmethod
            def queries_done(req):
                log.events.append(("page done", env.now))
    env.timeout(0).callbacks.append(lambda _ev: queue.db.acquire(Page))
    _answer(env, queue, 0.0, [0.5])
    env.run()
    assert log.events == [("queued", 0), ("page done", 3), ("written", 3.5, 3.5)]


def _table(**queue):
    # A visitor's journey: the landing page, the action page, the submit (no think time), 0.1 s each
    # on one worker; the submit then holds it only for ack_s = 0.05. The writer: write_s 1, then the
    # submit's two queries of 0.5 on one connection (pages make none).
    return {
        "run": {"duration_s": 10.0, "seed": 1, "bin_s": 10},
        "traffic": {"constant_per_s": 1.0},
        "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 1.0},
        "site": {"app": {"workers": 1, "page_s": 0.1, "submit_s": 0.1},
                 "db": {"connections": 1, "query_s": 0.5, "queries_per_page": 0, "queries_per_submit": 2},
                 "signature_queue": {"ack_s": 0.05, "write_s": 1.0, **queue}},
    }


def _scenario(**queue):
    return parse_scenario(_table(**queue))


def test_in_the_model_the_action_completes_at_the_answer(monkeypatch):
    """Visitor at 0: pages 0-0.1, 0.1-0.2, submit answered at 0.25 (served, action done); written
    0.25-1.25, queried 1.25-2.25: lag 2. Visitor at 0.5: answered at 0.75, waits for the writer until
    2.25, written 2.25-3.25, queried to 4.25: lag 3.5. The queue held one signature 0.75-2.25."""
    m, env = reference_model(monkeypatch, _scenario(), [0.0, 0.5])
    result = m.run("reference")
    s = summarize(result)
    assert s["actions"]["completed"] == 2 and s["visitors"]["served"] == 2
    assert s["signatures"] == {"queued": 2, "written": 2, "pending_at_end": 0, "max_lag_s": pytest.approx(3.5)}
    # four pages of 0.1 s and two answers of 0.05 s: what visitors waited for
    assert s["page_response_s"]["count"] == 6 and s["page_response_s"]["mean"] == pytest.approx(0.5 / 6)
    (row,) = timeseries(result)
    assert row[TIMESERIES_COLUMNS.index("signature_queue")] == pytest.approx(1.5 / 10)
    assert s["utilization"]["db"] == pytest.approx(4 * 0.5 / 10)


def test_pending_at_the_end(monkeypatch):
    """Answered at 0.25, 0.75 and 1.25; one writer taking 2 s each (1 s, then two queries of 0.5):
    written at 2.25 and 4.25, the third still being written at the end (5)."""
    sc = parse_scenario({**_table(), "run": {"duration_s": 5.0, "seed": 1, "bin_s": 5}})
    m, _ = reference_model(monkeypatch, sc, [0.0, 0.5, 1.0])
    s = summarize(m.run("reference"))
    assert s["signatures"]["queued"] == 3 and s["signatures"]["written"] == 2
    assert s["signatures"]["pending_at_end"] == 1 and s["actions"]["completed"] == 3


@pytest.mark.parametrize("writers", [1, 3])
def test_the_compiled_loop_gives_the_same(monkeypatch, writers):
    times = [0.0, 0.5, 0.6, 0.7, 3.0]
    m, _ = reference_model(monkeypatch, _scenario(writers=writers), times)
    ref = summarize(m.run("reference"))
    jit = summarize(compiled_run(monkeypatch, _scenario(writers=writers), times))
    assert json.dumps(ref) == json.dumps(jit)
    # one writer needs 2 s a signature from 0.25 on: the fifth is still pending at 10
    assert ref["signatures"]["written"] == (4 if writers == 1 else 5) and not math.isnan(ref["signatures"]["max_lag_s"])
