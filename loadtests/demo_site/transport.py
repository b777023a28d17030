"""The demo site's HTTP: waitress, with the few changes the site needs at its limits.

Waitress (pure Python, threads) parses requests, buffers bodies, enforces the
head and body limits (431, 413), and runs the application on its threads. What
this module adds, each by a subclass of a waitress class (so waitress is pinned
below its next major version in pyproject.toml):

* **one request per connection**: every response carries ``Connection: close``
  and the connection is closed after it, as the site always did; a connection
  never holds a thread between requests, and each request meets the gate afresh;
* **the fd limit**: plain waitress, out of file descriptors (EMFILE), finds the
  listener readable again at once and logs a traceback per try (measured: 93 %
  CPU and 80 MB of log in 30 s, /healthz never answered). Here a failed accept
  sheds the longest-idle connection (one that has sent no complete request for
  ``SHED_IDLE_S``), or else pauses accepting with a growing backoff
  (``BACKOFF_MIN_S`` .. ``BACKOFF_MAX_S``). Open connections are also capped
  below the fd limit (``connection_limit``), where the same shedding applies, so
  EMFILE is the exception, not the rule;
* **idle connections**: waitress's ``channel_timeout`` (the site's
  ``read_timeout_s``) closes a connection idle that long; its sweep runs every
  ``SWEEP_S`` instead of waitress's 30 s, so the timeout is kept to within that;
* **accepting a crowd**: up to ``ACCEPT_BATCH`` connections per turn of the loop,
  not one (each turn costs time in proportion to the open connections);
* **bounded logging**: waitress's messages and ours go through :class:`QuietLog`,
  which writes each kind of message at most once per ``LOG_WINDOW_S`` and says
  how many it held back;
* **a loop that stops**: :func:`serve` runs waitress's poll loop (``poll``, not
  ``select``, which fails past descriptor 1023) until told to stop, then flushes
  what is left to send, within ``FLUSH_S``, and closes every socket.
"""

from __future__ import annotations

import errno
import logging
import threading
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

__all__ = ["QuietLog", "SiteServer", "Dispatcher", "serve", "SHED_IDLE_S", "SWEEP_S"]

SHED_IDLE_S = 0.25      # a connection silent this long is idle, not a request in flight (the site is loopback only)
BACKOFF_MIN_S = 0.005   # the first pause when nothing can be shed; doubled on each failure in a row
BACKOFF_MAX_S = 0.1     # at most ten tries a second: no spinning, and a freed descriptor is used soon
SWEEP_S = 1.0           # how often connections past read_timeout_s are looked for (each look costs O(open))
ACCEPT_BATCH = 64       # connections accepted per turn of the loop at most
LOG_WINDOW_S = 10.0     # each kind of message at most once per this
FLUSH_S = 2.0           # at stop, how long answers already written may take to leave
_OUT_OF_DESCRIPTORS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class QuietLog:
    """A logger that writes each kind of message (its first 60 characters) at most once per window.

    The number of kinds is bounded too (``max_kinds``; the rest share one), so a
    flood of distinct messages (waitress puts request paths in some) stays bounded.
    """

    def __init__(self, logger: logging.Logger, *, window_s: float = LOG_WINDOW_S, max_kinds: int = 32) -> None:
        self._logger = logger
        self._window_s = window_s
        self._max_kinds = max_kinds
        self._lock = threading.Lock()
        self._kinds: dict[str, list] = {}  # kind -> [last written (monotonic), held back since]

    def log(self, level: int, msg: str, *args, **kwargs) -> None:
        if not self._logger.isEnabledFor(level):
            return
        kind = str(msg)[:60]
        now = time.monotonic()
        with self._lock:
            if kind not in self._kinds and len(self._kinds) >= self._max_kinds:
                kind = "(other)"
            entry = self._kinds.setdefault(kind, [-self._window_s, 0])
            if now - entry[0] < self._window_s:
                entry[1] += 1
                return
            held, entry[0], entry[1] = entry[1], now, 0
        if held:
            msg, args = f"{msg} (%d like it held back in the last %g s)", (*args, held, self._window_s)
        self._logger.log(level, msg, *args, **kwargs)

    def debug(self, msg, *args, **kw): self.log(logging.DEBUG, msg, *args, **kw)
    def info(self, msg, *args, **kw): self.log(logging.INFO, msg, *args, **kw)
    def warning(self, msg, *args, **kw): self.log(logging.WARNING, msg, *args, **kw)
    def error(self, msg, *args, **kw): self.log(logging.ERROR, msg, *args, **kw)
    def critical(self, msg, *args, **kw): self.log(logging.CRITICAL, msg, *args, **kw)
    def exception(self, msg, *args, **kw): self.log(logging.ERROR, msg, *args, exc_info=True, **kw)


