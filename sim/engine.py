"""The reference engine: arrivals, journeys and the site wired into one simpy run.

Random streams are independent children of one ``SeedSequence``: arrivals, visitor
journeys (drawn in arrival order, so every site a sweep compares meets the same
visitors), retries, balancer, waiting room. Replication r of seed s uses
``SeedSequence(s).spawn(r + 1)[r]``, so a single run is replication 0.

The model is written as callbacks on a clock (see :mod:`sim.site`): a visitor is a small
state machine, not a generator process, and arrivals are chained one timer at a time, so
an event costs one simpy event (recycled, see ``SimpyClock.timer``) and no process
switch. simpy stays the clock here; ``sim.fast`` (``engine="fast"``) runs the same model
without simpy: these callbacks on a plain heap, or their transcription compiled
(``sim.fast_jit_loop``), with identical results. A change to the model here is a change
there too (the tests compare the engines bit for bit).

The run advances in slices of simulated time; an interrupt (Ctrl-C) or an error
between slices still returns what was computed so far, marked partial.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass

import numpy as np
import simpy

from sim.arrivals import sample_arrivals
from sim.draws import BlockDraws
from sim.journey import PAGE, SUBMIT, draw_journeys
from sim.profile import build_profile
from sim.recorder import Recorder
from sim.scenario import Scenario
from sim.site import ABANDONED, OK, AppTier, Request, SimpyClock
from sim.site_config import AutoscaleConfig, WaitingRoomConfig

__all__ = ["RunResult", "simulate", "run_engine", "replication_seeds", "ENGINES", "ASSETS"]

ASSETS = 2  # request kind of a page's bundle of asset misses (PAGE = 0, SUBMIT = 1)
ENGINES = ("reference", "fast")
SERVED, FAILED = "served", "failed"
# Arrivals and journeys are drawn a window at a time, so memory follows time, not traffic: a
# window spans 600 s, or less where the profile expects more than _WINDOW_VISITORS in it.
_ARRIVAL_WINDOW_S = 600.0
_WINDOW_VISITORS = 20_000


@dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    scenario: Scenario
    recorder: Recorder
    end_s: float
    partial: bool
    error: str | None = None
    engine: str = "reference"


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(replications)


class _ReferenceClock(SimpyClock):
    def run_until(self, t: float) -> None:
        self.env.run(until=t)


class WaitingRoom:
    """At most ``active_limit`` visitors on the site; the rest wait in a FIFO virtual queue.

    A visitor's place frees ``session_s`` after their journey ends, as Cloudflare's Waiting
    Room counts a session until it has been inactive that long.
    """

    def __init__(self, clock, config: WaitingRoomConfig, rng: np.random.Generator, recorder) -> None:
        self.clock, self.config, self.rng, self.recorder = clock, config, rng, recorder
        self.active = 0
        self.queue: list = []
        self.head = 0
        self.waiting = 0

    def enter(self, visitor, admitted) -> None:
        """``admitted(visitor, True)`` when let in (maybe at once), ``(visitor, False)`` on giving up."""
        if self.active < self.config.active_limit and self.waiting == 0:
            self.active += 1
            self._changed()
            admitted(visitor, True)
            return
        ticket = [visitor, admitted, True]  # the last item: still waiting
        self.queue.append(ticket)
        self.waiting += 1
        self._changed()
        patience = float(self.config.queue_patience_s.sample(self.rng))
        if not math.isinf(patience):
            self.clock.call(patience, self._give_up, ticket)

    def _give_up(self, ticket) -> None:
        if ticket[2]:
            ticket[2] = False
            self.waiting -= 1
            self._changed()
            ticket[1](ticket[0], False)

    def leave(self) -> None:
        self.clock.call(float(self.config.session_s.sample(self.rng)), self._release, None)

    def _release(self, _arg) -> None:
        self.active -= 1
        let_in = None
        while self.head < len(self.queue):
            ticket = self.queue[self.head]
            self.queue[self.head] = None  # lazy deletion: no O(n) pops
            self.head += 1
            if ticket is not None and ticket[2]:
                ticket[2] = False
                self.waiting -= 1
                self.active += 1
                let_in = ticket
                break
        if self.head > 4096 and self.head * 2 > len(self.queue):
            del self.queue[: self.head]
            self.head = 0
        self._changed()
        if let_in is not None:
            let_in[1](let_in[0], True)

    def _changed(self) -> None:
        self.recorder.waiting_room_levels(self.clock.now, self.active, self.waiting)


class _Window:
    """One arrival window's visitors, their plans as Python lists (cheap to index per event)."""

    __slots__ = ("times", "first", "intends", "patience", "kind", "think", "html_hit", "service",
                 "assets", "asset_service", "queries", "end_s", "times_array", "intends_array", "arrived")

    def __init__(self, times: np.ndarray, plans, end_s: float) -> None:
        self.times_array, self.intends_array = times, plans.intends_action
        self.arrived = 0  # visitors of the window started so far
        self.times = times.tolist()
        self.first = plans.first_step.tolist()
        self.intends = plans.intends_action.tolist()
        self.patience = np.asarray(plans.patience_s, dtype=float).tolist()
        self.kind = plans.kind.tolist()
        self.think = plans.think_s.tolist()
        self.html_hit = plans.html_hit.tolist()
        self.service = plans.service_s.tolist()
        self.assets = plans.assets.tolist()
        self.asset_service = plans.asset_service_s.tolist()
        n_q = plans.queries.tolist()
        rows = plans.query_s.tolist()
        self.queries = [row[:q] if q else None for row, q in zip(rows, n_q)]
        self.end_s = end_s


