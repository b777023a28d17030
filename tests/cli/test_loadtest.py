"""The open-workload load test, end to end against loopback servers (bounded in time)."""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from sim.cli import main
from sim.cli.loadtest import locustfile_path
from sim.config.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS
from tests.servers import loopback_server

STEADY = str(SCENARIOS / "steady.toml")
# steady: 9 visitors/s; x 100 in time and x 0.5 in size = 450 visitors per wall second, for 8 s
FAST = ["--time-scale", "100", "--scale", "0.5", "--duration-s", "8", "--assets", "none"]


def _read(out):
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "timeseries.csv") as fh:
        rows = list(csv.DictReader(fh))
    return summary, rows


def test_achieved_arrivals_follow_the_target_on_a_site_that_keeps_up(tmp_path, capsys):
    out = tmp_path / "lt"
    with loopback_server() as url:
        code = main(["loadtest", STEADY, "--host", url, "--out", str(out), *FAST])
    assert code == 0
    summary, rows = _read(out)
    v = summary["visitors"]
    assert v["dropped"] == 0 and v["failed"] == 0
    # the run's total within 3 % of the target
    assert v["arrived"] == pytest.approx(v["target"], rel=0.03)
    # per bin of simulated time, within Poisson noise: |z| < 4.5 over the ~13 bins
    target = np.array([float(r["target_arrivals"]) for r in rows])
    achieved = np.array([float(r["arrivals"]) for r in rows])
    z = (achieved - target) / np.sqrt(target)
    assert len(rows) >= 13 and np.max(np.abs(z)) < 4.5
    assert summary["page_response_s"]["p50"] < 0.5
    for name in ("locust_stats.csv", "locust.html"):
        assert (out / name).exists()
    assert "completed pages p50 / p95 / p99" in capsys.readouterr().out  # the summary table, its basis named


def test_slo_gate_exit_code_names_the_broken_objective(tmp_path, capsys):
    with loopback_server() as url:
        code = main(["loadtest", STEADY, "--host", url, "--out", str(tmp_path), "--slo", "p50<1ms,errors<1%",
                     "--time-scale", "100", "--scale", "0.2", "--duration-s", "3", "--assets", "none"])
    assert code == 1
    text = capsys.readouterr().out
    assert "SLO p50<1ms" in text and "BROKEN" in text
    assert "SLO errors<1%  " in text or "SLO errors<1%" in text


