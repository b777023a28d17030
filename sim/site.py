"""The site's parts as simpy components: app instances behind a balancer, a database pool.

Queues are plain deques with lazy deletion (a request that leaves is marked gone and
skipped when reached), so each event costs O(1) whatever the backlog, unlike
``simpy.Resource`` whose ``list.pop(0)`` and cancel scans grow with the queue.
A request's outcome for the visitor (``done``) is decided once, by whichever comes
first: completion, a 503 from a full backlog, a 504 at the balancer, or the visitor
giving up before service starts (Palm's model: once started, they wait).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np
import simpy

from sim.site_config import AppConfig, DbConfig

__all__ = ["Request", "Instance", "AppTier", "DbPool", "OK", "REJECTED", "TIMED_OUT", "ABANDONED"]

OK, REJECTED, TIMED_OUT, ABANDONED = "ok", "rejected", "timed_out", "abandoned"
# Request life cycle at an instance.
QUEUED, SERVING, FINISHED, GONE = range(4)


class Request:
    """One origin request: an HTML document, a submit, or a page's bundle of asset misses."""

    __slots__ = ("kind", "count", "arrival_s", "start_s", "service_s", "query_s", "state", "done",
                 "outcome", "instance", "measured")

    def __init__(self, env: simpy.Environment, *, kind: int, count: int, service_s: float,
                 query_s: np.ndarray | None, measured: bool) -> None:
        self.kind = kind  # journey.PAGE, journey.SUBMIT, or ASSETS
        self.count = count  # HTTP requests it stands for (a bundle of asset misses counts each)
        self.arrival_s = env.now
        self.start_s = math.nan
        self.service_s = service_s
        self.query_s = query_s
        self.state = QUEUED
        self.done = env.event()
        self.outcome: str | None = None
        self.instance: Instance | None = None
        self.measured = measured  # arrived after the warm-up: counts in the statistics

    def decide(self, outcome: str) -> bool:
        """Settle what the visitor sees; later outcomes (a wasted completion) change nothing."""
        if self.outcome is not None:
            return False
        self.outcome = outcome
        self.done.succeed(outcome)
        return True


class DbPool:
    """A pool of connections; an app worker waits for one while holding its worker."""

    def __init__(self, env: simpy.Environment, config: DbConfig, on_change: Callable[[], None]) -> None:
        self.env = env
        self.connections = config.connections
        self.busy = 0
        self.waiters: deque[simpy.Event] = deque()
        self.on_change = on_change

    def query(self, duration_s: float):
        """A process step: acquire a connection, hold it for ``duration_s``, release it."""
        if self.busy < self.connections:
            self.busy += 1
        else:
            grant = self.env.event()
            self.waiters.append(grant)
            self.on_change()
            yield grant  # the releaser hands its connection over: busy stays the same
        self.on_change()
        yield self.env.timeout(duration_s)
        if self.waiters:
            self.waiters.popleft().succeed()
        else:
            self.busy -= 1
        self.on_change()

    @property
    def waiting(self) -> int:
        return len(self.waiters)


class Instance:
    """An app instance: ``workers`` serving concurrently, a FIFO backlog of ``queue_limit``."""

    def __init__(self, tier: "AppTier", index: int) -> None:
        self.tier = tier
        self.index = index
        self.workers = tier.config.workers
        self.queue_limit = tier.config.queue_limit
        self.queue: deque[Request] = deque()
        self.waiting = 0  # live requests in the queue (gone ones are skipped lazily)
        self.busy = 0
        self.routable = False
        self.retired = False

    @property
    def in_flight(self) -> int:
        return self.busy + self.waiting

    def arrive(self, req: Request) -> None:
        req.instance = self
        if self.busy < self.workers:
            self._start(req)
        elif self.waiting < self.queue_limit:
            self.queue.append(req)
            self.waiting += 1
            self.tier.waiting += 1
            self.tier.changed()
        else:
            req.state = GONE
            self.tier.record_rejected(req)

    def remove(self, req: Request) -> None:
        """The server notices a request whose visitor left and drops it from the queue."""
        if req.state == QUEUED:
            req.state = GONE
            self.waiting -= 1
            self.tier.waiting -= 1
            self.tier.changed()

    def _start(self, req: Request) -> None:
        self.busy += 1
        self.tier.busy += 1
        req.state = SERVING
        req.start_s = self.tier.env.now
        self.tier.record_started(req)
        self.tier.changed()
        if req.query_s is None or len(req.query_s) == 0:
            self.tier.env.timeout(req.service_s).callbacks.append(lambda _ev, r=req: self._finish(r))
        else:
            self.tier.env.process(self._serve_with_db(req))

    def _serve_with_db(self, req: Request):
        yield self.tier.env.timeout(req.service_s)
        for duration in req.query_s:
            yield from self.tier.db.query(float(duration))
        self._finish(req)

    def _finish(self, req: Request) -> None:
        self.busy -= 1
        self.tier.busy -= 1
        req.state = FINISHED
        self.tier.record_finished(req)
        while self.queue:
            nxt = self.queue.popleft()
            if nxt.state == QUEUED:
                self.waiting -= 1
                self.tier.waiting -= 1
                self._start(nxt)
                break
        self.tier.changed()
        if self.retired and self.in_flight == 0:
            self.tier.instance_drained(self)


