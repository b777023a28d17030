"""What a light-load response costs apart from the service, on the demo site, with and without busy cores.

    .venv/bin/python -m tests.validation.overhead [--busy N] [--rate-per-s 40] [--duration-s 16]

The calibration's light load (40 pages/s for the demo site of 4 x 20 ms, a new connection
each) is sent to a demo site started here on 127.0.0.1, with GETs of ``/healthz`` interleaved
at the same rate. The demo site says in ``X-Service-Ms`` and ``X-Queue-Ms`` how long the
request held a worker and waited for one, so each page's time outside the worker is its
response less those. That time is what ``surge calibrate`` must take off a response to find
the service; the printout sets it beside the round trip calibrate measures (two TCP
handshakes before the load, and the mean of the pings during it).
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sim.loadtest.probe import connect_times
from tests.servers import demo_site
from tests.validation.matrix import _busy


def _load(port: int, rate_per_s: float, duration_s: float) -> list[tuple]:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.exponential(1 / rate_per_s, int(2 * rate_per_s * duration_s * 1.5) + 20)) / 2
    times = times[times < duration_s]  # both streams at rate_per_s: every other arrival a ping
    rows, lock, start = [], threading.Lock(), time.monotonic()

    def task(intended: float, page: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/" if page else "/healthz")
            resp = conn.getresponse()
            resp.read()
            done = time.monotonic() - start
            with lock:
                rows.append((page, done - intended, float(resp.getheader("X-Service-Ms")) / 1000,
                             float(resp.getheader("X-Queue-Ms")) / 1000))
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=256) as pool:
        for i, t in enumerate(times):
            delay = start + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(task, float(t), bool(i % 2))
    return rows


def _ms(v: np.ndarray) -> str:
    return f"mean {v.mean() * 1000:.2f} ms (median {np.median(v) * 1000:.2f}, p95 {np.percentile(v, 95) * 1000:.2f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--busy", type=int, default=0)
    ap.add_argument("--rate-per-s", type=float, default=40.0)
    ap.add_argument("--duration-s", type=float, default=16.0)
    args = ap.parse_args()
    with demo_site(workers=4, service_ms=20.0, queue_limit=32) as url:
        port = int(url.rsplit(":", 1)[1])
        with _busy(args.busy):
            handshakes = connect_times(url)
            rows = _load(port, args.rate_per_s, args.duration_s)
    a = np.array(rows)
    page, ping = a[a[:, 0] == 1], a[a[:, 0] == 0]
    print(f"busy loops {args.busy}, {len(page)} pages and {len(ping)} pings at {args.rate_per_s:g}/s each:")
    print(f"  page response            {_ms(page[:, 1])}")
    print(f"  in the worker            {_ms(page[:, 2])}")
    print(f"  outside the worker       {_ms(page[:, 1] - page[:, 2] - page[:, 3])}")
    print(f"  ping (/healthz) response {_ms(ping[:, 1])}")
    print(f"  2 x median TCP handshake {2 * np.nanmedian(handshakes) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
