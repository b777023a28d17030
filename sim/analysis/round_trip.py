"""Whether the TCP handshakes calibrate timed can be the round trip of a response, or a proxy hides it.

Without ``--ping-path`` calibrate takes two handshakes (the connection's and the request's) as the
network's share of each light-load response. That is right when the site's own machine ends TCP:
a SYN delayed by the path is delayed as much as the request and its answer. A proxy that ends TCP
near the client (a CDN's edge, a load balancer, an SSH tunnel) answers the handshake at once, and
the round trip behind it, to the site, is then inside every response and would be counted as service.

The sign of it: the handshakes are much faster than the fastest response of any kind. On a direct
path the fastest response is two handshakes plus the shortest service, so the two stay of a size;
behind a proxy the handshakes take a loopback's or a LAN's fraction of a millisecond and every
response carries the hidden round trip. A site whose every path does some milliseconds of work
gives the same sign on loopback; the warning says what to do either way, and ``--ping-path`` (a
path the site answers without app work, timed as a request) measures the round trip that matters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HANDSHAKE_SHARE", "HIDDEN_MIN_S", "hidden_round_trip_s", "ping_path_advice"]

# "Much faster": two handshakes under a tenth of the fastest response. On a direct path of round
# trip r and shortest service s the ratio is 2r / (2r + s), under a tenth only when s > 18 r.
HANDSHAKE_SHARE = 0.1
# And the rest of the fastest response over 5 ms: an HTTP stack's own time on a path without app
# work is about a millisecond (a ping path's response on loopback, docs/validation.md), so less than
# 5 ms left is a fast site, not a round trip to be found.
HIDDEN_MIN_S = 0.005


def hidden_round_trip_s(handshake_round_trip_s: float, fastest_response_s: float) -> float | None:
    """The most a proxy can hide (the fastest response less the handshakes' round trip), or None when the
    handshakes are not much faster than the fastest response."""
    rest = fastest_response_s - handshake_round_trip_s
    if handshake_round_trip_s < HANDSHAKE_SHARE * fastest_response_s and rest > HIDDEN_MIN_S:
        return rest
    return None


def ping_path_advice(handshake_round_trip_s: float, light: dict) -> str | None:
    """A warning line when the light loads (kind -> StepResult) answered no request nearly as fast as the
    handshakes' round trip; None when they did, or nothing was answered."""
    answered = [s.response_s for s in light.values() if len(s.response_s)]
    if not answered:
        return None
    fastest = float(min(np.min(r) for r in answered))
    hidden = hidden_round_trip_s(handshake_round_trip_s, fastest)
    if hidden is None:
        return None
    return (f"round trip: the TCP handshakes ({handshake_round_trip_s * 1000:.3f} ms for two) are much faster than "
            f"the fastest response ({fastest * 1000:.1f} ms): if a proxy, a CDN or a load balancer ends TCP near this "
            f"client, up to {hidden * 1000:.1f} ms of round trip behind it is counted as service and the workers come "
            "out too many; --ping-path PATH (a path the site answers without app work, e.g. /healthz) is needed to "
            "measure it")
