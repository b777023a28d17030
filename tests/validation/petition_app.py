"""A small WSGI petition app for the validation matrix: pages of a known service-time law, SQLite signatures.

Served by real servers in the tests (gunicorn sync workers, waitress threads, nginx in
front). Its page time is a sleep drawn from the law that ``PETITION_PAGE`` names, so the
worker is held as by a page that waits on its database or templates, and the true law is
known to the test; a sleep and not a busy loop, since on a 2-core test machine the load
generator needs the CPU and a busy loop would make the workers share it.

``PETITION_PAGE``: ``constant:MS``, ``lognormal:MEDIAN_MS:SIGMA`` or
``bimodal:HIT_FRACTION:HIT_MS:MISS_MS`` (a page cache's hits and misses).
``PETITION_DB``: the SQLite file signatures are inserted into (a real insert and commit
before the answer). ``PETITION_TIMES`` (optional): a folder where each process writes when each
request entered and left the app (``time.monotonic()``, one clock for every process), so a test
can see the worker's own time and the gaps between its requests. Routes: ``GET /healthz`` (no app work), ``GET /`` and ``GET /act``
(pages), ``GET /static/...`` (an asset: the page law's time too), ``POST /sign``.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import threading
import time
import urllib.parse

__all__ = ["application", "PageLaw", "parse_law"]


class PageLaw:
    """Draws of a page's service time in seconds, and their true mean."""

    def __init__(self, kind: str, params: tuple[float, ...]) -> None:
        self.kind, self.params = kind, params

    @property
    def mean_s(self) -> float:
        p = self.params
        if self.kind == "constant":
            return p[0] / 1000
        if self.kind == "lognormal":
            return p[0] / 1000 * math.exp(p[1] ** 2 / 2)
        return (p[0] * p[1] + (1 - p[0]) * p[2]) / 1000

    def draw(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "constant":
            return p[0] / 1000
        if self.kind == "lognormal":
            return p[0] / 1000 * math.exp(rng.gauss(0.0, p[1]))
        return (p[1] if rng.random() < p[0] else p[2]) / 1000


def parse_law(text: str) -> PageLaw:
    kind, *rest = text.split(":")
    params = tuple(float(v) for v in rest)
    want = {"constant": 1, "lognormal": 2, "bimodal": 3}
    if kind not in want or len(params) != want[kind]:
        raise ValueError(f"PETITION_PAGE: expected constant:MS, lognormal:MEDIAN_MS:SIGMA or "
                         f"bimodal:HIT_FRACTION:HIT_MS:MISS_MS, got {text!r}")
    return PageLaw(kind, params)


_LAW = parse_law(os.environ.get("PETITION_PAGE", "constant:20"))
_DB = os.environ.get("PETITION_DB", ":memory:")
_TIMES = os.environ.get("PETITION_TIMES")
_local = threading.local()  # a connection and a random stream per thread (gunicorn sync: per process)


def _state():
    if not hasattr(_local, "db"):
        db = sqlite3.connect(_DB, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS signatures (name TEXT, email TEXT, zip TEXT, at REAL)")
        db.commit()
        _local.db = db
        _local.rng = random.Random(os.getpid() * 1_000_003 + threading.get_ident() % 1_000_003)
        _local.times = (open(os.path.join(_TIMES, f"{os.getpid()}-{threading.get_ident()}.txt"), "a", buffering=1)
                        if _TIMES else None)
    return _local


_PAGE = b"<!DOCTYPE html><title>Sign the letter</title><p>Tell Congress.</p><form method=post action=/sign></form>\n"


def application(environ, start_response):
    path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"ok\n"]
    state = _state()
    entered = time.monotonic()
    try:
        return _answer(state, environ, start_response, path, method)
    finally:
        if state.times is not None:
            state.times.write(f"{entered:.6f} {time.monotonic():.6f} {method} {path}\n")


def _answer(state, environ, start_response, path: str, method: str):
    time.sleep(_LAW.draw(state.rng))
    if method == "POST" and path == "/sign":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = urllib.parse.parse_qs(environ["wsgi.input"].read(size).decode())
        state.db.execute("INSERT INTO signatures VALUES (?, ?, ?, ?)",
                         (form.get("name", [""])[0], form.get("email", [""])[0], form.get("zip", [""])[0], time.time()))
        state.db.commit()
        body = b"Thank you: your letter is on its way.\n"
    elif method == "GET":
        body = b"body{font-family:sans-serif}\n" if path.startswith("/static/") else _PAGE
    else:
        start_response("405 Method Not Allowed", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
