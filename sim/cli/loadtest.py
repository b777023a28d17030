"""``surge loadtest SCENARIO [--host URL] ...``: replay the surge against a site with locust, headless.

A thin wrapper: it checks the flags (the load test's options are ``sim.loadtest.options``'s,
parsed into a :class:`~sim.loadtest.options.LoadTestOptions` and handed to the locust file as its
flags), parses the scenario once, starts the bundled demo site when no ``--host`` is given, and
runs ``locust -f loadtests/locustfile.py --headless`` in a child process (``sim`` itself never
imports locust or gevent). The locust file hands its measurements back; the summary is built from
them by ``sim.loadtest.result`` and ``summary.json`` written once, here. Whether a ``--host`` that is not loopback
wants the load (``sim.loadtest.ownership``) is checked there, as on every route of the locust file.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from sim.config.limits import max_processes
from sim.errors import ConfigError
from sim.interrupts import deferred_signals, exit_code, reason
from sim.loadtest.host import check_host
from sim.loadtest.ownership import (FIRST_TEST_MAX_REQUESTS_PER_S, LIFT_FLAG, VOUCH_FLAG, WELL_KNOWN_PATH,
                                    check_vouch)
from sim.loadtest.meaning import FAILED, MEASURED
from sim.loadtest.options import HANDOFF_FLAG, OPTIONS, LoadTestOptions
from sim.loadtest.result import Measured, summarize, timeseries_rows, write
from sim.loadtest.schedule import LoadPlan
from sim.output.summary import slo_rows, summary_rows, verdicts
from sim.output.text import format_table
from sim.config.scenario import load_scenario
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run", "locust_command", "locustfile_path", "options_of", "resolve_load"]


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
    defaults = LoadTestOptions()
    for option in OPTIONS:  # the options the locust file takes too, declared once (sim.loadtest.options)
        if option.name == "scenario":
            continue  # positional here
        if option.name == "scale":
            p.add_argument("--match-peak", action="store_true",
                           help="play the real surge's arrival rate: scale = 1 / time-scale (instead of --scale)")
        default = getattr(defaults, option.name)
        # None: not given, so LoadTestOptions' own default applies (and --scale may be set by --match-peak)
        p.add_argument(option.surge_flag, dest=option.name, default=None, metavar=option.metavar,
                       choices=option.choices, type=None if option.kind is str else option.kind,
                       help=(option.help + _default_text(default)).replace("%", "%%"))
    p.add_argument("--processes", default="0", metavar="N|auto",
                   help="locust worker processes (0: one process; auto: enough for the plan's peak request rate, "
                   f"{PROCESS_CAPACITY_PER_S:g} requests/s each, at most the cores)")
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


def _default_text(default) -> str:
    if default is None or default == "":
        return ""
    return f" (default {default:g})" if isinstance(default, (int, float)) else f" (default {default})"


# Requests per second one driver process sends on this kind of machine with its lag p99 under half
# the threshold (benchmarks/README.md, "Load generator throughput").
PROCESS_CAPACITY_PER_S = 2000.0


def resolve_load(args: argparse.Namespace, plan: LoadPlan | None = None) -> None:
    """``--scale`` (or ``--match-peak``) and ``--processes`` (or ``auto``, from ``plan``: made from the flags
    when not given) as numbers, in ``args``."""
    _resolve_scale(args)
    if args.processes == "auto" and plan is None:
        plan = _plan(args, load_scenario(args.scenario))
    _resolve_processes(args, plan)


def _resolve_scale(args: argparse.Namespace) -> None:
    if args.match_peak:
        if args.scale is not None:
            raise ConfigError("--match-peak", "sets the scale itself (1 / --time-scale): drop --scale")
        time_scale = LoadTestOptions().time_scale if args.time_scale is None else args.time_scale
        if not (0 < time_scale < math.inf):
            raise ConfigError("--time-scale", f"must be > 0, got {time_scale!r}")
        args.scale = 1.0 / time_scale
    elif args.scale is None:
        args.scale = LoadTestOptions().scale


def _resolve_processes(args: argparse.Namespace, plan: LoadPlan | None) -> None:
    if args.processes == "auto":
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


def options_of(args: argparse.Namespace, *, out: Path | None = None) -> LoadTestOptions:
    """The load test's options from the flags (a flag not given, or at its ``unset`` value, takes the options'
    own default)."""
    given = {o.name: None if getattr(args, o.name, None) == o.unset else getattr(args, o.name, None) for o in OPTIONS}
    given["scenario"] = str(Path(args.scenario).resolve())
    given["out"] = str(out) if out is not None else getattr(args, "out", None)
    return LoadTestOptions(**{k: v for k, v in given.items() if v is not None})


def _plan(args: argparse.Namespace, scenario) -> LoadPlan:
    """The plan of the flags; LoadPlan checks the time scale, the scale and the visitors the test expects."""
    options = options_of(args)
    try:
        return LoadPlan(scenario, time_scale=options.time_scale, scale=options.scale, duration_s=options.duration_s,
                        assets=options.assets)
    except ConfigError as err:
        raise (err if err.key.startswith("--") else err.at(args.scenario)) from None


def locustfile_path() -> Path:
    import loadtests  # the package alone: no locust, no gevent

    return Path(loadtests.__file__).resolve().parent / "locustfile.py"


def locust_command(args: argparse.Namespace, *, host: str, out: Path, handoff: Path | None = None) -> list[str]:
    """locust on the locust file, headless, with the load test's options (and, from ``surge loadtest``, the
    file to hand its measurements over in: surge writes summary.json)."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile_path()), "--headless", "--host", host,
           *options_of(args, out=out).to_argv(),
           "--exit-code-on-error", "0",  # failures are judged by --slo, not by their mere presence
           "--csv", str(out / "locust"), "--html", str(out / "locust.html"), "--only-summary"]
    if handoff is not None:
        cmd += [HANDOFF_FLAG, str(handoff)]
    if args.i_control_this_host is not None:
        cmd += [VOUCH_FLAG, args.i_control_this_host]
    if args.lift_first_test_limit:
        cmd += [LIFT_FLAG]
    if args.processes:  # the master listens for its workers on loopback only, never on every interface
        cmd += ["--processes", str(args.processes), "--master-bind-host", "127.0.0.1"]
    return cmd


