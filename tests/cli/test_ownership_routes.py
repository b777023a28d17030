"""Every route refuses to load a host that is not loopback until it proves its owner wants the load.

The host is nginx inside a network namespace the test makes (tests/netns.py): an address that is not
loopback, on this machine. Each run is tiny (a few visitors over two seconds)."""

import json
import os
import subprocess
import sys

import pytest

from sim.cli import main
from sim.cli.loadtest import locust_command, locustfile_path, resolve_load
from sim.cli.main import build_parser
from sim.errors import ConfigError
from sim.loadtest import ownership
from tests.conftest import ROOT, SCENARIOS
from tests.netns import access_lines, namespace_site

STEADY = str(SCENARIOS / "steady.toml")
# steady: 9 one-request visitors/s; x 1 in time and x 0.5 in size = 4.5 requests/s, within a first test's 10
TINY = ["--time-scale", "1", "--scale", "0.5", "--duration-s", "2", "--assets", "none"]
PROOF = "GET /.well-known/surge-verify.txt"
# A run let through: 0, or 4 when the load generator fell behind (a busy machine's lag, judged by
# tests/cli/test_loadtest.py); never 2, the refusal.
RAN = (0, 4)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(ownership.STORE_ENV, str(tmp_path / "config"))
    return tmp_path / "config" / "ownership.json"


@pytest.fixture
def site(tmp_path):
    with namespace_site(tmp_path) as s:
        yield s


def _token(store, url) -> str:
    return json.loads(store.read_text())["tokens"][ownership.origin(url)]


def test_a_host_without_the_token_is_refused_in_one_line_and_sent_nothing_but_the_proof_fetch(
        site, store, tmp_path, capfd):
    url, www, log = site
    code = main(["loadtest", STEADY, "--host", url, "--out", str(tmp_path / "lt"), *TINY])
    err = capfd.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    token = _token(store, url)
    assert lines == [f"--host: {ownership.origin(url)} has not proven that you control it: serve the line {token} "
                     f"at {ownership.origin(url)}/.well-known/surge-verify.txt (it answered 404; tokens are kept in "
                     f"{store}), or pass --i-control-this-host={ownership.origin(url)} if you do; nothing was sent"]
    assert access_lines(log) == [f"{PROOF} 404"]
    assert not (tmp_path / "lt" / "summary.json").exists()

    # surge calibrate: the same refusal, the same token, before its first handshake
    code = main(["calibrate", "--host", url, "--duration-s", "20", "--out", str(tmp_path / "site.toml")])
    assert code == 2 and f"serve the line {token} at" in capfd.readouterr().err
    assert access_lines(log) == [f"{PROOF} 404"] * 2 and not (tmp_path / "site.toml").exists()

    # the locust file run directly, headless, with two worker processes: refused before it forks any load
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--headless", "--host", url,
                           "--scenario", STEADY, "--processes", "2", "--master-bind-host", "127.0.0.1", *TINY],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.strip()][-1].startswith(
        f"--host: {ownership.origin(url)} has not proven that you control it: serve the line {token} at")
    assert access_lines(log) == [f"{PROOF} 404"] * 3


def test_a_host_that_serves_the_token_is_loaded_and_its_first_test_is_held_to_the_limit(site, store, tmp_path, capfd):
    url, www, log = site
    with pytest.raises(ConfigError):  # refused: it hands out the token
        ownership.check_ownership(url)
    (www / ".well-known" / "surge-verify.txt").write_text(_token(store, url) + "\n")
    capfd.readouterr()
    # x 10 in time: 45 requests/s at peak, beyond a first test's 10: refused after the proof, nothing more sent
    fast = ["--time-scale", "10", "--scale", "0.5", "--duration-s", "2", "--assets", "none"]
    code = main(["loadtest", STEADY, "--host", url, *fast])
    err = capfd.readouterr().err
    assert code == 2
    assert err.splitlines()[-1] == (f"--scale: sends 45.0 requests/s at peak, more than the 10 requests/s of a first "
                                    f"test of {ownership.origin(url)}: pass --scale 0.111 or lower, or "
                                    "--lift-first-test-limit once a first test has shown the site answers as it should")
    assert access_lines(log) == [f"{PROOF} 404", f"{PROOF} 200"]

    out = tmp_path / "lt"
    code = main(["loadtest", STEADY, "--host", url, "--out", str(out), *TINY])
    err = capfd.readouterr().err
    assert code in RAN, err
    assert (f"surge: {ownership.origin(url)} proven: it serves your token at /.well-known/surge-verify.txt (kept in "
            f"{store}); a first test: at most 10 requests/s until --lift-first-test-limit") in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ownership"] == {"host": ownership.origin(url), "proof": "token",
                                    "token_url": f"{ownership.origin(url)}/.well-known/surge-verify.txt",
                                    "first_test": True, "first_test_max_requests_per_s": 10.0, "store": str(store)}
    pages = [line for line in access_lines(log)[3:]]
    assert access_lines(log)[2] == f"{PROOF} 200"
    assert len(pages) == summary["visitors"]["arrived"] > 0 and set(pages) == {"GET / 200"}

    # a first test of a fresh host within the limit passes; above it, the flag lifts the limit for good
    # (tests/loadtest/test_ownership.py), and surge loadtest hands the flag to the locust file:
    args = build_parser().parse_args(["loadtest", STEADY, "--host", url, "--lift-first-test-limit",
                                      "--i-control-this-host", url])
    resolve_load(args)
    cmd = locust_command(args, host=url, out=tmp_path)
    assert "--lift-first-test-limit" in cmd and cmd[cmd.index("--i-control-this-host") + 1] == url


def test_the_vouch_flag_skips_the_proof_and_is_recorded(site, store, tmp_path, capfd):
    url, www, log = site
    out = tmp_path / "lt"
    code = main(["loadtest", STEADY, "--host", url, "--out", str(out), "--i-control-this-host", url, *TINY])
    assert code in RAN, capfd.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ownership"] == {"host": ownership.origin(url), "proof": "vouched", "token_url": None,
                                    "first_test": False, "first_test_max_requests_per_s": None, "store": str(store)}
    assert PROOF not in " ".join(access_lines(log)) and summary["visitors"]["arrived"] > 0
    # a vouch that does not repeat the host is bad input, found before anything is sent
    code = main(["loadtest", STEADY, "--host", url, "--i-control-this-host", url.replace(":8080", ":8081"), *TINY])
    assert code == 2
    assert capfd.readouterr().err.strip().splitlines()[-1].startswith("--i-control-this-host: names ")


def test_the_web_ui_refuses_to_start_a_test_of_a_host_without_the_token(site, store, tmp_path):
    from tests.cli.test_locust_ui import START_S, _free_port, _http, _poll, _stop

    url, www, log = site
    port = _free_port()
    ui = f"http://127.0.0.1:{port}"
    with (tmp_path / "locust.log").open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--scenario", STEADY,
                                 *TINY, "--web-host", "127.0.0.1", "--web-port", str(port)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _poll(lambda: _http(f"{ui}/"), timeout_s=START_S, what="the web UI")
            refused = json.loads(_http(f"{ui}/swarm", form={"user_count": "0", "spawn_rate": "0", "host": url}))
            state = json.loads(_http(f"{ui}/stats/requests"))["state"]
        finally:
            _stop(proc)
    assert refused["success"] is False and refused["message"].startswith(
        f"Host: {ownership.origin(url)} has not proven that you control it: serve the line {_token(store, url)} at ")
    assert state == "ready" and access_lines(log) == [f"{PROOF} 404"]
