"""``surge calibrate --host URL [--scenario S] [--max-rate R] [--duration-s D] --out site.toml``.

A short open-workload step load against a site: a light load per request kind (for
service times), then rising page rates until the site saturates (for its workers and
backlog), never above ``--max-rate``; then saturated steps held until the saturated
throughput's 95 % interval is within ``--precision`` (``sim.analysis.calibrate_precision``),
``--duration-s`` the cap. The fit is in ``sim.analysis.calibrate``; the load comes from
``sim.loadtest.probe`` (plain threads).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path

import numpy as np

from sim.analysis.calibrate import DROPPED_SYN_S, StepResult, fit_site, saturated
from sim.analysis.calibrate_precision import DEFAULT_PRECISION, hold_saturated
from sim.analysis.round_trip import ping_path_advice
from sim.analysis.site_file import precision_line, site_toml
from sim.errors import ConfigError, check_url
from sim.loadtest.ownership import (FIRST_TEST_MAX_REQUESTS_PER_S, LIFT_FLAG, VOUCH_FLAG, WELL_KNOWN_PATH,
                                    capped_rate, check_ownership)
from sim.interrupts import deferred_signals, exit_code, reason
from sim.output.text import format_table
from sim.config.checks import LIMIT
from sim.config.limits import MAX_PROBE_RATE_PER_S
from sim.config.scenario import LoadtestSiteConfig, load_scenario
from sim.cli.outputs import out_file

__all__ = ["add_parser", "run", "phase_lengths_s"]

STEPS = 8  # rising rates: max_rate x k / STEPS
STRICT_EXIT = 5  # --strict: written, but a parameter is not determined by the data
# The light loads and the rising steps take what they took when 120 s was the whole calibration
# (36 s of light load, 10 s steps); the rest of --duration-s is for holding saturated steps.
# P = 3 % needs about (2 / 0.03)^2 = 4,400 answers in saturated windows (fewer for a steady
# service, more for a correlated one): 300 s leaves about 180 s to hold, 3 % for a site of
# about 35 pages/s and up; 1,200 s reaches a site of about 8 pages/s.
FIRST_PHASE_S = 120.0
DEFAULT_DURATION_S, MAX_DURATION_S = 300.0, 1200.0


def phase_lengths_s(duration_s: float) -> tuple[float, float]:
    """(all the light loads, one load step): the light loads take 30 % of the first phase, min(D,
    FIRST_PHASE_S), and the rising steps share the rest, STEPS of at most 10 s."""
    first_s = min(duration_s, FIRST_PHASE_S)
    light_s = 0.3 * first_s
    return light_s, min(10.0, (first_s - light_s) / STEPS)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the model's [site] to a real site with a short step load",
        description="Measure service times at a light load, then raise the page rate step by step until the "
        "site saturates, and hold saturated steps until its capacity is known to --precision; fit the "
        "service-time distributions, the effective number of workers and the backlog, and write a [site] "
        "section with the capacity's 95 % interval in [site.calibration] (include it with "
        "include = \"site.toml\").",
    )
    p.add_argument("--host", required=True, metavar="URL", help="the site, e.g. http://127.0.0.1:8000")
    p.add_argument("--scenario", metavar="S", help="scenario whose [loadtest.site] paths to use (default: the "
                   "demo site's paths)")
    p.add_argument("--max-rate", type=float, default=400.0, metavar="R", help="most requests per second sent")
    p.add_argument("--duration-s", type=float, default=DEFAULT_DURATION_S, metavar="D",
                   help=f"most seconds of load in all, {DEFAULT_DURATION_S:g} by default, at most {MAX_DURATION_S:g}: "
                   f"the light loads and rising steps take up to {FIRST_PHASE_S:g} s, saturated steps are then held until "
                   "--precision is reached or this is spent")
    p.add_argument("--precision", type=float, default=DEFAULT_PRECISION, metavar="P",
                   help=f"hold saturated steps until the 95 %% interval of the saturated throughput (the capacity) is "
                   f"within +-P of it, relative (default {DEFAULT_PRECISION:g}: +-3 %%); the interval is by batch "
                   "means, which allow for answers that come in spells; not reached within --duration-s: a warning "
                   f"(exit {STRICT_EXIT} under --strict)")
    p.add_argument("--seed", type=int, default=1, metavar="N", help="seed of the arrival times")
    p.add_argument("--ping-path", metavar="PATH",
                   help="a path the site answers without app work (e.g. /healthz): GETs of it are sent during each "
                   "light load, and their mean response is the round trip, the HTTP stack's time included (default: "
                   "two TCP handshakes before the load, which the kernel answers without a worker)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the fitted [site] (TOML)")
    p.add_argument("--strict", action="store_true",
                   help=f"exit {STRICT_EXIT} when the data cannot determine a parameter (the site never saturated "
                   "below --max-rate, too few samples, an interval too wide); the file is still written, "
                   "the warnings in it")
    p.add_argument(VOUCH_FLAG, metavar="URL",
                   help="skip the proof that a --host that is not loopback wants this load (its token at "
                   f"{WELL_KNOWN_PATH}): you vouch that you control it; repeat --host's scheme, host and port")
    p.add_argument(LIFT_FLAG, action="store_true",
                   help=f"lift the limit of a first test of a proven host (--max-rate lowered to "
                   f"{FIRST_TEST_MAX_REQUESTS_PER_S:g}), for good")
    p.set_defaults(func=run)


def _step(probe, host, rng, kind, method, path, form, rate, duration, ping_path=None) -> StepResult:
    samples = probe.open_load(host, method=method, path=path, form=form, rate_per_s=rate, duration_s=duration,
                              rng=rng, **({"ping_path": ping_path} if ping_path else {}))
    pings = [s for s in samples if s.ping]
    samples = [s for s in samples if not s.ping]
    statuses: dict[int, int] = {}
    for s in samples:
        statuses[s.status] = statuses.get(s.status, 0) + 1
    answered = [s for s in samples if 200 <= s.status < 400]
    step = StepResult(kind=kind, rate_per_s=rate, duration_s=duration,
                      response_s=np.array([s.response_s for s in answered]),
                      done_s=np.array([s.intended_s + s.response_s for s in answered]), statuses=statuses,
                      sent_s=np.array([s.sent_s for s in samples]),
                      finished_s=np.array([s.intended_s + s.response_s for s in samples]),
                      ok=np.array([200 <= s.status < 400 for s in samples], dtype=bool),
                      connect_s=np.array([s.connect_s for s in samples]))
    return (step, pings) if ping_path else step


def _concurrent_round_trip(pings, ping_path: str, kind: str) -> tuple[float, float, float, str] | None:
    """(mean, median, sd, source) of the pings sent during a kind's light load, timed as its requests (None: too
    few answered).

    The mean, as the service is a mean: the time a response costs apart from the service has a
    long tail on a machine whose cores the client and the server share, and a median would leave
    that tail in the service. A retransmitted handshake (a dropped SYN) is not the stack's time."""
    ok = np.array([s.response_s for s in pings if 200 <= s.status < 300 and not s.connect_s >= DROPPED_SYN_S])
    if len(ok) < 10:
        return None
    return float(ok.mean()), float(np.median(ok)), float(ok.std(ddof=1)), (
        f"the mean of {len(ok)} GETs of {ping_path} sent during the {kind} light load (median "
        f"{np.median(ok) * 1000:.3f} ms, sd {ok.std(ddof=1) * 1000:.3f} ms)")


