"""When the TCP handshakes are much faster than the fastest response: a proxy may hide the round trip."""

import numpy as np

from sim.analysis.calibrate import StepResult
from sim.analysis.round_trip import HANDSHAKE_SHARE, HIDDEN_MIN_S, hidden_round_trip_s, ping_path_advice


def _light(kind: str, response_s) -> StepResult:
    r = np.asarray(response_s, dtype=float)
    return StepResult(kind=kind, rate_per_s=10.0, duration_s=10.0, response_s=r, done_s=np.cumsum(r),
                      statuses={200: len(r)})


def test_a_direct_path_is_of_a_size_with_its_responses():
    # 30 ms away, 20 ms pages: two handshakes (60 ms) and the fastest response (75 ms) are of a size.
    assert hidden_round_trip_s(0.060, 0.075) is None
    # loopback, a site of a millisecond: much faster handshakes, but nothing a round trip could be.
    assert hidden_round_trip_s(0.0001, 0.0012) is None


def test_a_proxy_near_the_client_leaves_the_round_trip_in_every_response():
    # nginx on loopback in front of a site 30 ms away: 0.6 ms of handshakes, 60 ms + the page at best.
    assert hidden_round_trip_s(0.0006, 0.095) == 0.095 - 0.0006


def test_the_bounds_are_where_they_say():
    fastest = 2 * HIDDEN_MIN_S
    assert hidden_round_trip_s(HANDSHAKE_SHARE * fastest * 0.99, fastest) is not None
    assert hidden_round_trip_s(HANDSHAKE_SHARE * fastest * 1.01, fastest) is None
    assert hidden_round_trip_s(0.0, HIDDEN_MIN_S * 0.99) is None


def test_the_warning_names_the_fastest_response_of_any_kind_and_the_flag():
    rng = np.random.default_rng(1)
    light = {"page": _light("page", 0.06 + rng.lognormal(np.log(0.06), 0.3, 50)),
             "asset": _light("asset", 0.06 + rng.uniform(0.001, 0.002, 20)),
             "submit": _light("submit", [])}
    advice = ping_path_advice(0.0005, light)
    fastest = float(light["asset"].response_s.min())
    assert f"the fastest response ({fastest * 1000:.1f} ms)" in advice
    assert "--ping-path PATH" in advice and "is needed" in advice
    # the same site reached directly: the handshakes carry the round trip, nothing to say
    assert ping_path_advice(0.060, light) is None
    assert ping_path_advice(0.0005, {"page": _light("page", [])}) is None
