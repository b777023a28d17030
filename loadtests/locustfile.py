"""Replay a surge scenario against a staging site with locust, as an open workload.

    locust -f loadtests/locustfile.py --scenario scenarios/anca-2020.toml \
        --time-scale 144 --scale 0.001 --host http://127.0.0.1:8000 [--headless] [--out DIR]

Works with locust's web UI, ``--headless``, ``--processes N`` and ``--master``/``--worker``:
one driver per process plays its share of the arrivals (see ``loadtests/driver.py``).
The shape is a thin wrapper over ``sim.loadtest.schedule.LoadPlan``, itself over the profile in
``sim.traffic.profile``: the surge is defined in one place.

In the web UI:

* the surge options come first, open, under "Custom parameters" (scenario, time scale, scale,
  duration, then the rest); Users and Ramp up are greyed out, as locust does for a shape that
  ignores them (``use_common_options = False``): the shape runs one driver per process, and the
  "Number of Users" chart counts those drivers, not visitors;
* several tests run one after the other in one process (New, or POST /swarm): each starts afresh
  and, when it stops, writes ``summary.json`` and ``timeseries.csv`` to ``--out`` and logs its SLO
  verdict; a later test overwrites the files, as locust's own ``--csv`` and ``--html`` are;
* locust's charts are fixed (requests/s, response times, users) and take no extra line, so the
  target arrival rate is in a "Surge" tab instead: every 5 s, the target and achieved visitor
  arrivals per second, the visitors planned and arrived so far, and the generator's lag p99.
  A visitor is several requests, so the RPS chart is not the arrival rate.

The site is checked as locust starts (``--host``, by ``sim.loadtest.host.check_host``, as
``surge loadtest`` checks it: a bad one is one line on stderr and exit code 2, nothing sent) and,
in the web UI, as each test starts (a bad Host is refused, the test not started). A host that is
not loopback must also prove that it wants the load (``sim.loadtest.ownership``: the user's token
at ``/.well-known/surge-verify.txt``, or ``--i-control-this-host``), and a first test of it stays
within its limit, on the same routes: headless as the options are parsed (before ``--processes``
forks; workers follow the master's host), in the web UI as each test starts, and the shape sends
nothing to a host that was not checked. A test whose
visitors died in the load generator, or whose site served none of them, is logged as invalid
or failed and exits 1 (``outcome`` in summary.json, ``sim.loadtest.meaning``).

Headless, the same figures are logged every 5 s. ``locust -f loadtests/locustfile.py --help`` cannot
list the surge options (locust prints its help before it imports the locustfile);
``python loadtests/locustfile.py --help`` lists them, and with other arguments runs locust on this file.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path

import gevent
import psutil  # locust's own dependency
from locust import LoadTestShape, User, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from loadtests.driver import Driver  # noqa: E402
from sim.loadtest.schedule import ASSET_MODES, LoadPlan  # noqa: E402
from sim.loadtest.stats import LOADTEST_COLUMNS, LoadRecorder  # noqa: E402
from sim.config.scenario import load_scenario  # noqa: E402
from sim.errors import ConfigError  # noqa: E402
from sim.loadtest.host import check_host  # noqa: E402
from sim.loadtest.ownership import (FIRST_TEST_MAX_REQUESTS_PER_S, LIFT_FLAG, VOUCH_FLAG,  # noqa: E402
                                    check_ownership, check_rate, origin)
from sim.loadtest.meaning import FAILED, MEASURED, meaning, outcome  # noqa: E402
from sim.analysis.slo import evaluate, parse_slo  # noqa: E402

log = logging.getLogger("surge")
DRAIN_S = 30.0
PROGRESS_S = 5.0  # a progress line (headless) and a row of the web UI's Surge tab this often
# What a test needs is reset when the next one starts (see _new_test); what a process keeps:
# the plan (while the options stay the same) and what the master last said of the drivers.
_state: dict = {"plan": None, "plan_key": None, "drivers": None, "master_test": 0, "test": 0, "ended": True,
                "results": {}, "complete": {}, "aborted": None, "reported": False, "written": False,
                "driver": None, "progress": {}, "history": [], "ownership": None,
                "owner_checked": 0}


class _Literal(str):
    """A help text shown as written: argparse %-formats help texts (where "1%" must be written "1%%"),
    locust's web UI shows them raw (where "1%%" stays "1%%")."""

    def __mod__(self, _params):
        return str(self)


