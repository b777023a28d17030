"""``surge loadtest SCENARIO [--host URL] ...``: replay the surge against a site with locust, headless.

A thin wrapper: it checks the flags, starts the bundled demo site when no ``--host`` is
given, and runs ``locust -f loadtests/locustfile.py --headless`` in a child process
(``sim`` itself never imports locust or gevent). Whether a ``--host`` that is not loopback
wants the load (``sim.loadtest.ownership``) is checked there, as on every route of the locust file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sim.config.checks import at_most
from sim.config.limits import MAX_CONCURRENT_VISITORS, max_processes
from sim.errors import ConfigError
from sim.files import write_json
from sim.interrupts import deferred_signals, exit_code, reason
from sim.loadtest.host import check_host
from sim.loadtest.ownership import (FIRST_TEST_MAX_REQUESTS_PER_S, LIFT_FLAG, VOUCH_FLAG, WELL_KNOWN_PATH,
                                    check_vouch)
from sim.loadtest.meaning import FAILED, MEASURED, meaning, outcome
from sim.loadtest.schedule import ASSET_MODES, LoadPlan
from sim.output.summary import slo_rows, summary_rows, verdicts
from sim.output.text import format_table
from sim.config.scenario import load_scenario
from sim.analysis.slo import parse_slo
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run", "locust_command", "locustfile_path"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "loadtest",
        help="replay the scenario's surge against a site with locust (open workload, headless)",
        description="Play the scenario's arrivals, time-compressed and scaled down, against a site: an open "
        "workload (visitors keep arriving however slow the site gets). Without --host it starts the bundled "
        "demo site on a free loopback port. Exit code: 0, 1 when an --slo objective is broken or the test "
        "measured nothing (the site served no visitor, or most visitors died in the load generator), 3 when the "
        "safety brake stopped the test, 4 when the load generator fell behind its schedule (its latencies "
        "measure itself: use more --processes), 2 for bad input, 130/143 when stopped by SIGINT/SIGTERM.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    p.add_argument("--host", metavar="URL", help="the site, e.g. http://127.0.0.1:8000 (default: the demo site)")
    p.add_argument("--time-scale", type=float, default=144.0, metavar="X",
                   help="simulated seconds per wall second (144: 24 h in 10 min)")
    p.add_argument("--scale", type=float, default=None, metavar="Y",
                   help="fraction of the scenario's visitors (default 0.001); the test plays scale x time-scale "
                   "of the real arrival rate")
    p.add_argument("--match-peak", action="store_true",
                   help="play the real surge's arrival rate: scale = 1 / time-scale (instead of --scale)")
    p.add_argument("--duration-s", type=float, metavar="S", help="wall seconds of arrivals (default: all of it)")
    p.add_argument("--out", metavar="DIR", help="folder for summary.json, timeseries.csv and locust's CSV and HTML")
    p.add_argument("--slo", metavar="OBJECTIVES", help='e.g. "p95<2s,errors<1%%,dropped<1%%"')
    p.add_argument("--assets", choices=ASSET_MODES, default="misses",
                   help="asset requests to send: all, only CDN misses (default), or none")
    p.add_argument("--max-concurrent-visitors", type=int, default=10_000, metavar="N",
                   help="visitors in flight before new arrivals are dropped (and counted)")
    p.add_argument("--processes", default="0", metavar="N|auto",
                   help="locust worker processes (0: one process; auto: enough for the plan's peak request rate, "
                   f"{PROCESS_CAPACITY_PER_S:g} requests/s each, at most the cores)")
    p.add_argument("--abort-on-error-rate", type=float, default=0.0, metavar="F",
                   help="stop early when this fraction of requests fails over --abort-after-s (0: never)")
    p.add_argument("--abort-after-s", type=float, default=30.0, metavar="S", help="window of the safety brake")
    p.add_argument("--request-timeout-s", type=float, default=30.0, metavar="S", help="client timeout per request")
    p.add_argument("--seed", type=int, metavar="N", help="seed instead of the scenario's run.seed")
    p.add_argument(VOUCH_FLAG, metavar="URL",
                   help="skip the proof that a --host that is not loopback wants this load (its token at "
                   f"{WELL_KNOWN_PATH}): you vouch that you control it; repeat --host's scheme, host and port "
                   "(recorded in summary.json)")
    p.add_argument(LIFT_FLAG, action="store_true",
                   help=f"lift the limit of a first test of a proven host ({FIRST_TEST_MAX_REQUESTS_PER_S:g} "
                   "requests/s at peak), for good")
    p.add_argument("--demo-workers", type=int, default=4, metavar="N", help="the demo site's workers")
    p.add_argument("--demo-service-ms", type=float, default=20.0, metavar="MS", help="the demo site's mean service")
    p.add_argument("--demo-queue-limit", type=int, default=64, metavar="N", help="the demo site's backlog")
    p.set_defaults(func=run)


# Requests per second one driver process sends on this kind of machine with its lag p99 under half
# the threshold (benchmarks/README.md, "Load generator throughput").
PROCESS_CAPACITY_PER_S = 2000.0


def resolve_load(args: argparse.Namespace) -> None:
    """``--scale`` (or ``--match-peak``) and ``--processes`` (or ``auto``) as numbers, in ``args``."""
    if args.match_peak:
        if args.scale is not None:
            raise ConfigError("--match-peak", "sets the scale itself (1 / --time-scale): drop --scale")
        if not (0 < args.time_scale < math.inf):
            raise ConfigError("--time-scale", f"must be > 0, got {args.time_scale!r}")
        args.scale = 1.0 / args.time_scale
    elif args.scale is None:
        args.scale = 0.001
    if args.processes == "auto":
        plan = LoadPlan(load_scenario(args.scenario), time_scale=args.time_scale, scale=args.scale,
                        duration_s=args.duration_s, assets=args.assets)
        peak_requests = plan.peak_requests_per_s()
        need = math.ceil(peak_requests / PROCESS_CAPACITY_PER_S)
        args.processes = 0 if need <= 1 else min(need, max_processes())
        print(f"--processes auto: {args.processes or 1} for a peak of {peak_requests:,.0f} requests/s "
              f"({PROCESS_CAPACITY_PER_S:g} per process, at most {max_processes()})", file=sys.stderr)
    else:
        try:
            args.processes = int(args.processes)
        except ValueError:
            raise ConfigError("--processes", f"must be a whole number or auto, got {args.processes!r}") from None


def locustfile_path() -> Path:
    import loadtests  # the package alone: no locust, no gevent

    return Path(loadtests.__file__).resolve().parent / "locustfile.py"


def locust_command(args: argparse.Namespace, *, host: str, out: Path) -> list[str]:
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--headless", "--host", host,
        "--scenario", str(Path(args.scenario).resolve()), "--time-scale", repr(args.time_scale),
        "--scale", repr(args.scale), "--assets", args.assets,
        "--max-concurrent-visitors", str(args.max_concurrent_visitors),
        "--request-timeout-s", repr(args.request_timeout_s), "--out", str(out),
        "--exit-code-on-error", "0",  # failures are judged by --slo, not by their mere presence
        "--csv", str(out / "locust"), "--html", str(out / "locust.html"), "--only-summary",
    ]
    if args.duration_s:
        cmd += ["--duration-s", repr(args.duration_s)]
    if args.slo:
        cmd += ["--slo", args.slo]
    if args.abort_on_error_rate:
        cmd += ["--abort-on-error-rate", repr(args.abort_on_error_rate), "--abort-after-s", repr(args.abort_after_s)]
    if args.seed is not None:
        cmd += ["--surge-seed", str(args.seed)]
    if args.i_control_this_host is not None:
        cmd += [VOUCH_FLAG, args.i_control_this_host]
    if args.lift_first_test_limit:
        cmd += [LIFT_FLAG]
    if args.processes:  # the master listens for its workers on loopback only, never on every interface
        cmd += ["--processes", str(args.processes), "--master-bind-host", "127.0.0.1"]
    return cmd


def _check(args: argparse.Namespace) -> None:
    """Every flag, the scenario and --out, before the demo site or locust starts."""
    resolve_load(args)
    for flag, value, low in (("--max-concurrent-visitors", args.max_concurrent_visitors, 1),
                             ("--processes", args.processes, 0), ("--demo-workers", args.demo_workers, 1),
                             ("--demo-queue-limit", args.demo_queue_limit, 0)):
        if value < low:
            raise ConfigError(flag, f"must be >= {low}, got {value}")
    if args.processes > max_processes():
        raise ConfigError("--processes", f"must be within [0, {max_processes()}] (the cores), got {args.processes}")
    at_most("--max-concurrent-visitors", args.max_concurrent_visitors, MAX_CONCURRENT_VISITORS)
    for flag, value in (("--request-timeout-s", args.request_timeout_s), ("--abort-after-s", args.abort_after_s)):
        if not (0 < value < math.inf):
            raise ConfigError(flag, f"must be > 0 and finite, got {value}")
    if not (0 <= args.abort_on_error_rate <= 1):
        raise ConfigError("--abort-on-error-rate", f"must be within [0, 1], got {args.abort_on_error_rate}")
    if args.host is not None:
        args.host = check_host(args.host)  # as locust's own routes check it (loadtests/locustfile.py)
        if args.i_control_this_host is not None:
            check_vouch(args.host, args.i_control_this_host)
        # whether the host wants this load is checked by the locust file, as on every other route
    else:
        if args.i_control_this_host is not None:
            raise ConfigError(VOUCH_FLAG, "is for a --host; the demo site, on loopback, needs no proof")
        _check_demo_site(args)
    if args.slo:
        parse_slo(args.slo)
    scenario = load_scenario(args.scenario)
    try:  # LoadPlan checks the time scale, the scale and the visitors the test expects
        LoadPlan(scenario, time_scale=args.time_scale, scale=args.scale, duration_s=args.duration_s,
                 assets=args.assets)
    except ConfigError as err:
        raise (err if err.key.startswith("--") else err.at(args.scenario)) from None
    out_folder(args.out)


def _check_demo_site(args: argparse.Namespace) -> None:
    """The --demo-* flags, by the demo site's own checks and limits (loadtests/demo_site/config.py)."""
    from loadtests.demo_site.config import DemoSiteConfig, DemoSiteConfigError  # plain Python: no locust

    try:
        DemoSiteConfig(workers=args.demo_workers, service_ms=args.demo_service_ms, queue_limit=args.demo_queue_limit)
    except DemoSiteConfigError as err:
        raise ConfigError(f"--demo-{err.argument.replace('_', '-')}", err.message) from None


