"""The app tier as callback components: requests, app instances, the balancer in front of them.

They run on a clock (``sim.engine.clock``: simpy for the reference engine, a plain heap
for the fast engine's no-app path), and the compiled loop transcribes these classes
(``sim.engine.compiled.site``). All compute every event time as ``now + delay``, so the
same inputs give the same floats. A submit's queries wait for the database pool
(:mod:`sim.engine.reference.db_pool`) while holding their worker.

Queues are plain deques with lazy deletion (a request that leaves is marked gone and
skipped when reached), so each event costs O(1) whatever the backlog, unlike
``simpy.Resource`` whose ``list.pop(0)`` and cancel scans grow with the queue.
Balancer (504) deadlines are ``arrival + timeout_s`` with one ``timeout_s``, hence in
arrival order: they wait in a FIFO and only the earliest holds a timer, so pending
timers do not grow with the traffic in flight.

A request's outcome for the visitor is decided once, by whichever comes first:
completion, a 503 from a full backlog, a 504 at the balancer, or the visitor giving
up before service starts (Palm's model: once started, they wait). With
``overflow = "drop"`` a full backlog does not answer: the kernel drops the SYN, and the
request, CONNECTING, tries the same instance again after ``syn_rto_s``, then twice that,
and so on; after ``syn_retries`` such tries its connection fails (counted as rejected).
The visitor hears of it through ``on_done(req, outcome)`` once the component's
bookkeeping is done, so a visitor who asks again at once never overtakes a request
already queued.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np

from sim.config.site import AppConfig, DbConfig
from sim.engine.clock import as_clock
from sim.engine.draws import BlockDraws
from sim.engine.reference.db_pool import DbPool
from sim.vocabulary import ABANDONED, CONNECTING, FINISHED, GONE, NONE, OK, QUEUED, REJECTED, SERVING, TIMED_OUT

__all__ = ["Request", "Instance", "AppTier"]


class Request:
    """One origin request: an HTML document, a submit, or an asset that missed the CDN."""

    __slots__ = ("kind", "count", "arrival_s", "start_s", "service_s", "query_s", "state", "on_done",
                 "outcome", "instance", "measured", "qi", "owner", "syn")

    def __init__(self, *, now: float, kind: int, count: int, service_s: float, query_s: np.ndarray | None,
                 measured: bool, on_done: Callable[[object, int], None] | None = None, owner=None) -> None:
        self.kind = kind  # sim.vocabulary: PAGE, SUBMIT or ASSETS
        self.count = count  # HTTP requests it stands for
        self.arrival_s = now
        self.start_s = math.nan
        self.service_s = service_s
        self.query_s = query_s  # a sequence of query times, or None
        self.state = QUEUED
        self.on_done = on_done
        self.outcome = NONE  # sim.vocabulary: OK, REJECTED, TIMED_OUT or ABANDONED once decided
        self.instance: Instance | None = None
        self.measured = measured  # arrived after the warm-up: counts in the statistics
        self.qi = 0  # next database query
        self.owner = owner  # whoever ``on_done(owner, outcome)`` is about (a visitor)
        self.syn = 0  # SYNs of this connection dropped so far

    def decide(self, outcome: int) -> bool:
        """Settle what the visitor sees; later outcomes (a wasted completion) change nothing."""
        if self.outcome != NONE:
            return False
        self.outcome = outcome
        return True

    def notify(self) -> None:
        if self.on_done is not None:
            self.on_done(self.owner, self.outcome)


class Instance:
    """An app instance: ``workers`` serving concurrently, a FIFO backlog of ``queue_limit``."""

    def __init__(self, tier: "AppTier", index: int) -> None:
        self.tier = tier
        self.index = index
        self.workers = tier.config.workers
        self.queue_limit = tier.config.queue_limit
        self.drops_syn = tier.config.overflow == "drop"
        self.queue: deque[Request] = deque()
        self.waiting = 0  # live requests in the queue (gone ones are skipped lazily)
        self.busy = 0
        self.routable = False
        self.retired = False
        timer = tier.clock.timer
        self._at_finish = timer(self._finish)
        self._at_queries = timer(self._serve_queries)
        self._at_syn = timer(self._syn_timer)

    @property
    def in_flight(self) -> int:
        return self.busy + self.waiting

    def arrive(self, req: Request) -> None:
        req.instance = self
        tier = self.tier
        if self.busy < self.workers:
            self._start(req, True)
        elif self.waiting < self.queue_limit:
            self.queue.append(req)
            self.waiting += 1
            tier.waiting += 1
            tier.levels(tier.clock.now, tier.busy, tier.waiting)
        elif self.drops_syn:
            req.state = CONNECTING
            self._at_syn(tier.config.syn_rto_s * 2.0 ** req.syn, req)
            req.syn += 1
        else:
            req.state = GONE
            tier.record_rejected(req)

    def _syn_timer(self, req: Request) -> None:
        """A dropped SYN's retransmission timeout ends: send it again, or give the connection up."""
        tier = self.tier
        if req.outcome != NONE:  # the visitor gave up, or the balancer answered 504
            req.state = GONE
        elif req.syn > tier.config.syn_retries or self.retired:  # the last retransmission went unanswered
            req.state = GONE
            tier.record_rejected(req)
            req.notify()
        else:
            self.arrive(req)

    def remove(self, req: Request) -> None:
        """The server notices a request whose visitor left and drops it from the queue."""
        if req.state == QUEUED:
            req.state = GONE
            self.waiting -= 1
            self.tier.waiting -= 1
            self.tier.changed()

    def _start(self, req: Request, levels_changed: bool) -> None:
        tier = self.tier
        self.busy += 1
        tier.busy += 1
        req.state = SERVING
        req.start_s = tier.clock.now
        tier.recorder.request_started(req)
        if levels_changed:  # else the caller reports the levels once it is done
            tier.levels(req.start_s, tier.busy, tier.waiting)
        (self._at_finish if req.query_s is None else self._at_queries)(req.service_s, req)

    def _serve_queries(self, req: Request) -> None:
        self.tier.db.acquire(req)

    def queries_done(self, req: Request) -> None:
        if req.qi < len(req.query_s):
            self.tier.db.acquire(req)
        else:
            self._finish(req)

    def _finish(self, req: Request) -> None:
        tier = self.tier
        now = tier.clock.now
        self.busy -= 1
        tier.busy -= 1
        req.state = FINISHED
        # req.decide(OK) and, below, req.notify(), written out: this runs once per request.
        settled = req.outcome == NONE  # else the visitor had gone: served for nothing
        if settled:
            req.outcome = OK
            tier.recorder.request_completed(req, now)
        else:
            tier.recorder.request_wasted(req)
        queue = self.queue
        while queue:
            nxt = queue.popleft()
            if nxt.state == QUEUED:
                self.waiting -= 1
                tier.waiting -= 1
                self._start(nxt, False)
                break
        tier.levels(now, tier.busy, tier.waiting)
        if self.retired and self.in_flight == 0:
            tier.instance_drained(self)
        if settled and req.on_done is not None:
            req.on_done(req.owner, OK)