def _add(group, *flags, **kw):
    """An option of the surge group, shown in the web UI (an argument group takes none of locust's own
    keywords such as include_in_web_ui: its attributes are set here instead)."""
    action = group.add_argument(*flags, **kw)
    action.include_in_web_ui, action.is_secret, action.is_required, action.is_multiple = True, False, False, False
    return action


def _host_argument(value: str) -> str:
    """locust's own --host, checked as it is parsed: before ``--processes`` forks its workers, so a bad host
    stops every process at once (one line and exit code 2, as ``surge loadtest``)."""
    try:
        return check_host(value)
    except ConfigError as err:
        _refuse(err)


def _refuse(err: ConfigError) -> None:
    """One line on stderr and exit code 2, as ``surge loadtest`` says it."""
    sys.stderr.write(f"{err}\n")
    sys.stderr.flush()
    sys.exit(2)


def _checked_as_parsed(parse_args):
    """The parser's ``parse_args``, which also checks that a host that is not loopback wants the load of a test
    that starts by itself (headless, --autostart): as the options are read, before locust says a word or
    ``--processes`` forks, so one process fetches the proof, and a refusal is the only line. Workers follow
    the master's host and check nothing."""
    def parse(*args, **kwargs):
        options = parse_args(*args, **kwargs)
        starts = getattr(options, "headless", False) or getattr(options, "autostart", False)
        if starts and not getattr(options, "worker", False) and getattr(options, "host", None):
            try:
                _check_owner(options.host, options)
            except ConfigError as err:
                _refuse(err)
        return options

    return parse


@events.init_command_line_parser.add_listener
def _arguments(parser) -> None:
    for action in parser._actions:  # argparse has no public way to reach an option already added
        if "--host" in action.option_strings:
            action.type = _host_argument
    parser.parse_args = _checked_as_parsed(parser.parse_args)
    # In this order in the web UI (see _web_ui), and in a group of their own in --help.
    g = parser.add_argument_group("Surge options (loadtests/locustfile.py)",
                                  "The scenario's traffic as an open workload, one driver per process:\n"
                                  "--users, --spawn-rate and --run-time do not apply.")
    _add(g, "--scenario", default="scenarios/anca-2020.toml", metavar="FILE", help="surge scenario file (TOML)")
    _add(g, "--time-scale", type=float, default=144.0, metavar="X",
         help="simulated seconds per wall second (144: 24 h in 10 min)")
    _add(g, "--scale", type=float, default=0.001, metavar="F", help="fraction of the scenario's visitors to send")
    _add(g, "--duration-s", type=float, default=0.0, metavar="S",
         help="wall seconds of arrivals (0: the whole scenario at the time scale)")
    _add(g, "--slo", default="", metavar="OBJECTIVES", help=_Literal('objectives, e.g. "p95<2s,errors<1%,dropped<1%"'))
    _add(g, "--out", default="", metavar="DIR",
         help="folder for summary.json and timeseries.csv (written as each test stops)")
    _add(g, "--assets", choices=ASSET_MODES, default="misses", help="which asset requests to send")
    _add(g, "--max-concurrent-visitors", type=int, default=10_000, metavar="N",
         help="visitors in flight before arrivals are dropped (and counted)")
    _add(g, "--request-timeout-s", type=float, default=30.0, metavar="S", help="client timeout of one request")
    _add(g, "--surge-seed", type=int, default=-1, metavar="N", help="seed (-1: the scenario's run.seed)")
    _add(g, "--abort-on-error-rate", type=float, default=0.0, metavar="F",
         help="stop early when this fraction of requests fails (0: never)")
    _add(g, "--abort-after-s", type=float, default=30.0, metavar="S",
         help="the window over which --abort-on-error-rate is judged, and the least run time before")
    # On the command line only, not in the web UI: nobody should vouch for a host by a click.
    g.add_argument(VOUCH_FLAG, metavar="URL", default=None,
                   help="skip the proof that a host that is not loopback wants this load: you vouch that you control "
                   "it (repeat --host's scheme, host and port; recorded in summary.json)")
    g.add_argument(LIFT_FLAG, action="store_true",
                   help="lift the first test's limit on a proven host, for good (sim/loadtest/ownership.py)")


