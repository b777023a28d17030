"""``surge demo-site [--port 8000] [--workers 4] [--service-ms 20] [--queue-limit 64] [--db PATH]``.

Serve the bundled demo site on a loopback address until Ctrl-C.

The bundled demo site is the default target of ``surge loadtest``: a small
advocacy site that saturates like a real one (an M/M/c/K queue: ``--workers``
servers, ``--queue-limit`` waiting places, exponential service times with mean
``--service-ms``, 503 when full). It lives in ``loadtests.demo_site`` and is
imported only inside ``run()``, so importing ``sim`` never pulls in the load-test
side (``sim`` must stay free of locust and gevent).
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
import threading

from sim.errors import ConfigError

__all__ = ["add_parser", "run", "FLAGS"]

# DemoSite argument -> the flag that sets it, so an error names what the user typed.
FLAGS = {"host": "--host", "port": "--port", "workers": "--workers", "service_ms": "--service-ms",
         "queue_limit": "--queue-limit", "db_path": "--db", "seed": "--seed", "times_log": "--times-log"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo-site",
        help="serve the bundled demo site (the default load-test target) on a loopback address",
        description="Serve a small advocacy site (landing page, assets, action page, petition stored in SQLite) "
        "that saturates like a real one: WORKERS workers take requests from a backlog of QUEUE_LIMIT; "
        "when the backlog is full the site answers 503 at once. Serves until Ctrl-C, then prints how "
        "many signatures were stored. Only loopback addresses are allowed.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="loopback address to listen on: 127.0.0.0/8, localhost or ::1 (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--workers", type=int, default=4, metavar="N",
                   help="worker threads, the requests served at once (default: %(default)s)")
    p.add_argument("--service-ms", type=float, default=20.0, metavar="MS",
                   help="mean service time per request in ms, exponential (default: %(default)s)")
    p.add_argument("--queue-limit", type=int, default=64, metavar="N",
                   help="requests that may wait for a worker; more get 503 (default: %(default)s)")
    p.add_argument("--db", metavar="PATH",
                   help="SQLite file for the signatures (default: a temporary file, deleted on exit)")
    p.add_argument("--seed", type=int, metavar="N", help="seed the service-time draws (default: random)")
    p.add_argument("--times-log", metavar="PATH",
                   help="append each request's time in its worker slot to PATH, a line each: slot, entered, left "
                   "(seconds of the system's monotonic clock), to compare with what surge calibrate finds")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    """The flags' own checks, before anything is imported or bound."""
    if args.workers < 1:
        raise ConfigError("--workers", f"must be >= 1, got {args.workers}")
    if args.queue_limit < 1:
        raise ConfigError("--queue-limit", f"must be >= 1, got {args.queue_limit}")
    if not math.isfinite(args.service_ms) or args.service_ms < 0:
        raise ConfigError("--service-ms", f"must be a finite number >= 0, got {args.service_ms:g}")
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port", f"must be within [0, 65535], got {args.port}")
    if args.db is not None and not args.db:
        raise ConfigError("--db", "must be a file path, got ''")


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C (KeyboardInterrupt); a function so a test can replace it."""
    forever = threading.Event()
    while not forever.wait(1.0):
        pass


def run(args: argparse.Namespace) -> int:
    _check(args)
    from loadtests.demo_site import DemoSite, DemoSiteConfigError  # lazily: sim never imports loadtests at import

    # A dedicated process: let a worker whose service time is up take the interpreter within
    # 0.5 ms (not the default 5 ms) of asking, or the acceptor's work stretches service times.
    sys.setswitchinterval(0.0005)
    try:
        site = DemoSite(host=args.host, port=args.port, workers=args.workers, service_ms=args.service_ms,
                        queue_limit=args.queue_limit, db_path=args.db, seed=args.seed,
                        times_log=args.times_log)
        site.start()
    except DemoSiteConfigError as err:  # e.g. a host that is not loopback
        raise ConfigError(FLAGS.get(err.argument, err.argument), err.message) from None
    except OSError as err:  # the port is taken, or not ours to bind
        raise ConfigError("--port", f"cannot listen on {args.host}:{args.port}: {err.strerror or err}") from None
    except sqlite3.Error as err:  # the --db file cannot be opened, or is not a SQLite database
        raise ConfigError("--db", f"cannot store signatures in {args.db}: {err}") from None
    try:
        print(f"demo site at {site.url}/ ({args.workers} workers, {args.service_ms:g} ms mean service, "
              f"backlog {args.queue_limit}); health: {site.url}/healthz. Ctrl-C to stop.", flush=True)
        _wait_for_interrupt()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()
    stored = site.signatures()
    where = f" in {args.db}" if args.db else ""
    print(f"\nstopped; {stored} signature{'s' if stored != 1 else ''} stored{where}")
    return 0
