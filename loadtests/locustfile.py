"""Replay a surge scenario against a staging site with locust, as an open workload.

    locust -f loadtests/locustfile.py --scenario scenarios/anca-2020.toml \
        --time-scale 144 --scale 0.001 --host http://127.0.0.1:8000 [--headless] [--out DIR]

Works with locust's web UI, ``--headless``, ``--processes N`` and ``--master``/``--worker``:
one driver per process plays its share of the arrivals (see ``loadtests/driver.py``).
The shape is a thin wrapper over ``sim.loadtest.schedule.LoadPlan``, itself over the profile in
``sim.traffic.profile``: the surge is defined in one place.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import gevent
from locust import LoadTestShape, User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from loadtests.driver import Driver  # noqa: E402
from sim.loadtest.schedule import ASSET_MODES, LoadPlan  # noqa: E402
from sim.loadtest.stats import LOADTEST_COLUMNS, LoadRecorder  # noqa: E402
from sim.config.scenario import load_scenario  # noqa: E402
from sim.analysis.slo import evaluate, parse_slo  # noqa: E402

log = logging.getLogger("surge")
DRAIN_S = 30.0
_state: dict = {"plan": None, "drivers": None, "results": {}, "complete": {}, "aborted": None, "reported": False}


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    g = parser  # locust's own parser: its include_in_web_ui works on it, not on argument groups
    g.add_argument("--scenario", default="scenarios/anca-2020.toml", include_in_web_ui=True,
                   help="surge scenario file (TOML)")
    g.add_argument("--time-scale", type=float, default=144.0, include_in_web_ui=True,
                   help="simulated seconds per wall second (144: 24 h in 10 min)")
    g.add_argument("--scale", type=float, default=0.001, include_in_web_ui=True,
                   help="fraction of the scenario's visitors to send")
    g.add_argument("--duration-s", type=float, default=0.0, include_in_web_ui=True,
                   help="wall seconds of arrivals (0: the whole scenario at the time scale)")
    g.add_argument("--assets", choices=ASSET_MODES, default="misses", help="which asset requests to send")
    g.add_argument("--max-concurrent-visitors", type=int, default=10_000,
                   help="visitors in flight before arrivals are dropped (and counted)")
    g.add_argument("--request-timeout-s", type=float, default=30.0, help="client timeout of one request")
    g.add_argument("--surge-seed", type=int, default=-1, help="seed (-1: the scenario's run.seed)")
    g.add_argument("--out", default="", help="folder for summary.json and timeseries.csv")
    g.add_argument("--slo", default="", help='objectives, e.g. "p95<2s,errors<1%%,dropped<1%%"')
    g.add_argument("--abort-on-error-rate", type=float, default=0.0,
                   help="stop early when this fraction of requests fails (0: never)")
    g.add_argument("--abort-after-s", type=float, default=30.0,
                   help="the window over which --abort-on-error-rate is judged, and the least run time before")


def _plan(options) -> LoadPlan:
    if _state["plan"] is None:
        scenario = load_scenario(options.scenario)
        _state["plan"] = LoadPlan(scenario, time_scale=options.time_scale, scale=options.scale,
                                  duration_s=options.duration_s or None, assets=options.assets)
    return _state["plan"]


@events.init.add_listener
def _init(environment, **_kw) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message("surge_results", _received)
    if isinstance(runner, WorkerRunner):
        runner.register_message("surge_drivers", lambda msg, **_: _state.update(drivers=msg.data["drivers"]))


def _received(msg, **_kw) -> None:
    _state["results"][msg.data["index"]] = msg.data["recorder"]
    _state["complete"][msg.data["index"]] = msg.data["complete"]


@events.test_start.add_listener
def _test_start(environment, **_kw) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message("surge_drivers", {"drivers": max(runner.worker_count, 1)})
    if not isinstance(runner, WorkerRunner) and environment.parsed_options.abort_on_error_rate > 0:
        gevent.spawn(_safety_brake, environment)


def _safety_brake(environment) -> None:
    """Stop a test that is only hammering a dead site, and say so."""
    opts = environment.parsed_options
    history = []
    start = gevent.get_hub().loop.now()
    while environment.runner.state not in ("stopped", "quitting"):
        gevent.sleep(1.0)
        total = environment.stats.total
        now = gevent.get_hub().loop.now()
        history.append((now, total.num_requests, total.num_failures))
        old = [h for h in history if h[0] <= now - opts.abort_after_s]
        if now - start < opts.abort_after_s or not old:
            continue
        _, req0, fail0 = old[-1]
        requests, failures = total.num_requests - req0, total.num_failures - fail0
        if requests >= 20 and failures / requests > opts.abort_on_error_rate:
            _state["aborted"] = (f"error rate {failures / requests:.0%} over the last {opts.abort_after_s:g} s "
                                 f"exceeded {opts.abort_on_error_rate:.0%}")
            log.error("surge: aborting the test early: %s", _state["aborted"])
            environment.process_exit_code = 3
            environment.runner.quit()
            return


class SurgeShape(LoadTestShape):
    """One driver user per process for the plan's duration (plus a drain), then stop."""

    def tick(self):
        plan = _plan(self.runner.environment.parsed_options)
        drivers = max(self.runner.worker_count, 1) if isinstance(self.runner, MasterRunner) else 1
        if len(_state["results"]) >= drivers or self.get_run_time() > plan.duration_s + DRAIN_S + 5:
            return None  # every driver has reported, or the drain is over
        return drivers, drivers

    def target_rate_per_s(self) -> float:
        return _plan(self.runner.environment.parsed_options).target_rate_per_s(self.get_run_time())


