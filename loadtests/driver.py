"""The open-workload driver: carries out a :class:`sim.loadtest.schedule.LoadPlan` with gevent.

Locust's users are a closed loop (a user waits for its response before its next
request), so a slow site slows the load and hides itself. Here one driver per
process starts a greenlet per *arrival* at its planned time, whatever the site's
speed: an open workload, as a surge is. Latency is measured from each request's
intended start, so a late greenlet does not hide the site's slowness (no coordinated
omission), and each request's lag (actual send minus planned send) is recorded too, so
a generator that falls behind its schedule is caught instead of charged to the site
(``sim.loadtest.stats.generator_verdict``). When ``max_concurrent`` visitors are in
flight an arrival is dropped and counted, as k6's ``dropped_iterations``. A visitor
that dies of an error in the driver itself (not an HTTP error: a bug, a request the
client cannot build) is a failed visitor, and its error is counted by kind
(``LoadRecorder.driver_error``), never a visitor silently gone.
"""

from __future__ import annotations

import gc
import http.client
import ipaddress
import logging
import time
import urllib.parse

import gevent
import gevent.pool
import gevent.socket
import numpy as np
from geventhttpclient import HTTPClient

from sim.loadtest.host import check_host
from sim.loadtest.schedule import ASSET, DOCUMENT, FORM, LoadPlan, Visit
from sim.loadtest.stats import LoadRecorder

__all__ = ["Driver"]

_CHUNK = 500  # visitors' journeys are drawn a chunk at a time
_PROBE_S = 0.01  # the event-loop lag probe wakes every 10 ms
_MEMO_MAX = 4096  # request heads kept (a site's few paths and forms; bounded all the same)
log = logging.getLogger("surge")


class _Client(HTTPClient):
    """geventhttpclient's client, less two costs paid again by every visitor for the same answer.

    * The request head (method, path, the client's headers, ``Host``) is the same bytes for every
      visitor of a driver: it is built by geventhttpclient once per distinct request and kept
      (building checks the method, path and each header against regular expressions).
    * A numeric host (``127.0.0.1``, ``::1``) resolves to itself, but gevent's resolver hands every
      lookup to a thread pool: a hand-over and back per new connection, a fifth of a visitor's CPU on
      loopback (benchmarks/README.md). Its answer is taken once and given to each new connection.
      A host *name* is still resolved per connection, as before (DNS may spread the visitors).
    Everything else (the connection, keep-alive within a visit, retries, timeouts, errors) is
    geventhttpclient's own ``request``.
    """

    def __init__(self, host: str, port: int | None, *, memo: dict, addrinfo: list | None, **kw) -> None:
        super().__init__(host, port, **kw)
        self._memo = memo
        pool = getattr(self, "_connection_pool", None)  # geventhttpclient's (were it renamed: looked up as before)
        if addrinfo is not None and pool is not None:
            pool._resolve = lambda: addrinfo  # what its _resolve would answer for this numeric host

    def _build_request(self, method, request_uri, body=b"", headers=None, chunked=None):
        key = (method, request_uri, body, chunked, tuple(headers.items()) if headers else ())
        head = self._memo.get(key)
        if head is None:
            head = super()._build_request(method, request_uri, body=body, headers=headers, chunked=chunked)
            if len(self._memo) < _MEMO_MAX:
                self._memo[key] = head
        return head


