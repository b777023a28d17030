"""``surge export SCENARIO --format k6|artillery|gatling|jmeter|csv --out FILE``: the load test for other tools.

Writes the arrival-rate profile the locust replay plays (time-compressed, scaled: ``sim.loadtest.schedule``)
as another tool's own open-model configuration, with the journey of ``[loadtest.site]``
(``sim.loadtest.export`` renders it). Bad flags exit 2 with one line naming the flag, before any work.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from sim.config.checks import at_most
from sim.config.limits import MAX_CONCURRENT_VISITORS
from sim.config.scenario import load_scenario
from sim.errors import ConfigError, check_url
from sim.loadtest.export import DEFAULT_HOST, FORMATS, MAX_STAGES, export
from sim.loadtest.schedule import ASSET_MODES, LoadPlan
from sim.cli.outputs import out_file

__all__ = ["add_parser", "run"]

_WHAT = {"k6": "k6 script", "artillery": "Artillery script", "gatling": "Gatling simulation (JavaScript SDK)",
         "jmeter": "JMeter test plan", "csv": "CSV of the target rate per second"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write the load test's arrival-rate profile for k6, Artillery, Gatling, JMeter or as CSV",
        description="Write the surge the locust replay plays (compressed by --time-scale, scaled by --scale) as "
        "another tool's open-model configuration: a k6 script (ramping-arrival-rate), an Artillery script "
        "(phases), a Gatling JavaScript simulation (injectOpen), a JMeter test plan (Open Model Thread Group, "
        "JMeter 5.5+) or a CSV of the target visitors per second, with the journey of the scenario's "
        "[loadtest.site]. The file sends traffic only to the host you give it (--host, or the tool's own "
        "setting when you run it). Exit code 2 for bad input.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    p.add_argument("--format", required=True, choices=FORMATS, help="k6, artillery, gatling, jmeter or csv")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--time-scale", type=float, default=144.0, metavar="X",
                   help="simulated seconds per wall second (144: 24 h in 10 min)")
    p.add_argument("--scale", type=float, default=None, metavar="Y",
                   help="fraction of the scenario's visitors (default 0.001)")
    p.add_argument("--match-peak", action="store_true",
                   help="play the real surge's arrival rate: scale = 1 / time-scale (instead of --scale)")
    p.add_argument("--duration-s", type=float, metavar="S", help="wall seconds of arrivals (default: all of it)")
    p.add_argument("--assets", choices=ASSET_MODES, default="misses",
                   help="asset requests to send: all, only CDN misses (default), or none")
    p.add_argument("--host", default=DEFAULT_HOST, metavar="URL",
                   help=f"the site the file aims at until told otherwise (default {DEFAULT_HOST})")
    p.add_argument("--max-stages", type=int, default=MAX_STAGES, metavar="N",
                   help=f"at most this many straight pieces for the rate (default {MAX_STAGES})")
    p.add_argument("--max-concurrent-visitors", type=int, default=10_000, metavar="N",
                   help="k6's maxVUs: visitors in flight before new arrivals are dropped (and counted)")
    p.set_defaults(func=run)


def _scale(args: argparse.Namespace) -> float:
    if args.match_peak:
        if args.scale is not None:
            raise ConfigError("--match-peak", "sets the scale itself (1 / --time-scale): drop --scale")
        if not (0 < args.time_scale < float("inf")):
            raise ConfigError("--time-scale", f"must be > 0, got {args.time_scale!r}")
        return 1.0 / args.time_scale
    return 0.001 if args.scale is None else args.scale


def _write(path, text: str) -> None:
    """The whole file or none of it: a temporary file beside it, then renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def run(args: argparse.Namespace) -> int:
    scale = _scale(args)
    check_url("--host", args.host)
    if args.max_stages < 2:
        raise ConfigError("--max-stages", f"must be >= 2, got {args.max_stages}")
    if args.max_concurrent_visitors < 1:
        raise ConfigError("--max-concurrent-visitors", f"must be >= 1, got {args.max_concurrent_visitors}")
    at_most("--max-concurrent-visitors", args.max_concurrent_visitors, MAX_CONCURRENT_VISITORS)
    scenario = load_scenario(args.scenario)
    plan = LoadPlan(scenario, time_scale=args.time_scale, scale=scale, duration_s=args.duration_s,
                    assets=args.assets)
    out = out_file(args.out)  # the input is good: a bad --out is found now, before the export
    result = export(plan, args.format, host=args.host, max_stages=args.max_stages,
                    max_vus=args.max_concurrent_visitors)
    _write(out, result.text)
    error = (result.visitors - plan.expected_visitors()) / plan.expected_visitors() if plan.expected_visitors() else 0
    print(f"wrote {out}: {_WHAT[args.format]}, {result.stages} stages, {result.visitors:,.1f} expected visitors "
          f"({error:+.2%} of the plan's {plan.expected_visitors():,.1f}) over {plan.duration_s:,.0f} s, load factor "
          f"{plan.load_factor:g}")
    print(f"run it: {result.run_hint.replace('FILE', str(out))}")
    print(f"traffic goes only to the host you give it ({args.host} unless the tool is told otherwise)")
    return 0