class SurgeVisitors(User):
    """Not a visitor: the driver that starts a visitor greenlet per planned arrival."""

    wait_time = constant(3600)

    @task
    def drive(self) -> None:
        if _state["reported"]:
            return
        env = self.environment
        opts = env.parsed_options
        runner = env.runner
        index, drivers = 0, 1
        if isinstance(runner, WorkerRunner):
            for _ in range(100):  # the master says how many drivers share the rate
                if _state["drivers"]:
                    break
                gevent.sleep(0.1)
            index, drivers = max(runner.worker_index, 0), _state["drivers"] or 1
        plan = _plan(opts)
        seed = plan.scenario.run.seed if opts.surge_seed < 0 else opts.surge_seed
        driver = Driver(plan=plan, host=self.host or opts.host, index=index, drivers=drivers, seed=seed,
                        max_concurrent=max(1, opts.max_concurrent_visitors // drivers),
                        request_timeout_s=opts.request_timeout_s, fire_request=env.events.request.fire)
        _state["driver"] = (driver, index)
        driver.run(drain_s=DRAIN_S)
        _report(runner)


def _report(runner) -> None:
    """Hand this process's measurements over, once: at the end of the plan, or when stopped early."""
    if _state["reported"] or "driver" not in _state:
        return
    _state["reported"] = True
    driver, index = _state["driver"]
    complete = driver.complete  # False when the test stops before the plan's end
    driver.stopped = True
    if isinstance(runner, WorkerRunner):
        runner.send_message("surge_results", {"index": index, "recorder": driver.recorder.to_dict(),
                                              "complete": complete})
    else:
        _state["results"][index] = driver.recorder.to_dict()
        _state["complete"][index] = complete


@events.test_stop.add_listener
def _test_stop(environment, **_kw) -> None:
    _report(environment.runner)  # a stop before the plan's end (the brake, Ctrl-C) keeps what was measured


@events.quitting.add_listener
def _write_results(environment, **_kw) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    # On SIGINT or SIGTERM locust quits before it stops the test: gather what was measured first.
    _report(runner)
    if isinstance(runner, MasterRunner) and len(_state["results"]) < max(runner.worker_count, 1):
        runner.stop()  # the workers report as their test stops
        for _ in range(100):
            if len(_state["results"]) >= max(runner.worker_count, 1):
                break
            gevent.sleep(0.1)
    if not _state["results"]:
        return
    opts = environment.parsed_options
    plan = _plan(opts)
    parts = [LoadRecorder.from_dict(d) for _, d in sorted(_state["results"].items())]
    total = parts[0]
    for part in parts[1:]:
        total.merge(part)
    edges, target = plan.target_per_bin()
    summary = total.summary(target_visitors=float(target.sum()), plan=plan.describe())
    summary["scenario"] = plan.scenario.name or plan.scenario.path
    summary["drivers"] = len(parts)
    summary["aborted"] = _state["aborted"]
    # Stopped before the plan's end (Ctrl-C, SIGTERM, the brake): the figures cover part of the plan.
    summary["partial"] = bool(_state["aborted"]) or not all(_state["complete"].get(i, False) for i in _state["results"])
    verdicts = evaluate(parse_slo(opts.slo), summary) if opts.slo else []
    summary["slo"] = [{"objective": o.text, "value": v, "met": ok} for o, v, ok in verdicts]
    for o, v, ok in verdicts:
        log.info("surge: SLO %s: %s (measured %s)", o.text, "met" if ok else "BROKEN", f"{v:.4g}")
    if any(not ok for _, _, ok in verdicts):
        environment.process_exit_code = 1 if environment.process_exit_code in (None, 0) else environment.process_exit_code
    if opts.out:
        from sim.files import out_dir, write_csv, write_json

        out = out_dir(opts.out)
        write_json(out / "summary.json", summary)
        write_csv(out / "timeseries.csv", LOADTEST_COLUMNS,
                  ([("" if isinstance(x, float) and x != x else x) for x in row] for row in total.timeseries(target)))
    log.info("surge: %s", json.dumps({k: summary[k] for k in ("visitors", "page_response_s")}, default=str))