LOG = QuietLog(logging.getLogger("loadtests.demo_site"))


class _OneRequestTask(WSGITask):
    logger = LOG

    def build_response_header(self):
        # Treat every request as if it asked to close: waitress then adds Connection: close and
        # closes after the response, for HTTP/1.0 (even with keep-alive) and HTTP/1.1 alike.
        self.request.headers["CONNECTION"] = "close"
        return super().build_response_header()

    def get_environment(self):
        # Waitress answers an unknown version (HTTP/2.0) as 1.0; let the application see what was asked (505).
        environ = super().get_environment()
        environ["SERVER_PROTOCOL"] = f"HTTP/{self.request.version}"
        return environ


class _CountedErrorTask(ErrorTask):
    """Waitress's answer to a request it could not parse (400, 413, 431, ...), counted by the site."""

    logger = LOG

    def execute(self):
        self.channel.server.on_bad_request()
        super().execute()


class _Channel(HTTPChannel):
    logger = LOG
    task_class = _OneRequestTask
    error_task_class = _CountedErrorTask


class _Counted:
    """A queued channel, so that the dispatcher knows when every request it was given is answered."""

    __slots__ = ("task", "dispatcher")

    def __init__(self, task, dispatcher: "Dispatcher") -> None:
        self.task, self.dispatcher = task, dispatcher

    def service(self) -> None:
        try:
            self.task.service()
        finally:
            self.dispatcher.done()

    def cancel(self) -> None:
        try:
            self.task.cancel()
        finally:
            self.dispatcher.done()


class Dispatcher(ThreadedTaskDispatcher):
    """Waitress's thread pool with named threads that ``join()`` waits for, and ``wait_idle()``."""

    logger = LOG
    queue_logger = LOG

    def __init__(self) -> None:
        super().__init__()
        self.thread_objects: list[threading.Thread] = []
        self._pending = 0
        self._idle = threading.Condition()

    def start_new_thread(self, target, thread_no):
        thread = threading.Thread(target=target, name=f"demo-site-thread-{thread_no}", args=(thread_no,),
                                  daemon=True)
        self.thread_objects.append(thread)
        thread.start()

    def add_task(self, task):
        with self._idle:
            self._pending += 1
        super().add_task(_Counted(task, self))

    def done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every request handed to the pool has been answered; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def join(self) -> None:
        for thread in self.thread_objects:
            thread.join()


