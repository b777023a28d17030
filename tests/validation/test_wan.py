"""Calibration across a real round trip: 30 ms between the client and a site in a namespace the test makes.

The site and the proxy are tests/validation/wan.py's (waitress, 3 threads, pages lognormal of mean
62.8 ms, every packet to it held 30 ms on the way in by an NFQUEUE reader; for the proxy case, nginx
on 127.0.0.1 in front, and the site's own nginx before waitress answering the ping path).

* The WAN case (the SYN delayed by the path): calibrate's default round trip, two TCP handshakes,
  is the network's share of a response; it must find the round trip within 10 %, the page service
  within 15 % and the workers exactly.
* The CDN or balancer case: nginx ends TCP near the client and opens a connection of its own to
  the site for each request, behind the delay. The handshakes then take a fraction of a millisecond
  while every response carries two delayed round trips (the proxy's handshake and its request):
  calibrate must say that ``--ping-path`` is needed, and with it find all three as above.

waitress, not gunicorn: a gunicorn sync worker closes each connection itself after the client's
FIN (RFC 9112's lingering close, gunicorn >= 25), so on a delayed path each page holds its worker a
round trip longer than its service (docs/validation.md measures it); waitress's own loop closes the
connections and a thread holds only the page.
"""

from tests.validation.wan import (MAX_RATE, PING_ADVICE, ROUND_TRIP_S, TRUE_MEAN_S, WORKERS, behind_a_proxy,
                                  calibrate, wan_site)

# The issue's bounds. In `python -m tests.validation.wan` (docs/validation.md, "Across a real round
# trip": 6 to 8 runs of each case, load average 1 to 5) the handshakes' round trip came out 2 to 3 % long
# (the NFQUEUE reader's wake-up and the stacks add 0.6 to 0.9 ms to each 30 ms), the ping path's 4 to
# 9 % (the two nginx' own time, about 2 ms, is in it; 9 % only before the reader ran at a real-time
# priority), and the page mean -2 to +5 %.
ROUND_TRIP_REL = 0.10
MEAN_REL = 0.15


def _check(fit: dict) -> None:
    # What a response costs beside the service: its own handshake and the request's round trip (behind
    # the proxy: the proxy's handshake to the site and its request).
    assert fit["workers"] == WORKERS, fit
    assert abs(fit["round_trip_s"] / (2 * ROUND_TRIP_S) - 1) <= ROUND_TRIP_REL, fit
    assert abs(fit["page_mean_s"] / TRUE_MEAN_S - 1) <= MEAN_REL, fit


def test_a_round_trip_on_the_path_is_found_by_the_handshakes(tmp_path, capsys):
    """About 50 s: 50 s of calibration (--duration-s 50), 2 s starting and stopping the namespace and site."""
    with wan_site(tmp_path) as url:
        fit = calibrate(url, tmp_path / "site.toml", 50, "--i-control-this-host", url)
    _check(fit)
    assert not PING_ADVICE.search(capsys.readouterr().err)  # the handshakes are of a size with the responses


def test_a_proxy_near_the_client_is_noticed_and_a_ping_path_asked_for(tmp_path, capsys):
    """About 20 s: only the warning is looked at, so at twice the usual rates (the light loads' samples
    of every kind in --duration-s 20)."""
    with behind_a_proxy(tmp_path) as url:
        calibrate(url, tmp_path / "site.toml", 20, max_rate=2 * MAX_RATE)
    err = capsys.readouterr().err
    assert PING_ADVICE.search(err), err
    assert "(0." in PING_ADVICE.search(err).group(0)  # two handshakes of under a millisecond: the proxy's


def test_behind_a_proxy_a_ping_path_finds_the_round_trip_the_service_and_the_workers(tmp_path, capsys):
    """About 47 s: --duration-s 40."""
    with behind_a_proxy(tmp_path) as url:
        fit = calibrate(url, tmp_path / "site.toml", 40, "--ping-path", "/healthz")
    _check(fit)
    assert not PING_ADVICE.search(capsys.readouterr().err)