def _print_summary(summary: dict) -> None:
    result = summary.get("outcome") or {}
    measured = result.get("status", MEASURED) == MEASURED
    if not measured:  # first of all: the figures below do not measure the site
        print(f"THE LOAD TEST {'FAILED' if result['status'] == FAILED else 'IS INVALID'}: {result.get('reason')}")
    generator = summary.get("generator") or {}
    if generator and (measured or not generator.get("kept_up")):  # whether the figures below measure the site
        # the worse of the send lag and the event loop's (either has no value when no request was sent)
        lags = [x for x in ((generator.get(k) or {}).get("p99") for k in ("lag_s", "loop_lag_s"))
                if isinstance(x, (int, float)) and not math.isnan(x)]
        lag = max(lags, default=0.0)
        if generator["kept_up"]:
            print(f"the load generator kept up: lag p99 {lag * 1000:.1f} ms <= {generator['threshold_s'] * 1000:g} ms")
        else:
            print(f"THE LOAD GENERATOR FELL BEHIND: lag p99 {lag * 1000:.0f} ms > {generator['threshold_s'] * 1000:g} "
                  "ms; the latencies below measure the generator, not the site: run with more --processes "
                  "(or --processes auto)")
    rows = summary_rows(summary)
    died = summary.get("driver_errors") or {}
    if died.get("visitors"):
        kinds = sorted((died.get("by_error") or {}).items(), key=lambda kv: -kv[1])
        rows.append(("visitors died in the load generator", f"{died['visitors']:,}: "
                     + "; ".join(f"{text} (x {n:,})" for text, n in kinds[:3])))
    rows += slo_rows(verdicts(summary))
    if summary.get("aborted"):
        rows.append(("ABORTED", summary["aborted"]))
    print(format_table(rows, title="load test (measured)"))
    if summary.get("meaning"):
        print(f"\n{summary['meaning']}")


