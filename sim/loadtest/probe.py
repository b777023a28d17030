"""An open-loop HTTP probe for calibration: Poisson arrivals at a set rate, from plain threads.

No gevent and no locust: ``surge calibrate`` runs it in its own process. Each request
is timed from its *intended* start (its planned arrival), so a client that falls
behind does not hide a slow site. One connection per request, as a new visitor's.

``open_load(..., ping_path=P)`` interleaves a second Poisson stream, of GETs of a path
the site answers without app work, at the same rate: timed the same way, under the same
load on the client's and the server's CPUs, their mean is what a response costs apart
from the service (the network, the HTTP stack on both sides, the client's own lateness).
A round trip measured once before the load, on an idle machine, is a fraction of that
when the generator and the server share a few busy cores.
"""

from __future__ import annotations

import http.client
import math
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

__all__ = ["Sample", "open_load", "connect_times", "ping_times", "NO_ANSWER", "CONNECTION_ERROR"]

NO_ANSWER, CONNECTION_ERROR = 0, -1  # a Sample's status when no HTTP answer came


@dataclass(frozen=True, kw_only=True)
class Sample:
    intended_s: float  # since the step's start
    sent_s: float  # when it really left (a busy client sends late), since the step's start
    response_s: float  # from the intended start to the last byte
    status: int  # NO_ANSWER (0): timed out; CONNECTION_ERROR (-1): refused or reset before an answer
    connect_s: float = math.nan  # the connection's set-up, TCP (and TLS) (nan: none); 1 s and more: dropped SYNs
    ping: bool = False  # a GET of open_load's ping_path, not of its path


def _one(parsed, method: str, path: str, body: bytes | None, headers: dict, timeout_s: float) -> tuple[int, float]:
    """(status, seconds the connection's set-up took) of one request on a new connection."""
    conn_class = http.client.HTTPSConnection if parsed.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parsed.hostname, parsed.port, timeout=timeout_s)
    connect_s = math.nan
    try:
        t0 = time.perf_counter()
        conn.connect()
        connect_s = time.perf_counter() - t0
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, connect_s
    except TimeoutError:
        return NO_ANSWER, connect_s
    except (OSError, http.client.HTTPException):  # refused, reset: a listen backlog overflowing, a dead site
        return CONNECTION_ERROR, connect_s
    finally:
        conn.close()


def open_load(base_url: str, *, method: str, path: str, rate_per_s: float, duration_s: float,
              rng: np.random.Generator, form: dict | None = None, max_in_flight: int = 256,
              timeout_s: float = 10.0, ping_path: str | None = None) -> list[Sample]:
    """Send Poisson arrivals at ``rate_per_s`` for ``duration_s``; return every request's sample.

    With ``ping_path``, GETs of it are sent too, as a second Poisson stream at the same rate
    (their samples marked ``ping``; see the module docstring)."""
    parsed = urllib.parse.urlsplit(base_url)
    body = urllib.parse.urlencode(form).encode() if form else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}

    def arrivals() -> np.ndarray:
        gaps = rng.exponential(1.0 / rate_per_s, int(rate_per_s * duration_s * 1.5) + 20)
        times = np.cumsum(gaps)
        return times[times < duration_s]

    times = arrivals()
    plan = [(float(t), False) for t in times]
    if ping_path is not None:  # drawn after the load's own arrivals: those stay as without pings
        plan = sorted(plan + [(float(t), True) for t in arrivals()])
    samples: list[Sample] = []
    lock = threading.Lock()
    start = time.monotonic()

    def task(intended: float, ping: bool) -> None:
        sent = time.monotonic() - start
        if ping:
            status, connect_s = _one(parsed, "GET", ping_path, None, {}, timeout_s)
        else:
            status, connect_s = _one(parsed, method, path, body, headers, timeout_s)
        done = time.monotonic() - start
        with lock:
            samples.append(Sample(intended_s=intended, sent_s=sent, response_s=done - intended, status=status,
                                  connect_s=connect_s, ping=ping))

    with ThreadPoolExecutor(max_workers=max_in_flight) as pool:
        for t, ping in plan:
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(task, t, ping)
    return sorted(samples, key=lambda s: s.intended_s)


def connect_times(base_url: str, *, n: int = 30, gap_s: float = 0.01, timeout_s: float = 5.0) -> np.ndarray:
    """``n`` TCP handshakes to the site, one at a time: seconds each (nan: refused or timed out).

    The kernel answers a handshake without waiting for a worker, so its time is the network's
    round trip alone; the connection is closed at once, before any request."""
    parsed = urllib.parse.urlsplit(base_url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    out = np.full(n, np.nan)
    for i in range(n):
        t0 = time.perf_counter()
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout_s):
                out[i] = time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(gap_s)
    return out


def ping_times(base_url: str, path: str, *, n: int = 30, gap_s: float = 0.01, timeout_s: float = 5.0) -> np.ndarray:
    """``n`` GETs of ``path``, one at a time, a new connection each as the load's: seconds each (nan: no 2xx)."""
    parsed = urllib.parse.urlsplit(base_url)
    out = np.full(n, np.nan)
    for i in range(n):
        t0 = time.perf_counter()
        status, _ = _one(parsed, "GET", path, None, {}, timeout_s)
        if 200 <= status < 300:
            out[i] = time.perf_counter() - t0
        time.sleep(gap_s)
    return out