def _plan(options) -> LoadPlan:
    """The plan of these options: kept from test to test while they stay the same (the web UI may change them)."""
    key = (options.scenario, options.time_scale, options.scale, options.duration_s, options.assets)
    if _state["plan"] is None or _state["plan_key"] != key:
        scenario = load_scenario(options.scenario)
        _state["plan"] = LoadPlan(scenario, time_scale=options.time_scale, scale=options.scale,
                                  duration_s=options.duration_s or None, assets=options.assets)
        _state["plan_key"] = key
    return _state["plan"]


def _new_test() -> None:
    """Forget the last test, once it has stopped: each test in a process starts afresh (locust asks the
    shape for its first tick before it fires test_start, so this runs from both: at most once a test)."""
    if not _state["ended"]:
        return
    _state.update(results={}, complete={}, aborted=None, reported=False, written=False, driver=None, progress={},
                  history=[], ended=False, test=_state["test"] + 1)


@events.init.add_listener
def _init(environment, **_kw) -> None:
    runner = environment.runner
    _check_host_at_start(environment)
    if isinstance(runner, MasterRunner):
        runner.register_message("surge_results", _received)
    if isinstance(runner, WorkerRunner):
        runner.register_message("surge_drivers", _drivers)
    if environment.web_ui is not None:
        _web_ui(environment)


def _check_host_at_start(environment) -> None:
    """A test that starts by itself (headless, --autostart) needs --host; a bad one was refused as it was
    parsed (``_host_argument``), and so was one that has not proven it wants the load (``_checked_as_parsed``).
    Workers take the master's; the web UI may leave it to its Host field, checked as each test starts (see
    _web_ui)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    opts = environment.parsed_options
    if environment.host is None and (getattr(opts, "headless", False) or getattr(opts, "autostart", False)):
        if getattr(opts, "processes", 0):  # the workers it forked wait for a master that is leaving: end them
            for child in psutil.Process().children():
                child.kill()
        _host_argument(None)


def _check_owner(host: str, opts, *, flag: str = "--host") -> None:
    """The proof that ``host`` wants this load (``sim.loadtest.ownership``), and a first test's limit on the
    plan of ``opts``; kept for the tests that follow (their shape sends nothing to another host)."""
    ownership = check_ownership(host, vouch=getattr(opts, "i_control_this_host", None),
                                lift=bool(getattr(opts, "lift_first_test_limit", False)), flag=flag)
    _state["ownership"] = ownership
    _check_rate(opts)


def _check_rate(opts) -> None:
    ownership = _state["ownership"]
    if ownership is None or not ownership.first_test:
        return
    try:
        plan = _plan(opts)
    except (ValueError, OSError):
        return  # the shape says why and sends nothing
    peak = plan.peak_requests_per_s()
    fits = plan.scale * FIRST_TEST_MAX_REQUESTS_PER_S / peak if peak > 0 else 0.0
    check_rate(ownership, peak, flag="--scale", lower=f"--scale {fits:.3g} or lower")


def _owner_ok(environment) -> bool:
    """The test's host was checked (and its plan is within a first test's limit): the last guard before a driver
    starts, whatever route started the test."""
    ownership = _state["ownership"]
    if environment.host is None or ownership is None or ownership.host != origin(environment.host):
        log.error("surge: test not started: %s was not checked for its owner's consent", environment.host)
        return False
    try:
        _check_rate(environment.parsed_options)
    except ConfigError as err:
        log.error("surge: test not started: %s", err)
        return False
    return True


def _drivers(msg, **_kw) -> None:
    """The master's word as each test starts: how many drivers share the rate, and which test it is."""
    _state.update(drivers=msg.data["drivers"], master_test=msg.data.get("test", 0))


