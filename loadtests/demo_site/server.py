"""The demo site's life cycle: ``DemoSite`` binds, starts waitress and its threads, and stops them all.

Why this shape: a real small site (a few app-server workers behind a listen queue)
saturates in a known way, and a load test is only worth something if its target
saturates like that. Here the shape is explicit, so the site is an M/M/c/K queue
whose answers queueing theory can predict, on a maintained HTTP server:

* waitress (``transport.py``) accepts connections, reads each request completely
  and runs it on one of ``workers + queue_limit + SPARE_THREADS`` threads;
* the application (``app.py``) answers ``/healthz`` at once and puts every other
  request through a FIFO gate (``gate.py``) of c = ``workers`` slots and
  K = ``workers + queue_limit`` places: 503 with ``Retry-After: 1`` at once when
  full, else a wait in order, an exponential service time from the slot's own
  seeded random stream, and the real work (render, or commit a signature to SQLite
  before the 2xx);
* every response has ``Connection: close`` (one request per connection): a
  connection never holds a thread between requests, and each request meets the
  gate afresh. Chunked request bodies are accepted (waitress decodes them).

This module owns what ties them together: the store, one SQLite connection and one
random stream per slot, the loopback bind (``localhost`` prefers IPv4), the cap on
open connections below the descriptor limit, and a stop that answers what it holds,
joins every thread and frees the port.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import tempfile
import threading

from waitress.adjustments import Adjustments

from loadtests.demo_site.app import SiteApp
from loadtests.demo_site.config import (FD_RESERVE, MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_HEAD_BYTES, SPARE_THREADS,
                                        DemoSiteConfig, DemoSiteConfigError, is_loopback_host)
from loadtests.demo_site.store import SignatureStore
from loadtests.demo_site.transport import Dispatcher, SiteServer, serve

__all__ = ["DemoSite", "LISTEN_BACKLOG", "connection_limit"]

LISTEN_BACKLOG = 1024        # the kernel's accept queue (drained continuously by waitress)
DRAIN_S = 10.0               # at stop, the most the requests in hand may take to be answered


def connection_limit(workers: int) -> int:
    """Open connections allowed: below the descriptor limit by what the process itself needs."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    room = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else soft - FD_RESERVE - 2 * workers
    return max(8, min(MAX_CONNECTIONS, room))  # at 8 or fewer, EMFILE handling does the rest


class DemoSite:
    """A small advocacy site that saturates like a real one (see the module docstring).

    ``start()`` binds and returns the port; ``stop()`` closes everything and joins
    every thread; usable as ``with DemoSite(...) as site:``. The keyword
    arguments are those of :class:`DemoSiteConfig` (validated at once).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, workers: int = 4, service_ms: float = 20.0,
                 queue_limit: int = 64, db_path: str | os.PathLike | None = None, seed: int | None = None,
                 read_timeout_s: int = 10, times_log: str | os.PathLike | None = None) -> None:
        self.config = DemoSiteConfig(host=host, port=port, workers=workers, service_ms=service_ms,
                                     queue_limit=queue_limit, db_path=db_path, seed=seed,
                                     read_timeout_s=read_timeout_s, times_log=times_log)
        self._lock = threading.Lock()
        self._state = "new"  # new -> starting -> running -> stopping -> stopped
        self._stopping = threading.Event()      # cuts service times short; the app answers 503
        self._loop_stop = threading.Event()     # ends waitress's poll loop
        self._address: tuple[int, str, int] | None = None  # family, ip, port
        self._tmpdir: str | None = None
        self._store: SignatureStore | None = None
        self._writers = []
        self._app: SiteApp | None = None
        self._server: SiteServer | None = None
        self._dispatcher: Dispatcher | None = None
        self._loop: threading.Thread | None = None
        self._final_count: int | None = None

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
            self._writers = [self._store.writer() for _ in range(self.config.workers)]  # one per slot
            listener = self._bind()
        except BaseException:
            self._close_writers()
            self._remove_tmpdir()
            with self._lock:
                self._state = "stopped"
            raise
        try:
            c = self.config
            self._app = SiteApp(c, self._writers, self._stopping)
            adj = Adjustments(
                sockets=[listener], backlog=LISTEN_BACKLOG, ident="surge-demo-site (waitress)",
                threads=c.capacity + SPARE_THREADS,  # every place in the gate holds a thread; the spare answer 503s
                connection_limit=connection_limit(c.workers), channel_timeout=c.read_timeout_s,
                max_request_header_size=MAX_HEAD_BYTES, max_request_body_size=MAX_BODY_BYTES,
                asyncore_use_poll=True,              # select() fails past descriptor 1023
                log_socket_errors=False,             # a load-test client hanging up is not the server's fault
                clear_untrusted_proxy_headers=False,  # no proxy in front: no middleware either
                expose_tracebacks=False)
            self._dispatcher = Dispatcher()
            self._dispatcher.set_thread_count(adj.threads)
            sockname = listener.getsockname()
            self._server = SiteServer(self._app, on_bad_request=lambda: self._app.count("bad_requests"), map={},
                                      _sock=listener, dispatcher=self._dispatcher, adj=adj, bind_socket=False,
                                      sockinfo=(listener.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, sockname))
            self._loop = threading.Thread(target=serve, args=(self._server, self._loop_stop), name="demo-site-server",
                                          daemon=True)
            self._loop.start()
        except BaseException:  # e.g. no threads to be had: undo what was started
            if self._dispatcher is not None:
                self._dispatcher.shutdown(timeout=DRAIN_S)
            if self._server is not None:
                self._server.close_all()  # the listener and waitress's trigger
            listener.close()
            self._close_writers()
            if self._app is not None:
                self._app.close()
            self._remove_tmpdir()
            with self._lock:
                self._state = "stopped"
            raise
        with self._lock:
            self._state = "running"
        return self.port

    def stop(self) -> None:
        """Stop accepting, answer what is in hand (503 if its work had not begun), join every thread, close all."""
        with self._lock:
            if self._state != "running":
                return
            self._state = "stopping"
        self._server.listening = False   # the loop closes the listener on its next turn
        self._server.pull_trigger()
        self._stopping.set()             # a slot's service time is cut short: that request gets 503
        self._app.gate.close()           # every waiter gets 503 now
        self._dispatcher.wait_idle(DRAIN_S)  # real work (a commit) finishes and is answered
        self._loop_stop.set()
        self._server.pull_trigger()
        self._loop.join()                # it flushes the answers, then closes every socket
        self._dispatcher.shutdown(cancel_pending=True, timeout=DRAIN_S)
        self._dispatcher.join()
        self._close_writers()
        self._app.close()
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
        """Counters: requests queued, rejected (503, backlog full), served by workers, bad requests, health checks,
        and idle connections shed at the connection or descriptor limit."""
        if self._app is None:
            return {"queued": 0, "rejected": 0, "served": 0, "bad_requests": 0, "healthz": 0, "shed": 0}
        with self._app._lock:
            counts = dict(self._app.counts)
        return {**counts, "shed": self._server.shed}

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

    def _close_writers(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers = []

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
            self._address = (family, sock.getsockname()[0], sock.getsockname()[1])
        except BaseException:
            sock.close()
            raise
        return sock