def _check(args: argparse.Namespace) -> LoadPlan:
    """Every flag, the scenario (parsed here, once) and --out, before the demo site or locust starts; the plan."""
    _resolve_scale(args)
    options_of(args)  # the options' own checks, each naming its flag
    if args.processes != "auto":
        _resolve_processes(args, None)
    for flag, value, low in (("--processes", args.processes, 0), ("--demo-workers", args.demo_workers, 1),
                             ("--demo-queue-limit", args.demo_queue_limit, 0)):
        if isinstance(value, int) and value < low:
            raise ConfigError(flag, f"must be >= {low}, got {value}")
    if isinstance(args.processes, int) and args.processes > max_processes():
        raise ConfigError("--processes", f"must be within [0, {max_processes()}] (the cores), got {args.processes}")
    if args.host is not None:
        args.host = check_host(args.host)  # as locust's own routes check it (loadtests/locustfile.py)
        if args.i_control_this_host is not None:
            check_vouch(args.host, args.i_control_this_host)
        # whether the host wants this load is checked by the locust file, as on every other route
    else:
        if args.i_control_this_host is not None:
            raise ConfigError(VOUCH_FLAG, "is for a --host; the demo site, on loopback, needs no proof")
        _check_demo_site(args)
    plan = _plan(args, load_scenario(args.scenario))
    if args.processes == "auto":
        _resolve_processes(args, plan)
    out_folder(args.out)
    return plan


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
    plan = _check(args)
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
            handoff = Path(tmp) / "measured.json"  # the locust file's measurements, handed over
            code, stopped = _run_locust(args, host=site.url if site is not None else args.host, out=out,
                                        handoff=handoff)
            demo, site = site, None
            stored = _stop_site(demo)
            if code == 2 and not stopped:
                pass  # the locust file refused the test before any load (e.g. its host), and said why in one line
            elif handoff.exists():
                measured = Measured.from_json(handoff.read_text(encoding="utf-8"))
                summary = summarize(measured, plan, options_of(args, out=out), stopped=stopped,
                                    demo_site=None if demo is None else {"signatures_stored": stored})
                with deferred_signals():
                    write(out, summary, timeseries_rows(measured, plan))
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


def _run_locust(args: argparse.Namespace, *, host: str, out: Path, handoff: Path) -> tuple[int, str | None]:
    """Locust's exit code and, if surge was stopped meanwhile, why (locust is then stopped too)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(locustfile_path().parent.parent),
                                                                     os.environ.get("PYTHONPATH")]))}
    # Locust runs in a session of its own: a Ctrl-C to the terminal's process group reaches surge
    # alone, which asks locust to stop once (it then writes what it measured, marked partial).
    proc = subprocess.Popen(locust_command(args, host=host, out=out, handoff=handoff), env=env,
                            start_new_session=True)
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
