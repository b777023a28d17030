"""The demo site as a WSGI application: /healthz, the FIFO gate, the service time, the real work.

Waitress (see ``transport.py``) parses HTTP and hands each request to a thread;
this module decides what happens to it, which is the whole queueing model:

* ``/healthz`` is answered at once, without passing the gate, so readiness can be
  polled even under overload;
* every other request meets the :class:`~loadtests.demo_site.gate.FifoGate`: with K
  requests inside it gets ``503`` with ``Retry-After: 1`` at once; otherwise it
  waits, FIFO, for one of the c worker slots;
* holding slot ``i``, it sleeps a service time drawn, exponential with mean
  ``service_ms``, from slot ``i``'s own ``random.Random`` (seeded from the site's
  seed and ``i``; the honest simulation of CPU and I/O work: it occupies the slot
  but not the CPU), then does the real work with slot ``i``'s SQLite connection
  (render a page, or commit a signature: the commit is done before the 2xx).

``X-Service-Ms`` is the time the slot spent (sleep plus real work) and ``X-Queue-Ms``
the time spent waiting for the slot; both are 0 on a 503 at once and on /healthz.
At stop, waiters and sleepers are answered 503 and store nothing.
"""

from __future__ import annotations

import http
import logging
import random
import threading
import time
from typing import Callable, Iterable

from loadtests.demo_site.config import DemoSiteConfig
from loadtests.demo_site.gate import CLOSED, FULL, FifoGate
from loadtests.demo_site.pages import Response, route, text_response
from loadtests.demo_site.store import SignatureWriter

__all__ = ["SiteApp"]

log = logging.getLogger("loadtests.demo_site")

_VERSIONS = ("HTTP/1.0", "HTTP/1.1")  # waitress would serve any other version as 1.0; we refuse it


class SiteApp:
    """The WSGI callable; ``writers[i]`` is slot ``i``'s SQLite connection (used by one thread at a time)."""

    def __init__(self, config: DemoSiteConfig, writers: list[SignatureWriter], stopping: threading.Event) -> None:
        self.config = config
        self.gate = FifoGate(config.workers, config.capacity)
        self._writers = writers
        self._stopping = stopping
        seed = config.seed
        self._rngs = [random.Random(None if seed is None else f"surge-demo-site:{seed}:{i}")
                      for i in range(config.workers)]
        self._rate_per_s = 1000.0 / config.service_ms if config.service_ms > 0 else None
        self._lock = threading.Lock()
        self.counts = {"queued": 0, "rejected": 0, "served": 0, "bad_requests": 0, "healthz": 0}
        # Each request's time in its slot, so a test can see the slot's whole cycle: the service, the
        # real work, and the hand-over to the next waiting request (line-buffered: whole lines only).
        self._times = open(config.times_log, "a", buffering=1) if config.times_log else None

    def close(self) -> None:
        if self._times is not None:
            self._times.close()

    def count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        if environ.get("SERVER_PROTOCOL") not in _VERSIONS:
            self.count("bad_requests")
            resp = text_response(505, f"unsupported version {environ.get('SERVER_PROTOCOL')!r}\n")
            return self._answer(start_response, method, resp, 0.0, 0.0)
        if path == "/healthz":
            self.count("healthz")
            ok = method in ("GET", "HEAD")
            resp = text_response(200, "ok\n") if ok else text_response(405, "use GET\n", ("Allow", "GET, HEAD"))
            return self._answer(start_response, method, resp, 0.0, 0.0)
        body = environ["wsgi.input"].read()  # waitress has the whole body already (at most MAX_BODY_BYTES)
        arrived = time.perf_counter()
        slot = self.gate.enter()
        if slot == FULL:
            self.count("rejected")
            resp = text_response(503, "the site is busy, try again\n", ("Retry-After", "1"))
            return self._answer(start_response, method, resp, 0.0, 0.0)
        if slot == CLOSED:
            resp = text_response(503, "shutting down\n", ("Retry-After", "1"))
            return self._answer(start_response, method, resp, 0.0, _ms_since(arrived))
        self.count("queued")
        try:
            started = time.perf_counter()
            resp = self._serve(slot, method, path, _headers(environ), body)
            service_ms = _ms_since(started)
        finally:
            self.gate.leave(slot)
            if self._times is not None:
                with self._lock:
                    self._times.write(f"{slot} {started - _CLOCK_SHIFT:.6f} {time.perf_counter() - _CLOCK_SHIFT:.6f}\n")
        self.count("served")
        return self._answer(start_response, method, resp, service_ms, (started - arrived) * 1000.0)

    def _serve(self, slot: int, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        """The simulated service time first, then the real work (so a 503 at stop stored nothing)."""
        service_s = self._rngs[slot].expovariate(self._rate_per_s) if self._rate_per_s else 0.0
        if service_s > 0 and self._stopping.wait(service_s):
            return text_response(503, "shutting down\n", ("Retry-After", "1"))
        try:
            return route(method, path, headers=headers, body=body, store_signature=self._writers[slot].add)
        except Exception:  # a signature whose commit raised was not stored, so no 2xx
            log.exception("demo site: %s %s failed", method, path)
            return text_response(500, "internal error\n")

    @staticmethod
    def _answer(start_response: Callable, method: str, resp: Response, service_ms: float,
                queue_ms: float) -> list[bytes]:
        # Connection: close is added by the transport (a WSGI application may not set hop-by-hop headers).
        start_response(f"{resp.status} {http.HTTPStatus(resp.status).phrase}", [
            ("Content-Type", resp.content_type),
            ("Content-Length", str(len(resp.body))),
            ("X-Service-Ms", f"{service_ms:.3f}"),
            ("X-Queue-Ms", f"{queue_ms:.3f}"),
            *resp.headers,
        ])
        return [b"" if method == "HEAD" else resp.body]


# perf_counter to monotonic seconds (the times log's clock, one for every process)
_CLOCK_SHIFT = time.perf_counter() - time.monotonic()


def _ms_since(t: float) -> float:
    return (time.perf_counter() - t) * 1000.0


def _headers(environ: dict) -> dict[str, str]:
    """The request's headers, lower-cased, as the routes read them."""
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers
