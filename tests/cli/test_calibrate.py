"""surge calibrate's flags and --out: checked before the first request is sent."""

import pytest

from sim.cli import main


@pytest.mark.parametrize("rate", ["inf", "nan", "0", "1e9"])
def test_a_max_rate_beyond_the_limit_is_one_line(rate, tmp_path, capsys):
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--max-rate", rate, "--out",
                 str(tmp_path / "site.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("--max-rate: must be > 0 and <= 10000 requests/s") and f"got {float(rate)}" in err


def test_an_out_that_cannot_be_written_is_found_before_any_load(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    out = tmp_path / "taken" / "site.toml"
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--out", str(out)]) == 2  # port 9: nothing is sent
    assert capsys.readouterr().err == f"--out: cannot write to {out} ({tmp_path / 'taken'}): it is a file, not a folder\n"
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"--out: cannot write to {tmp_path}: it is a folder, not a file\n"


def test_a_ping_path_must_be_a_path(tmp_path, capsys):
    from tests.servers import loopback_server

    with loopback_server() as url:
        code = main(["calibrate", "--host", url, "--ping-path", "healthz", "--out", str(tmp_path / "s.toml")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "--ping-path: must be a path starting with '/', got 'healthz'"


@pytest.mark.slow
def test_a_site_that_never_saturates_is_said_and_strict_fails(tmp_path, capsys):
    """The demo site holds 8 workers / 5 ms = 1,600 pages/s; --max-rate 100 never comes near it."""
    from tests.servers import demo_site

    out = tmp_path / "site.toml"
    with demo_site(workers=8, service_ms=5, queue_limit=16) as url:
        code = main(["calibrate", "--host", url, "--max-rate", "100", "--duration-s", "30", "--strict",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5
    assert "surge: warning: the site never saturated up to 100 requests/s" in err
    text = out.read_text()  # written all the same, the warning in it
    assert "# WARNING: the site never saturated" in text and "NOT saturated" in text
    import tomllib
    assert tomllib.loads(text)["site"]["app"]["workers"] >= 1


@pytest.mark.slow
def test_a_kernel_backlog_that_drops_syns_is_fitted_as_overflow_drop(tmp_path):
    """gunicorn sync x2, 25 ms pages, ``--backlog 4``: Linux's accept queue then holds 5 (backlog + 1).

    A full one drops the SYN and the client sends it again after 1 s, then 3 s (seen: handshakes of
    1.00 s and 3.06 s). Five calibrations (backlog 1, 4, 4, 4, 8) read the backlog within one of
    backlog + 1 and the workers exact: the bounds below."""
    import tomllib

    from tests.servers import gunicorn_site

    out = tmp_path / "site.toml"
    with gunicorn_site(tmp_path, workers=2, page="constant:25", backlog=4) as url:
        code = main(["calibrate", "--host", url, "--max-rate", "160", "--duration-s", "60", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    app = tomllib.loads(text)["site"]["app"]
    assert "overflow: dropped SYNs" in text and app["overflow"] == "drop"
    assert app["workers"] == 2 and abs(app["queue_limit"] - 5) <= 1, app


def test_pings_are_sent_during_a_light_load_and_told_apart():
    """calibrate --ping-path: the probe sends GETs of the ping path as a second Poisson stream at the
    load's rate, marks their samples, and keeps the load's own arrivals as without pings (same seed)."""
    import collections

    import numpy as np

    from sim.loadtest.probe import open_load
    from tests.servers import loopback_server

    seen = collections.Counter()
    with loopback_server(seen=seen) as url:
        alone = open_load(url, method="GET", path="/", rate_per_s=40, duration_s=1.5, rng=np.random.default_rng(3))
        both = open_load(url, method="GET", path="/", rate_per_s=40, duration_s=1.5, rng=np.random.default_rng(3),
                         ping_path="/healthz")
    paths = collections.Counter(key[1] for key in seen.elements())
    pings = [s for s in both if s.ping]
    assert paths["/healthz"] == len(pings) > 0 and paths["/"] == len(alone) + len(both) - len(pings)
    assert [s.intended_s for s in both if not s.ping] == [s.intended_s for s in alone]
    assert all(s.status == 200 for s in both) and not any(s.ping for s in alone)
