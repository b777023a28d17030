"""The demo site's configuration: one frozen value, checked when it is made.

Checking on construction (not when the server starts) means a bad value is
reported before any socket is opened, and every error names the argument so
the ``surge demo-site`` command can point at the matching flag.

The limits below are the site's own, each with its reason; the server reads
them from here so that one place says how big the demo site can be.

The host must be a loopback address: the demo site exists to be overloaded by
our own load tests, and it must never be reachable from, or aimed at, anything
beyond this machine. Names other than ``localhost`` are refused without a DNS
lookup, so checking a value never sends a packet.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass

__all__ = ["DemoSiteConfig", "DemoSiteConfigError", "is_loopback_host", "MAX_WORKERS", "MAX_QUEUE_LIMIT",
           "MAX_CAPACITY", "SPARE_THREADS", "MAX_HEAD_BYTES", "MAX_BODY_BYTES", "MAX_READ_TIMEOUT_S",
           "MAX_CONNECTIONS", "FD_RESERVE"]

MAX_WORKERS = 1024
# Every place in the site (a worker slot or a backlog place) is a waitress thread blocked in the
# FIFO gate, so K = workers + queue_limit is a thread count: 4,096 threads start in about 1 s
# and hold about 80 MB here, which is as far as a demo site should go.
MAX_CAPACITY = 4096
MAX_QUEUE_LIMIT = MAX_CAPACITY - 1
# Threads beyond K: they answer the 503s and /healthz, so neither waits for a thread at overload.
SPARE_THREADS = 8
MAX_SERVICE_MS = 600_000.0
MAX_HEAD_BYTES = 16 * 1024    # request line and headers (waitress answers 431 beyond)
MAX_BODY_BYTES = 64 * 1024    # a petition form is a few hundred bytes (waitress answers 413 beyond)
MAX_READ_TIMEOUT_S = 3600     # read_timeout_s: a connection idle longer than this is closed
# Open connections are capped below the file-descriptor limit (RLIMIT_NOFILE) by FD_RESERVE
# plus two descriptors per worker (each worker's SQLite connection holds the file and its WAL),
# and never above MAX_CONNECTIONS; at the cap the longest-idle connection is shed.
MAX_CONNECTIONS = 10_000
FD_RESERVE = 64


class DemoSiteConfigError(ValueError):
    """A bad demo-site argument; ``argument`` names it (``"workers"``), ``message`` says what is wrong."""

    def __init__(self, argument: str, message: str) -> None:
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (no name resolution is done)."""
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _whole(argument: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DemoSiteConfigError(argument, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise DemoSiteConfigError(argument, f"must be within [{low}, {high}], got {value}")


@dataclass(frozen=True, kw_only=True)
class DemoSiteConfig:
    """How big the demo site is: ``workers`` servers, ``queue_limit`` waiting places, mean service time.

    In queueing terms the site is M/M/c/K with c = ``workers`` and
    K = ``workers + queue_limit`` (the backlog holds only requests that wait).
    ``read_timeout_s``: a connection that sends nothing for this long is closed.
    """

    host: str = "127.0.0.1"
    port: int = 0
    workers: int = 4
    service_ms: float = 20.0
    queue_limit: int = 64
    db_path: str | None = None
    seed: int | None = None
    read_timeout_s: int = 10  # whole seconds: waitress's channel_timeout
    # A file each request's time in its slot is appended to: "slot entered left", time.monotonic() seconds.
    times_log: str | None = None

    def __post_init__(self) -> None:
        if not is_loopback_host(self.host):
            raise DemoSiteConfigError(
                "host", f"must be a loopback address (127.0.0.0/8, localhost or ::1), got {self.host!r}")
        _whole("port", self.port, 0, 65535)
        _whole("workers", self.workers, 1, MAX_WORKERS)
        _whole("queue_limit", self.queue_limit, 1, MAX_QUEUE_LIMIT)
        if self.workers + self.queue_limit > MAX_CAPACITY:
            raise DemoSiteConfigError("queue_limit", f"workers + queue_limit must be at most {MAX_CAPACITY} "
                                      f"(one thread each), got {self.workers + self.queue_limit}")
        _whole("read_timeout_s", self.read_timeout_s, 1, MAX_READ_TIMEOUT_S)
        s = self.service_ms
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s):
            raise DemoSiteConfigError("service_ms", f"must be a finite number, got {s!r}")
        if not 0 <= s <= MAX_SERVICE_MS:
            raise DemoSiteConfigError("service_ms", f"must be within [0, {MAX_SERVICE_MS:g}], got {s:g}")
        if self.db_path is not None:
            if not isinstance(self.db_path, (str, os.PathLike)) or not os.fspath(self.db_path):
                raise DemoSiteConfigError("db_path", f"must be a non-empty path or None, got {self.db_path!r}")
            object.__setattr__(self, "db_path", os.fspath(self.db_path))  # a Path is kept as its str
        if self.times_log is not None:
            if not isinstance(self.times_log, (str, os.PathLike)) or not os.fspath(self.times_log):
                raise DemoSiteConfigError("times_log", f"must be a non-empty path or None, got {self.times_log!r}")
            object.__setattr__(self, "times_log", os.fspath(self.times_log))
        if self.seed is not None:
            if isinstance(self.seed, bool) or not isinstance(self.seed, int):
                raise DemoSiteConfigError("seed", f"must be a whole number or None, got {self.seed!r}")

    @property
    def capacity(self) -> int:
        """K: the most requests in the site at once (in service plus waiting); more get 503."""
        return self.workers + self.queue_limit