def window_end(profile, t0: float, t1: float) -> float:
    """``t1``, or the first whole second after ``t0`` where the expected arrivals pass the cap."""
    nodes = np.arange(t0, t1, 1.0)[1:]
    if nodes.size == 0:
        return t1
    expected = profile.cumulative(nodes) - float(profile.cumulative(np.asarray([t0]))[0])
    k = int(np.searchsorted(expected, _WINDOW_VISITORS))
    return float(nodes[k]) if k < nodes.size else t1


class _Visitor:
    __slots__ = ("w", "s", "end", "patience", "retries", "measured", "intends", "acted")


class _Model:
    """Arrivals, journeys and the site on a clock (``now``, ``call``, ``run_until``)."""

    def __init__(self, scenario: Scenario, seed_seq: np.random.SeedSequence, clock, *,
                 room: bool = True) -> None:
        self.scenario = scenario
        streams = seed_seq.spawn(5)
        self.rng_arrivals, self.rng_visitors, self.rng_retry, rng_balancer, rng_room = (
            np.random.default_rng(s) for s in streams
        )
        self.clock = clock
        self.recorder = Recorder(scenario)
        site = scenario.site
        self.app = None
        if site.app is not None:
            self.app = AppTier(clock, site.app, db_config=site.db, recorder=self.recorder, rng=rng_balancer,
                               track_areas=site.autoscale is not None)
        self.room = WaitingRoom(clock, site.waiting_room, rng_room, self.recorder) if site.waiting_room else None
        self.profile = build_profile(scenario)
        self.retry = scenario.visitors.retry
        self.retries_max = self.retry.max if self.retry else 0
        # A retry takes one (uniform, delay) pair whether or not the visitor retries.
        self.retry_draws = BlockDraws(self.rng_retry, self.retry.delay_s if self.retry else None)
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
        t1 = self._window_end(t0, min(t0 + _ARRIVAL_WINDOW_S, duration))
        times = sample_arrivals(self.profile, self.rng_arrivals, t0_s=t0, t1_s=t1)
        w = _Window(times, draw_journeys(self.scenario, self.rng_visitors, len(times)), t1)
        self._current = w
        self._arrivals(0)

    def _window_end(self, t0: float, t1: float) -> float:
        return window_end(self.profile, t0, t1)

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
    def _admitted(self, v: _Visitor, admitted: bool) -> None:
        if admitted:
            self._step(v)
        else:
            self.recorder.visitor_left(self.clock.now, v.measured, v.intends, ABANDONED, False, "waiting_room")

    def _step(self, v: _Visitor) -> None:
        """Start page view or submit ``v.s``; :meth:`_result` follows (at once or when settled)."""
        now, rec, w, s = self.clock.now, self.recorder, v.w, v.s
        kind = w.kind[s]
        rec.page_view(now, kind)
        if kind == PAGE:
            hits = self.requests_per_page - 1 - w.assets[s] + w.html_hit[s]
            if hits:
                rec.cdn_hits(now, hits)
            if w.html_hit[s]:
                self._result(v, OK)
                return
        if self.app is None:
            rec.origin_unmodelled(now, kind)  # no app tier modelled: the origin answers at once
            self._result(v, OK)
            return
        req = Request(now, kind, 1, w.service[s], w.queries[s], now >= self.warmup_s, self._result, v)
        self.app.submit(req, v.patience)

    def _result(self, v: _Visitor, result: str) -> None:
        now, w, s = self.clock.now, v.w, v.s
        kind = w.kind[s]
        if result == OK and kind == PAGE and w.assets[s] > 0 and self.app is not None:
            # The browser fetches the missed assets; the visitor does not wait for them.
            bundle = Request(now, ASSETS, w.assets[s], w.asset_service[s], None, now >= self.warmup_s)
            self.app.submit(bundle, math.inf)
        self.recorder.page_result(now, kind, result)
        if result == OK:
            v.acted = v.acted or kind == SUBMIT
            v.s = s = s + 1
            if s == v.end:
                self._leave(v, SERVED, now)
            elif w.think[s] > 0:
                self._at_step(w.think[s], v)
            else:
                self._step(v)
        elif v.retries > 0 and (draw := self.retry_draws.take())[0] < self.retry.probability:
            v.retries -= 1
            self.recorder.retry(now)
            self._at_step(draw[1], v)
        else:
            self._leave(v, ABANDONED if result == ABANDONED else FAILED, now)

    def _leave(self, v: _Visitor, outcome: str, now: float) -> None:
        self.recorder.visitor_left(now, v.measured, v.intends, outcome, v.acted)
        if self.room is not None:
            self.room.leave()

    # -- running ------------------------------------------------------------------------
    def run(self, engine: str) -> RunResult:
        duration = self.scenario.run.duration_s
        slice_s = max(self.scenario.run.bin_s, duration / 200)
        partial, error = True, None
        thresholds = gc.get_threshold()
        # The model allocates millions of short-lived objects and few cycles; with the default
        # thresholds the cyclic GC runs every 700 allocations and rescans every live request
        # often (about 10 % of the run, benchmarks/README.md). Restored after the run.
        gc.set_threshold(100_000, 50, 100)
        try:
            t = 0.0
            while t < duration:
                t = min(t + slice_s, duration)
                self.clock.run_until(t)
            partial = False
        except KeyboardInterrupt:
            error = "interrupted"
        except Exception as exc:  # keep what was computed; the caller reports the error
            error = f"{type(exc).__name__}: {exc}"
        finally:
            gc.set_threshold(*thresholds)
        end = float(self.clock.now)
        if self._current is not None:
            self._count_arrivals(self._current)
        self.recorder.finish(end)
        return RunResult(scenario=self.scenario, recorder=self.recorder, end_s=end, partial=partial, error=error,
                         engine=engine)


