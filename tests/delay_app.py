"""A WSGI app that answers every page after a known constant delay: the truth a load test's latency is held to.

``DELAY_MS`` (env) is the delay; ``/nodelay`` and ``/healthz`` answer at once (the server's
own overhead, measured apart). With ``DELAY_LOG`` (env), each delayed request appends the
time it spent in the app (the sleep as the scheduler granted it), in seconds, one a line.
"""

from __future__ import annotations

import os
import threading
import time

_DELAY_S = float(os.environ.get("DELAY_MS", "50")) / 1000.0
_LOG = os.environ.get("DELAY_LOG")
_lock = threading.Lock()


def application(environ, start_response):
    path = environ.get("PATH_INFO") or "/"
    if path not in ("/nodelay", "/healthz"):
        t0 = time.perf_counter()
        time.sleep(_DELAY_S)
        spent_s = time.perf_counter() - t0
        if _LOG:
            with _lock, open(_LOG, "a") as fh:
                fh.write(f"{spent_s:.9f}\n")
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