def _round_trip(probe, host: str, ping_path: str | None) -> tuple[float, str]:
    """The network's share of a light-load response, measured apart from the service; with its source.

    A request on a new connection costs two round trips before the service: the handshake and the
    request itself, hence twice the median handshake (the median: one slow handshake is not the
    network). A ping path's median response counts both, and the HTTP stack's own time too."""
    if ping_path is not None:
        times = probe.ping_times(host, ping_path)
        ok = times[np.isfinite(times)]
        if len(ok) < len(times) // 2:
            raise ConfigError("--ping-path", f"{host}{ping_path} answered {len(ok)} of {len(times)} GETs with 2xx")
        return float(np.median(ok)), f"the median of {len(ok)} GETs of {ping_path} ({ok.min() * 1000:.3f} to " \
            f"{ok.max() * 1000:.3f} ms)"
    times = probe.connect_times(host)
    ok = times[np.isfinite(times)]
    if len(ok) < len(times) // 2:
        raise ConfigError("--host", f"{host} accepted {len(ok)} of {len(times)} TCP connections: is the site up?")
    return 2 * float(np.median(ok)), (f"2 x the median of {len(ok)} TCP handshakes ({ok.min() * 1000:.3f} to "
                                      f"{ok.max() * 1000:.3f} ms each)")