class AppTier:
    """Instances behind a balancer; records every request's fate through ``recorder``."""

    def __init__(self, env: simpy.Environment, config: AppConfig, *, db_config: DbConfig | None,
                 recorder, rng: np.random.Generator) -> None:
        self.env = env
        self.config = config
        self.recorder = recorder
        self.rng = rng
        self.db = DbPool(env, db_config, self._db_changed) if db_config else None
        self.instances: list[Instance] = []
        self.routable: list[Instance] = []
        self._next = 0
        self._rr = 0
        self.busy = 0  # over all instances, kept up to date by them
        self.waiting = 0
        # Areas under the level curves since the autoscaler last looked (busy, in flight, capacity, instances).
        self._levels = (0, 0, 0, 0)
        self._areas = [0.0, 0.0, 0.0, 0.0]
        self._t_levels = 0.0
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
        self.changed()

    def retire(self, inst: Instance) -> None:
        """Stop routing to an instance; it finishes its backlog, then goes."""
        inst.routable = False
        inst.retired = True
        self.routable.remove(inst)
        if inst.in_flight == 0:
            self.instance_drained(inst)
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
        return pool[int(self.rng.integers(len(pool)))]

    def submit(self, req: Request, *, patience_s: float) -> None:
        """A request reaches the balancer: route it, and arm its 504 and patience timers."""
        self.recorder.request_arrived(req)
        self.route().arrive(req)
        if req.state == QUEUED and not math.isinf(patience_s):
            # Only a queued request can be given up on; one served at once costs no timer.
            self.env.timeout(patience_s).callbacks.append(lambda _ev, r=req: self._gave_up(r))
        timeout_s = self.config.timeout_s
        if req.outcome is None and not math.isinf(timeout_s):
            self.env.timeout(timeout_s).callbacks.append(lambda _ev, r=req: self._timed_out(r))

    def _timed_out(self, req: Request) -> None:
        if req.state in (FINISHED, GONE) or req.outcome is not None:
            return
        req.decide(TIMED_OUT)
        self.recorder.request_timed_out(req)
        if req.state == QUEUED and self.config.drop_abandoned:
            req.instance.remove(req)

    def _gave_up(self, req: Request) -> None:
        if req.state != QUEUED or req.outcome is not None:
            return  # started (Palm: they wait for it now), or already settled
        req.decide(ABANDONED)
        self.recorder.request_abandoned(req)
        if self.config.drop_abandoned:
            req.instance.remove(req)

    # -- what the instances report ------------------------------------------------------
    def record_rejected(self, req: Request) -> None:
        if req.decide(REJECTED):
            self.recorder.request_rejected(req)

    def record_started(self, req: Request) -> None:
        self.recorder.request_started(req)

    def record_finished(self, req: Request) -> None:
        if req.decide(OK):
            self.recorder.request_completed(req)
        else:
            self.recorder.request_wasted(req)

    def changed(self) -> None:
        now = self.env.now
        if now > self._t_levels:
            dt = now - self._t_levels
            for k, level in enumerate(self._levels):
                self._areas[k] += dt * level
            self._t_levels = now
        busy, waiting, n = self.busy, self.waiting, len(self.routable)
        self._levels = (busy, busy + waiting, n * self.config.workers, n)
        self.recorder.app_levels(now, busy, waiting, n * self.config.workers, n)

    def take_metric(self, metric: str) -> float:
        """The autoscaling metric averaged since the last call: utilization or in-flight per instance."""
        self.changed()  # bring the areas up to now
        busy, in_flight, capacity, instances = self._areas
        self._areas = [0.0, 0.0, 0.0, 0.0]
        if metric == "utilization":
            return busy / capacity if capacity > 0 else 0.0
        return in_flight / instances if instances > 0 else 0.0

    def _db_changed(self) -> None:
        self.recorder.db_levels(self.env.now, self.db.busy, self.db.waiting, self.db.connections)