def _received(msg, **_kw) -> None:
    if msg.data.get("test", 0) != _state["test"]:
        return  # a late report of an earlier test
    _state["results"][msg.data["index"]] = msg.data["recorder"]
    _state["complete"][msg.data["index"]] = msg.data["complete"]


@events.test_start.add_listener
def _test_start(environment, **_kw) -> None:
    _new_test()
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.send_message("surge_drivers", {"drivers": max(runner.worker_count, 1), "test": _state["test"]})
    if not isinstance(runner, WorkerRunner):
        if environment.parsed_options.abort_on_error_rate > 0:
            gevent.spawn(_safety_brake, environment, _state["test"])
        gevent.spawn(_progress, environment, _state["test"])


def _running(environment, test: int) -> bool:
    """Test number ``test`` is still on: not stopped, and no later test has started."""
    return _state["test"] == test and not _state["ended"] and environment.runner.state not in ("stopped", "quitting")


def _safety_brake(environment, test: int) -> None:
    """Stop a test that is only hammering a dead site, and say so."""
    opts = environment.parsed_options
    history = []
    start = gevent.get_hub().loop.now()
    while _running(environment, test):
        gevent.sleep(1.0)
        total = environment.stats.total
        now = gevent.get_hub().loop.now()
        history.append((now, total.num_requests, total.num_failures))
        old = [h for h in history if h[0] <= now - opts.abort_after_s]
        if now - start < opts.abort_after_s or not old:
            continue
        _, req0, fail0 = old[-1]
        requests, failures = total.num_requests - req0, total.num_failures - fail0
        if requests >= 20 and failures / requests > opts.abort_on_error_rate and _running(environment, test):
            _state["aborted"] = (f"error rate {failures / requests:.0%} over the last {opts.abort_after_s:g} s "
                                 f"exceeded {opts.abort_on_error_rate:.0%}")
            log.error("surge: aborting the test early: %s", _state["aborted"])
            environment.process_exit_code = 3
            environment.runner.quit()
            return


# -- progress: a line every PROGRESS_S headless, a row of the web UI's Surge tab ------------------------
def _measured() -> dict | None:
    """This process's driver so far: seconds since its start, visitors arrived and dropped, lag p99."""
    if _state["driver"] is None:
        return None
    driver, _ = _state["driver"]
    if not driver.t0:
        return None  # not started yet
    rec = driver.recorder
    return {"test": _state["master_test"], "t": driver.now(), "arrived": int(rec.counts["arrivals"].sum()),
            "dropped": int(rec.counts["dropped"].sum()), "lag_p99": rec.lag.quantile(0.99) if rec.lag.count else None}


@events.report_to_master.add_listener
def _progress_to_master(client_id, data, **_kw) -> None:
    measured = _measured()
    if measured is not None:
        data["surge_progress"] = measured


@events.worker_report.add_listener
def _progress_from_worker(client_id, data, **_kw) -> None:
    measured = data.get("surge_progress")
    if measured and measured.get("test") == _state["test"]:
        _state["progress"][client_id] = measured


def _planned(plan: LoadPlan, t_s: float) -> float:
    """Visitors the plan expects in its first ``t_s`` wall seconds."""
    t = min(max(t_s, 0.0), plan.duration_s) * plan.time_scale
    return plan.scale * float(plan.profile.cumulative(t))


