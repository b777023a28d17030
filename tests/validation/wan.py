"""A site 30 ms of round trip away, in a namespace: calibrated directly (the WAN case) and behind a near proxy.

    .venv/bin/python -m tests.validation.wan --runs 3

The site: waitress, 3 threads, serving the petition app with pages lognormal of median 60 ms and
sigma 0.3 (mean 62.8 ms), inside a network namespace of its own (tests/netns.py); every packet
sent to it is held 30 ms on the way in by an NFQUEUE reader (tests/validation/wan_delay.py; this
kernel has no netem), so the handshake's SYN is delayed as the request is. The proxy case puts
nginx on 127.0.0.1 in front: it ends TCP near the client and opens a connection of its own to the
site for each request, behind the delay; the site there has its own nginx in front of waitress,
which answers the ping path ``/healthz`` without a worker. All traffic stays on the veth pair and
on loopback.

The command prints, per run and case, what calibrate found (round trip, page mean, workers, and
whether it asked for --ping-path), then how many pages a second 3 workers of each server answer
with and without the delay (a closed loop of 12 clients for 8 s): waitress's threads hold only
the page, gunicorn's sync workers also wait a round trip for the client's FIN before closing.
The figures of docs/validation.md ("Across a real round trip") come from here.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

from sim.cli import main as surge
from sim.config.distributions import distribution_from_table
from tests.netns import delayed_port, namespace, nginx_in_namespace, petition_in_namespace
from tests.servers import nginx_server
from tests.validation.petition_app import parse_law

__all__ = ["ROUND_TRIP_S", "WORKERS", "PAGE", "TRUE_MEAN_S", "MAX_RATE", "PING_ADVICE", "wan_site", "behind_a_proxy",
           "calibrate"]

ROUND_TRIP_S = 0.030
WORKERS = 3
PAGE = "lognormal:60:0.3"
TRUE_MEAN_S = parse_law(PAGE).mean_s  # 62.8 ms
MAX_RATE = 2 * WORKERS / TRUE_MEAN_S  # twice the capacity of 47.8 pages/s
PORT = 8000
PING_ADVICE = re.compile(r"surge: warning: round trip: the TCP handshakes \([0-9.]+ ms for two\) are much faster "
                         r"than the fastest response .* --ping-path PATH .* is needed")


@contextlib.contextmanager
def wan_site(tmp_path: Path, *, server: str = "waitress", round_trip_s: float = ROUND_TRIP_S, fronted: bool = False):
    """The petition site in a namespace, ``round_trip_s`` away (0: no delay); yields its URL.

    ``fronted``: nginx on the site's machine (in the namespace) ends the clients' connections, answers
    ``/healthz`` itself and passes the rest to the app server there, as a site's own front server does;
    else the app server faces the clients."""
    with contextlib.ExitStack() as stack:
        ns, _, address = stack.enter_context(namespace())
        if round_trip_s:
            stack.enter_context(delayed_port(ns, PORT, round_trip_ms=round_trip_s * 1000))
        app = stack.enter_context(petition_in_namespace(tmp_path, ns, address, server=server, workers=WORKERS,
                                                        page=PAGE, port=PORT + 1 if fronted else PORT))
        if fronted:
            locations = (f'        location = /healthz {{ return 200 "ok"; }}\n'
                         f"        location / {{ proxy_pass {app}; proxy_read_timeout 60s; }}")
            app = stack.enter_context(nginx_in_namespace(tmp_path / "site-nginx", ns, address, PORT,
                                                         locations=locations))
        yield app


@contextlib.contextmanager
def behind_a_proxy(tmp_path: Path, *, server: str = "waitress"):
    """The site behind the delay, fronted by its own nginx, and nginx on 127.0.0.1 in front of it (the CDN's
    edge near the client); yields the near nginx's URL. The site's nginx answers the ping path: a ping
    that an app worker answered would wait for one whenever the light load's pages held them all."""
    with wan_site(tmp_path, server=server, fronted=True) as site, nginx_server(tmp_path, proxy_to=site) as url:
        yield url


