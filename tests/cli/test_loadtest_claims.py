"""The load test's headline claims, each checked against a real server the test starts on loopback.

(a) open workload: a site at half the offered rate still receives every arrival;
(b) latency from the intended start: a 2 s stall of nginx shows in the latency of the
    arrivals queued behind it, and the generator itself did not fall behind;
(c) an overloaded generator is flagged: `generator.kept_up` false, said first, exit 4;
(d, e) `--max-concurrent-visitors` drops and counts; request timeouts are counted as such;
(f) with `--processes`, locust's master and workers listen on loopback only.
(g) SIGINT to the process group: tests/cli/test_signals.py.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

import psutil

from loadtests.demo_site import DemoSite
from sim.cli import main
from tests.conftest import ROOT
from tests.servers import nginx_server


def _constant(tmp_path, rate_per_s: float, duration_s: float, *, name: str = "c.toml") -> str:
    """One request per visitor at a flat rate: what the site receives is easy to count."""
    path = tmp_path / name
    path.write_text(f"[run]\nduration_s = {duration_s}\nbin_s = 1\nseed = 7\n[traffic]\nconstant_per_s = {rate_per_s}\n"
                    "[visitors]\npages_per_visit = 1\nrequests_per_page = 1\naction_rate = 0\n"
                    "[loadtest.site]\nasset_paths = []\n")
    return str(path)


def _summary(out) -> dict:
    return json.loads((out / "summary.json").read_text())


def _poisson_ok(count: float, mean: float) -> bool:
    # Arrivals are Poisson: |z| < 4.5 fails about once in 150,000 runs by chance.
    return abs(count - mean) < 4.5 * math.sqrt(mean)


def test_a_an_open_workload_keeps_arriving_at_a_site_at_half_the_rate(tmp_path, capsys):
    # 2 workers x 20 ms: 100 requests/s; offered 200/s for 10 s. A closed loop would slow to the
    # site's pace; an open one sends every planned arrival, and the site sees each one.
    with DemoSite(port=0, workers=2, service_ms=20, queue_limit=8) as site:
        out = tmp_path / "out"
        code = main(["loadtest", _constant(tmp_path, 200, 10), "--host", site.url, "--time-scale", "1",
                     "--scale", "1", "--out", str(out)])
        stats = site.stats()
    s = _summary(out)
    assert code == 0 and s["generator"]["kept_up"] is True
    received = stats["queued"] + stats["rejected"]
    assert received == s["requests"]["arrived"] == s["visitors"]["arrived"]  # every arrival reached the site
    assert _poisson_ok(s["visitors"]["arrived"], 2000) and s["visitors"]["dropped"] == 0
    assert stats["rejected"] > 500 and s["requests"]["rejected"] == stats["rejected"]  # overloaded: 503s at once


def _nginx_worker(tmp_path):
    """The worker processes of the nginx this test started (its master runs our own nginx.conf)."""
    conf = str(tmp_path / "nginx" / "nginx.conf")
    masters = [p for p in psutil.process_iter(["cmdline"]) if conf in (p.info["cmdline"] or [])]
    assert len(masters) == 1
    return masters[0].children()


def _start_surge(args, tmp_path):
    return subprocess.Popen([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_line(proc, needle: bytes, timeout_s: float = 60.0) -> bytes:
    import select

    seen, deadline = b"", time.monotonic() + timeout_s
    while needle not in seen:
        assert proc.poll() is None and time.monotonic() < deadline, seen[-2000:]
        if select.select([proc.stdout], [], [], 0.5)[0]:
            seen += os.read(proc.stdout.fileno(), 65536)
    return seen


def test_b_a_stall_of_the_site_is_charged_to_the_site_from_the_intended_start(tmp_path):
    # nginx answers in about 1 ms; its worker stopped (SIGSTOP) for 2 s in the middle of a 6 s test
    # at 50 visitors/s: the kernel still accepts the ~100 arrivals of the stall, which wait for it.
    with nginx_server(tmp_path) as url:
        workers = _nginx_worker(tmp_path)
        assert len(workers) == 1
        out = tmp_path / "out"
        proc = _start_surge(["loadtest", _constant(tmp_path, 50, 6), "--host", url, "--time-scale", "1",
                             "--scale", "1", "--out", out], tmp_path)
        try:
            _wait_line(proc, b"All users spawned")
            time.sleep(2.0)  # the stall starts 2 s into the arrivals: the test's own schedule, not a wait for a state
            workers[0].suspend()
            try:
                time.sleep(2.0)
            finally:
                workers[0].resume()
            proc.wait(timeout=120)
        finally:
            proc.stdout.close()
    s = _summary(out)
    assert proc.returncode == 0 and s["generator"]["kept_up"] is True  # the generator kept to its schedule
    rows = [r.split(",") for r in (out / "timeseries.csv").read_text().splitlines()]
    header, rows = rows[0], rows[1:]
    p99 = [float(r[header.index("p99_s")] or "nan") for r in rows]
    # the bins of the stall (2-4 s) carry it: p99 near the 2 s stall; the bins well after it are fast again
    assert max(x for x in p99[2:4] if not math.isnan(x)) > 1.0
    assert all(x < 0.5 for x in p99[5:6] if not math.isnan(x))
    # about 100 of 300 arrivals waited: the page p95 shows the stall, from the send as from the plan
    assert s["page_response_s"]["p95"] > 0.5 and s["page_response_from_send_s"]["p95"] > 0.5
    assert abs(s["page_response_s"]["p95"] - s["page_response_from_send_s"]["p95"]) < 0.05


def test_c_an_overloaded_generator_is_flagged_first_and_exits_4(tmp_path):
    # One process cannot send 10,000 visitors/s here: it keeps up to about 3,200-3,500/s
    # (benchmarks/README.md, "Load generator throughput").
    with nginx_server(tmp_path) as url:
        out = tmp_path / "out"
        done = subprocess.run([sys.executable, "-m", "sim", "loadtest", _constant(tmp_path, 10_000, 3), "--host", url,
                               "--time-scale", "1", "--scale", "1", "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    s = _summary(out)
    assert done.returncode == 4, done.stderr[-2000:]
    g = s["generator"]
    assert g["kept_up"] is False and g["lag_s"]["p99"] > g["threshold_s"]
    first = done.stdout.lstrip().splitlines()[0]
    assert first.startswith("THE LOAD GENERATOR FELL BEHIND") and "--processes" in first
    assert "fell behind" in s["meaning"]


def test_d_e_concurrency_cap_drops_and_counts_and_timeouts_are_counted(tmp_path):
    # nginx stopped for the whole test: no answer ever comes. Each visitor holds its place for the
    # 1 s request timeout; at 50/s about 50 would be in flight, the cap is 20: the rest are dropped.
    with nginx_server(tmp_path) as url:
        worker = _nginx_worker(tmp_path)[0]
        worker.suspend()
        try:
            out = tmp_path / "out"
            code = main(["loadtest", _constant(tmp_path, 50, 4), "--host", url, "--time-scale", "1", "--scale", "1",
                         "--max-concurrent-visitors", "20", "--request-timeout-s", "1", "--out", str(out)])
        finally:
            worker.resume()
    s = _summary(out)
    v, r = s["visitors"], s["requests"]
    assert code == 1 and s["outcome"]["status"] == "failed"  # a site that answered nobody fails the test
    assert _poisson_ok(v["arrived"] + v["dropped"], 200) and v["dropped"] > 50  # dropped, counted, not lost
    assert 0 < v["arrived"] <= 20 * 4 + 20  # at most the cap at a time, each for about the 1 s timeout
    assert r["timed_out"] == r["arrived"] == v["arrived"] and r["by_status"] == {"timeout": r["arrived"]}
    assert v["failed"] == v["arrived"]


def test_f_master_and_workers_listen_on_loopback_only(tmp_path):
    with nginx_server(tmp_path) as url:
        out = tmp_path / "out"
        proc = _start_surge(["loadtest", _constant(tmp_path, 20, 20), "--host", url, "--time-scale", "1",
                             "--scale", "1", "--processes", "2", "--out", out], tmp_path)
        try:
            _wait_line(proc, b"All users spawned")
            listening = []
            for p in psutil.Process(proc.pid).children(recursive=True):
                listening += [c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            assert listening and all(ip.startswith("127.") or ip == "::1" for ip in listening), listening
        finally:
            os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
            proc.stdout.close()
