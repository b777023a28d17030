"""A load test that measured nothing never passes, on every route (`surge loadtest`, locust headless,
`--processes`, `--master`/`--worker`, the web UI: tests/cli/test_locust_ui.py):

* a --host the load test cannot send to is refused before anything is sent: one line naming the flag
  and the value, exit code 2, no process left;
* a visitor that dies of an error in the driver (here a real one: a path the HTTP client refuses to
  send) is a lost visitor, its error counted and shown, and the test is invalid: exit 1;
* a site that serves nobody (nothing listening, or 503 to everything) fails the test: exit 1.

Every server is the test's own on 127.0.0.1; the routes of one test run side by side (each is mostly
locust's start-up), every process is bounded in time and stopped.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys

from sim.cli.loadtest import locustfile_path
from sim.output.report import build_report
from tests.conftest import ROOT
from tests.servers import loopback_server

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
WAIT_S = 120.0  # bound on one route's whole run (start-up, a few seconds of arrivals, drain, files)


def _scenario(tmp_path, *, rate_per_s: float, duration_s: float, landing: str = "/") -> str:
    """One GET of ``landing`` per visitor at a flat rate."""
    path = tmp_path / f"s-{landing.strip('/').replace(' ', '_') or 'root'}.toml"
    path.write_text(f"[run]\nduration_s = {duration_s}\nbin_s = 1\nseed = 7\n[traffic]\nconstant_per_s = {rate_per_s}\n"
                    "[visitors]\npages_per_visit = 1\nrequests_per_page = 1\naction_rate = 0\n"
                    f"[loadtest.site]\nlanding_path = {json.dumps(landing)}\nasset_paths = []\n")
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _locust(*args) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile_path()), *map(str, args)]


def _surge(*args) -> list[str]:
    return [sys.executable, "-m", "sim", *map(str, args)]


def _run_all(commands: dict[str, list[str]]) -> dict[str, subprocess.CompletedProcess]:
    """Each command in a session of its own, all at once; each one's exit code, stdout and stderr.
    None leaves a process behind (a worker forked by --processes is in its parent's process group)."""
    import psutil

    procs = {name: subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
             for name, cmd in commands.items()}
    done = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=WAIT_S)
            done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        groups = {proc.pid: name for name, proc in procs.items()}
        left = []
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) in groups:
                    left.append((groups[os.getpgid(p.pid)], p.pid))
            except (ProcessLookupError, psutil.Error):
                pass
        assert not left, f"left running: {left}"
    finally:
        for proc in procs.values():
            try:
                os.killpg(proc.pid, 9)  # whatever is left of its group
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    return done


def test_a_host_without_its_scheme_is_refused_by_every_route_before_any_load(tmp_path):
    scenario = _scenario(tmp_path, rate_per_s=20, duration_s=3)
    seen = collections.Counter()
    with loopback_server(seen=seen) as url:
        bare = url.removeprefix("http://")  # 127.0.0.1:PORT, as a user types it
        plan = ["--scenario", scenario, "--time-scale", "1", "--scale", "1", "--host", bare]
        done = _run_all({
            "surge loadtest": _surge("loadtest", scenario, "--host", bare, "--time-scale", "1", "--scale", "1"),
            "locust headless": _locust(*plan, "--headless", "--only-summary"),
            "locust --processes 2": _locust(*plan, "--headless", "--only-summary", "--processes", "2",
                                            "--master-bind-host", "127.0.0.1"),
            "locust --master": _locust(*plan, "--master", "--headless", "--master-bind-host", "127.0.0.1",
                                       "--master-bind-port", _free_port(), "--expect-workers", "1"),
            "locust --worker": _locust(*plan, "--worker", "--master-host", "127.0.0.1", "--master-port", _free_port()),
            "locust web UI": _locust(*plan, "--web-host", "127.0.0.1", "--web-port", _free_port()),
        })
    line = f"--host: must be a URL starting with http:// or https://, got '{bare}'\n"
    for name, result in done.items():
        assert result.returncode == 2, (name, result.stderr[-2000:])
        assert result.stderr.count(line) == 1 and "Traceback" not in result.stderr, (name, result.stderr[-2000:])
    assert done["surge loadtest"].stderr == line  # the command line's: that line alone
    assert not seen  # nothing was sent


