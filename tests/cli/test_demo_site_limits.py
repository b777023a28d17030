"""The demo site at its limits: the FIFO gate, idle connections, the descriptor limit, kill -9 mid-load."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import resource
import select
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from loadtests.demo_site import DemoSite
from loadtests.demo_site.gate import CLOSED, FULL, FifoGate
from loadtests.demo_site.transport import SHED_IDLE_S, SWEEP_S
from tests.cli.test_demo_site import GOOD, fetch, sign
from tests.conftest import ROOT


# ----- the FIFO gate -----

def test_the_gate_hands_freed_slots_to_waiters_in_arrival_order_and_refuses_beyond_capacity():
    gate = FifoGate(1, 4)
    first = gate.enter()
    got = []

    def waiter(i):
        slot = gate.enter()
        got.append(i)
        gate.leave(slot)

    threads = []
    for i in range(3):  # each one waits in the gate before the next arrives (nothing to await: poll, bounded)
        threads.append(threading.Thread(target=waiter, args=(i,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while gate.inside() < i + 2 and time.monotonic() < deadline:
            time.sleep(0.001)
    assert gate.inside() == 4 and gate.enter() == FULL
    gate.leave(first)
    for t in threads:
        t.join(timeout=5)
    assert got == [0, 1, 2] and gate.inside() == 0
    gate.close()
    assert gate.enter() == CLOSED


# ----- at its limits -----

@contextlib.contextmanager
def fd_room(needed: int):
    """This process may open ``needed`` descriptors (the soft limit raised if the hard one allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"needs {needed} file descriptors, the hard limit is {hard}: raise it (ulimit -Hn)",
                        pytrace=False)
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_connections_leave_healthz_fast_and_are_closed_after_the_read_timeout():
    n, timeout_s = 500, 1
    with fd_room(2 * n + 256), DemoSite(workers=2, service_ms=1, queue_limit=8, read_timeout_s=timeout_s) as site:
        opened = {}
        try:
            for _ in range(n):
                sock = socket.create_connection(("127.0.0.1", site.port), timeout=5)
                opened[sock] = time.monotonic()
            t0 = time.monotonic()
            assert fetch(site.url, "/healthz", timeout=5)[0] == 200
            healthz_s = time.monotonic() - t0
            closed_after, sel = {}, selectors.DefaultSelector()
            for sock in opened:
                sel.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout_s + SWEEP_S + 5
            while len(closed_after) < n and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    with contextlib.suppress(OSError):
                        assert key.fileobj.recv(1) == b""  # the site closed it, having sent nothing
                    closed_after[key.fileobj] = time.monotonic() - opened[key.fileobj]
                    sel.unregister(key.fileobj)
            sel.close()
        finally:
            for sock in opened:
                sock.close()
        assert site.stats()["healthz"] == 1
    # Measured over 10 runs: /healthz in 1.5-5 ms behind 500 idle connections (a server without the cap:
    # up to 20 s behind 10,000); 1 s leaves room for a busy machine.
    assert healthz_s < 1.0, f"/healthz took {healthz_s:.3f} s"
    assert len(closed_after) == n, f"{n - len(closed_after)} idle connections still open"
    # A connection is closed once it has been idle read_timeout_s, found by a sweep every SWEEP_S:
    # measured 1.001 to 2.010 s after opening (10 runs); the 1 s margin above is for a busy machine.
    assert timeout_s - 0.05 <= min(closed_after.values()) and max(closed_after.values()) < timeout_s + SWEEP_S + 1.0


# The demo site in a child whose descriptor limit is 256: it prints its port, serves until its
# stdin closes, then prints its counters. "fill" also uses up every free descriptor but 32, as a
# leak elsewhere in the process would, so that accepting fails with EMFILE below the site's cap.
_LIMITED_SITE = r"""
import json, logging, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
from loadtests.demo_site import DemoSite
site = DemoSite(workers=2, service_ms=1, queue_limit=8)
site.start()
hog = []
if sys.argv[1] == "fill":
    try:
        while True:
            hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    for fd in hog[-32:]:
        os.close(fd)
    del hog[-32:]
print(site.port, flush=True)
sys.stdin.read()
for fd in hog:
    os.close(fd)
site.stop()
print(json.dumps(site.stats()), flush=True)
"""


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process (Linux's /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("mode, n_idle", [("cap", 250), ("fill", 64)],
                         ids=["at the connection cap", "out of descriptors (EMFILE)"])
