"""The model: arrivals, journeys and the site wired together on a clock; the readable specification.

Visitors arrive by the traffic profile (drawn a window at a time, ``sim.engine.run``),
follow their journeys through the CDN, the waiting room and the app tier, retry after
errors, and leave served, failed or having given up; every event goes to the
:class:`~sim.engine.recorder.Recorder`. An answered submit hands its signature to the
signature queue when there is one (``sim.engine.reference.signature_queue``).

The model is written as callbacks on a clock (``sim.engine.clock``): a visitor is a small
state machine, not a generator process, and arrivals are chained one timer at a time, so
an event costs one clock event and no process switch. The reference engine runs it on
simpy; the fast engine runs it on a plain heap where there is no app tier, and otherwise
runs its transcription compiled (``sim.engine.compiled``), with identical results. A
change to the model here is a change there too (the tests compare the engines bit for bit).
"""

from __future__ import annotations

import math

import numpy as np

from sim.config.scenario import Scenario
from sim.engine.draws import BlockDraws
from sim.engine.recorder import Recorder
from sim.engine.reference.app_tier import AppTier, Request
from sim.engine.reference.signature_queue import SignatureQueue
from sim.engine.reference.waiting_room import GAVE_UP, LET_IN, WaitingRoom
from sim.engine.run import ArrivalWindows, RunResult, Streams, run_in_slices
from sim.traffic.profile import build_profile
from sim.vocabulary import ABANDONED, ASSETS, BY_TTL, FAILED, OK, PAGE, SERVED, SUBMIT

__all__ = ["Model"]


class _Window:
    """One arrival window's visitors, their plans as Python lists (cheap to index per event)."""

    __slots__ = ("times", "first", "intends", "patience", "kind", "think", "html_hit", "service",
                 "assets", "asset_first", "asset_s", "queries", "query_rows", "end_s", "times_array", "intends_array",
                 "arrived")

    def __init__(self, times: np.ndarray, plans, end_s: float, *, landing_by_ttl: bool = False) -> None:
        self.times_array, self.intends_array = times, plans.intends_action
        self.arrived = 0  # visitors of the window started so far
        self.times = times.tolist()
        self.first = plans.first_step.tolist()
        self.intends = plans.intends_action.tolist()
        self.patience = np.asarray(plans.patience_s, dtype=float).tolist()
        self.kind = plans.kind.tolist()
        self.think = plans.think_s.tolist()
        html_hit = plans.html_hit.astype(np.int64)
        if landing_by_ttl:
            html_hit[plans.first_step[:-1]] = BY_TTL  # every journey's first step: its landing page
        self.html_hit = html_hit.tolist()
        self.service = plans.service_s.tolist()
        self.assets = plans.assets.tolist()
        self.asset_first = plans.asset_first.tolist()
        self.asset_s = plans.asset_s.tolist()
        n_q = plans.queries.tolist()
        rows = plans.query_s.tolist()
        self.queries = [row[:q] if q else None for row, q in zip(rows, n_q)]
        self.query_rows = rows  # a queued signature's writer makes its queries from its submit's row
        self.end_s = end_s


class _Visitor:
    __slots__ = ("w", "s", "end", "patience", "retries", "measured", "intends", "acted", "a", "a_end")