def _autoscaler(env: simpy.Environment, app: AppTier, cfg: AutoscaleConfig):
    """Every ``period_s``: read the metric, add or remove instances (a simpy process)."""
    last_action = -math.inf
    warming = 0

    def ready(inst):
        nonlocal warming
        warming -= 1
        app.make_routable(inst)

    while True:
        yield env.timeout(cfg.period_s)
        metric = app.take_metric(cfg.metric)
        n = len(app.routable)
        desired = min(max(math.ceil(n * metric / cfg.target - 1e-9), cfg.min), cfg.max)
        if desired > n + warming:
            for _ in range(min(cfg.step, desired - n - warming)):
                inst = app.add_instance(ready=False)
                warming += 1
                env.timeout(cfg.warmup_s).callbacks.append(lambda _ev, i=inst: ready(i))
            last_action = env.now
        elif desired < n and warming == 0 and env.now - last_action >= cfg.cooldown_s:
            for _ in range(min(cfg.step, n - desired)):
                app.retire(min(app.routable, key=lambda i: i.in_flight))
            last_action = env.now


def _simulate_reference(scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
    env = simpy.Environment()
    model = _Model(scenario, seed_seq, _ReferenceClock(env))
    if scenario.site.autoscale is not None:
        env.process(_autoscaler(env, model.app, scenario.site.autoscale))
    return model.run("reference")


def run_engine(scenario: Scenario, seed_seq: np.random.SeedSequence, engine: str = "reference") -> RunResult:
    """One run on ``engine`` ("reference": simpy; "fast": ``sim.fast``, which refuses what it does not model)."""
    if engine == "reference":
        return _simulate_reference(scenario, seed_seq)
    if engine == "fast":
        from sim.fast import simulate_fast  # imported here: sim.fast builds on this module

        return simulate_fast(scenario, seed_seq=seed_seq)
    raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def simulate(scenario: Scenario, *, seed_seq: np.random.SeedSequence | None = None,
             engine: str = "reference") -> RunResult:
    """One run of the scenario (replication 0 of ``run.seed`` unless a seed sequence is given)."""
    if seed_seq is None:
        seed_seq = replication_seeds(scenario.run.seed, 1)[0]
    return run_engine(scenario, seed_seq, engine)
