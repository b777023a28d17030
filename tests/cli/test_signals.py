"""Real signals to real `surge` processes: what was computed is written, marked partial; nothing is left running.

Each test starts `surge` as a child process in a session of its own, waits for a line it
prints once the work is under way (never a fixed sleep), sends SIGINT or SIGTERM (to the
process alone or to its whole group), and checks the exit code, the files and that every
process it had started is gone.
"""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, SCENARIOS

SURGE = [sys.executable, "-m", "sim"]
WAIT_S = 120.0  # bound on each wait for a line: the slowest (a load test's start) takes a few seconds here


def _start(args, tmp_path):
    return subprocess.Popen(SURGE + [str(a) for a in args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, text=False)


def _wait_for(proc, needle: bytes, timeout_s: float = WAIT_S) -> bytes:
    """Read the child's stderr until ``needle`` appears (or fail after ``timeout_s``)."""
    seen, deadline = b"", time.monotonic() + timeout_s
    fd = proc.stderr.fileno()
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"no {needle!r} from surge within {timeout_s} s: {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(fd, 65536)
            seen += chunk
    return seen


def _finish(proc, timeout_s: float = WAIT_S) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout_s)
    return proc.returncode, out.decode(), err.decode()


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _assert_gone(processes, timeout_s: float = 10.0) -> None:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    assert not alive, f"left running: {[(p.pid, p.name()) for p in alive]}"


def _steady(tmp_path, duration_s: int) -> Path:
    text = (SCENARIOS / "steady.toml").read_text().replace("duration_s = 3600", f"duration_s = {duration_s}")
    path = tmp_path / "steady.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("signum, to_group, code", [
    (signal.SIGTERM, False, 143), (signal.SIGINT, True, 130),
])
def test_run_stopped_between_replications_writes_the_complete_ones(tmp_path, signum, to_group, code):
    # 20,000 s at 9 visitors/s on the reference engine: about a second per replication here,
    # so the signal lands while replication 2 of 3 runs.
    scenario, out = _steady(tmp_path, 20_000), tmp_path / "out"
    proc = _start(["run", scenario, "--engine", "reference", "--replications", "3", "--out", out], tmp_path)
    _wait_for(proc, b"replication 1/3 done")
    (os.killpg if to_group else os.kill)(proc.pid, signum)
    returncode, stdout, stderr = _finish(proc)
    assert returncode == code, stderr
    assert (out / "summary.json").exists(), stdout + stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True
    assert summary["replications_requested"] == 3 and summary["replications"] == summary["replications_complete"]
    assert summary["replications_complete"] in (1, 2)  # the signal may land just after replication 2 ends
    # complete replications only: the whole run's visitors (about 9/s x 19,700 s after the warm-up), no truncated one
    assert summary["end_s"] == 20_000 and 170_000 < summary["visitors"]["arrived"] < 185_000
    assert "PARTIAL" in stdout and (out / "timeseries.csv").exists()
    assert "Traceback" not in stderr


def test_a_lone_run_stopped_midway_is_written_partial(tmp_path):
    scenario, out = _steady(tmp_path, 200_000), tmp_path / "out"  # about 10 s on the reference engine
    proc = _start(["run", scenario, "--engine", "reference", "--out", out], tmp_path)
    _wait_for(proc, b"Ctrl-C stops it")
    os.kill(proc.pid, signal.SIGTERM)
    returncode, stdout, stderr = _finish(proc)
    assert returncode == 143, stderr
    summary = json.loads((out / "summary.json").read_text())
    # wherever the signal landed (even before the first arrival): what was computed, marked partial
    assert summary["partial"] is True and 0 <= summary["end_s"] < 200_000
    assert summary["replications_complete"] == 0
    assert "PARTIAL" in stdout and "terminated" in stderr and "Traceback" not in stderr


def test_sweep_in_a_pool_stopped_keeps_rows_marks_them_and_ends_its_workers(tmp_path):
    scenario, out = _steady(tmp_path, 20_000), tmp_path / "out"
    proc = _start(["sweep", scenario, "--vary", "site.app.workers=10:15", "--jobs", "2", "--engine", "reference",
                   "--slo", "wait_p95<0.7s", "--out", out], tmp_path)
    _wait_for(proc, b"1/6 points")
    workers = _descendants(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGTERM)  # to surge alone: it stops its own workers
    returncode, _, stderr = _finish(proc)
    assert returncode == 143, stderr
    _assert_gone(workers)
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["partial"] is True and meta["stopped"] == "terminated"
    assert meta["points_planned"] == 6 and 1 <= meta["points_complete"] < 6
    lines = (out / "sweep.csv").read_text().splitlines()
    header = lines[0].split(",")
    complete = [row.split(",")[header.index("complete")] for row in lines[1:]]
    assert complete.count("1") == meta["points_complete"] and set(complete) <= {"0", "1"}
    assert "PARTIAL (terminated)" in stderr and "Traceback" not in stderr


def test_sweep_in_this_process_stops_at_the_point_it_was_in(tmp_path):
    scenario, out = _steady(tmp_path, 20_000), tmp_path / "out"
    proc = _start(["sweep", scenario, "--vary", "site.app.workers=10:15", "--jobs", "1", "--engine", "reference",
                   "--out", out], tmp_path)
    _wait_for(proc, b"1/6 points")
    os.killpg(proc.pid, signal.SIGINT)
    returncode, _, stderr = _finish(proc)
    assert returncode == 130, stderr
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["stopped"] == "interrupted" and meta["points"] < 6  # it did not carry on with the next points
    rows = (out / "sweep.csv").read_text().splitlines()[1:]
    assert len(rows) == meta["points"]