def test_at_the_descriptor_limit_healthz_answers_and_cpu_and_log_stay_bounded(mode, n_idle):
    # cap: the site caps connections at 256 - FD_RESERVE - 2 x 2 workers = 188, so 250 idle ones pass it;
    # fill: 32 descriptors are left, so 64 idle ones exhaust them. Either way the site must shed idle
    # connections (or pause), not spin: a server that spins spends 96 % CPU and writes 107 MB of log in 20 s.
    with subprocess.Popen([sys.executable, "-c", _LIMITED_SITE, mode], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        lines, healthz_s, cpu_share, status = _overrun(proc, n_idle)
        stats = json.loads(proc.stdout.read().decode().strip().splitlines()[-1])
    assert proc.returncode == 0, b"".join(lines)[-2000:]
    assert status == 200 and stats["shed"] >= 1
    # Measured over 10 runs each: /healthz in 0.26-0.27 s at the cap (one round of shedding: an idle
    # connection is shed once it is SHED_IDLE_S old) and 0.51-0.52 s out of descriptors (two rounds:
    # 64 connections for 32 descriptors); CPU 0.4-1.8 % of a core; 2 log lines. The bounds leave
    # room for a busy machine and still fail a spinning loop (about 100 % CPU, a line per try).
    assert healthz_s < 1.0 + SHED_IDLE_S, f"/healthz took {healthz_s:.3f} s"
    assert cpu_share < 0.25, f"the site used {cpu_share:.0%} of a core at its limit"
    assert len(lines) < 100, b"".join(lines[:20])


def _overrun(proc: subprocess.Popen, n_idle: int):
    """Open ``n_idle`` idle connections to the child, then time /healthz; its log, the time, its CPU share."""
    lines, at_limit = [], threading.Event()

    def read_log():
        for line in proc.stderr:
            lines.append(line)
            if b"demo site:" in line:
                at_limit.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    idle = []
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the child did not start"
        port = int(proc.stdout.readline())
        cpu0, wall0 = _cpu_s(proc.pid), time.monotonic()
        for _ in range(n_idle):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        assert at_limit.wait(10), b"".join(lines)[-2000:]
        t0 = time.monotonic()
        status, _, _ = fetch(f"http://127.0.0.1:{port}", "/healthz", timeout=10)
        healthz_s = time.monotonic() - t0
        time.sleep(2.0)  # not a wait for an event: the window over which the child's CPU is measured
        cpu_share = (_cpu_s(proc.pid) - cpu0) / (time.monotonic() - wall0)
    finally:
        for sock in idle:
            sock.close()
        proc.stdin.close()  # the child stops its site and prints its counters
        proc.wait(timeout=30)
        reader.join(timeout=10)
    return lines, healthz_s, cpu_share, status


def test_kill_9_mid_load_loses_no_acknowledged_signature(tmp_path):
    db = tmp_path / "signatures.sqlite3"
    acknowledged, enough, killing, failures = [], threading.Event(), threading.Event(), []
    with subprocess.Popen([sys.executable, "-m", "sim", "demo-site", "--port", "0", "--workers", "2",
                           "--service-ms", "5", "--queue-limit", "4", "--db", str(db)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as proc:
        _load_then_kill(proc, acknowledged, enough, killing, failures)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        stored = {row[0] for row in conn.execute("SELECT name FROM signatures")}
    missing = set(acknowledged) - stored
    assert len(acknowledged) >= 200 and not failures, failures[:3]
    assert not missing, f"{len(missing)} acknowledged signatures lost, e.g. {sorted(missing)[:3]}"


def _load_then_kill(proc, acknowledged, enough, killing, failures):
    """16 clients sign against the site until 200 are acknowledged; then kill -9 it mid-load."""
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the demo site did not start"
        url = re.search(rb"demo site at (http://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1).decode()

        def signer(k):
            for i in range(5000):
                if killing.is_set():
                    return
                name = f"Visitor {k}-{i}"
                try:
                    if sign(url, {**GOOD, "name": name}, timeout=10)[0] == 201:
                        acknowledged.append(name)
                        if len(acknowledged) >= 200:
                            enough.set()
                except (OSError, http.client.HTTPException) as err:  # a response cut short by the kill
                    if not killing.is_set():
                        failures.append(repr(err))

        with ThreadPoolExecutor(max_workers=16) as pool:  # 16 clients against K = 6: overloaded
            futures = [pool.submit(signer, k) for k in range(16)]
            assert enough.wait(60), f"only {len(acknowledged)} signatures acknowledged"
            killing.set()
            os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests in service, waiting and arriving
            proc.wait(timeout=10)
            for f in futures:
                f.result(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