class Driver:
    def __init__(self, *, plan: LoadPlan, host: str, index: int, drivers: int, seed: int,
                 max_concurrent: int, request_timeout_s: float, fire_request, on_error=None) -> None:
        self.plan = plan
        self.host = check_host(host)  # the routes checked it already: a host none of them saw is refused here
        self._url = urllib.parse.urlsplit(self.host)
        self._prefix = self._url.path  # the scenario's paths go under the host's own path, as the user wrote it
        self._memo: dict = {}  # request heads, shared by this driver's visitors (see _Client)
        self._addrinfo: list | None = None  # a numeric host's address, looked up once (see _Client)
        self.share = 1.0 / drivers
        # Driver i of n draws its own thinned Poisson stream: together they are the whole one.
        streams = np.random.SeedSequence(seed).spawn(drivers)[index].spawn(2)
        self.rng_arrivals, self.rng_visits = (np.random.default_rng(s) for s in streams)
        self.max_concurrent = max(1, int(max_concurrent))
        self.request_timeout_s = request_timeout_s
        self.fire_request = fire_request  # locust's request event, so its own stats see every request
        self.on_error = on_error  # told of each visitor that died of an error in the driver (locust's user_error)
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
        arrivals = self.plan.arrivals(self.rng_arrivals, share=self.share).tolist()  # floats: no numpy scalars
        self._addrinfo = self._numeric_addrinfo()
        # The heap as it is now (locust, the plan, the modules: ~60 k objects) is left out of the cyclic
        # GC's full collections while the plan plays: each would stall the event loop 20-45 ms on this
        # machine, every few seconds at 3 k visitors/s, and show as the generator's lag.
        thaw = gc.get_freeze_count() == 0  # under --processes locust froze it before forking: leave that as is
        gc.collect()
        gc.freeze()
        try:
            group = gevent.pool.Group()
            self.t0 = time.monotonic()
            self.recorder.started_unix_s = time.time()
            probe = gevent.spawn(self._loop_lag)
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
                group.spawn(self._visit, visits[i % _CHUNK], t)
            group.join(timeout=0 if self.stopped else drain_s)
            group.kill(block=True, timeout=5)
            probe.kill(block=True, timeout=5)
            self.complete = not self.stopped
        finally:
            if thaw:
                gc.unfreeze()
        return self.recorder

    def _loop_lag(self) -> None:
        """How late this process's event loop wakes a greenlet: when the generator's CPU is saturated,
        answers are read late too, which no send time shows."""
        while True:
            planned = self.now() + _PROBE_S
            gevent.sleep(_PROBE_S)
            self.recorder.loop_lag.add(max(self.now() - planned, 0.0))

    def _numeric_addrinfo(self) -> list | None:
        """The host's address list when the host is an IP address (it resolves to itself), else None."""
        url = self._url
        try:
            ipaddress.ip_address(url.hostname or "")
        except ValueError:
            return None  # a name: resolved per connection, as a visitor's browser would
        port = url.port or (443 if url.scheme == "https" else 80)
        # The lookup geventhttpclient's pool makes for each connection, made once.
        return gevent.socket.getaddrinfo(url.hostname, port, 0, gevent.socket.SOCK_STREAM, gevent.socket.SOL_TCP)

    def _client(self) -> HTTPClient:
        # geventhttpclient, as locust's FastHttpUser: a fraction of requests' CPU per request, so the
        # load generator leaves the machine to the site under test.
        url = self._url
        return _Client(url.hostname, url.port, memo=self._memo, addrinfo=self._addrinfo, ssl=url.scheme == "https",
                       connection_timeout=self.request_timeout_s, network_timeout=self.request_timeout_s)

    def _visit(self, visit: Visit, start_s: float) -> None:
        rec = self.recorder
        session = None
        lost = False  # counted as a failed visitor already
        try:
            session = self._client()  # a new visitor opens new connections
            intended = start_s
            for k, (think, doc, assets) in enumerate(visit.steps):
                if k > 0:
                    intended = self.now() + think
                    gevent.sleep(think)
                rec.count("page_views", max(intended, 0.0))
                ok = self._send(session, doc, intended)
                if not ok:
                    lost = True
                    rec.count("visitors_failed", self.now())
                    if visit.intends_action:
                        rec.count("actions_lost", self.now())
                    return
                rec.count("completed" if doc.kind == DOCUMENT else "actions_completed", self.now())
                for asset in assets:  # after the document, as a browser does
                    self._send(session, asset, self.now())
            rec.count("visitors_served", self.now())
        except Exception as err:  # noqa: BLE001 - the driver's own error: the visitor is lost, and says why
            if not lost:
                rec.count("visitors_failed", self.now())
                if visit.intends_action:
                    rec.count("actions_lost", self.now())
            if rec.driver_error(self.now(), err) == 1:  # each kind of error logged in full once
                log.error("surge: a visitor died of an error in the load generator (counted as lost): %s",
                          err, exc_info=err)
            if self.on_error is not None:
                self.on_error(err)
        finally:
            if session is not None:
                session.close()
            self.active -= 1

    def _send(self, session: HTTPClient, req, intended_s: float) -> bool:
        exc = None
        length = 0
        lag_s = self.now() - intended_s  # the generator's own delay: planned send to actual send
        path = self._prefix + req.path
        try:
            if req.kind == FORM:
                body = urllib.parse.urlencode(dict(req.form)).encode()
                resp = session.request("POST", path, body=body,
                                       headers={"Content-Type": "application/x-www-form-urlencoded"})
            else:
                resp = session.request("GET", path)
            length = len(resp.read())
            resp.release()
            status = str(resp.status_code)
            if resp.status_code >= 400:
                exc = RuntimeError(f"HTTP {status}")
        except (TimeoutError, gevent.Timeout) as err:
            status, exc = "timeout", err
        except OSError as err:  # refused, reset: the site is not answering
            status, exc = "connection_error", err
        except http.client.HTTPException as err:  # an answer that is not HTTP: the site's failure, not the driver's
            status, exc = "bad_response", err
        done = self.now()
        response_s = max(done - intended_s, 0.0)
        self.recorder.request(done, response_s=response_s, status=status, document=req.kind != ASSET, lag_s=lag_s)
        self.fire_request(request_type=req.method, name=req.path, response_time=response_s * 1000,
                          response_length=length, exception=exc, context={"kind": req.kind})
        return exc is None