def calibrate(url: str, out: Path, duration_s: float, *extra: str, max_rate: float = MAX_RATE) -> dict:
    """``surge calibrate`` of ``url``: the workers, the page mean and the round trip it wrote."""
    code = surge(["calibrate", "--host", url, "--max-rate", f"{max_rate:.6g}", "--duration-s", f"{duration_s:g}",
                  "--seed", "3", *extra, "--out", str(out)])
    assert code == 0, f"calibrate exited {code}"
    text = out.read_text()
    site = tomllib.loads(text)["site"]
    taken = site.get("calibration", {}).get("round_trip_s")
    if taken is None:  # the header comment says it where [site.calibration] does not
        taken = float(re.search(r"^# Round trip: ([0-9.]+) ms", text, re.M).group(1)) / 1000
    return {"workers": site["app"]["workers"], "page_mean_s": distribution_from_table(site["app"]["page_s"]).mean,
            "round_trip_s": taken}


def _throughput_per_s(url: str, *, clients: int = 12, duration_s: float = 8.0) -> float:
    """Pages a second answered to ``clients`` closed-loop clients (a new connection each), over ``duration_s``."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    done, stop = [], time.monotonic() + duration_s

    def client() -> None:
        while time.monotonic() < stop:  # bounded by the deadline
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
                done.append(1)
            finally:
                conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done) / duration_s


def _row(case: str, fit: dict, err: str, elapsed_s: float) -> str:
    return (f"{case:<34} {fit['round_trip_s'] * 1000:8.1f} {fit['page_mean_s'] * 1000:8.1f} {fit['workers']:8d} "
            f"{'yes' if PING_ADVICE.search(err) else 'no':>10} {elapsed_s:6.0f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress",
                    help="the site's server in the calibrations (gunicorn: sync workers, which hold a round trip more)")
    args = ap.parse_args(argv)
    print(f"{args.server}, {WORKERS} workers; truth: round trip {2 * ROUND_TRIP_S * 1000:.0f} ms a response "
          f"(handshake + request), page mean {TRUE_MEAN_S * 1000:.1f} ms")
    print(f"{'case':<34} {'trip ms':>8} {'page ms':>8} {'workers':>8} {'ping asked':>10} {'s':>6}")
    # (case, the site, --duration-s, more flags, --max-rate): without --ping-path behind the proxy only the
    # warning is looked at, so at twice the rates (the light loads' samples of every kind in 20 s)
    cases = [("WAN, handshakes", wan_site, 50, (), MAX_RATE),
             ("proxy, handshakes", behind_a_proxy, 20, (), 2 * MAX_RATE),
             ("proxy, --ping-path /healthz", behind_a_proxy, 40, ("--ping-path", "/healthz"), MAX_RATE)]
    for _ in range(max(1, min(args.runs, 20))):
        for case, stack, duration_s, extra, max_rate in cases:
            with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp), server=args.server) as url:
                err = io.StringIO()
                t0 = time.monotonic()
                vouch = ("--i-control-this-host", url) if stack is wan_site else ()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    fit = calibrate(url, Path(tmp) / "site.toml", duration_s, *vouch, *extra, max_rate=max_rate)
                print(_row(case, fit, err.getvalue(), time.monotonic() - t0), flush=True)
    print("\npages/s answered by 3 workers, 12 closed-loop clients, 8 s (no delay / 30 ms round trip):")
    for server in ("waitress", "gunicorn"):
        with tempfile.TemporaryDirectory() as tmp:
            rates = []
            for trip in (0.0, ROUND_TRIP_S):
                with wan_site(Path(tmp), server=server, round_trip_s=trip) as url:
                    rates.append(_throughput_per_s(url))
            print(f"{server:<10} {rates[0]:6.1f} / {rates[1]:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