def _progress(environment, test: int) -> None:
    """Every PROGRESS_S: elapsed, planned and arrived visitors, achieved and target arrival rate, lag p99."""
    opts = environment.parsed_options
    headless = bool(getattr(opts, "headless", False))
    last = (0.0, 0)  # (t, arrivals offered) at the previous row
    while _running(environment, test):
        gevent.sleep(PROGRESS_S)
        if not _running(environment, test):
            return
        try:
            plan = _plan(opts)
        except (ValueError, OSError):
            return  # the shape says why and stops the test
        parts = list(_state["progress"].values()) if isinstance(environment.runner, MasterRunner) else [_measured()]
        parts = [p for p in parts if p]
        if not parts:
            continue
        t = max(p["t"] for p in parts)  # the drivers start within a moment of each other
        arrived = sum(p["arrived"] for p in parts)
        dropped = sum(p["dropped"] for p in parts)
        lags = [p["lag_p99"] for p in parts if p["lag_p99"] is not None]
        lag_ms = max(lags) * 1000 if lags else math.nan  # the worst driver's
        dt = t - last[0]
        if dt <= 0:
            continue  # no news from the workers since the last row
        achieved = (arrived + dropped - last[1]) / dt  # arrivals offered, dropped or not, as the target counts
        target = (_planned(plan, t) - _planned(plan, last[0])) / dt
        last = (t, arrived + dropped)
        row = {"elapsed": f"{round(t) // 60}:{round(t) % 60:02d}", "target_rate": round(target, 2),
               "achieved_rate": round(achieved, 2), "planned": round(_planned(plan, t)),
               "planned_total": round(plan.expected_visitors()), "arrived": arrived, "dropped": dropped,
               "lag_p99_ms": None if math.isnan(lag_ms) else round(lag_ms, 2)}
        _state["history"].insert(0, row)
        del _state["history"][500:]
        if headless:
            log.info("surge: %s elapsed | planned %d of %d visitors, arrived %d, dropped %d | arrivals %.1f/s "
                     "(target %.1f/s) | lag p99 %s", row["elapsed"], row["planned"], row["planned_total"], arrived,
                     dropped, achieved, target, "n/a" if math.isnan(lag_ms) else f"{lag_ms:.1f} ms")


# -- the web UI ---------------------------------------------------------------------------------------
_SURGE_TAB = [
    {"key": "elapsed", "title": "Elapsed"},
    {"key": "target_rate", "title": "Target arrivals/s"},
    {"key": "achieved_rate", "title": "Achieved arrivals/s"},
    {"key": "planned", "title": "Visitors planned so far"},
    {"key": "planned_total", "title": "of"},
    {"key": "arrived", "title": "Arrived"},
    {"key": "dropped", "title": "Dropped"},
    {"key": "lag_p99_ms", "title": "Lag p99 (ms)"},
]
# Locust's "Custom parameters" section starts folded: unfold it once, so the surge options are in view.
_UNFOLD = b"""<script>(function () {
  var left = 100, timer = setInterval(function () {
    var buttons = document.querySelectorAll('[aria-expanded="false"]');
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].textContent.trim() === "Custom parameters") { buttons[i].click(); clearInterval(timer); return; }
    }
    if (--left <= 0) clearInterval(timer);
  }, 100);
})();</script>"""


