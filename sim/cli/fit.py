"""``surge fit TRACE.csv --out fitted.toml``: a scenario whose profile explains an analytics trace."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim.analysis.fit import KERNELS, fit_trace
from sim.cli.outputs import out_file
from sim.config.checks import LIMIT
from sim.config.limits import MAX_DURATION_S
from sim.config.scenario import load_scenario
from sim.config.trace import read_trace
from sim.errors import ConfigError
from sim.output.fitted import fit_table_rows, fitted_scenario_text
from sim.output.text import format_table
from sim.traffic.profile import build_profile

__all__ = ["add_parser", "run", "RANGES_BY_DEFAULT"]

# The fitted intervals are written as [uncertain] ranges unless --no-ranges: `surge risk` reads them.
RANGES_BY_DEFAULT = True


def add_parser(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a traffic profile (baseline, daily cycle, shares) to an analytics trace",
        description="Read a trace (CSV: interval start in seconds or ISO 8601, visitors counted in it), "
        "separate the baseline and its daily cycle from the surge, fit one or more shares (onset, visitors, "
        "decay kernel) by Poisson maximum likelihood, and write a scenario over the trace's span that "
        "`surge profile` and `surge run` read, with the fit's quality and 95 %% intervals in its comments. "
        "A share's visitors beyond the trace are extrapolated to at most as long again as the trace watched it, "
        "and only where the trace determines its tail; a burst with no tail is a small share or noise by a "
        "negative binomial outlier test (docs/fit.md).",
    )
    p.add_argument("trace", metavar="TRACE.csv", help="the analytics export (the format traffic.trace reads)")
    p.add_argument("--out", metavar="FILE", required=True, help="the scenario file to write, e.g. fitted.toml")
    p.add_argument("--max-shares", type=int, default=3, metavar="N", help="at most this many shares (default 3)")
    p.add_argument("--kernel", choices=KERNELS, help="fit every share with this kernel (default: the best fit)")
    p.add_argument("--start-hour", type=float, metavar="H",
                   help="clock hour of the trace's first row (default: from its ISO 8601 time, else 0)")
    p.add_argument("--like", metavar="SCENARIO",
                   help="take [visitors], [site] and the rest from this scenario (written as its include)")
    p.add_argument("--name", metavar="NAME", help="the scenario's name (default: the trace's file name)")
    p.add_argument("--ranges", action=argparse.BooleanOptionalAction, default=RANGES_BY_DEFAULT,
                   help="also write each fitted share's intervals as [uncertain.\"traffic.shares.N.KEY\"] tables "
                   f"for `surge risk` (default: {'on' if RANGES_BY_DEFAULT else 'off'})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = out_file(args.out)
    trace = read_trace(args.trace)
    span_s = float(trace.edges_s[-1] - trace.edges_s[0])
    if span_s > MAX_DURATION_S:
        # The written scenario spans the trace: refuse now, not after minutes of fitting.
        raise ConfigError("", f"{args.trace} spans {span_s / 86_400:.1f} d; the fitted scenario spans the trace and "
                          f"a run is at most {MAX_DURATION_S / 86_400:g} d ({LIMIT}): fit a window of it")
    start_hour = args.start_hour
    if start_hour is None:
        start_hour = 0.0 if trace.start is None else trace.start.hour + trace.start.minute / 60
    if not 0 <= start_hour < 24:
        raise ConfigError("--start-hour", f"must be in [0, 24), got {start_hour!r}")
    include = None
    if args.like:
        load_scenario(args.like)  # a bad template fails now, naming itself
        include = os.path.relpath(Path(args.like).resolve(), out.resolve().parent)
    kernels = (args.kernel,) if args.kernel else KERNELS
    result = fit_trace(trace, start_hour=start_hour, max_shares=args.max_shares, kernels=kernels)
    name = args.name or Path(args.trace).stem
    text = fitted_scenario_text(result, trace_name=Path(args.trace).name, name=name, include=include,
                                ranges=args.ranges)
    out.write_text(text, encoding="utf-8")
    fitted = _read_back(out)  # what was written is what the other commands will read
    summary = build_profile(fitted).summary()
    rows = fit_table_rows(result, peak_rate_per_s=summary.peak_rate_per_s, peak_at_s=summary.peak_at_s)
    print(format_table(rows, title=f"surge fit: {Path(args.trace).name}"))
    for w in result.warnings:
        print(f"warning: {w}")
    print(f"wrote {out}")
    return 0


def _read_back(out: Path):
    """The written scenario, read as the other commands read it (its [uncertain] ranges included)."""
    return load_scenario(out)
