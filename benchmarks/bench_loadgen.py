"""Load generator throughput: the open-workload driver's sustainable visitors/s vs locust's FastHttpUser, same run.

    .venv/bin/python benchmarks/bench_loadgen.py [--step-s 8] [--rounds 2] [--users 100] [--lag-ms 10]

Starts nginx on 127.0.0.1 (``tests/servers.py``'s configuration: one worker, a static page) and
measures, in one process each:

* the **baseline**: locust's ``FastHttpUser``, ``--users`` closed-loop users with no wait, one GET
  per task on a *new connection* each time (the client's connections are closed after each
  request, as the driver closes a visitor's): its achieved requests/s over ``--baseline-s``;
* the **driver**: ``surge loadtest`` (``loadtests/driver.py`` under locust, one process) at a
  constant rate of one-request visitors for ``--step-s`` seconds a step. A rate is sustained
  when the p99 of the send lag and of the event-loop lag are within ``--lag-ms`` (default
  ``sim.loadtest.stats.LAG_THRESHOLD_S``) and no visitor was dropped or failed. The highest
  sustained rate is found by a ladder (x ``--factor`` a step) then a bisection; a failed step is
  run once more before it counts (another job's burst on a shared machine can stall one run).

Each round is a baseline then a search; a last baseline closes the run. Printed: every step,
the baselines' spread, and the ratio driver / baseline (target >= 0.8). Every loop is bounded
in count and the whole run by ``--budget-s``; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

STEP_OVERHEAD_S = 3.0  # a step's process start and report, beyond its arrivals (for the time budget)
MAX_STEPS = 40  # every search stops here whatever the budget


def cpu_pressure_us() -> float:
    """Linux PSI: microseconds during which some task waited for a CPU (nan where unavailable).

    Over a step, a share well above zero means other jobs competed for the 2 cores: the step
    measured the machine as much as the generator."""
    try:
        with open("/proc/pressure/cpu") as f:
            return float(f.readline().split("total=")[1])
    except (OSError, IndexError, ValueError):
        return math.nan


def _baseline_child(url: str, users: int, seconds: float, warmup_s: float) -> None:
    """Child process: locust's FastHttpUser, a new connection per request; print one JSON line."""
    import resource

    import gevent  # locust below patches the standard library first: import nothing of the network before
    from locust import FastHttpUser, constant, events, task
    from locust.env import Environment

    class OneRequestNewConnection(FastHttpUser):
        host = url
        wait_time = constant(0)

        @task
        def visit(self) -> None:
            self.client.get("/")
            self.client.client.clientpool.close()  # the next request opens a new connection (and a new client)

    env = Environment(user_classes=[OneRequestNewConnection], events=events)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users * 10)
    gevent.sleep(warmup_s)
    total = env.stats.total
    n0, f0, r0, t0 = total.num_requests, total.num_failures, resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    gevent.sleep(seconds)
    n1, f1, r1, t1 = total.num_requests, total.num_failures, resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    runner.quit()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"rps": (n1 - n0) / (t1 - t0), "requests": n1 - n0, "failures": f1 - f0,
                      "cpu_per_s": cpu / (t1 - t0)}))


def baseline(url: str, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--_baseline", url, str(args.users), repr(args.baseline_s)]
    p0, t0 = cpu_pressure_us(), time.monotonic()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=args.baseline_s + 60, cwd=ROOT)
    res_pressure = (cpu_pressure_us() - p0) / 1e6 / (time.monotonic() - t0)
    if out.returncode != 0:
        raise RuntimeError(f"baseline failed: {out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["pressure"] = res_pressure
    print(f"baseline  FastHttpUser, new connection each, {args.users} users: {res['rps']:8,.0f} requests/s "
          f"({res['requests']:,} in {args.baseline_s:g} s, {res['failures']} failed, CPU {res['cpu_per_s']:.2f} s/s; "
          f"CPU pressure {res_pressure:.0%})",
          flush=True)
    return res


_SCENARIO = """name = "bench-loadgen"
[run]
duration_s = {duration}
bin_s = 1
seed = {seed}
[traffic]
constant_per_s = {rate}
[visitors]
pages_per_visit = 1
requests_per_page = 1
action_rate = 0
[loadtest.site]
asset_paths = []
"""


def driver_step(url: str, rate: float, args, tmp: Path, n: int) -> dict:
    """One ``surge loadtest`` at a constant ``rate`` of one-request visitors; its generator figures."""
    scenario = tmp / f"step{n}.toml"
    scenario.write_text(_SCENARIO.format(duration=args.step_s, rate=f"{rate:.1f}", seed=n + 1))
    out = tmp / f"step{n}"
    cmd = [sys.executable, "-m", "sim", "loadtest", str(scenario), "--host", url, "--time-scale", "1",
           "--scale", "1", "--out", str(out)]
    p0, t0 = cpu_pressure_us(), time.monotonic()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=args.step_s + 120, cwd=ROOT)
    wall = time.monotonic() - t0
    pressure = (cpu_pressure_us() - p0) / 1e6 / wall
    if proc.returncode not in (0, 4) or not (out / "summary.json").exists():  # 4: the generator fell behind
        raise RuntimeError(f"surge loadtest exited {proc.returncode}: {(proc.stderr or proc.stdout)[-2000:]}")
    s = json.loads((out / "summary.json").read_text())
    gen, vis, req = s["generator"], s["visitors"], s["requests"]
    lag, loop = gen["lag_s"]["p99"], gen["loop_lag_s"]["p99"]
    worst = max(lag, loop)
    ok = (worst <= args.lag_ms / 1000 and vis["dropped"] == 0 and vis["failed"] == 0
          and req["arrived"] == req["completed"])
    res = {"rate": rate, "ok": ok, "lag_p99_s": lag, "loop_p99_s": loop, "worst_p99_s": worst,
           "dropped": vis["dropped"], "failed": vis["failed"], "arrived": vis["arrived"], "wall_s": wall,
           "pressure": pressure}
    print(f"  driver {rate:8,.0f}/s  {'ok  ' if ok else 'FAIL'}  lag p99 {lag * 1e3:7.1f} ms  loop lag p99 "
          f"{loop * 1e3:6.1f} ms  dropped {vis['dropped']:,}  failed {vis['failed']:,}  ({vis['arrived']:,} visitors; "
          f"CPU pressure {pressure:.0%})",
          flush=True)
    return res


class Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def allows(self, seconds: float) -> bool:
        return time.monotonic() + seconds <= self.end


def search(url: str, args, tmp: Path, start: float, budget: Budget, steps: list) -> float:
    """The highest constant rate the driver sustains: a ladder up from ``start``, then a bisection."""
    step_cost = args.step_s + STEP_OVERHEAD_S

    def sustained(rate: float) -> bool | None:  # None: no time left
        for attempt in range(2):  # a failure counts when it happens twice
            if len(steps) >= MAX_STEPS or not budget.allows(step_cost):
                return None
            res = driver_step(url, rate, args, tmp, len(steps))
            steps.append(res)
            if res["ok"]:
                return True
            if attempt == 0:
                print("         (failed: run once more)", flush=True)
        return False

    rate = start
    ok = sustained(rate)
    if ok is None:
        return 0.0
    lo, hi = (rate, math.inf) if ok else (0.0, rate)
    for _ in range(MAX_STEPS):  # the ladder: up while sustained, or down until sustained
        rate = rate * args.factor if ok else rate / args.factor
        if rate < 10:
            return 0.0
        ok = sustained(rate)
        if ok is None:
            return lo
        if ok:
            lo = rate
        else:
            hi = rate
        if lo > 0 and hi < math.inf:
            break
    for _ in range(args.bisect):  # then halve the bracket, geometrically
        mid = math.sqrt(lo * hi)
        ok = sustained(mid)
        if ok is None:
            break
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--step-s", type=float, default=8.0, help="seconds of arrivals per driver step")
    p.add_argument("--baseline-s", type=float, default=8.0, help="seconds the baseline is measured over")
    p.add_argument("--users", type=int, default=100, help="the baseline's locust users")
    p.add_argument("--rounds", type=int, default=2, help="baseline + driver search, this many times")
    p.add_argument("--start", type=float, default=2000.0, help="the first rate of the first ladder (visitors/s)")
    p.add_argument("--factor", type=float, default=1.25, help="the ladder's step")
    p.add_argument("--bisect", type=int, default=3, help="bisection steps after the ladder")
    p.add_argument("--lag-ms", type=float, default=None,
                   help="the p99 lag a sustained rate stays within (default: LAG_THRESHOLD_S)")
    p.add_argument("--budget-s", type=float, default=285.0, help="the whole run stops searching after this")
    args = p.parse_args(argv)
    from sim.loadtest.stats import LAG_THRESHOLD_S
    from tests.servers import NGINX, nginx_server

    threshold_ms = LAG_THRESHOLD_S * 1000
    if args.lag_ms is None:
        args.lag_ms = threshold_ms
    if not os.path.exists(NGINX):
        print(f"{NGINX} is missing (apt-get install nginx)", file=sys.stderr)
        return 2
    budget = Budget(args.budget_s - args.baseline_s - 2.0 - STEP_OVERHEAD_S)  # the last baseline always runs
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-loadgen-") as d, nginx_server(Path(d)) as url:
        tmp = Path(d)
        print(f"nginx at {url} (1 worker); one process each; {args.step_s:g} s a driver step; sustained: p99 of "
              f"send lag and loop lag <= {args.lag_ms:g} ms, nothing dropped or failed", flush=True)
        bases, maxima, steps = [], [], []
        start = args.start
        for r in range(max(1, args.rounds)):
            bases.append(baseline(url, args))
            print(f"round {r + 1}: driver search from {start:,.0f}/s", flush=True)
            best = search(url, args, tmp, start, budget, steps)
            maxima.append(best)
            print(f"round {r + 1}: driver sustains {best:,.0f} visitors/s", flush=True)
            if best > 0:
                start = best / args.factor ** 2
        bases.append(baseline(url, args))
    rps = [b["rps"] for b in bases]
    base = statistics.median(rps)
    half = [s["rate"] for s in steps if s["ok"] and s["worst_p99_s"] <= args.lag_ms / 2000]
    print(f"\nbaseline FastHttpUser (new connection each): median {base:,.0f} requests/s "
          f"(runs {', '.join(f'{x:,.0f}' for x in rps)}; spread {min(rps) / base:.2f}-{max(rps) / base:.2f}x median)")
    print(f"driver max sustained (lag p99 <= {args.lag_ms:g} ms): {', '.join(f'{m:,.0f}' for m in maxima)} visitors/s")
    print(f"highest step with lag p99 <= {args.lag_ms / 2:g} ms: {max(half, default=0):,.0f} visitors/s")
    ratios = [m / base for m in maxima]
    print(f"ratio driver / FastHttpUser: {statistics.median(ratios):.2f}x  (rounds {', '.join(f'{x:.2f}' for x in ratios)}; "
          f"any round against any baseline {min(maxima) / max(rps):.2f}-{max(maxima) / min(rps):.2f}x)  (target >= 0.8)")
    print(f"run time {time.monotonic() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--_baseline"]:
        _baseline_child(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), warmup_s=2.0)
        sys.exit(0)
    sys.exit(main())