def run(args: argparse.Namespace) -> int:
    _check(args)
    site, stopped = None, None
    try:
        if args.host is None:
            from loadtests.demo_site import DemoSite  # imports no locust: the demo site is plain threads

            site = DemoSite(port=0, workers=args.demo_workers, service_ms=args.demo_service_ms,
                            queue_limit=args.demo_queue_limit)
            site.start()
            print(f"started the demo site at {site.url}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.out) if args.out else Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            code, stopped = _run_locust(args, host=site.url if site is not None else args.host, out=out)
            demo, site = site, None
            stored = _stop_site(demo)
            summary_path = out / "summary.json"
            if code == 2 and not stopped:
                pass  # the locust file refused the test before any load (e.g. its host), and said why in one line
            elif summary_path.exists():
                summary = json.loads(summary_path.read_text())
                if demo is not None:
                    summary["demo_site"] = {"signatures_stored": stored}
                if stopped:
                    summary["partial"], summary["stopped"] = True, stopped
                summary["load_factor"] = summary.get("plan", {}).get("load_factor")
                summary["outcome"] = outcome(summary)
                summary["meaning"] = meaning(summary)
                if summary["outcome"]["status"] != MEASURED and code in (0, 4):
                    code = 1  # as locust says; a test that measured nothing is that first, whatever its lag
                with deferred_signals():
                    write_json(summary_path, summary)
                    figures = _figures(out, summary) if args.out else []
                _print_summary(summary)
                if args.out:
                    print(f"\nwrote summary.json, timeseries.csv, {', '.join(figures + [''])}locust_*.csv, locust.html "
                          f"to {out}/")
            else:
                print(f"surge: the load test wrote no results{f' to {out}/' if args.out else ''} "
                      f"(locust exit code {code})", file=sys.stderr)
                code = code or 1  # nothing measured is never a success
    finally:
        _stop_site(site)  # stopped early, or by an error: no server is left behind
    if stopped:
        print(f"surge: load test {stopped}; results above are partial", file=sys.stderr)
    return code


def _figures(out: Path, summary: dict) -> list[str]:
    """The load test's figures (arrivals, latency, lag) from its time series, for the folder and its report."""
    import csv

    from sim.cli.loadtest_figures import write_loadtest_figures

    series = out / "timeseries.csv"
    if not series.exists():
        return []
    with open(series, newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return write_loadtest_figures(out, rows, header, summary)


def _run_locust(args: argparse.Namespace, *, host: str, out: Path) -> tuple[int, str | None]:
    """Locust's exit code and, if surge was stopped meanwhile, why (locust is then stopped too)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(locustfile_path().parent.parent),
                                                                     os.environ.get("PYTHONPATH")]))}
    # Locust runs in a session of its own: a Ctrl-C to the terminal's process group reaches surge
    # alone, which asks locust to stop once (it then writes what it measured, marked partial).
    proc = subprocess.Popen(locust_command(args, host=host, out=out), env=env, start_new_session=True)
    try:
        return proc.wait(), None
    except KeyboardInterrupt as exc:
        stopped = reason(exc)
        with deferred_signals():
            _stop_locust(proc)
        return exit_code(stopped), stopped
    finally:
        if proc.poll() is None:  # an error of surge's own: nothing is left running against the site
            _kill_group(proc)


def _stop_site(site) -> int | None:
    """Stop the demo site (if one was started); the signatures it stored."""
    if site is None:
        return None
    with deferred_signals():
        stored = site.signatures()
        site.stop()
    print(f"stopped the demo site ({stored} signatures stored)", file=sys.stderr)
    return stored


_STOP_WAIT_S = 30.0  # locust stops its users, writes its files and quits well within this


def _stop_locust(proc: subprocess.Popen) -> None:
    """Ask locust to stop (SIGINT: it stops the test and writes its results and report), then make sure it did."""
    try:
        os.kill(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=_STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        pass
    _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """Locust and any worker it started (``--processes``): nothing keeps sending load."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
