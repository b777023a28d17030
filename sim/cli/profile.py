"""``surge profile SCENARIO [--out DIR] [--log] [--compare TRACE.csv]``: the traffic profile's figures, CSV,
JSON and plot, and with ``--compare`` the profile against an observed trace (compare.csv, compare.png)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from sim.traffic.journey import per_visitor
from sim.files import out_dir, write_csv, write_json
from sim.output.text import clock, fmt, format_table, from_start
from sim.cli.figures import finish_panels, save_figure, zoom_panels
from sim.analysis.window import surge_window
from sim.output.plots import plot_profile, plot_profile_compare
from sim.analysis.trace_compare import TraceComparison, compare_to_trace, compared_intervals
from sim.config.trace import read_trace
from sim.errors import ConfigError
from sim.traffic.profile import build_profile
from sim.config.scenario import load_scenario
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run", "profile_figures"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="show a scenario's traffic profile: visitors per second over time",
        description="Print the traffic profile's figures (baseline, peak, totals in visitors, page views and "
        "HTTP requests) and, with --out, write profile.csv, profile.json and profile.png. With --compare, also "
        "compare the profile with an observed trace, interval by interval (and write compare.csv and compare.png).",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML), e.g. scenarios/anca-2020.toml")
    p.add_argument("--out", metavar="DIR", help="folder to write profile.csv, profile.json and profile.png into")
    p.add_argument("--log", action="store_true", help="draw the rate on a log scale (the baseline stays visible)")
    p.add_argument("--compare", metavar="TRACE.csv",
                   help="an observed trace (CSV: interval start, visitors; the format of traffic.trace) to compare "
                   "the profile with in the trace's intervals; with --out, writes compare.csv and compare.png")
    p.set_defaults(func=run)


def profile_figures(scenario, profile) -> dict:
    """The profile's expected figures over ``run.duration_s`` (the keys of profile.json)."""
    s = profile.summary()
    per = per_visitor(scenario)
    return {
        "scenario": scenario.name or scenario.path,
        "duration_s": scenario.run.duration_s,
        "baseline_rate_per_s": s.baseline_rate_per_s,
        "peak_rate_per_s": s.peak_rate_per_s,
        "peak_at_s": s.peak_at_s,
        "peak_vs_baseline": s.peak_rate_per_s / s.baseline_rate_per_s if s.baseline_rate_per_s > 0 else None,
        "half_surge_at_s": s.half_surge_at_s,
        "visitors_total": s.visitors_total,
        "surge_visitors_total": s.surge_visitors_total,
        "page_views_total": s.visitors_total * per.page_views,
        "actions_total": s.visitors_total * per.actions,
        "requests_total": s.visitors_total * per.requests,
        "origin_requests_total": s.visitors_total * per.origin_requests,
        "shares": [
            {"name": sh.name, "at_s": sh.at_s, "expected_visitors": sh.expected_visitors,
             "visitors_in_run": float(profile.share_cumulative(i, scenario.run.duration_s))}
            for i, sh in enumerate(scenario.traffic.shares)
        ],
    }


def _hours(t_s) -> str:
    return "-" if t_s is None else from_start(t_s)


def _read_compare_trace(path: str, scenario):
    """The trace to compare with, refused now (exit 2, one line) if unreadable or if it misses the run."""
    try:
        trace = read_trace(path)
    except ConfigError as err:
        raise err.at("--compare") from None
    try:
        compared_intervals(trace.edges_s, scenario.run.duration_s)
    except ValueError as err:
        raise ConfigError("", f"{path}: {err}", source="--compare") from None
    return trace


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _r2(value) -> str:
    return "-" if value is None else f"{value:.4f}"  # 0.99994 is not 1


def _compare_rows(c: TraceComparison) -> list[tuple[str, str]]:
    if math.isinf(c.deviance):
        deviance = (f"inf: {c.unexpected_intervals} interval(s) observed visitors where the profile expects none")
    else:
        deviance = (f"{fmt(c.deviance_per_interval)} per interval ({fmt(c.deviance)} over {c.intervals}; "
                    "about 1 if the differences are Poisson noise)")
    return [
        ("observed visitors", fmt(c.observed_total)),
        ("expected visitors", fmt(c.expected_total)),
        ("observed / expected", _ratio(c.ratio)),
        ("R\u00b2 of the counts", _r2(c.r_squared)),
        ("Poisson deviance", deviance),
        ("peak interval, observed", f"{fmt(c.peak_observed)} visitors, starting at {_hours(c.peak_observed_at_s)}"),
        ("peak interval, expected", f"{fmt(c.peak_expected)} visitors, starting at {_hours(c.peak_expected_at_s)}"),
    ]


def _compare_title(c: TraceComparison, path: str) -> str:
    widths = np.diff(c.edges_s)
    each = f"{widths[0] / 3600:.4g} h each" if np.allclose(widths, widths[0], rtol=1e-6) else "of differing lengths"
    return (f"compared with {path}: {c.intervals} intervals ({each}), "
            f"{c.edges_s[0] / 3600:g} h to {c.edges_s[-1] / 3600:.4g} h")