def test_a_visitor_dead_of_a_driver_error_is_lost_and_counted_and_the_test_is_invalid(tmp_path):
    # A landing path with a space: the HTTP client refuses to build the request (ValueError), a real error
    # in the journey's code, raised for every visitor before a byte is sent.
    scenario = _scenario(tmp_path, rate_per_s=20, duration_s=3, landing="/sign here")
    seen = collections.Counter()
    with loopback_server(seen=seen) as url:
        done = _run_all({
            "surge loadtest": _surge("loadtest", scenario, "--host", url, "--time-scale", "1", "--scale", "1",
                                     "--out", tmp_path / "cli"),
            "locust --processes 2": _locust("--scenario", scenario, "--time-scale", "1", "--scale", "1", "--host", url,
                                            "--headless", "--only-summary", "--processes", "2", "--master-bind-host",
                                            "127.0.0.1", "--out", tmp_path / "workers"),
        })
    assert not seen
    error = "ValueError: invalid request URI '/sign here'"
    for name, out in (("surge loadtest", tmp_path / "cli"), ("locust --processes 2", tmp_path / "workers")):
        result = done[name]
        assert result.returncode == 1, (name, result.stderr[-3000:])
        s = json.loads((out / "summary.json").read_text())
        v = s["visitors"]
        # about 60 arrivals (20/s for 3 s): every one dead of the error, lost, counted by kind
        assert v["arrived"] > 20 and v["served"] == 0, (name, v)
        assert v["died"] == v["failed"] == v["lost"] == v["arrived"] and v["lost_fraction"] == 1.0, (name, v)
        assert s["driver_errors"] == {"visitors": v["arrived"], "by_error": {error: v["arrived"]}}, name
        assert s["outcome"]["status"] == "invalid" and f"{v['arrived']} of {v['arrived']} visitors died" in \
            s["outcome"]["reason"], name
        assert "it is invalid" in s["meaning"] and "staging's capacity" not in s["meaning"], name
        # the error in full, once a driver (not once a visitor)
        assert "THE LOAD TEST IS INVALID" in result.stderr and "Traceback" in result.stderr, name
        assert result.stderr.count(f"\n{error}\n") == s["drivers"], name
        page = build_report(out)
        assert "banner good" not in page and "The load test is invalid" in page, name
    assert s["drivers"] == 2  # the workers' counts, merged
    console = done["surge loadtest"].stdout
    assert console.lstrip().startswith("THE LOAD TEST IS INVALID:"), console[:500]
    assert "visitors died in the load generator" in console and error in console
    assert "kept up" not in console and "(0.0 %)" not in console and "(100.0 %)" in console


def test_a_site_that_serves_nobody_fails_the_test(tmp_path):
    scenario = _scenario(tmp_path, rate_per_s=20, duration_s=3)
    nothing = f"http://127.0.0.1:{_free_port()}"  # nothing listens there: every connection is refused
    seen = collections.Counter()
    with loopback_server(status=503, seen=seen) as url:
        done = _run_all({
            "surge loadtest": _surge("loadtest", scenario, "--host", nothing, "--time-scale", "1", "--scale", "1",
                                     "--out", tmp_path / "refused"),
            # the site under a path of its own: every request goes there, and nowhere else
            "locust headless": _locust("--scenario", scenario, "--time-scale", "1", "--scale", "1", "--host",
                                       f"{url}/campaign/", "--headless", "--only-summary", "--out", tmp_path / "503"),
        })
    for name, out, status in (("surge loadtest", tmp_path / "refused", "connection_error"),
                              ("locust headless", tmp_path / "503", "503")):
        result = done[name]
        assert result.returncode == 1, (name, result.stderr[-3000:])
        s = json.loads((out / "summary.json").read_text())
        v = s["visitors"]
        assert v["arrived"] > 20 and v["served"] == 0 and v["failed"] == v["arrived"] and v["died"] == 0, (name, v)
        assert s["requests"]["by_status"] == {status: v["arrived"]}, name
        assert s["outcome"] == {"status": "failed", "reason": f"the site served none of its {v['arrived']} visitors "
                                f"({status} x {v['arrived']}): it was down or refused them all, whatever the load"}
        assert "THE LOAD TEST FAILED" in result.stderr, name
        page = build_report(out)
        assert "banner good" not in page and "The load test failed" in page, name
    assert set(seen) == {("GET", "/campaign/", "", "127.0.0.1")}
    assert sum(seen.values()) == json.loads((tmp_path / "503" / "summary.json").read_text())["requests"]["arrived"]
    assert done["surge loadtest"].stdout.lstrip().startswith("THE LOAD TEST FAILED: the site served none")


def test_the_report_of_a_folder_written_before_outcome_existed_shows_no_green(tmp_path):
    from sim.output.report import generator_banner, outcome_banner

    # what locust's route once wrote for 78 visitors dead before their first request: nothing says they failed
    old = {"kind": "loadtest", "visitors": {"arrived": 78, "dropped": 0, "served": 0, "failed": 0, "lost": 0,
                                            "lost_fraction": 0.0},
           "requests": {"arrived": 0, "by_status": {}},
           "generator": {"kept_up": True, "threshold_s": 0.01, "lag_s": {"p99": None}, "loop_lag_s": {"p99": 0.001}}}
    assert generator_banner(old) == ""
    assert outcome_banner(old).startswith('<p class="banner bad">✘ The load test is invalid: 78 visitors arrived and '
                                          "not one request was sent")
    # a few visitors dead, the rest served: measured, the generator's green stays, the deaths in amber
    few = {**old, "visitors": {"arrived": 100, "dropped": 0, "served": 97, "failed": 3, "died": 3},
           "requests": {"arrived": 97}, "driver_errors": {"visitors": 3, "by_error": {"KeyError: 'x'": 3}}}
    assert 'class="banner good">✔ The load generator kept up' in generator_banner(few)
    assert outcome_banner(few) == ('<p class="banner warn">⚠ 3 visitors died of an error in the load generator, '
                                   "counted as lost: KeyError: &#x27;x&#x27;.</p>")