@pytest.mark.parametrize("signum, to_group, code", [
    (signal.SIGINT, False, 130), (signal.SIGTERM, False, 143), (signal.SIGINT, True, 130),
])
def test_loadtest_stopped_writes_partial_results_and_stops_locust_and_the_demo_site(tmp_path, signum, to_group,
                                                                                    code):
    out = tmp_path / "out"
    proc = _start(["loadtest", _steady(tmp_path, 3600), "--time-scale", "10", "--scale", "0.1", "--out", out],
                  tmp_path)
    seen = _wait_for(proc, b"All users spawned")
    port = int(seen.split(b"started the demo site at http://127.0.0.1:")[1].split()[0])
    # Stopped once the driver plays its arrivals (its first progress line, after 5 s): "All users
    # spawned" comes before the driver is built, and a stop before that leaves nothing to write.
    _wait_for(proc, b"elapsed | planned")
    children = _descendants(proc.pid)
    assert children  # locust
    (os.killpg if to_group else os.kill)(proc.pid, signum)
    returncode, stdout, stderr = _finish(proc)
    assert returncode == code, stderr[-3000:]
    _assert_gone(children)
    assert (out / "summary.json").exists(), stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and summary["visitors"]["arrived"] > 0
    assert summary["stopped"] == ("terminated" if signum == signal.SIGTERM else "interrupted")
    assert "stopped the demo site" in stderr and "results above are partial" in stderr
    with pytest.raises(ConnectionRefusedError):  # the demo site is gone with its port
        import socket

        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_calibrate_stopped_midway_writes_a_fit_marked_partial(tmp_path):
    site = _start(["demo-site", "--port", "0", "--workers", "2", "--service-ms", "20", "--queue-limit", "16"], tmp_path)
    try:
        deadline, seen = time.monotonic() + WAIT_S, b""
        while b"/healthz" not in seen:  # its first line, on stdout: "demo site at http://127.0.0.1:PORT/ ..."
            assert time.monotonic() < deadline and site.poll() is None
            ready, _, _ = select.select([site.stdout.fileno()], [], [], 1.0)
            if ready:
                seen += os.read(site.stdout.fileno(), 65536)
        url = seen.split(b"demo site at ")[1].split(b"/ ")[0].decode()
        out = tmp_path / "site.toml"
        # 2 workers x 20 ms: 100 pages/s. Steps of 600 x k / 8: step 2 (150/s) saturates the site, so a
        # stop during step 3 leaves enough to fit; a complete calibration would stop after step 3.
        proc = _start(["calibrate", "--host", url, "--max-rate", "600", "--duration-s", "60", "--out", out], tmp_path)
        _wait_for(proc, b"step 2:")
        os.kill(proc.pid, signal.SIGINT)
        returncode, _, stderr = _finish(proc)
        assert returncode == 130, stderr
        assert out.exists(), stderr
        text = out.read_text()
        assert text.startswith("# PARTIAL: the calibration was interrupted after") and "workers" in text
        assert "Traceback" not in stderr
    finally:
        site.send_signal(signal.SIGINT)
        site.communicate(timeout=30)


def test_advise_with_confidence_stopped_while_drawing_surges_keeps_the_central_case_and_ends_its_workers(tmp_path):
    from tests.cli.test_advise import TINY
    from tests.cli.test_advise_confidence import RANGE

    scenario, out = tmp_path / "tiny.toml", tmp_path / "out"
    scenario.write_text(TINY + RANGE)
    proc = _start(["advise", scenario, "--confidence", "0.9", "--draws", "1000", "--jobs", "2", "--engine", "fast",
                   "--slo", "lost_actions<1%", "--out", out], tmp_path)
    _wait_for(proc, b"ranking the plausible surges (fluid model): 1/1000")  # on the pool the central case used
    workers = _descendants(proc.pid)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGTERM)
    returncode, stdout, stderr = _finish(proc)
    assert returncode == 143, stderr
    _assert_gone(workers)
    doc = json.loads((out / "advise.json").read_text())
    assert doc["partial"] is True and doc["stopped"] == "terminated" and doc["confidence"] == 0.9
    assert len(doc["rows"]) == 10 and all(r["complete"] and r["assessed"] == "no" for r in doc["rows"])
    assert doc["cheapest_at_confidence"] is None and "PARTIAL: terminated" in stdout and "Traceback" not in stderr


def test_risk_stopped_writes_the_draws_judged_so_far_marked_partial_and_ends_its_workers(tmp_path):
    out = tmp_path / "out"
    proc = _start(["risk", ROOT / "tests" / "analysis" / "risk_case.toml", "--draws", "60", "--jobs", "2",
                   "--out", out], tmp_path)
    _wait_for(proc, b"simulating: 1/")
    workers = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGINT)
    returncode, stdout, stderr = _finish(proc)
    assert returncode == 130, stderr
    _assert_gone(workers)
    risk = json.loads((out / "risk.json").read_text())
    assert risk["partial"] is True and risk["stopped"] == "interrupted" and risk["draws_planned"] == 60
    # what was judged is counted, no more: a draw left undecided near the boundary is left out
    assert risk["draws_count"] == len(risk["draws"]) == risk["simulated"] + risk["screened"] <= 60
    assert "PARTIAL (interrupted)" in stdout and "Traceback" not in stderr