def _compare_note(c: TraceComparison) -> str | None:
    if not c.truncated:
        return None
    return (f"the trace runs to {c.trace_end_s / 3600:g} h, past the run's {c.duration_s / 3600:g} h: compared "
            f"only the overlap, its first {c.intervals} of {c.trace_intervals} intervals "
            f"(to {c.edges_s[-1] / 3600:g} h)")


def _draw_compare(fig, c: TraceComparison, *, scenario_name: str, trace_name: str) -> None:
    top, bottom = fig.subplots(2, 1, sharex=True)
    span = f" (its first {c.edges_s[-1] / 3600:g} h of {c.trace_end_s / 3600:g} h)" if c.truncated else ""
    title = (f"{scenario_name} vs the trace {trace_name}{span}\n"
             f"observed / expected {_ratio(c.ratio)}, R\u00b2 {_r2(c.r_squared)}, "
             f"Poisson deviance per interval {fmt(c.deviance_per_interval)}")
    for ax, log in ((top, False), (bottom, True)):
        plot_profile_compare(ax, edges_s=c.edges_s, observed=c.observed, expected=c.expected, log=log,
                             title=title if not log else "the same on a log scale",
                             observed_label=f"observed ({trace_name})", expected_label=f"expected ({scenario_name})")
    top.set_xlabel("")


def _draw_profile(fig, profile, window, *, name: str, bin_s: float, log: bool) -> None:
    """The surge's window (the whole run when it has none) above the whole run."""
    (top,), whole = zoom_panels(fig, [3], window)
    span = None if window.whole_run else (window.start_s, window.end_s)
    plot_profile(top, profile, bin_s=bin_s, log=log, window=span)
    title = f"{name}: expected visitors per second"
    if span is not None:
        title += (f"\n{clock(window.start_s)} to {clock(window.end_s)}: from just before the first share "
                  f"{window.why}")
    top.set_title(title, fontsize=10)
    if whole is not None:
        plot_profile(whole, profile, bin_s=bin_s, log=log, legend=False)
    finish_panels([top], whole, window, what="visitors per second")


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    trace = _read_compare_trace(args.compare, scenario) if args.compare else None
    out_folder(args.out)  # the input is good: a bad --out is found now, not after the profile
    profile = build_profile(scenario)
    fig = profile_figures(scenario, profile)
    comparison = None
    if trace is not None:
        comparison = compare_to_trace(trace.edges_s, trace.counts, profile.cumulative,
                                      duration_s=scenario.run.duration_s)
        fig["compare"] = {"trace": str(args.compare), **comparison.figures()}
    rows = [
        ("baseline rate", f"{fmt(fig['baseline_rate_per_s'])} visitors/s"),
        ("peak rate", f"{fmt(fig['peak_rate_per_s'])} visitors/s at {_hours(fig['peak_at_s'])}"),
        ("peak / baseline", fmt(fig["peak_vs_baseline"])),
        ("half the surge arrived by", _hours(fig["half_surge_at_s"])),
        ("visitors", fmt(fig["visitors_total"])),
        ("page views", fmt(fig["page_views_total"])),
        ("actions (form submits)", fmt(fig["actions_total"])),
        ("HTTP requests", fmt(fig["requests_total"])),
        ("origin requests (CDN misses)", fmt(fig["origin_requests_total"])),
    ]
    hours = scenario.run.duration_s / 3600
    print(format_table(rows, title=f"{fig['scenario']}: expected over {hours:g} h"))
    if comparison is not None:
        print()
        print(format_table(_compare_rows(comparison), title=_compare_title(comparison, args.compare)))
        note = _compare_note(comparison)
        if note:
            print(f"note: {note}")
    if args.out:
        out = out_dir(args.out)
        edges, counts = profile.binned(scenario.run.bin_s)
        write_csv(
            out / "profile.csv",
            ["bin_start_s", "bin_end_s", "visitors", "rate_per_s"],
            ((f"{a:g}", f"{b:g}", f"{c:.6g}", f"{c / (b - a):.6g}") for a, b, c in zip(edges, edges[1:], counts)),
        )
        write_json(out / "profile.json", fig)
        window = surge_window(profile)
        save_figure(out / "profile.png", lambda f: _draw_profile(
            f, profile, window, name=str(fig["scenario"]), bin_s=scenario.run.bin_s, log=args.log),
            figsize=(10, 4.5 if window.whole_run else 6.5))
        written = "profile.csv, profile.json, profile.png"
        if comparison is not None:
            c = comparison
            write_csv(
                out / "compare.csv",
                ["t_start_s", "t_end_s", "observed", "expected"],
                ((f"{a:.15g}", f"{b:.15g}", f"{o:.15g}", f"{e:.10g}")
                 for a, b, o, e in zip(c.edges_s, c.edges_s[1:], c.observed, c.expected)),
            )
            save_figure(out / "compare.png", lambda f: _draw_compare(
                f, c, scenario_name=str(fig["scenario"]), trace_name=Path(args.compare).name), figsize=(10, 7.5))
            written += ", compare.csv, compare.png"
        print(f"\nwrote {out}/{written}")
    return 0