def test_safety_brake_stops_hammering_a_dead_site(tmp_path, capsys):
    with loopback_server(status=500) as url:
        code = main(["loadtest", STEADY, "--host", url, "--out", str(tmp_path), "--abort-on-error-rate", "0.5",
                     "--abort-after-s", "2", "--time-scale", "100", "--scale", "0.2", "--duration-s", "60",
                     "--assets", "none"])
    assert code == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "exceeded 50%" in summary["aborted"]
    assert summary["visitors"]["arrived"] < 0.5 * summary["visitors"]["target"]  # stopped early


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_master_with_two_workers_splits_the_rate(tmp_path):
    out = tmp_path / "dist"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with loopback_server() as url:
        common = [sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--scenario", STEADY,
                  "--time-scale", "100", "--scale", "0.5", "--duration-s", "6", "--assets", "none", "--host", url]
        master = subprocess.Popen(
            common + ["--master", "--headless", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                      "--expect-workers", "2", "--expect-workers-max-wait", "30", "--out", str(out),
                      "--exit-code-on-error", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers = [subprocess.Popen(common + ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        try:
            assert master.wait(timeout=120) == 0
        finally:
            for p in [master, *workers]:
                if p.poll() is None:
                    p.kill()
                p.wait(timeout=10)
    summary, _ = _read(out)
    assert summary["drivers"] == 2
    v = summary["visitors"]
    # two independent thinned streams add up to the whole: within Poisson noise of the target
    assert abs(v["arrived"] - v["target"]) < 4 * np.sqrt(v["target"])
    assert v["failed"] == 0 and v["dropped"] == 0


def test_demo_site_by_default_never_acknowledges_an_unstored_signature(tmp_path, capsys):
    """Overload the embedded demo site: every 2xx to a submit is a stored row, and no more."""
    out = tmp_path / "demo"
    # 9 visitors/s x 100 x 0.3, every visitor signs: ~270 submits/s against 2 workers of 20 ms (100/s)
    scenario = tmp_path / "sign.toml"
    scenario.write_text((SCENARIOS / "steady.toml").read_text().replace("action_rate = 0", "action_rate = 1"))
    code = main(["loadtest", str(scenario), "--out", str(out), "--time-scale", "100", "--scale", "0.3",
                 "--duration-s", "4", "--assets", "none", "--demo-workers", "2", "--demo-service-ms", "20",
                 "--demo-queue-limit", "8"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    stored = summary["demo_site"]["signatures_stored"]
    assert summary["requests"]["rejected"] > 0  # it was overloaded
    assert 0 < stored == summary["actions"]["completed"]
    assert "started the demo site at http://127.0.0.1:" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--host", "http://127.0.0.1:abc"], "--host: must have a port that is a number in [1, 65535], "
                                         "got 'http://127.0.0.1:abc'"),
    (["--request-timeout-s", "0"], "--request-timeout-s: must be > 0 and finite, got 0.0"),
    (["--request-timeout-s", "inf"], "--request-timeout-s: must be > 0 and finite, got inf"),
    (["--abort-after-s", "-1"], "--abort-after-s: must be > 0 and finite, got -1.0"),
    (["--processes", "999"], "--processes: must be within [0, {cores}] (the cores), got 999"),
    (["--max-concurrent-visitors", "100000000"], "--max-concurrent-visitors: must be <= 100000 (surge's limit"),
    (["--demo-queue-limit", "0"], "--demo-queue-limit: must be within [1, "),
    (["--demo-workers", "100000"], "--demo-workers: must be within [1, "),
    (["--demo-service-ms", "1e12"], "--demo-service-ms: must be within [0, "),
    (["--scale", "1e9"], "--scale: the load test expects 3.24e+13 visitors (1e+09 x the scenario's), more than "
                         "the 1e+07 a load test may send"),
])
def test_flags_that_cannot_run_are_refused_before_anything_starts(argv, message, tmp_path, capsys):
    import threading
    import time

    from sim.config.limits import max_processes

    before = threading.active_count()
    started = time.perf_counter()
    assert main(["loadtest", STEADY, *argv, "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - started < 10 and threading.active_count() == before  # no demo site, no locust
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(message.format(cores=max_processes())), err
    assert not (tmp_path / "out").exists()


def test_a_term_with_no_measured_value_is_printed_as_not_measured(capsys):
    from sim.cli.loadtest import _print_summary

    # what a short load test's summary.json holds: no action was seen, so lost_actions has no value
    _print_summary({"kind": "loadtest", "actions": {"completed": 0, "lost": 0, "lost_fraction": None},
                    "slo": [{"objective": "lost_actions<1%", "value": None, "met": False}]})
    out = capsys.readouterr().out
    assert "SLO lost_actions<1%" in out and "BROKEN (not measured)" in out


def test_match_peak_and_processes_auto_resolve_before_anything_starts():
    import argparse

    from sim.cli.loadtest import PROCESS_CAPACITY_PER_S, resolve_load
    from sim.config.limits import max_processes

    def args(**kw):
        base = dict(scenario=str(SCENARIOS / "anca-2020.toml"), time_scale=144.0, scale=None, match_peak=False,
                    processes="0", duration_s=None, assets="misses")
        return argparse.Namespace(**{**base, **kw})

    a = args(match_peak=True)
    resolve_load(a)
    assert a.scale == 1 / 144  # scale x time-scale = 1: the real arrival rate
    a = args()
    resolve_load(a)
    assert a.scale == 0.001 and a.processes == 0
    # the default replay's peak: 0.144 x ~204 visitors/s x ~5.8 requests each, about 170 requests/s: one process
    a = args(processes="auto")
    resolve_load(a)
    assert a.processes == 0
    # at the real peak (x 1/0.144): about 1,200 requests/s, still under one process's 2,000
    a = args(processes="auto", match_peak=True, scale=None)
    resolve_load(a)
    assert a.processes == 0 and PROCESS_CAPACITY_PER_S == 2000
    a = args(processes="auto", time_scale=144.0, scale=0.05)  # 7.2x the real rate: ~8,500 requests/s
    resolve_load(a)
    assert a.processes == min(5, max_processes())  # ceil(8,500 / 2,000)


def test_match_peak_with_a_scale_is_refused(capsys):
    code = main(["loadtest", str(SCENARIOS / "anca-2020.toml"), "--match-peak", "--scale", "0.01"])
    assert code == 2
    assert capsys.readouterr().err.strip() == "--match-peak: sets the scale itself (1 / --time-scale): drop --scale"


def test_surge_loadtest_parses_the_scenario_once(monkeypatch, tmp_path, capsys):
    import sim.cli.loadtest as cli

    parsed = []
    monkeypatch.setattr(cli, "load_scenario", lambda path: parsed.append(path) or load_scenario(path))
    # every check passes but --out's (a file in the way): the flags, the scenario and --processes auto are
    # resolved, from one parse, and nothing starts
    (tmp_path / "file").write_text("")
    assert main(["loadtest", STEADY, "--processes", "auto", "--out", str(tmp_path / "file" / "out")]) == 2
    assert parsed == [STEADY] and "--processes auto: 1 for a peak of" in capsys.readouterr().err
