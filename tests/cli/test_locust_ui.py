"""locust on loadtests/locustfile.py as locust users drive it: the web UI (several tests in one
process, over its HTTP API, a bad Host refused), --help, and the progress lines of a headless run.

Everything talks to 127.0.0.1 only: a demo site and locust's web UI, each on a free port. Every
wait polls a state with a deadline (no fixed sleeps), and every process started is stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from loadtests.demo_site import DemoSite
from sim.cli.loadtest import locustfile_path
from sim.loadtest.options import OPTIONS
from tests.conftest import ROOT, SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")
# steady: 9 visitors/s; x 100 in time and x 0.05 in size = 45 visitors per wall second
PLAN = ["--scenario", STEADY, "--time-scale", "100", "--scale", "0.05", "--assets", "none"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
START_S = 60.0  # bound on locust's start (its web UI answering)
TEST_S = 90.0  # bound on one test's run, drain and writing included


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _poll(check, *, timeout_s: float, what: str, every_s: float = 0.1):
    """``check()``'s first truthy value, polled until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except OSError:  # not answering yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(every_s)


def _http(url: str, *, form: dict | None = None, timeout_s: float = 10.0) -> bytes:
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", "tests only talk to loopback"
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=timeout_s) as resp:
        return resp.read()


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (locust's web UI shuts down on it), then SIGKILL to the group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture
def site():
    with DemoSite(port=0, workers=4, service_ms=2.0, queue_limit=64) as demo:
        yield demo.url


@pytest.fixture
def locust(tmp_path):
    """Start ``locust -f loadtests/locustfile.py ARGS``; its log in tmp_path; stopped afterwards."""
    started = []

    def start(args):
        path = tmp_path / f"locust-{len(started)}.log"
        log = files.enter_context(path.open("wb"))
        proc = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(locustfile_path()), *args], cwd=ROOT,
                                env=ENV, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        started.append(proc)
        return proc, path

    with contextlib.ExitStack() as files:
        yield start
        for proc in started:
            _stop(proc)


def _stats(ui: str) -> dict:
    return json.loads(_http(f"{ui}/stats/requests"))


def _surge_rows(ui: str) -> list[dict]:
    """The rows of the web UI's Surge tab (newest first): this test's progress, every 5 s."""
    return next(s["data"] for s in _stats(ui)["extended_stats"] if s["key"] == "surge")


def _run_one_test(ui: str, out, form: dict) -> dict:
    """Start a test from the web UI, wait for it to run and stop by itself; its summary.json."""
    summary = out / "summary.json"
    if summary.exists():
        summary.unlink()  # so what is read below is this test's
    answer = json.loads(_http(f"{ui}/swarm", form={"user_count": "0", "spawn_rate": "0", **form}))
    assert answer["success"], answer
    _poll(lambda: _stats(ui)["state"] in ("spawning", "running"), timeout_s=TEST_S, what="the test to start")
    _poll(lambda: _stats(ui)["state"] == "stopped", timeout_s=TEST_S, what="the test to stop")
    # the shape stops the test once its driver has reported; the files are written as it stops
    return json.loads(_poll(lambda: summary.exists() and summary.read_text(), timeout_s=10, what="summary.json"))


def _close_to_target(summary: dict) -> None:
    v = summary["visitors"]
    assert summary["partial"] is False and v["failed"] == 0 and v["dropped"] == 0
    assert abs(v["arrived"] - v["target"]) < 5 * math.sqrt(v["target"]), v  # Poisson noise