def _web_ui(environment) -> None:
    """The surge options in the order given (not sorted) and unfolded (locust has no setting for that: a
    small script clicks its fold open), and a Surge tab of the progress rows, by locust's own extension
    points (``extended_tabs``/``extended_tables`` in the page, ``extended_stats`` in /stats/requests)."""
    from flask import jsonify, request

    web_ui = environment.web_ui
    # The page's options in the parser's order (scenario, time scale, ...), not sorted: Jinja's tojson sorts
    # keys unless told otherwise, as Flask's JSON does.
    web_ui.app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    web_ui.app.json.sort_keys = False
    web_ui.template_args["extended_tabs"] = [{"title": "Surge", "key": "surge"}]
    web_ui.template_args["extended_tables"] = [{"key": "surge", "structure": _SURGE_TAB}]

    @web_ui.app.before_request
    def _refuse_a_bad_host():
        """A test asked for with a Host the load test cannot send to is refused, and says why."""
        if request.endpoint != "locust.swarm" or request.method != "POST":
            return None
        try:
            host = check_host(request.form.get("host", environment.host), flag="Host")
            _check_owner(host, _form_options(environment.parsed_options, request.form), flag="Host")
        except ConfigError as err:
            log.error("surge: test not started: %s", err)
            return jsonify({"success": False, "message": str(err), "host": environment.host})
        return None

    @web_ui.app.after_request
    def _surge(response):
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.request_stats" and response.is_json:  # also under --web-base-path
            data = response.get_json()
            data["extended_stats"] = [{"key": "surge", "data": list(_state["history"])}]
            response.set_data(json.dumps(data))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            response.direct_passthrough = False
            response.set_data(response.get_data().replace(b"</body>", _UNFOLD + b"</body>", 1))
        return response


def _form_options(options, form):
    """The options a test started from the web UI will run with: the form's values over the command line's,
    converted as locust converts them (to the type of the value they replace)."""
    import argparse

    merged = dict(vars(options))
    for key in ("scenario", "time_scale", "scale", "duration_s", "assets"):
        if key in form:
            try:
                merged[key] = type(merged[key])(form[key]) if merged.get(key) is not None else form[key]
            except ValueError:
                pass  # the shape refuses it as the test starts, and says why
    return argparse.Namespace(**merged)