class AppTier:
    """Instances behind a balancer; records every request's fate through ``recorder``."""

    def __init__(self, clock, config: AppConfig, *, db_config: DbConfig | None,
                 recorder, rng: np.random.Generator, track_areas: bool = False) -> None:
        self.clock = clock = as_clock(clock)
        self.config = config
        self.recorder = recorder
        self.rng = rng
        self._picks = BlockDraws(rng)  # the random balancer's uniforms
        self.db = DbPool(clock, db_config, recorder.db_levels) if db_config else None
        self.instances: list[Instance] = []
        self.routable: list[Instance] = []
        self._next = 0
        self._rr = 0
        self.busy = 0  # over all instances, kept up to date by them
        self.waiting = 0
        self._timeout_s = config.timeout_s
        self._deadlines: deque[Request] = deque()  # requests that may still get a 504, in deadline order
        self._armed = False
        # Areas under the level curves since the autoscaler last looked (busy, in flight, capacity, instances);
        # kept only when an autoscaler reads them (``levels`` is then the tracking one).
        self._levels = (0, 0, 0, 0)
        self._areas = [0.0, 0.0, 0.0, 0.0]
        self._t_levels = 0.0
        self._app_levels = recorder.app_levels
        # levels(now, busy, waiting): the instances report every change straight through it.
        self.levels = self._levels_tracking_areas if track_areas else recorder.app_levels
        self._at_gave_up = clock.timer(self._gave_up)
        for _ in range(config.instances):
            self.add_instance(ready=True)

    # -- instances -------------------------------------------------------------------
    def add_instance(self, *, ready: bool) -> Instance:
        inst = Instance(self, self._next)
        self._next += 1
        self.instances.append(inst)
        if ready:
            self.make_routable(inst)
        return inst

    def make_routable(self, inst: Instance) -> None:
        inst.routable = True
        self.routable.append(inst)
        self._capacity_changed()
        self.changed()

    def retire(self, inst: Instance) -> None:
        """Stop routing to an instance; it finishes its backlog, then goes."""
        inst.routable = False
        inst.retired = True
        self.routable.remove(inst)
        if inst.in_flight == 0:
            self.instance_drained(inst)
        self._capacity_changed()
        self.changed()

    def instance_drained(self, inst: Instance) -> None:
        if inst in self.instances:
            self.instances.remove(inst)

    @property
    def capacity(self) -> int:
        """Workers of the instances in service (routable)."""
        return len(self.routable) * self.config.workers

    # -- routing ---------------------------------------------------------------------
    def route(self) -> Instance:
        pool = self.routable
        if len(pool) == 1:
            return pool[0]
        policy = self.config.balancer
        if policy == "round_robin":
            self._rr = (self._rr + 1) % len(pool)
            return pool[self._rr]
        if policy == "least_connections":
            return min(pool, key=lambda i: i.in_flight)  # ties go to the first, as nginx does
        return pool[min(int(self._picks.take()[0] * len(pool)), len(pool) - 1)]

    def submit(self, req: Request, patience_s: float) -> None:
        """A request reaches the balancer: route it, and arm its 504 and patience timers."""
        self.recorder.request_arrived(req)
        pool = self.routable
        (pool[0] if len(pool) == 1 else self.route()).arrive(req)
        if req.outcome != NONE:
            req.notify()  # rejected at once
            return
        if (req.state == QUEUED or req.state == CONNECTING) and patience_s != math.inf:
            # Only a waiting request can be given up on; one served at once costs no timer.
            self._at_gave_up(patience_s, req)
        if self._timeout_s != math.inf:
            self._deadlines.append(req)
            if not self._armed:
                self._arm()

    def _arm(self) -> None:
        """Hold a timer for the earliest deadline of a request still unsettled."""
        dl = self._deadlines
        while dl and dl[0].outcome != NONE:
            dl.popleft()
        if dl:
            self._armed = True
            self.clock.call(max(dl[0].arrival_s + self._timeout_s - self.clock.now, 0.0), self._deadline, dl[0])
        else:
            self._armed = False

    def _deadline(self, req: Request) -> None:
        self._deadlines.popleft()  # ``req`` is the head: only the head is armed
        self._timed_out(req)
        self._arm()

    def _timed_out(self, req: Request) -> None:
        if req.state in (FINISHED, GONE) or not req.decide(TIMED_OUT):
            return
        self.recorder.request_timed_out(req, self.clock.now)
        if req.state == QUEUED and self.config.drop_abandoned:
            req.instance.remove(req)
        req.notify()

    def _gave_up(self, req: Request) -> None:
        if (req.state != QUEUED and req.state != CONNECTING) or not req.decide(ABANDONED):
            return  # started (Palm: they wait for it now), or already settled
        self.recorder.request_abandoned(req, self.clock.now)
        if self.config.drop_abandoned:
            req.instance.remove(req)
        req.notify()

    # -- what the instances report ------------------------------------------------------
    def record_rejected(self, req: Request) -> None:
        if req.decide(REJECTED):
            self.recorder.request_rejected(req, self.clock.now)

    def changed(self) -> None:
        """Busy or waiting changed: report the levels."""
        self.levels(self.clock.now, self.busy, self.waiting)

    def _levels_tracking_areas(self, now: float, busy: int, waiting: int) -> None:
        """``levels`` when an autoscaler reads the areas under the levels."""
        if now > self._t_levels:
            dt = now - self._t_levels
            for k, level in enumerate(self._levels):
                self._areas[k] += dt * level
            self._t_levels = now
        n = len(self.routable)
        self._levels = (busy, busy + waiting, n * self.config.workers, n)
        self._app_levels(now, busy, waiting)

    def _capacity_changed(self) -> None:
        self.recorder.app_capacity(self.clock.now, self.capacity, len(self.routable))

    def take_metric(self, metric: str) -> float:
        """The autoscaling metric averaged since the last call: utilization or in-flight per instance."""
        self.changed()  # bring the areas up to now
        busy, in_flight, capacity, instances = self._areas
        self._areas = [0.0, 0.0, 0.0, 0.0]
        if metric == "utilization":
            return busy / capacity if capacity > 0 else 0.0
        return in_flight / instances if instances > 0 else 0.0

