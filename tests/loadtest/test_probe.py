"""The calibration's round trip, measured apart from the service, against real loopback servers."""

import socket

import numpy as np

from sim.loadtest.probe import connect_times, ping_times
from tests.servers import loopback_server, nginx_server


def test_tcp_handshakes_time_the_network_not_the_server(tmp_path):
    with nginx_server(tmp_path) as url:
        times = connect_times(url, n=20, gap_s=0.0)
        pings = ping_times(url, "/", n=20, gap_s=0.0)
    assert np.isfinite(times).all() and np.isfinite(pings).all()
    # on loopback a handshake is tens of microseconds; a whole GET on a new connection is more
    assert np.median(times) < 0.005 and np.median(pings) > np.median(times)


def test_a_port_with_nothing_behind_it_gives_no_times():
    with socket.socket() as s:  # a free port, closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert np.isnan(connect_times(f"http://127.0.0.1:{port}", n=3, gap_s=0.0, timeout_s=1.0)).all()


def test_a_ping_path_that_fails_gives_no_times():
    with loopback_server(status=500) as url:
        assert np.isnan(ping_times(url, "/healthz", n=3, gap_s=0.0)).all()