class SiteServer(TcpWSGIServer):
    """Waitress's TCP server on a socket we bound, with shedding, backoff and a fast idle sweep."""

    logger = LOG
    channel_class = _Channel

    def __init__(self, application, *, on_bad_request, **kwargs) -> None:
        self.on_bad_request = on_bad_request
        self.listening = True
        self.shed = 0                 # idle connections closed to make room
        self._paused_until = 0.0
        self._backoff_s = 0.0
        self._next_sweep = 0.0
        self._trigger_guard = threading.Lock()
        self._trigger_closed = False
        super().__init__(application, **kwargs)

    def pull_trigger(self):
        # Once serve() has closed the trigger its descriptor number may belong to another file:
        # writing the wake-up byte there could corrupt it, so a late pull (stop(), a thread) is dropped.
        with self._trigger_guard:
            if not self._trigger_closed:
                super().pull_trigger()

    def close_all(self) -> None:
        """Close every socket: the listener, the trigger, every connection."""
        with self._trigger_guard:
            self._trigger_closed = True
            wasyncore.close_all(self._map)

    def readable(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_S
            self.maintenance(time.time())  # waitress: close connections idle past channel_timeout
        return self.accepting and self.listening and now >= self._paused_until

    def next_timeout(self, default_s: float) -> float:
        """How long the poll may sleep: until the next sweep, or the end of a pause."""
        now = time.monotonic()
        ends = [self._next_sweep] + ([self._paused_until] if self._paused_until > now else [])
        return max(0.0, min(default_s, min(ends) - now))

    def handle_accept(self):
        # Several per turn: each turn of the loop costs time in proportion to the open connections,
        # so one accept per turn (waitress's way) falls behind a crowd (10,000 idle ones, measured).
        for _ in range(ACCEPT_BATCH):
            if not self._accept_one():
                return

    def _accept_one(self) -> bool:
        """Accept one connection; False when there is none, or none may be taken this turn."""
        if len(self.active_channels) >= self.adj.connection_limit:
            if not self._shed_idlest():
                self._pause("the connection limit (%d) is reached and no connection is idle",
                            self.adj.connection_limit)
            return False
        try:
            conn, addr = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return False
        except OSError as err:
            if err.errno not in _OUT_OF_DESCRIPTORS:
                self.logger.warning("demo site: accept failed: %s", err)
            elif not self._shed_idlest():
                self._pause("accept failed (%s) and no connection is idle", err.strerror)
            return False
        self._backoff_s = 0.0
        try:
            self.set_socket_options(conn)
            self.channel_class(self, conn, addr, self.adj, map=self._map)
        except OSError:  # the client left already
            conn.close()
        return True

    def _shed_idlest(self) -> bool:
        """Close the connection that has been silent longest (at least SHED_IDLE_S, no request in hand)."""
        cutoff = time.time() - SHED_IDLE_S
        idle = [ch for ch in self.active_channels.values()
                if not (ch.requests or ch.will_close or ch.close_when_flushed or ch.total_outbufs_len)
                and ch.last_activity <= cutoff]
        if not idle:
            return False
        # Accept only on the next turn of the loop: a descriptor freed now and reused at once could
        # meet the readiness that this turn's poll reported for the connection it replaced.
        min(idle, key=lambda ch: ch.last_activity).handle_close()
        self.shed += 1
        self.logger.warning("demo site: at the connection or descriptor limit: closed the longest-idle "
                            "connection (%d so far)", self.shed)
        return True

    def _pause(self, why: str, *args) -> None:
        self._backoff_s = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, 2 * self._backoff_s))
        self._paused_until = time.monotonic() + self._backoff_s
        self.logger.warning("demo site: " + why + "; accepting again in %.0f ms", *args, 1000 * self._backoff_s)


def serve(server: SiteServer, stop: threading.Event, *, loop_timeout_s: float = 1.0) -> None:
    """Waitress's poll loop until ``stop`` is set (then ``server.pull_trigger()`` wakes it); closes all."""
    socket_map = server._map
    try:
        while not stop.is_set():
            wasyncore.poll2(server.next_timeout(loop_timeout_s), socket_map)
            if not server.listening and server.accepting:  # stop() began: refuse new connections now
                wasyncore.dispatcher.close(server)  # the listener only (the server's close() takes the trigger too)
        # Let answers already written leave (each request has its own connection, closed after it).
        deadline = time.monotonic() + FLUSH_S
        while time.monotonic() < deadline and any(
                ch.total_outbufs_len or ch.close_when_flushed for ch in list(server.active_channels.values())):
            wasyncore.poll2(0.05, socket_map)
    finally:
        server.close_all()
