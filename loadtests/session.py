"""The locust file's state, on objects: :class:`SurgeProcess` (what one locust process keeps from test to
test: its scenarios, its plan, the host's proof of consent, the master's word) and :class:`SurgeTest` (one
test, from its start to its results written). The process registers its own listeners on locust's events
(:meth:`SurgeProcess.attach`); the shape, the driver user and the web UI reach it by ``of(environment)``.

One driver per process plays its share of the arrivals; workers hand their measurements to the master
(``surge_results``), which builds the summary (``sim.loadtest.result``) once, as the test stops.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import gevent
from locust.runners import MasterRunner, WorkerRunner

from loadtests.driver import Driver
from sim.config.scenario import Scenario, load_scenario
from sim.errors import ConfigError
from sim.loadtest.meaning import FAILED, MEASURED
from sim.loadtest.options import LoadTestOptions
from sim.loadtest.ownership import FIRST_TEST_MAX_REQUESTS_PER_S, Ownership, check_ownership, check_rate, origin
from sim.loadtest.result import EXIT_ABORTED, Measured, exit_code, summarize, timeseries_rows, write
from sim.loadtest.schedule import LoadPlan

__all__ = ["SurgeProcess", "SurgeTest", "PlanCache", "PLANS", "check_owner", "check_first_test_rate", "of", "DRAIN_S",
           "PROGRESS_S"]

log = logging.getLogger("surge")
DRAIN_S = 30.0
PROGRESS_S = 5.0  # a progress line (headless) and a row of the web UI's Surge tab this often
HISTORY_ROWS = 500  # the Surge tab's rows kept (newest first)


class SurgeTest:
    """One test: started afresh (the web UI runs several in a process), its results written once."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.results: dict[int, dict] = {}  # each driver's recorder (LoadRecorder.to_dict), by driver index
        self.complete: dict[int, bool] = {}  # whether each driver played its whole share
        self.aborted: str | None = None  # why the safety brake stopped it
        self.reported = False  # this process's driver handed its measurements over
        self.written = False  # its results are written (or said to be missing)
        self.driver: tuple[Driver, int] | None = None  # this process's driver and its index
        self.progress: dict[str, dict] = {}  # the master's view: each worker's latest progress
        self.history: list[dict] = []  # the Surge tab's rows, newest first
        self.owner_checked = False  # its host's consent checked, before its drivers start
        self.ended = number == 0  # no test yet: the first one starts afresh


class PlanCache:
    """The process's scenarios, each parsed once, and the plan of the options last asked for."""

    def __init__(self) -> None:
        self._scenarios: dict[str, Scenario] = {}  # by path
        self._plan: tuple[tuple, LoadPlan] | None = None  # the plan, and the options' plan_key it was made for

    def plan(self, options: LoadTestOptions) -> LoadPlan:
        """The plan of these options, kept while they stay the same (the web UI may change them)."""
        key = options.plan_key()
        if self._plan is None or self._plan[0] != key:
            scenario = self._scenarios.get(options.scenario)
            if scenario is None:
                scenario = self._scenarios[options.scenario] = load_scenario(options.scenario)
            self._plan = (key, LoadPlan(scenario, time_scale=options.time_scale, scale=options.scale,
                                        duration_s=options.duration_s, assets=options.assets))
        return self._plan[1]


PLANS = PlanCache()  # one a process: the options' check as they are parsed and the tests share it


def check_owner(host: str, parsed_options, options: LoadTestOptions, *, flag: str = "--host") -> Ownership:
    """The proof that ``host`` wants this load (``sim.loadtest.ownership``), and a first test's limit on the
    plan of ``options``."""
    ownership = check_ownership(host, vouch=getattr(parsed_options, "i_control_this_host", None),
                                lift=bool(getattr(parsed_options, "lift_first_test_limit", False)), flag=flag)
    check_first_test_rate(ownership, options)
    return ownership


def check_first_test_rate(ownership: Ownership | None, options: LoadTestOptions) -> None:
    """A first test of a proven host stays within its limit (``sim.loadtest.ownership``)."""
    if ownership is None or not ownership.first_test:
        return
    try:
        plan = PLANS.plan(options)
    except (ValueError, OSError):
        return  # the shape says why and sends nothing
    peak = plan.peak_requests_per_s()
    fits = plan.scale * FIRST_TEST_MAX_REQUESTS_PER_S / peak if peak > 0 else 0.0
    check_rate(ownership, peak, flag="--scale", lower=f"--scale {fits:.3g} or lower")