class Model:
    """Arrivals, journeys and the site on a clock (``now``, ``call``, ``run_until``)."""

    def __init__(self, scenario: Scenario, seed_seq: np.random.SeedSequence, clock) -> None:
        self.scenario = scenario
        streams = Streams.spawn(seed_seq)
        self.clock = clock
        self.recorder = Recorder(scenario)
        site = scenario.site
        self.app = None
        if site.app is not None:
            self.app = AppTier(clock, site.app, db_config=site.db, recorder=self.recorder, rng=streams.balancer,
                               track_areas=site.autoscale is not None)
        self.room = WaitingRoom(clock, site.waiting_room, streams.room, self.recorder) if site.waiting_room else None
        self.signatures = None
        self.signature_queries = 0  # queries a writer makes per signature
        if site.signature_queue is not None:
            sq = site.signature_queue
            self.signatures = SignatureQueue(clock, writers=sq.writers, db=self.app.db, recorder=self.recorder,
                                             draws=BlockDraws(streams.signatures, sq.write_dist(site.app)))
            self.signature_queries = site.db.queries_per_submit if site.db else 0
        # The edge's copy of the landing page: a landing HTML request before ``landing_expires_s`` is a hit.
        self.landing_ttl_s = site.cdn.landing_ttl_s if site.cdn else 0.0
        self.landing_expires_s = -math.inf
        self.windows = ArrivalWindows(scenario, build_profile(scenario), streams)
        self.retry = scenario.visitors.retry
        self.retries_max = self.retry.max if self.retry else 0
        # A retry takes one (uniform, delay) pair whether or not the visitor retries.
        self.retry_draws = BlockDraws(streams.retry, self.retry.delay_s if self.retry else None)
        self.warmup_s = scenario.run.warmup_s
        self.requests_per_page = scenario.visitors.requests_per_page
        self._current = None
        self._at_arrival = clock.timer(self._arrivals)
        self._at_step = clock.timer(self._step)
        self._window(0.0)

    # -- arrivals --------------------------------------------------------------------
    def _window(self, t0: float) -> None:
        duration = self.scenario.run.duration_s
        if t0 >= duration:
            return
        w = _Window(*self.windows.draw(t0), landing_by_ttl=self.landing_ttl_s > 0)
        self._current = w
        self._arrivals(0)

    def _arrivals(self, i: int) -> None:
        """Visitors ``i, i+1, ...`` of the current window that are due now, then a timer for the next.

        Only the current window has an arrival pending: the next is drawn once it is done."""
        clock, w = self.clock, self._current
        now = clock.now  # the visitors' first steps run at once: the clock does not move here
        times, room = w.times, self.room
        while i < len(times):
            t = times[i]
            if t > now:
                self._at_arrival(t - now, i)
                return
            v = _Visitor()
            v.w, v.s, v.end = w, w.first[i], w.first[i + 1]
            v.patience = w.patience[i]
            v.retries = self.retries_max
            v.measured = now >= self.warmup_s
            v.intends = w.intends[i]
            v.acted = False
            if room is not None:
                room.enter(v, self._admitted)
            else:
                self._step(v)
            i += 1
            w.arrived = i
        self._count_arrivals(w)
        if w.end_s > now:
            clock.call(w.end_s - now, self._window, w.end_s)
        else:
            self._window(w.end_s)

    def _count_arrivals(self, w: _Window) -> None:
        """Arrival counts go to the recorder a window (or, at the end, a part of one) at a time."""
        if w.arrived:
            self.recorder.visitors_arrived(w.times_array[:w.arrived], w.intends_array[:w.arrived])
            w.times_array = w.times_array[w.arrived:]
            w.intends_array = w.intends_array[w.arrived:]
            w.arrived = 0

    # -- a visitor's journey (a visitor arrives in _arrivals) ----------------------------
    def _admitted(self, v: _Visitor, how: str) -> None:
        if how == LET_IN:
            self._step(v)
        else:  # gave up in the queue, or turned away (queueing_method = "reject")
            self.recorder.visitor_left(self.clock.now, v.measured, v.intends, ABANDONED if how == GAVE_UP else FAILED,
                                       False, "waiting_room")

    def _step(self, v: _Visitor) -> None:
        """Start page view or submit ``v.s``; :meth:`_result` follows (at once or when settled)."""
        now, rec, w, s = self.clock.now, self.recorder, v.w, v.s
        kind = w.kind[s]
        rec.page_view(now, kind)
        if kind == PAGE:
            html_hit = w.html_hit[s]
            if html_hit == BY_TTL:
                html_hit = self._landing_hit(now)
            hits = self.requests_per_page - 1 - w.assets[s] + html_hit
            if hits:
                rec.cdn_hits(now, hits)
            if html_hit:
                self._result(v, OK)
                return
        if self.app is None:
            rec.origin_unmodelled(now, kind)  # no app tier modelled: the origin answers at once
            self._result(v, OK)
            return
        req = Request(now=now, kind=kind, count=1, service_s=w.service[s], query_s=w.queries[s],
                      measured=now >= self.warmup_s, on_done=self._result, owner=v)
        self.app.submit(req, v.patience)

    def _landing_hit(self, now: float) -> int:
        """The edge's TTL rule for the landing page: a hit while its copy is fresh, else a miss that
        fetches it and renews the copy from now, whatever the fetch's outcome (the edge collapses
        requests during the fetch onto it, and serves the stale copy on an origin error)."""
        if now < self.landing_expires_s:
            return 1
        self.landing_expires_s = now + self.landing_ttl_s
        return 0

    def _result(self, v: _Visitor, result: int) -> None:
        now, w, s = self.clock.now, v.w, v.s
        kind = w.kind[s]
        self.recorder.page_result(now, kind, result)
        if result == OK:
            if kind == SUBMIT:
                v.acted = True
                if self.signatures is not None:  # answered: the signature waits for a writer
                    q = self.signature_queries
                    self.signatures.enqueue(now, w.query_rows[s][:q] if q else None, now >= self.warmup_s)
            if kind == PAGE and w.assets[s] > 0 and self.app is not None:
                # The browser fetches the missed assets one after another; the visitor reads on after.
                v.a = w.asset_first[s]
                v.a_end = v.a + w.assets[s]
                self._fetch_asset(v)
            else:
                self._next(v)
        elif v.retries > 0 and (draw := self.retry_draws.take())[0] < self.retry.probability:
            v.retries -= 1
            self.recorder.retry(now)
            self._at_step(draw[1], v)
        else:
            self._leave(v, ABANDONED if result == ABANDONED else FAILED, now)

    def _fetch_asset(self, v: _Visitor) -> None:
        now = self.clock.now
        req = Request(now=now, kind=ASSETS, count=1, service_s=v.w.asset_s[v.a], query_s=None,
                      measured=now >= self.warmup_s, on_done=self._asset_done, owner=v)
        self.app.submit(req, math.inf)  # whatever its outcome, the browser goes on to the next

    def _asset_done(self, v: _Visitor, result: int) -> None:
        v.a += 1
        if v.a < v.a_end:
            self._fetch_asset(v)
        else:
            self._next(v)

    def _next(self, v: _Visitor) -> None:
        """The step is done: think, then the next one, or leave served after the last."""
        w = v.w
        v.s = s = v.s + 1
        if s == v.end:
            self._leave(v, SERVED, self.clock.now)
        elif w.think[s] > 0:
            self._at_step(w.think[s], v)
        else:
            self._step(v)

    def _leave(self, v: _Visitor, outcome: int, now: float) -> None:
        self.recorder.visitor_left(now, v.measured, v.intends, outcome, v.acted)
        if self.room is not None:
            self.room.leave()

    # -- running ------------------------------------------------------------------------
    def run(self, engine: str) -> RunResult:
        """Run to the scenario's end (or an interrupt) and hand over what was recorded."""
        error = run_in_slices(self.scenario.run, self.clock.run_until)
        end = float(self.clock.now)
        if self.room is not None:
            self.room.finish(end)
        if self._current is not None:
            self._count_arrivals(self._current)
        self.recorder.finish(end)
        return RunResult(scenario=self.scenario, recorder=self.recorder, end_s=end, partial=error is not None,
                         error=error, engine=engine)