def run(args: argparse.Namespace) -> int:
    check_url("--host", args.host)
    if not (0 < args.max_rate <= MAX_PROBE_RATE_PER_S):
        raise ConfigError("--max-rate", f"must be > 0 and <= {MAX_PROBE_RATE_PER_S:g} requests/s ({LIMIT}), "
                          f"got {args.max_rate}")
    out_file(args.out)  # a bad --out is found now, not after minutes of load
    if not (20 <= args.duration_s <= MAX_DURATION_S):
        raise ConfigError("--duration-s", f"must be within [20, {MAX_DURATION_S:g}] (20 minutes at most), "
                          f"got {args.duration_s}")
    if not (0 < args.precision < 1):
        raise ConfigError("--precision", f"must be > 0 and < 1 (a relative half-width: 0.03 is +-3 %), "
                          f"got {args.precision}")
    paths = load_scenario(args.scenario).loadtest.site if args.scenario else LoadtestSiteConfig()
    from sim.loadtest import probe  # threads and http.client only: no locust, no gevent

    rng = np.random.default_rng(args.seed)
    host = args.host.rstrip("/")
    light_rate = max(2.0, 0.1 * args.max_rate)  # light: requests rarely meet each other
    light_s, step_s = phase_lengths_s(args.duration_s)
    kinds = [("page", "GET", paths.landing_path, None, 0.6),
             ("submit", "POST", paths.submit_path, dict(paths.submit_fields), 0.2)]
    if paths.asset_paths:
        kinds.insert(1, ("asset", "GET", paths.asset_paths[0], None, 0.2))
    if args.ping_path is not None and not args.ping_path.startswith("/"):
        raise ConfigError("--ping-path", f"must be a path starting with '/', got {args.ping_path!r}")
    # Before anything is sent: a host that is not loopback proves it wants this load (sim/loadtest/ownership.py).
    ownership = check_ownership(host, vouch=args.i_control_this_host, lift=args.lift_first_test_limit)
    if capped_rate(ownership, args.max_rate) < args.max_rate:  # a first look at the site
        args.max_rate = capped_rate(ownership, args.max_rate)
        print(f"surge: a first test of {ownership.host}: --max-rate lowered to {args.max_rate:g} requests/s "
              f"(pass {LIFT_FLAG} to lift it)", file=sys.stderr)
        light_rate = max(2.0, 0.1 * args.max_rate)
    round_trip_s, source = _round_trip(probe, host, args.ping_path)
    print(f"round trip {round_trip_s * 1000:.3f} ms ({source})", file=sys.stderr)
    light, steps, stopped = {}, [], None
    trips, typical, spread, sources = {}, {}, {}, {}  # kind -> the round trip during its light load
    try:
        for kind, method, path, form, share in kinds:
            if args.ping_path is None:
                light[kind] = _step(probe, host, rng, kind, method, path, form, light_rate, light_s * share)
            else:
                light[kind], pings = _step(probe, host, rng, kind, method, path, form, light_rate, light_s * share,
                                           args.ping_path)
                trip = _concurrent_round_trip(pings, args.ping_path, kind)
                if trip is not None:
                    trips[kind], typical[kind], spread[kind], sources[kind] = trip
                    print(f"round trip during the {kind} light load {trip[0] * 1000:.3f} ms ({trip[3]})",
                          file=sys.stderr)
            if light[kind].statuses.get(0, 0) + light[kind].statuses.get(-1, 0) == light[kind].sent:  # no answer at all
                raise ConfigError("--host", f"no answer from {host}{path}: is the site up?")
            print(f"light load, {kind}: {light[kind].answered} answered of {light[kind].sent}", file=sys.stderr)
        for k in range(1, STEPS + 1):
            rate = args.max_rate * k / STEPS
            steps.append(_step(probe, host, rng, "page", "GET", paths.landing_path, None, rate, step_s))
            s = steps[-1]
            print(f"step {k}: {rate:g}/s offered, {s.throughput_per_s:.1f}/s answered, "
                  f"{s.rejected_fraction:.1%} rejected", file=sys.stderr)
            if sum(saturated(x) for x in steps) >= 2:
                break  # saturated twice: enough to read the capacity, no need to hammer on
        # Held at the lowest rate seen to saturate: past capacity, with the least backlog and the
        # fewest client threads competing with the site for the cores.
        hold_rate = min((x.rate_per_s for x in steps if saturated(x)), default=None)

        def held() -> StepResult:
            s = _step(probe, host, rng, "page", "GET", paths.landing_path, None, hold_rate, step_s)
            print(f"held step {len(steps) + 1}: {hold_rate:g}/s offered, {s.throughput_per_s:.1f}/s answered, "
                  f"{s.rejected_fraction:.1%} rejected", file=sys.stderr)
            return s

        capacity = hold_saturated(steps, held, saturated=saturated, precision=args.precision, step_s=step_s,
                                  left_s=args.duration_s - light_s - len(steps) * step_s)
        if capacity is not None:
            print(f"capacity {capacity.capacity_per_s:.1f}/s +-{capacity.precision:.1%} (95 %) after "
                  f"{capacity.steps} saturated steps", file=sys.stderr)
    except KeyboardInterrupt as exc:  # stopped: fit what was measured, if that is enough, marked partial
        stopped = reason(exc)
        print(f"surge: calibration {stopped} after {len(light)} light loads and {len(steps)} steps", file=sys.stderr)
        if len(light) < len(kinds) or not steps:
            print("surge: too little was measured to fit a site; nothing written", file=sys.stderr)
            return exit_code(stopped)
    try:
        fit = fit_site(light, steps, round_trip_s={k: trips.get(k, round_trip_s) for k in light},
                       round_trip_source={k: sources.get(k, source) for k in light},
                       typical_round_trip_s=typical.get("page"), round_trip_sd_s=spread,
                       precision_target=args.precision)
    except ValueError as err:
        if stopped:
            print(f"surge: too little was measured to fit a site ({err}); nothing written", file=sys.stderr)
            return exit_code(stopped)
        raise ConfigError("--duration-s", f"{err} (a longer --duration-s or a higher --max-rate sends more)") from None
    text = site_toml(fit, host=host, when=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    if ownership.proof != "loopback":
        text = (f"# Load aimed at {ownership.host}: {ownership.proof} "
                + (f"(it served the token at {ownership.token_url})" if ownership.proof == "token" else
                   f"({VOUCH_FLAG}: not checked)") + ".\n") + text
    if stopped:
        text = (f"# PARTIAL: the calibration was {stopped} after {len(steps)} load steps ({STEPS} rising at most, "
                "then saturated ones held);\n# the fit below may not have seen the site saturate, nor reached "
                "--precision.\n") + text
    out = Path(args.out)
    with deferred_signals():  # a second Ctrl-C must not cut the file short
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    page = fit.services["page"]
    rows = [("round trip", f"{page.round_trip_s * 1000:.3f} ms ({page.round_trip_source})")]
    rows += [(f"{s.kind} service", f"{s.law}, mean {s.mean_s * 1000:.1f} ms (95 %: {s.mean_interval_s[0] * 1000:.1f}"
              f" to {s.mean_interval_s[1] * 1000:.1f}; CV {s.cv:.2f}; {s.quality()})") for s in fit.services.values()]
    hinge = f"requests wait once {fit.concurrency.workers} others are in; " if fit.concurrency else ""
    wlo, whi = fit.workers_raw_interval
    xlo, xhi = fit.throughput_interval_per_s
    rows += [("workers", f"{fit.workers} ({hinge}throughput x service {fit.workers_raw:.2f}, 95 %: {wlo:.2f} to "
              f"{whi:.2f})"),
             ("backlog", "unbounded (nothing refused at saturation: the site queues every request)"
              if fit.queue_limit == math.inf else
              f"{fit.queue_limit} (overflow: {fit.overflow}; mean number waiting {fit.queue_raw:.1f})"),
             ("capacity", f"{fit.saturated_throughput_per_s:.1f} pages/s (95 %: {xlo:.1f} to {xhi:.1f})"
              + ("" if fit.saturated_at_per_s is not None else ", a lower bound: never saturated")),
             ("precision", precision_line(fit))]
    print(format_table(rows, title=f"calibrated {host}"))
    for w in fit.warnings:
        print(f"surge: warning: {w}", file=sys.stderr)
    if args.ping_path is None and (advice := ping_path_advice(round_trip_s, light)):
        print(f"surge: warning: {advice}", file=sys.stderr)
    print(f"\nwrote {out}: add include = \"{out.name}\" to a scenario", file=sys.stderr)
    if stopped:
        return exit_code(stopped)
    if fit.warnings and args.strict:
        print(f"surge: --strict: {len(fit.warnings)} parameter(s) not determined by the data (exit {STRICT_EXIT})",
              file=sys.stderr)
        return STRICT_EXIT
    return 0
