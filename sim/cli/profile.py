"""``surge profile SCENARIO [--out DIR] [--log]``: the traffic profile's figures, CSV, JSON and plot."""

from __future__ import annotations

import argparse

from sim.traffic.journey import per_visitor
from sim.files import out_dir, write_csv, write_json
from sim.output.text import fmt, format_table
from sim.cli.figures import save_figure
from sim.output.plots import plot_profile
from sim.traffic.profile import build_profile
from sim.config.scenario import load_scenario
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run", "profile_figures"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="show a scenario's traffic profile: visitors per second over time",
        description="Print the traffic profile's figures (baseline, peak, totals in visitors, page views and "
        "HTTP requests) and, with --out, write profile.csv, profile.json and profile.png.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML), e.g. scenarios/anca-2020.toml")
    p.add_argument("--out", metavar="DIR", help="folder to write profile.csv, profile.json and profile.png into")
    p.add_argument("--log", action="store_true", help="draw the rate on a log scale (the baseline stays visible)")
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
    return "-" if t_s is None else f"{t_s / 3600:.2f} h ({t_s:,.0f} s)"


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    out_folder(args.out)  # the input is good: a bad --out is found now, not after the profile
    profile = build_profile(scenario)
    fig = profile_figures(scenario, profile)
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
    if args.out:
        out = out_dir(args.out)
        edges, counts = profile.binned(scenario.run.bin_s)
        write_csv(
            out / "profile.csv",
            ["bin_start_s", "bin_end_s", "visitors", "rate_per_s"],
            ((f"{a:g}", f"{b:g}", f"{c:.6g}", f"{c / (b - a):.6g}") for a, b, c in zip(edges, edges[1:], counts)),
        )
        write_json(out / "profile.json", fig)
        save_figure(out / "profile.png", lambda f: plot_profile(
            f.add_subplot(), profile, bin_s=scenario.run.bin_s, log=args.log))
        print(f"\nwrote {out}/profile.csv, profile.json, profile.png")
    return 0