def test_web_ui_runs_several_tests_in_one_process_and_writes_each(site, locust, tmp_path):
    out = tmp_path / "out"
    port = _free_port()
    ui = f"http://127.0.0.1:{port}"
    proc, log = locust([*PLAN, "--duration-s", "6", "--host", site, "--out", str(out),
                        "--web-host", "127.0.0.1", "--web-port", str(port)])
    page = _poll(lambda: _http(f"{ui}/").decode(), timeout_s=START_S, what="the web UI")

    # the page: surge's options first and in order, a literal % in the SLO help, Users/Ramp up greyed out
    args = json.loads(re.search(r"window\.templateArgs = (.*)", page).group(1))
    assert list(args["extra_options"])[:4] == ["scenario", "time_scale", "scale", "duration_s"]
    slo_help = args["extra_options"]["slo"]["help_text"]
    assert "errors<1%," in slo_help and "%%" not in slo_help
    assert args["hide_common_options"] is True
    assert {"key": "surge", "title": "Surge"} in args["extended_tabs"]
    # each field labelled as declared (the page's script puts the label on it), each column headed in full
    for option in OPTIONS:
        assert json.dumps(option.web_label)[1:-1] in page, option.name
    titles = [column["title"] for column in args["extended_tables"][0]["structure"]]
    assert "of" not in titles and "Visitors in the whole plan" in titles

    # a Host the load test cannot send to (no http://) is refused, in the same words as --host, and no test starts
    refused = json.loads(_http(f"{ui}/swarm", form={"user_count": "0", "spawn_rate": "0", "host": "127.0.0.1:8000"}))
    assert refused == {"success": False, "host": site,
                       "message": "Host: must be a URL starting with http:// or https://, got '127.0.0.1:8000'"}
    assert _stats(ui)["state"] == "ready" and not out.exists()

    first = _run_one_test(ui, out, {})
    _close_to_target(first)
    assert first["plan"]["scale"] == 0.05 and first["held"] is True
    rows = _surge_rows(ui)
    assert rows and rows[-1]["target_rate"] == pytest.approx(45.0, rel=0.01)
    assert 0 < rows[0]["planned"] <= rows[0]["planned_total"] == round(first["plan"]["expected_visitors"])

    # a second test in the same process, with a scale typed in the form: it runs its whole plan too
    second = _run_one_test(ui, out, {"scale": "0.1"})
    _close_to_target(second)
    assert second["plan"]["scale"] == 0.1 and second["visitors"]["target"] == pytest.approx(
        2 * first["visitors"]["target"])
    assert (out / "timeseries.csv").exists()

    # a third, stopped from the UI before its plan's end: written as it stops, marked partial
    (out / "summary.json").unlink()
    assert json.loads(_http(f"{ui}/swarm", form={"user_count": "0", "spawn_rate": "0"}))["success"]
    _poll(lambda: _surge_rows(ui), timeout_s=TEST_S, what="the third test's first progress row")
    assert json.loads(_http(f"{ui}/stop", form={}))["success"]
    third = json.loads(_poll(lambda: (out / "summary.json").exists() and (out / "summary.json").read_text(),
                             timeout_s=TEST_S, what="the stopped test's summary.json"))
    assert third["partial"] is True and 0 < third["visitors"]["arrived"] < third["visitors"]["target"]

    text = log.read_text()
    for n in (1, 2, 3):
        assert f"surge: test {n} stopped: summary.json and timeseries.csv written to {out}" in text
    assert proc.poll() is None  # the web UI's process is still up for the next test


def test_help_lists_the_surge_options():
    # locust prints `locust -f FILE --help` before it imports FILE; run as a script, the file lists its options
    done = subprocess.run([sys.executable, str(locustfile_path()), "--help"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Surge options" in done.stdout
    for flag in ("--scenario", "--time-scale", "--scale", "--duration-s", "--slo", "--out"):
        assert re.search(rf"^\s+{flag} ", done.stdout, re.MULTILINE), flag
    assert '"p95<2s,errors<1%,dropped<1%"' in done.stdout  # one %, as typed
    assert "--web-port" in done.stdout  # locust's own options too


def test_the_locust_file_alone_refuses_a_bad_option_in_one_line():
    # checked as locust parses its options, before it starts anything: nothing is sent to the (loopback) host
    done = subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile_path()), *PLAN, "--headless",
                           "--host", "http://127.0.0.1:9", "--abort-on-error-rate", "2"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == "--abort-on-error-rate: must be within [0, 1], got 2.0"


def test_headless_run_prints_progress_lines(site, locust, tmp_path):
    out = tmp_path / "out"
    proc, log = locust([*PLAN, "--duration-s", "11", "--host", site, "--out", str(out), "--headless",
                        "--only-summary"])
    assert proc.wait(timeout=START_S + TEST_S) == 0, log.read_text()[-3000:]
    text = log.read_text()
    lines = re.findall(r"surge: (\d+):(\d\d) elapsed \| planned (\d+) of (\d+) visitors, arrived (\d+), dropped (\d+) "
                       r"\| arrivals ([\d.]+)/s \(target ([\d.]+)/s\) \| lag p99 ([\d.]+) ms", text)
    assert len(lines) >= 2, text[-3000:]  # one every 5 s over 11 s of arrivals
    elapsed = [60 * int(m) + int(s) for m, s, *_ in lines]
    assert elapsed == sorted(elapsed) and 4 <= elapsed[0] <= 6
    for *_, planned, total, arrived, dropped, achieved, target, _lag in lines:
        assert int(planned) <= int(total) and int(dropped) == 0
        assert float(target) == pytest.approx(45.0, rel=0.01)
        assert abs(int(arrived) - int(planned)) < 5 * math.sqrt(int(planned)) + 5
    assert json.loads((out / "summary.json").read_text())["partial"] is False