class SurgeProcess:
    """What a locust process keeps from test to test, and its listeners."""

    def __init__(self, environment, *, ownership: Ownership | None = None) -> None:
        self.environment = environment
        self.ownership = ownership  # the host's proof of consent, kept for the tests that follow
        self.drivers: int | None = None  # the master's word as a test starts (on a worker)
        self.master_test = 0  # the master's number of that test (on a worker)
        self.test = SurgeTest(0)

    # -- options and plan ---------------------------------------------------------------------------------
    def options(self) -> LoadTestOptions:
        """The options of the test about to run or running: the command line's, or the web UI's form over them."""
        return LoadTestOptions.from_namespace(self.environment.parsed_options)

    def plan(self, options: LoadTestOptions | None = None) -> LoadPlan:
        return PLANS.plan(options or self.options())

    @property
    def is_master(self) -> bool:
        return isinstance(self.environment.runner, MasterRunner)

    @property
    def is_worker(self) -> bool:
        return isinstance(self.environment.runner, WorkerRunner)

    def driver_count(self) -> int:
        return max(self.environment.runner.worker_count, 1) if self.is_master else 1

    # -- listeners --------------------------------------------------------------------------------------------
    def attach(self) -> None:
        events, runner = self.environment.events, self.environment.runner
        if self.is_master:
            runner.register_message("surge_results", self._received)
        if self.is_worker:
            runner.register_message("surge_drivers", self._drivers)
        events.test_start.add_listener(self._test_start)
        events.test_stop.add_listener(self._test_stop)
        events.quitting.add_listener(self.write_results)
        events.report_to_master.add_listener(self._progress_to_master)
        events.worker_report.add_listener(self._progress_from_worker)

    def new_test(self) -> SurgeTest:
        """The test starting: a new one once the last has stopped (locust asks the shape for its first tick
        before it fires test_start, so this runs from both: at most once a test)."""
        if self.test.ended:
            self.test = SurgeTest(self.test.number + 1)
        return self.test

    def _drivers(self, msg, **_kw) -> None:
        """The master's word as each test starts: how many drivers share the rate, and which test it is."""
        self.drivers, self.master_test = msg.data["drivers"], msg.data.get("test", 0)

    def _received(self, msg, **_kw) -> None:
        if msg.data.get("test", 0) != self.test.number:
            return  # a late report of an earlier test
        self.test.results[msg.data["index"]] = msg.data["recorder"]
        self.test.complete[msg.data["index"]] = msg.data["complete"]

    def _test_start(self, environment, **_kw) -> None:
        test = self.new_test()
        if self.is_master:
            environment.runner.send_message("surge_drivers", {"drivers": self.driver_count(), "test": test.number})
        if not self.is_worker:
            if self.options().abort_on_error_rate > 0:
                gevent.spawn(self._safety_brake, test)
            gevent.spawn(self._progress, test)

    def running(self, test: SurgeTest) -> bool:
        """``test`` is still on: not stopped, and no later test has started."""
        return self.test is test and not test.ended and self.environment.runner.state not in ("stopped", "quitting")

    # -- the host's consent -----------------------------------------------------------------------------------
    def check_owner(self, host: str, options: LoadTestOptions, *, flag: str = "--host") -> None:
        """:func:`check_owner`, its proof kept for the tests that follow (their shape sends nothing to another
        host)."""
        self.ownership = check_owner(host, self.environment.parsed_options, options, flag=flag)

    def owner_ok(self) -> bool:
        """The test's host was checked (and its plan is within a first test's limit): the last guard before a
        driver starts, whatever route started the test."""
        host = self.environment.host
        if host is None or self.ownership is None or self.ownership.host != origin(host):
            log.error("surge: test not started: %s was not checked for its owner's consent", host)
            return False
        try:
            check_first_test_rate(self.ownership, self.options())
        except ConfigError as err:
            log.error("surge: test not started: %s", err)
            return False
        return True

    # -- the driver -------------------------------------------------------------------------------------------
    def drive(self, user) -> None:
        """Run this process's driver for the current test (the driver user's task), then hand its results over."""
        test = self.test
        if test.reported:
            return
        env, runner = self.environment, self.environment.runner
        index, drivers = 0, 1
        if self.is_worker:
            for _ in range(100):  # the master says how many drivers share the rate
                if self.drivers:
                    break
                gevent.sleep(0.1)
            index, drivers = max(runner.worker_index, 0), self.drivers or 1
        options = self.options()
        plan = self.plan(options)
        driver = Driver(plan=plan, host=env.host or user.host, index=index, drivers=drivers,
                        seed=plan.scenario.run.seed if options.seed is None else options.seed,
                        max_concurrent=max(1, options.max_concurrent_visitors // drivers),
                        request_timeout_s=options.request_timeout_s, fire_request=env.events.request.fire,
                        # a visitor that died in the driver shows in locust's Exceptions too
                        on_error=lambda err: env.events.user_error.fire(user_instance=user, exception=err,
                                                                        tb=err.__traceback__))
        test.driver = (driver, index)
        # In a greenlet of its own: a stop kills this user's greenlet, while the driver, told to stop (by
        # report), ends at its next arrival and takes its visitors and probes with it, so none of them
        # carries on into the next test.
        run = gevent.spawn(driver.run, drain_s=DRAIN_S)
        run.get()  # its error, if any, raised here, where locust reports a user's errors
        self.report()

    def report(self) -> None:
        """Hand this process's measurements over, once: at the end of the plan, or when stopped early."""
        test = self.test
        if test.reported or test.driver is None:
            return
        test.reported = True
        driver, index = test.driver
        complete = driver.complete  # False when the test stops before the plan's end
        driver.stopped = True
        if self.is_worker:
            self.environment.runner.send_message("surge_results", {
                "index": index, "recorder": driver.recorder.to_dict(), "complete": complete,
                "test": self.master_test})
        else:
            test.results[index] = driver.recorder.to_dict()
            test.complete[index] = complete

    # -- the safety brake and progress ------------------------------------------------------------------------
    def _safety_brake(self, test: SurgeTest) -> None:
        """Stop a test that is only hammering a dead site, and say so."""
        environment, options = self.environment, self.options()
        history = []
        start = gevent.get_hub().loop.now()
        while self.running(test):
            gevent.sleep(1.0)
            total = environment.stats.total
            now = gevent.get_hub().loop.now()
            history.append((now, total.num_requests, total.num_failures))
            old = [h for h in history if h[0] <= now - options.abort_after_s]
            if now - start < options.abort_after_s or not old:
                continue
            _, req0, fail0 = old[-1]
            requests, failures = total.num_requests - req0, total.num_failures - fail0
            if requests >= 20 and failures / requests > options.abort_on_error_rate and self.running(test):
                test.aborted = (f"error rate {failures / requests:.0%} over the last {options.abort_after_s:g} s "
                                f"exceeded {options.abort_on_error_rate:.0%}")
                log.error("surge: aborting the test early: %s", test.aborted)
                environment.process_exit_code = EXIT_ABORTED
                environment.runner.quit()
                return

    def _measured(self) -> dict | None:
        """This process's driver so far: seconds since its start, visitors arrived and dropped, lag p99."""
        if self.test.driver is None:
            return None
        driver, _ = self.test.driver
        if not driver.t0:
            return None  # not started yet
        rec = driver.recorder
        return {"test": self.master_test, "t": driver.now(), "arrived": int(rec.counts["arrivals"].sum()),
                "dropped": int(rec.counts["dropped"].sum()),
                "lag_p99": rec.lag.quantile(0.99) if rec.lag.count else None}

    def _progress_to_master(self, client_id, data, **_kw) -> None:
        measured = self._measured()
        if measured is not None:
            data["surge_progress"] = measured

    def _progress_from_worker(self, client_id, data, **_kw) -> None:
        measured = data.get("surge_progress")
        if measured and measured.get("test") == self.test.number:
            self.test.progress[client_id] = measured

    def _progress(self, test: SurgeTest) -> None:
        """Every PROGRESS_S: elapsed, planned and arrived visitors, achieved and target arrival rate, lag p99."""
        headless = bool(getattr(self.environment.parsed_options, "headless", False))
        last = (0.0, 0)  # (t, arrivals offered) at the previous row
        while self.running(test):
            gevent.sleep(PROGRESS_S)
            if not self.running(test):
                return
            try:
                plan = self.plan()
            except (ValueError, OSError):
                return  # the shape says why and stops the test
            parts = [p for p in (test.progress.values() if self.is_master else [self._measured()]) if p]
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
            target = (plan.planned_visitors(t) - plan.planned_visitors(last[0])) / dt
            last = (t, arrived + dropped)
            row = {"elapsed": f"{round(t) // 60}:{round(t) % 60:02d}", "target_rate": round(target, 2),
                   "achieved_rate": round(achieved, 2), "planned": round(plan.planned_visitors(t)),
                   "planned_total": round(plan.expected_visitors()), "arrived": arrived, "dropped": dropped,
                   "lag_p99_ms": None if math.isnan(lag_ms) else round(lag_ms, 2)}
            test.history.insert(0, row)
            del test.history[HISTORY_ROWS:]
            if headless:
                log.info("surge: %s elapsed | planned %d of %d visitors, arrived %d, dropped %d | arrivals %.1f/s "
                         "(target %.1f/s) | lag p99 %s", row["elapsed"], row["planned"], row["planned_total"],
                         arrived, dropped, achieved, target, "n/a" if math.isnan(lag_ms) else f"{lag_ms:.1f} ms")

    # -- the end of a test ------------------------------------------------------------------------------------
    def _test_stop(self, environment, **_kw) -> None:
        self.report()  # a stop before the plan's end (the brake, Ctrl-C) keeps what was measured
        if not self.is_worker:
            # Every test's results and verdict as it stops (the web UI runs several in a process); the next
            # test's overwrite them. On SIGINT/SIGTERM, quitting comes first and writes them (see below).
            self.write_results(environment)
            out = self.options().out
            if self.test.written and out and not _handoff(environment):
                log.info("surge: test %d stopped: summary.json and timeseries.csv written to %s", self.test.number,
                         out)
        self.test.ended = True

    def write_results(self, environment, **_kw) -> None:
        """The test's summary and time series (or, run by ``surge loadtest``, its measurements handed over), its
        verdicts logged and its exit code set: once a test."""
        if self.is_worker:
            return
        runner, test = environment.runner, self.test
        # On SIGINT or SIGTERM locust quits before it stops the test: gather what was measured first.
        self.report()
        if self.is_master and len(test.results) < self.driver_count():
            runner.stop()  # the workers report as their test stops
            for _ in range(100):
                if len(test.results) >= self.driver_count():
                    break
                gevent.sleep(0.1)
        if test.written:
            return  # this test's results are written (as it stopped); quitting has nothing to add
        if not test.results:
            if test.number and not test.ended:  # a test ran and no driver handed anything over
                test.written = True
                log.error("surge: THE LOAD TEST IS INVALID: test %d: no driver reported its measurements "
                          "(see the errors above): nothing was measured", test.number)
                if environment.process_exit_code in (None, 0):
                    environment.process_exit_code = 1
            return
        test.written = True
        options, plan = self.options(), self.plan()
        measured = Measured.merged(test.results, test.complete, aborted=test.aborted,
                                   ownership=self.ownership.to_dict() if self.ownership is not None else None)
        summary = summarize(measured, plan, options)
        _log_verdict(summary)
        code = exit_code(summary)
        if code:
            environment.process_exit_code = code
        handoff = _handoff(environment)
        if handoff:  # surge loadtest builds the summary and writes the files, once
            Path(handoff).write_text(measured.to_json(), encoding="utf-8")
        elif options.out:
            write(options.out, summary, timeseries_rows(measured, plan))


def _handoff(environment) -> str:
    return getattr(environment.parsed_options, "surge_handoff", "") or ""


def _log_verdict(summary: dict) -> None:
    """What the summary says, in locust's log: the generator's lag, each objective, the outcome, its meaning."""
    import json

    gen = summary["generator"]
    if not gen["kept_up"]:  # its latencies include its own lag: say so before any verdict on the site
        log.error("surge: the load generator fell behind its schedule (lag p99 %.3g s > %.3g s): the latencies "
                  "measure the generator, not the site; run with more --processes", gen["lag_s"]["p99"],
                  gen["threshold_s"])
    for v in summary["slo"]:
        log.info("surge: SLO %s: %s (measured %s)", v["objective"], "met" if v["met"] else "BROKEN",
                 f"{v['value']:.4g}")
    if summary["outcome"]["status"] != MEASURED:
        log.error("surge: THE LOAD TEST %s: %s", "FAILED" if summary["outcome"]["status"] == FAILED else "IS INVALID",
                  summary["outcome"]["reason"])
    if summary["meaning"]:
        log.info("surge: %s", summary["meaning"])
    log.info("surge: %s", json.dumps({k: summary[k] for k in ("visitors", "page_response_s", "driver_errors")},
                                     default=str))


def of(environment) -> SurgeProcess:
    """The process's surge state, made by the locust file's init listener."""
    return environment.surge