class SurgeShape(LoadTestShape):
    """One driver user per process for the plan's duration (plus a drain), then stop."""

    use_common_options = False  # Users, Ramp up, Run time do not apply: locust greys them out (and warns of -u/-r/-t)

    def reset_time(self):
        _new_test()  # locust calls this as each test starts, before the test's first tick
        super().reset_time()

    def tick(self):
        try:
            plan = _plan(self.runner.environment.parsed_options)
        except (ValueError, OSError) as err:  # e.g. a scenario or a scale typed in the web UI
            log.error("surge: cannot run this test: %s", err)
            return None
        if _state["owner_checked"] != _state["test"]:  # once a test, before its drivers start
            if not _owner_ok(self.runner.environment):
                return None
            _state["owner_checked"] = _state["test"]
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
        driver = Driver(plan=plan, host=env.host or self.host, index=index, drivers=drivers, seed=seed,
                        max_concurrent=max(1, opts.max_concurrent_visitors // drivers),
                        request_timeout_s=opts.request_timeout_s, fire_request=env.events.request.fire,
                        # a visitor that died in the driver shows in locust's Exceptions too
                        on_error=lambda err: env.events.user_error.fire(user_instance=self, exception=err,
                                                                        tb=err.__traceback__))
        _state["driver"] = (driver, index)
        # In a greenlet of its own: a stop kills this user's greenlet, while the driver, told to stop (by
        # _report), ends at its next arrival and takes its visitors and probes with it, so none of them
        # carries on into the next test.
        run = gevent.spawn(driver.run, drain_s=DRAIN_S)
        run.get()  # its error, if any, raised here, where locust reports a user's errors
        _report(runner)


def _report(runner) -> None:
    """Hand this process's measurements over, once: at the end of the plan, or when stopped early."""
    if _state["reported"] or _state["driver"] is None:
        return
    _state["reported"] = True
    driver, index = _state["driver"]
    complete = driver.complete  # False when the test stops before the plan's end
    driver.stopped = True
    if isinstance(runner, WorkerRunner):
        runner.send_message("surge_results", {"index": index, "recorder": driver.recorder.to_dict(),
                                              "complete": complete, "test": _state["master_test"]})
    else:
        _state["results"][index] = driver.recorder.to_dict()
        _state["complete"][index] = complete


@events.test_stop.add_listener
def _test_stop(environment, **_kw) -> None:
    _report(environment.runner)  # a stop before the plan's end (the brake, Ctrl-C) keeps what was measured
    if not isinstance(environment.runner, WorkerRunner):
        # Every test's results and verdict as it stops (the web UI runs several in a process); the next
        # test's overwrite them. On SIGINT/SIGTERM, quitting comes first and writes them (see below).
        _write_results(environment)
        if _state["written"] and environment.parsed_options.out:
            log.info("surge: test %d stopped: summary.json and timeseries.csv written to %s", _state["test"],
                     environment.parsed_options.out)
    _state["ended"] = True


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
    if _state["written"]:
        return  # this test's results are written (as it stopped); quitting has nothing to add
    if not _state["results"]:
        if _state["test"] and not _state["ended"]:  # a test ran and no driver handed anything over
            _state["written"] = True
            log.error("surge: THE LOAD TEST IS INVALID: test %d: no driver reported its measurements "
                      "(see the errors above): nothing was measured", _state["test"])
            if environment.process_exit_code in (None, 0):
                environment.process_exit_code = 1
        return
    _state["written"] = True
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
    summary["ownership"] = _state["ownership"].to_dict() if _state["ownership"] is not None else None
    summary["aborted"] = _state["aborted"]
    # Stopped before the plan's end (Ctrl-C, SIGTERM, the brake): the figures cover part of the plan.
    summary["partial"] = bool(_state["aborted"]) or not all(_state["complete"].get(i, False) for i in _state["results"])
    gen = summary["generator"]
    if not gen["kept_up"]:  # its latencies include its own lag: say so before any verdict on the site
        log.error("surge: the load generator fell behind its schedule (lag p99 %.3g s > %.3g s): the latencies "
                  "measure the generator, not the site; run with more --processes", gen["lag_s"]["p99"],
                  gen["threshold_s"])
        if environment.process_exit_code in (None, 0, 1):
            environment.process_exit_code = 4
    verdicts = evaluate(parse_slo(opts.slo), summary) if opts.slo else []
    summary["slo"] = [{"objective": o.text, "value": v, "met": ok} for o, v, ok in verdicts]
    for o, v, ok in verdicts:
        log.info("surge: SLO %s: %s (measured %s)", o.text, "met" if ok else "BROKEN", f"{v:.4g}")
    if any(not ok for _, _, ok in verdicts):
        environment.process_exit_code = 1 if environment.process_exit_code in (None, 0) else environment.process_exit_code
    # Did it measure the site at all? Nothing served, or visitors dead in the generator: say so, exit 1.
    summary["outcome"] = outcome(summary)
    summary["load_factor"] = summary["plan"].get("load_factor")
    summary["meaning"] = meaning(summary)
    if summary["outcome"]["status"] != MEASURED:
        log.error("surge: THE LOAD TEST %s: %s", "FAILED" if summary["outcome"]["status"] == FAILED else "IS INVALID",
                  summary["outcome"]["reason"])
        if environment.process_exit_code in (None, 0, 4):  # measured nothing: that first, whatever the lag
            environment.process_exit_code = 1
    if summary["meaning"]:
        log.info("surge: %s", summary["meaning"])
    if opts.out:
        from sim.files import out_dir, write_csv, write_json

        out = out_dir(opts.out)
        write_json(out / "summary.json", summary)
        write_csv(out / "timeseries.csv", LOADTEST_COLUMNS,
                  ([("" if isinstance(x, float) and x != x else x) for x in row] for row in total.timeseries(target)))
    log.info("surge: %s", json.dumps({k: summary[k] for k in ("visitors", "page_response_s", "driver_errors")},
                                     default=str))


if __name__ == "__main__":
    # `locust -f loadtests/locustfile.py --help` prints locust's help before it imports a locustfile, so without
    # the surge options (locust 2.47; locust issue #2917). Run as a script, this file lists them, and with any
    # other arguments hands over to locust on itself.
    if {"-h", "--help"} & set(sys.argv[1:]):
        from locust.argument_parser import get_parser

        get_parser().parse_args(["--help"])  # the surge options too: their listener is registered by now
    os.execv(sys.executable, [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve()), *sys.argv[1:]])
