"""The open-workload driver: carries out a :class:`sim.loadtest.schedule.LoadPlan` with gevent.

Locust's users are a closed loop (a user waits for its response before its next
request), so a slow site slows the load and hides itself. Here one driver per
process starts a greenlet per *arrival* at its planned time, whatever the site's
speed: an open workload, as a surge is. Latency is measured from each request's
intended start, so a late greenlet does not hide the site's slowness (no coordinated
omission). When ``max_concurrent`` visitors are in flight an arrival is dropped and
counted, as k6's ``dropped_iterations``.
"""

from __future__ import annotations

import time

import urllib.parse

import gevent
import gevent.pool
import numpy as np
from geventhttpclient import HTTPClient

from sim.loadtest.schedule import ASSET, DOCUMENT, FORM, LoadPlan, Visit
from sim.loadtest.stats import LoadRecorder

__all__ = ["Driver"]

_CHUNK = 500  # visitors' journeys are drawn a chunk at a time


class Driver:
    def __init__(self, *, plan: LoadPlan, host: str, index: int, drivers: int, seed: int,
                 max_concurrent: int, request_timeout_s: float, fire_request) -> None:
        self.plan = plan
        self.host = host.rstrip("/")
        self._url = urllib.parse.urlsplit(self.host)
        self.share = 1.0 / drivers
        # Driver i of n draws its own thinned Poisson stream: together they are the whole one.
        streams = np.random.SeedSequence(seed).spawn(drivers)[index].spawn(2)
        self.rng_arrivals, self.rng_visits = (np.random.default_rng(s) for s in streams)
        self.max_concurrent = max(1, int(max_concurrent))
        self.request_timeout_s = request_timeout_s
        self.fire_request = fire_request  # locust's request event, so its own stats see every request
        edges, _ = plan.target_per_bin()
        self.recorder = LoadRecorder(edges_s=edges, time_scale=plan.time_scale)
        self.active = 0
        self.t0 = 0.0
        self.stopped = False  # asked to stop (the test stopped before the plan's end)
        self.complete = False  # played every arrival of its share and waited for them

    def now(self) -> float:
        return time.monotonic() - self.t0

    def run(self, *, drain_s: float = 30.0) -> LoadRecorder:
        """Play the plan; return when every arrival is done (or ``drain_s`` after the last)."""
        arrivals = self.plan.arrivals(self.rng_arrivals, share=self.share)
        group = gevent.pool.Group()
        self.t0 = time.monotonic()
        visits: list[Visit] = []
        for i, t in enumerate(arrivals):
            if self.stopped:
                break
            if i % _CHUNK == 0:
                visits = self.plan.visits(self.rng_visits, min(_CHUNK, len(arrivals) - i))
            delay = t - self.now()
            if delay > 0:
                gevent.sleep(delay)
            if self.active >= self.max_concurrent:
                self.recorder.count("dropped", t)
                continue
            self.recorder.count("arrivals", t)
            self.active += 1
            group.spawn(self._visit, visits[i % _CHUNK], float(t))
        group.join(timeout=0 if self.stopped else drain_s)
        group.kill(block=True, timeout=5)
        self.complete = not self.stopped
        return self.recorder

    def _client(self) -> HTTPClient:
        # geventhttpclient, as locust's FastHttpUser: a fraction of requests' CPU per request, so the
        # load generator leaves the machine to the site under test.
        url = self._url
        return HTTPClient(url.hostname, url.port, ssl=url.scheme == "https", connection_timeout=self.request_timeout_s,
                          network_timeout=self.request_timeout_s)

    def _visit(self, visit: Visit, start_s: float) -> None:
        rec = self.recorder
        session = self._client()  # a new visitor opens new connections
        try:
            intended = start_s
            for k, (think, doc, assets) in enumerate(visit.steps):
                if k > 0:
                    intended = self.now() + think
                    gevent.sleep(think)
                rec.count("page_views", max(intended, 0.0))
                ok = self._send(session, doc, intended)
                if not ok:
                    rec.count("visitors_failed", self.now())
                    if visit.intends_action:
                        rec.count("actions_lost", self.now())
                    return
                rec.count("completed" if doc.kind == DOCUMENT else "actions_completed", self.now())
                for asset in assets:  # after the document, as a browser does
                    self._send(session, asset, self.now())
            rec.count("visitors_served", self.now())
        finally:
            session.close()
            self.active -= 1

    def _send(self, session: HTTPClient, req, intended_s: float) -> bool:
        exc = None
        length = 0
        try:
            if req.kind == FORM:
                body = urllib.parse.urlencode(dict(req.form)).encode()
                resp = session.request("POST", req.path, body=body,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            else:
                resp = session.request("GET", req.path)
            length = len(resp.read())
            resp.release()
            status = str(resp.status_code)
            if resp.status_code >= 400:
                exc = RuntimeError(f"HTTP {status}")
        except (TimeoutError, gevent.Timeout) as err:
            status, exc = "timeout", err
        except OSError as err:  # refused, reset: the site is not answering
            status, exc = "connection_error", err
        done = self.now()
        response_s = max(done - intended_s, 0.0)
        self.recorder.request(done, response_s=response_s, status=status, document=req.kind != ASSET)
        self.fire_request(request_type=req.method, name=req.path, response_time=response_s * 1000,
                          response_length=length, exception=exc, context={"kind": req.kind})
        return exc is None
