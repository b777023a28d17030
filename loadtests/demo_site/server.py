"""The demo site's server: an acceptor, a bounded FIFO backlog and a fixed pool of workers.

Why this shape: a real small site (a few app-server workers behind a listen queue)
saturates in a known way, and a load test is only worth something if its target
saturates like that. Here the shape is explicit, so the site is an M/M/c/K queue
whose answers queueing theory can predict:

* one **acceptor** thread (a ``selectors`` loop) accepts connections and reads each
  request completely (head and body, non-blocking, many at once). ``/healthz``
  is answered right there, bypassing the pool, so readiness can be polled even
  under overload. Any other request goes into the **backlog**, a FIFO of at most
  ``queue_limit`` requests; when it is full the acceptor answers
  ``503 Service Unavailable`` with ``Retry-After: 1`` at once (like a proxy's
  queue limit), so an overloaded site fails fast instead of hanging;
* ``workers`` **worker** threads take requests in order. Each draws a service time,
  exponential with mean ``service_ms``, from its own ``random.Random``, sleeps it
  (the honest simulation of CPU and I/O work: it occupies the worker but not the
  CPU), then does the request's real work (render, or commit a signature) and
  answers. ``X-Service-Ms`` reports the time the worker spent on the request
  (sleep plus real work) and ``X-Queue-Ms`` the time it waited in the backlog.

So c = ``workers`` and K = ``workers + queue_limit``. With a seed, each worker's
draws are reproducible, though which request meets which draw depends on thread
scheduling.

Every response has ``Connection: close`` (one request per connection). That is
simpler than keep-alive and keeps the model exact: a connection never holds a
worker between requests, and each request meets the backlog afresh. Clients
(browsers, ``requests``, locust) open a new connection for the next request.
Chunked request bodies are refused (411); a request carries Content-Length.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import selectors
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field

from loadtests.demo_site.config import DemoSiteConfig, DemoSiteConfigError, is_loopback_host
from loadtests.demo_site.pages import Response, route, text_response
from loadtests.demo_site.store import SignatureStore
from loadtests.demo_site.wire import MAX_HEAD_BYTES, BadRequest, parse_head, send_response

__all__ = ["DemoSite", "READ_TIMEOUT_S", "MAX_READING"]

log = logging.getLogger(__name__)

MAX_READING = 1024           # connections being read at once; beyond, new ones wait in the kernel
READ_TIMEOUT_S = 10.0        # a request must arrive completely within this, or 408
LISTEN_BACKLOG = 1024        # the kernel's accept queue (drained continuously by the acceptor)
_TICK_S = 0.25               # the acceptor's select timeout, for read timeouts and stop()


@dataclass(eq=False)
class _Conn:
    """A connection the acceptor is reading a request from."""

    sock: socket.socket
    since: float
    buf: bytearray = field(default_factory=bytearray)
    head_end: int = -1
    method: str = ""
    path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body_len: int = 0


@dataclass(eq=False)
class _Request:
    """A complete request in the backlog."""

    sock: socket.socket
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    enqueued_at: float


class DemoSite:
    """A small advocacy site that saturates like a real one (see the module docstring).

    ``start()`` binds and returns the port; ``stop()`` closes everything and joins
    every thread; usable as ``with DemoSite(...) as site:``. The keyword
    arguments are those of :class:`DemoSiteConfig` (validated at once).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, workers: int = 4, service_ms: float = 20.0,
                 queue_limit: int = 64, db_path: str | os.PathLike | None = None, seed: int | None = None) -> None:
        self.config = DemoSiteConfig(host=host, port=port, workers=workers, service_ms=service_ms,
                                     queue_limit=queue_limit, db_path=db_path, seed=seed)
        self._lock = threading.Lock()
        self._state = "new"  # new -> starting -> running -> stopping -> stopped
        self._stopping = threading.Event()
        self._backlog: queue.Queue[_Request | None] = queue.Queue(maxsize=self.config.queue_limit)
        self._threads: list[threading.Thread] = []
        self._address: tuple[int, str, int] | None = None  # family, ip, port
        self._tmpdir: str | None = None
        self._store: SignatureStore | None = None
        self._final_count: int | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._counts = {"queued": 0, "rejected": 0, "served": 0, "bad_requests": 0, "healthz": 0}

    # ----- public API -----

    def start(self) -> int:
        """Create the store, bind, start the threads; the port actually bound."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"DemoSite.start(): the site is {self._state}; a site starts once")
            self._state = "starting"
        try:
            path = self.config.db_path
            if path is None:
                self._tmpdir = tempfile.mkdtemp(prefix="surge-demo-site-")
                path = os.path.join(self._tmpdir, "signatures.sqlite3")
            self._store = SignatureStore(path)
            self._store.create()
            listener = self._bind()
        except BaseException:
            self._remove_tmpdir()
            with self._lock:
                self._state = "stopped"
            raise
        self._wake = socket.socketpair()
        for sock in self._wake:
            sock.setblocking(False)
        self._threads = [threading.Thread(target=self._accept_loop, args=(listener,),
                                          name="demo-site-acceptor", daemon=True)]
        self._threads += [threading.Thread(target=self._work, args=(i,), name=f"demo-site-worker-{i}", daemon=True)
                          for i in range(self.config.workers)]
        for thread in self._threads:
            thread.start()
        with self._lock:
            self._state = "running"
        return self.port

    def stop(self) -> None:
        """Stop accepting, answer waiting requests 503, let workers finish, join every thread, close all."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "stopping"
        self._stopping.set()  # also cuts short a worker's simulated service time (that request gets 503)
        try:
            self._wake[1].send(b"x")
        except OSError:
            pass
        self._threads[0].join()  # the acceptor closes the listener and every half-read connection
        while True:
            try:
                req = self._backlog.get_nowait()
            except queue.Empty:
                break
            if req is not None:
                send_response(req.sock, text_response(503, "shutting down\n", ("Retry-After", "1")),
                              head_only=req.method == "HEAD", service_ms=0.0,
                              queue_ms=self._ms_since(req.enqueued_at))
        for thread in self._threads[1:]:  # one None per worker: each takes one after the request it holds
            while thread.is_alive():
                try:
                    self._backlog.put(None, timeout=_TICK_S)
                    break
                except queue.Full:
                    continue
        for thread in self._threads[1:]:
            thread.join()
        for sock in self._wake:
            sock.close()
        self._final_count = self._store.count()
        self._remove_tmpdir()
        with self._lock:
            self._state = "stopped"

    @property
    def port(self) -> int:
        if self._address is None:
            raise RuntimeError("DemoSite.port: the site has not been started")
        return self._address[2]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the bound address; IPv6 in brackets), no trailing slash."""
        if self._address is None:
            raise RuntimeError("DemoSite.url: the site has not been started")
        family, ip, port = self._address
        return f"http://[{ip}]:{port}" if family == socket.AF_INET6 else f"http://{ip}:{port}"

    def signatures(self) -> int:
        """Signatures stored (committed rows); after ``stop()``, the count at stop."""
        if self._final_count is not None:
            return self._final_count
        return self._store.count() if self._store is not None else 0

    def stats(self) -> dict[str, int]:
        """Counters: requests queued, rejected (503, backlog full), served by workers, bad requests, health checks."""
        with self._lock:
            return dict(self._counts)

    def __enter__(self) -> "DemoSite":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._address else "not started"
        c = self.config
        return f"DemoSite({where}, workers={c.workers}, service_ms={c.service_ms:g}, queue_limit={c.queue_limit})"

    # ----- internals -----

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    @staticmethod
    def _ms_since(t: float) -> float:
        return (time.perf_counter() - t) * 1000.0

    def _remove_tmpdir(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _bind(self) -> socket.socket:
        """A listening socket on the configured loopback host (``localhost`` prefers IPv4)."""
        host, port = self.config.host.strip("[]"), self.config.port
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        infos = [i for i in infos if i[0] in (socket.AF_INET, socket.AF_INET6) and is_loopback_host(i[4][0])]
        if not infos:
            raise DemoSiteConfigError("host", f"{self.config.host!r} does not resolve to a loopback address")
        family, _, _, _, sockaddr = sorted(infos, key=lambda i: i[0] != socket.AF_INET)[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart on a fixed port at once
            sock.bind(sockaddr)
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
            self._address = (family, sock.getsockname()[0], sock.getsockname()[1])
        except BaseException:
            sock.close()
            raise
        return sock

    def _accept_loop(self, listener: socket.socket) -> None:
        """The acceptor: read requests, answer /healthz, queue the rest or answer 503 at once."""
        sel = selectors.DefaultSelector()
        reading: dict[socket.socket, _Conn] = {}
        sel.register(listener, selectors.EVENT_READ, "listener")
        sel.register(self._wake[0], selectors.EVENT_READ, "wake")
        listening = True
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=_TICK_S):
                    if key.data == "listener":
                        while len(reading) < MAX_READING:
                            try:
                                sock, _addr = listener.accept()
                            except (BlockingIOError, InterruptedError):
                                break
                            except OSError as err:  # e.g. out of file descriptors: try again next tick
                                log.warning("demo site: accept failed: %s", err)
                                break
                            sock.setblocking(False)
                            reading[sock] = _Conn(sock=sock, since=time.monotonic())
                            sel.register(sock, selectors.EVENT_READ, "conn")
                    elif key.data == "wake":
                        try:
                            self._wake[0].recv(64)
                        except OSError:
                            pass
                    else:
                        self._read(reading[key.fileobj], reading, sel)
                now = time.monotonic()
                for conn in [c for c in reading.values() if now - c.since > READ_TIMEOUT_S]:
                    self._finish(conn, reading, sel, text_response(408, "request not received in time\n"))
                if listening and len(reading) >= MAX_READING:
                    sel.unregister(listener)
                    listening = False
                elif not listening and len(reading) < MAX_READING:
                    sel.register(listener, selectors.EVENT_READ, "listener")
                    listening = True
        finally:
            for conn in list(reading.values()):
                sel.unregister(conn.sock)
                conn.sock.close()
            sel.close()
            listener.close()

    def _finish(self, conn: _Conn, reading: dict, sel: selectors.BaseSelector, resp: Response | None) -> None:
        """Stop reading ``conn``; answer it now if ``resp`` is given, else just close it."""
        sel.unregister(conn.sock)
        del reading[conn.sock]
        if resp is None:
            conn.sock.close()
        else:
            send_response(conn.sock, resp, head_only=conn.method == "HEAD", service_ms=0.0, queue_ms=0.0)

    def _read(self, conn: _Conn, reading: dict, sel: selectors.BaseSelector) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left before sending a whole request
            self._finish(conn, reading, sel, None)
            return
        conn.buf += data
        if conn.head_end < 0:
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.buf) > MAX_HEAD_BYTES:
                    self._count("bad_requests")
                    self._finish(conn, reading, sel, text_response(431, "request head too large\n"))
                return
            try:
                conn.method, conn.path, conn.headers, conn.body_len = parse_head(bytes(conn.buf[:end]))
            except BadRequest as err:
                self._count("bad_requests")
                self._finish(conn, reading, sel, text_response(err.status, f"{err}\n"))
                return
            conn.head_end = end + 4
            waiting_for_body = len(conn.buf) < conn.head_end + conn.body_len
            if waiting_for_body and conn.headers.get("expect", "").lower() == "100-continue":
                try:
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass
        if len(conn.buf) < conn.head_end + conn.body_len:
            return
        body = bytes(conn.buf[conn.head_end:conn.head_end + conn.body_len])
        if conn.path == "/healthz":
            self._count("healthz")
            ok = conn.method in ("GET", "HEAD")
            resp = text_response(200, "ok\n") if ok else text_response(405, "use GET\n", ("Allow", "GET, HEAD"))
            self._finish(conn, reading, sel, resp)
            return
        sel.unregister(conn.sock)
        del reading[conn.sock]
        req = _Request(sock=conn.sock, method=conn.method, path=conn.path, headers=conn.headers, body=body,
                       enqueued_at=time.perf_counter())
        try:
            self._backlog.put_nowait(req)
        except queue.Full:
            self._count("rejected")
            send_response(req.sock, text_response(503, "the site is busy, try again\n", ("Retry-After", "1")),
                  head_only=req.method == "HEAD", service_ms=0.0, queue_ms=0.0)
            return
        self._count("queued")

    def _work(self, index: int) -> None:
        """A worker: take the oldest request, spend its service time, answer; until a None arrives."""
        seed = self.config.seed
        rng = random.Random(None if seed is None else f"surge-demo-site:{seed}:{index}")
        rate_per_s = 1000.0 / self.config.service_ms if self.config.service_ms > 0 else None
        writer = self._store.writer()
        try:
            while True:
                req = self._backlog.get()
                if req is None:
                    return
                self._serve(req, rng, rate_per_s, writer)
        finally:
            writer.close()

    def _serve(self, req: _Request, rng: random.Random, rate_per_s: float | None, writer) -> None:
        """One request: the simulated service time first, then the real work (so a 503 at stop stored nothing)."""
        started = time.perf_counter()
        queue_ms = (started - req.enqueued_at) * 1000.0
        service_s = rng.expovariate(rate_per_s) if rate_per_s else 0.0
        if service_s > 0 and self._stopping.wait(service_s):
            resp = text_response(503, "shutting down\n", ("Retry-After", "1"))
        else:
            try:
                resp = route(req.method, req.path, headers=req.headers, body=req.body, store_signature=writer.add)
            except Exception:  # a signature whose commit raised was not stored, so no 2xx
                log.exception("demo site: %s %s failed", req.method, req.path)
                resp = text_response(500, "internal error\n")
        self._count("served")
        send_response(req.sock, resp, head_only=req.method == "HEAD", service_ms=self._ms_since(started),
                      queue_ms=queue_ms)
