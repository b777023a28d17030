"""The reference engine: arrivals, journeys and the site wired into one simpy run.

Random streams are independent children of one ``SeedSequence``: arrivals, visitor
journeys (drawn in arrival order, so every site a sweep compares meets the same
visitors), retries, balancer, waiting room. Replication r of seed s uses
``SeedSequence(s).spawn(r + 1)[r]``, so a single run is replication 0.

The run advances in slices of simulated time; an interrupt (Ctrl-C) or an error
between slices still returns what was computed so far, marked partial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from sim.arrivals import sample_arrivals
from sim.journey import PAGE, SUBMIT, JourneyPlans, draw_journeys
from sim.profile import build_profile
from sim.recorder import Recorder
from sim.scenario import Scenario
from sim.site import ABANDONED, OK, AppTier, Request
from sim.site_config import AutoscaleConfig, WaitingRoomConfig

__all__ = ["RunResult", "simulate", "replication_seeds", "ASSETS"]

ASSETS = 2  # request kind of a page's bundle of asset misses (PAGE = 0, SUBMIT = 1)
SERVED, FAILED = "served", "failed"
_ARRIVAL_WINDOW_S = 600.0  # arrivals and journeys are drawn a window at a time: memory follows time


@dataclass(frozen=True, kw_only=True, eq=False)
class RunResult:
    scenario: Scenario
    recorder: Recorder
    end_s: float
    partial: bool
    error: str | None = None


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(replications)


class WaitingRoom:
    """At most ``active_limit`` visitors on the site; the rest wait in a FIFO virtual queue.

    A visitor's place frees ``session_s`` after their journey ends, as Cloudflare's Waiting
    Room counts a session until it has been inactive that long.
    """

    def __init__(self, env: simpy.Environment, config: WaitingRoomConfig, rng: np.random.Generator, recorder) -> None:
        self.env, self.config, self.rng, self.recorder = env, config, rng, recorder
        self.active = 0
        self.queue: list = []
        self.head = 0
        self.waiting = 0

    def enter(self):
        if self.active < self.config.active_limit and self.waiting == 0:
            self.active += 1
            self._changed()
            return True
        ticket = self.env.event()
        self.queue.append(ticket)
        self.waiting += 1
        self._changed()
        patience = float(self.config.queue_patience_s.sample(self.rng))
        if not math.isinf(patience):
            self.env.timeout(patience).callbacks.append(lambda _ev, t=ticket: self._give_up(t))
        admitted = yield ticket
        return admitted

    def _give_up(self, ticket) -> None:
        if not ticket.triggered:
            ticket.succeed(False)
            self.waiting -= 1
            self._changed()

    def leave(self) -> None:
        session = float(self.config.session_s.sample(self.rng))
        self.env.timeout(session).callbacks.append(lambda _ev: self._release())

    def _release(self) -> None:
        self.active -= 1
        while self.head < len(self.queue):
            ticket = self.queue[self.head]
            self.queue[self.head] = None  # lazy deletion: no O(n) pops
            self.head += 1
            if ticket is not None and not ticket.triggered:
                self.waiting -= 1
                self.active += 1
                ticket.succeed(True)
                break
        if self.head > 4096 and self.head * 2 > len(self.queue):
            del self.queue[: self.head]
            self.head = 0
        self._changed()

    def _changed(self) -> None:
        self.recorder.waiting_room_levels(self.env.now, self.active, self.waiting)


class _Run:
    def __init__(self, scenario: Scenario, seed_seq: np.random.SeedSequence) -> None:
        self.scenario = scenario
        streams = seed_seq.spawn(5)
        self.rng_arrivals, self.rng_visitors, self.rng_retry, rng_balancer, rng_room = (
            np.random.default_rng(s) for s in streams
        )
        self.env = simpy.Environment()
        self.recorder = Recorder(scenario)
        site = scenario.site
        self.app = None
        if site.app is not None:
            self.app = AppTier(self.env, site.app, db_config=site.db, recorder=self.recorder, rng=rng_balancer)
        self.room = WaitingRoom(self.env, site.waiting_room, rng_room, self.recorder) if site.waiting_room else None
        self.profile = build_profile(scenario)
        self.retry = scenario.visitors.retry
        self.env.process(self._arrivals())
        if site.autoscale is not None:
            self.env.process(self._autoscaler(site.autoscale))

    # -- arrivals --------------------------------------------------------------------
    def _arrivals(self):
        duration = self.scenario.run.duration_s
        t0 = 0.0
        while t0 < duration:
            t1 = min(t0 + _ARRIVAL_WINDOW_S, duration)
            times = sample_arrivals(self.profile, self.rng_arrivals, t0_s=t0, t1_s=t1)
            plans = draw_journeys(self.scenario, self.rng_visitors, len(times))
            for i, t in enumerate(times):
                if t > self.env.now:
                    yield self.env.timeout(t - self.env.now)
                self.env.process(self._visitor(plans, i))
            if t1 > self.env.now:
                yield self.env.timeout(t1 - self.env.now)
            t0 = t1

    # -- a visitor's journey ------------------------------------------------------------
    def _visitor(self, plans: JourneyPlans, i: int):
        env, rec = self.env, self.recorder
        measured = env.now >= self.scenario.run.warmup_s
        intends = bool(plans.intends_action[i])
        rec.visitor_arrived(env.now, measured, intends)
        if self.room is not None:
            admitted = yield from self.room.enter()
            if not admitted:
                rec.visitor_left(env.now, measured, intends, ABANDONED, acted=False, where="waiting_room")
                return
        patience = float(plans.patience_s[i])
        lo, hi = int(plans.first_step[i]), int(plans.first_step[i + 1])
        retries_left = self.retry.max if self.retry else 0
        outcome, acted = SERVED, False
        for s in range(lo, hi):
            think = plans.think_s[s]
            if s > lo and think > 0:
                yield env.timeout(think)
            while True:
                result = yield from self._step(plans, s, patience)
                if result == OK:
                    acted = acted or plans.kind[s] == SUBMIT
                    break
                if retries_left > 0 and self.rng_retry.random() < self.retry.probability:
                    retries_left -= 1
                    rec.retry(env.now)
                    yield env.timeout(float(self.retry.delay_s.sample(self.rng_retry)))
                    continue
                outcome = ABANDONED if result == ABANDONED else FAILED
                break
            if outcome != SERVED:
                break
        rec.visitor_left(env.now, measured, intends, outcome, acted=acted, where="site")
        if self.room is not None:
            self.room.leave()

    def _step(self, plans: JourneyPlans, s: int, patience: float):
        """One page view or submit; returns the outcome the visitor sees."""
        env, rec = self.env, self.recorder
        kind = int(plans.kind[s])
        rec.page_view(env.now, kind)
        requests_per_page = self.scenario.visitors.requests_per_page
        if kind == PAGE:
            rec.cdn_hits(env.now, requests_per_page - 1 - int(plans.assets[s]) + int(plans.html_hit[s]))
        if kind == PAGE and plans.html_hit[s]:
            result = OK
        elif self.app is None:
            result = OK  # no app tier modelled: the origin answers at once
            rec.origin_unmodelled(env.now, kind)
        else:
            queries = int(plans.queries[s])
            req = Request(env, kind=kind, count=1, service_s=float(plans.service_s[s]),
                          query_s=plans.query_s[s, :queries] if queries else None,
                          measured=env.now >= self.scenario.run.warmup_s)
            self.app.submit(req, patience_s=patience)
            result = yield req.done
        if result == OK and kind == PAGE and plans.assets[s] > 0 and self.app is not None:
            # The browser fetches the missed assets; the visitor does not wait for them.
            bundle = Request(env, kind=ASSETS, count=int(plans.assets[s]), service_s=float(plans.asset_service_s[s]),
                             query_s=None, measured=env.now >= self.scenario.run.warmup_s)
            self.app.submit(bundle, patience_s=math.inf)
        rec.page_result(env.now, kind, result)
        return result

    # -- autoscaling ------------------------------------------------------------------
    def _autoscaler(self, cfg: AutoscaleConfig):
        env, app = self.env, self.app
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

    # -- running ------------------------------------------------------------------------
    def run(self) -> RunResult:
        duration = self.scenario.run.duration_s
        slice_s = max(self.scenario.run.bin_s, duration / 200)
        partial, error = True, None
        try:
            t = 0.0
            while t < duration:
                t = min(t + slice_s, duration)
                self.env.run(until=t)
            partial = False
        except KeyboardInterrupt:
            error = "interrupted"
        except Exception as exc:  # keep what was computed; the caller reports the error
            error = f"{type(exc).__name__}: {exc}"
        end = float(self.env.now)
        self.recorder.finish(end)
        return RunResult(scenario=self.scenario, recorder=self.recorder, end_s=end, partial=partial, error=error)


def simulate(scenario: Scenario, *, seed_seq: np.random.SeedSequence | None = None) -> RunResult:
    """One run of the scenario (replication 0 of ``run.seed`` unless a seed sequence is given)."""
    if seed_seq is None:
        seed_seq = replication_seeds(scenario.run.seed, 1)[0]
    return _Run(scenario, seed_seq).run()
