"""``surge run SCENARIO [--out DIR] [--seed N] [--replications R] [--engine E] [--site F] [--time-scale X]``.

Simulate the site under the scenario's surge; with ``--time-scale``/``--scale``, the load test of it."""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from sim.engine import ENGINES, pick_engine, simulate_replications
from sim.errors import ConfigError, NotModelled
from sim.interrupts import deferred_signals, exit_code
from sim.files import out_dir, write_csv, write_json
from sim.output.summary import summary_rows
from sim.output.text import clock, format_table, post_note
from sim.output.advise_text import quick_advice_lines
from sim.cli.figures import finish_panels, save_figure, zoom_panels
from sim.analysis.slo import parse_slo
from sim.analysis.window import surge_window
from sim.stats.coarse import merged_quantiles, merged_ratio
from sim.traffic.profile import build_profile
from sim.output.plots import plot_actions_lost, plot_instances, plot_latency, plot_queue, plot_throughput, waited
from sim.stats.figures import COMPLETED, slo_lines
from sim.stats.summary import TIMESERIES_COLUMNS
from sim.config.checks import at_most
from sim.config.limits import MAX_REPLICATIONS
from sim.config.scenario import check_run_size, load_scenario, read_site_file
from sim.cli.outputs import out_folder
from sim.analysis.run_summary import Settings, complete_or_last, summarize_runs, with_band, with_quick
from sim.analysis.band import band_file, simulate_band
from sim.analysis.verdict import DEFAULT_SLO, default_slo

__all__ = ["add_parser", "run"]

def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="simulate the site under the scenario's surge (discrete-event model)",
        description="Simulate the scenario's visitors meeting its [site]; print what they lived through "
        "(visitors and actions lost, response times, errors) and, with --out, write summary.json, "
        "timeseries.csv and plots. A site with [site.calibration] (surge calibrate's) also gets a prediction "
        "band: the same run at both ends of the calibrated capacity's 95 % interval.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML), e.g. scenarios/anca-2020.toml")
    p.add_argument("--out", metavar="DIR", help="folder for summary.json, timeseries.csv and the plots")
    p.add_argument("--seed", type=int, metavar="N", help="seed instead of the scenario's run.seed")
    p.add_argument("--replications", type=int, default=1, metavar="R",
                   help="independent replications (SeedSequence.spawn); figures get 95%% confidence half-widths")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default): fast where it models the scenario, else reference; reference: the "
                   "model on simpy; fast: the same model compiled, every part of a scenario (same results)")
    p.add_argument("--site", metavar="FILE", help="a [site] file (as surge calibrate writes): its sections "
                   "replace the scenario's; with [site.calibration], the model also runs at both ends of its "
                   "capacity interval (prediction_band)")
    p.add_argument("--time-scale", type=float, metavar="X", help="model a load test played X times faster "
                   "(with --scale; think times shrink, visitors neither give up nor retry, as its clients)")
    p.add_argument("--scale", type=float, metavar="Y", help="model a load test of Y times the visitors")
    p.add_argument("--slo", metavar="OBJECTIVES",
                   help=f"the objectives the verdict judges, as k6 thresholds (default {DEFAULT_SLO.replace('%', '%%')}, or "
                   "lost_visitors<1%% where visitors take no action); latency "
                   "terms (p95<2s) count failed and abandoned page views as never answered")
    p.add_argument("--no-advise", action="store_true",
                   help="when the site does not hold, skip the quick advice (each mitigation alone, run up to "
                   "30 min after the losses) that names the cheapest fix")
    p.set_defaults(func=run)


def write_outputs(out, scenario, summary: dict, rows: list[list], *, merged=None, slo=()) -> list[str]:
    """summary.json, timeseries.csv and the figures. ``merged``: the response-time percentiles over merged
    bins (:func:`sim.stats.coarse.merged_quantiles`); ``slo``: the objectives the run was judged on (parsed),
    whose limits the figures draw."""
    write_json(out / "summary.json", summary)
    write_timeseries(out / "timeseries.csv", rows)
    files = ["summary.json", "timeseries.csv"]
    if not rows:
        return files
    files += write_run_figures(out, scenario, summary, rows, merged=merged, slo=slo)
    return files


def write_timeseries(path, rows: list[list]) -> None:
    """``timeseries.csv``'s columns and number format (a nan cell empty)."""
    write_csv(path, TIMESERIES_COLUMNS,
              ([f"{x:.6g}" if isinstance(x, float) and not math.isnan(x) else ("" if x != x else x) for x in row]
               for row in rows))


def _actions_lost(rows):
    """Actions lost of those ended, over merged bins; None when the run saw no action."""
    cols = TIMESERIES_COLUMNS
    column = {c: np.array([r[cols.index(c)] for r in rows], dtype=float)
              for c in ("bin_start_s", "bin_end_s", "actions_completed", "actions_lost")}
    ended = column["actions_completed"] + column["actions_lost"]
    if not np.nansum(ended) > 0:
        return None
    return merged_ratio(np.append(column["bin_start_s"], column["bin_end_s"][-1]), column["actions_lost"], ended)


def write_run_figures(out, scenario, summary: dict, rows: list[list], *, merged=None, slo=()) -> list[str]:
    """latency.png, throughput.png, queue.png (and instances.png with [site.autoscale]): the surge's window
    (sim.analysis.window), with the whole run in a smaller panel below when the window is not the run."""
    cols = TIMESERIES_COLUMNS
    window = surge_window(build_profile(scenario))
    span = None if window.whole_run else (window.start_s, window.end_s)
    name = summary["scenario"]
    shown = "" if window.whole_run else (f"\n{clock(window.start_s)} to {clock(window.end_s)}: from just before "
                                          f"the first share {window.why}")
    latency_limits = slo_lines(slo, ("page_attempt_s", "page_response_s"))
    page_time = f"page response time ({COMPLETED})"
    app = scenario.site.app

    def latency(fig):
        (top, rate), whole = zoom_panels(fig, [3, 1.2], window)
        plot_latency(top, rate, rows, cols, merged=merged, window=span, slo_lines=latency_limits)
        top.set_title(f"{name}: {page_time}{shown}", fontsize=10)
        if whole is not None:
            plot_latency(whole, None, rows, cols, merged=merged, slo_lines=latency_limits, legend=False)
        finish_panels([top, rate], whole, window, what=page_time, warmup_s=scenario.run.warmup_s)

    lost_limits = slo_lines(slo, ("actions.lost_fraction",))
    actions = _actions_lost(rows)

    def throughput(fig):
        panels, whole = zoom_panels(fig, [2, 1.4] + ([1.3] if actions is not None else []), window)
        pages, origin = panels[:2]
        plot_throughput(pages, rows, cols, ax_origin=origin, window=span)
        pages.set_title(f"{name}: page views asked for and served{shown}", fontsize=10)
        origin.set_title("origin requests lost (pages, submits and assets the CDN missed)", fontsize=9)
        if actions is not None:
            plot_actions_lost(panels[2], actions, slo_lines=lost_limits, window=span)
            panels[2].set_title("actions (form submits) lost: of those completed or lost", fontsize=9)
        if whole is not None:
            plot_throughput(whole, rows, cols, legend=False, lost=False)
        finish_panels(panels, whole, window, what="page views", warmup_s=scenario.run.warmup_s)

    db_on = scenario.site.db is not None and waited(rows, cols, "in_queue_db")  # an empty panel says nothing
    room_on = scenario.site.waiting_room is not None

    empty = ("no [site.app]: origin requests are counted, not queued" if app is None
             else "no request waited for an app worker")

    def queue(fig):
        heights = [2] + [1.3] * (db_on + room_on)
        panels, whole = zoom_panels(fig, heights, window)
        rest = iter(panels[1:])
        ax_db = next(rest) if db_on else None
        ax_room = next(rest) if room_on else None
        plot_queue(panels[0], rows, cols, ax_db=ax_db, ax_room=ax_room, window=span, empty=empty,
                   queue_limit=None if app is None else app.queue_limit,
                   db_connections=None if scenario.site.db is None else scenario.site.db.connections)
        who = "requests and visitors" if room_on else "requests"
        panels[0].set_title(f"{name}: {who} waiting (time average per bin){shown}", fontsize=10)
        if ax_db is not None:
            ax_db.set_title("database pool", fontsize=9)
        if ax_room is not None:
            ax_room.set_title("waiting room", fontsize=9)
        if whole is not None:
            plot_queue(whole, rows, cols, app_only=True, legend=False, empty=empty,
                       queue_limit=None if app is None else app.queue_limit)
        finish_panels(panels, whole, window, what="app backlog", warmup_s=scenario.run.warmup_s)

    tall = 3.4 + 1.6 * (not window.whole_run)
    save_figure(out / "latency.png", latency, figsize=(10, tall + 1.2))
    save_figure(out / "throughput.png", throughput, figsize=(10, tall + 1.2 + 1.6 * (actions is not None)))
    save_figure(out / "queue.png", queue, figsize=(10, tall + 1.0 * (db_on + room_on)))
    files = ["latency.png", "throughput.png", "queue.png"]
    if scenario.site.autoscale is not None:
        def instances(fig):
            (top,), whole = zoom_panels(fig, [2], window)
            plot_instances(top, rows, cols, window=span)
            top.set_title(f"{name}: app instances in service and their utilization{shown}", fontsize=10)
            if whole is not None:
                plot_instances(whole, rows, cols, legend=False)
            finish_panels([top], whole, window, what="instances", warmup_s=scenario.run.warmup_s)

        save_figure(out / "instances.png", instances, figsize=(10, tall))
        files.append("instances.png")
    return files


def run(args: argparse.Namespace) -> int:
    if args.slo is not None:
        parse_slo(args.slo)  # a bad --slo is refused before the scenario is read
    scenario = load_scenario(args.scenario)
    objectives = parse_slo(args.slo or default_slo(scenario))
    if args.replications < 1:
        raise ConfigError("--replications", f"must be >= 1, got {args.replications}")
    at_most("--replications", args.replications, MAX_REPLICATIONS)
    if args.seed is not None:
        if args.seed < 0:
            raise ConfigError("--seed", f"must be >= 0, got {args.seed}")
        scenario = dataclasses.replace(scenario, run=dataclasses.replace(scenario.run, seed=args.seed))
    if args.site:
        scenario = _with_site(scenario, args.site)
    compressed = args.time_scale is not None or args.scale is not None
    workdir = tempfile.TemporaryDirectory(prefix="surge-run-") if compressed else None
    try:
        if compressed:
            from sim.traffic.compress import compress

            scenario = compress(scenario, time_scale=args.time_scale or 1.0, scale=args.scale or 1.0,
                                workdir=Path(workdir.name))
        try:  # more visitors than a run may simulate: refused before any is drawn
            check_run_size(scenario)
        except ConfigError as err:
            raise err.at(args.scenario) from None
        try:  # an engine that does not model a part is refused before anything runs (exit 2, naming the key)
            engine = pick_engine(scenario, args.engine)
        except NotModelled as err:
            raise err.at(args.scenario) from None
        out_folder(args.out)  # the input is good: a bad --out is found now, not after the run
    except ConfigError:
        if workdir is not None:
            workdir.cleanup()  # refused: nothing of the compressed trace is left behind
        raise
    if scenario.site.app is None:  # after every check: a refusal stays one line
        print(f"note: {args.scenario} has no [site.app]: origin requests are counted, not queued", file=sys.stderr)
    def progress(done: int, total: int) -> None:
        if done == 0:
            print(f"simulating {scenario.run.duration_s / 3600:g} h of {args.scenario} on the {engine} engine "
                  "(Ctrl-C stops it and keeps what was computed)", file=sys.stderr, flush=True)
        elif total > 1:
            print(f"replication {done}/{total} done", file=sys.stderr, flush=True)

    results = simulate_replications(scenario, args.replications, engine=engine, progress=progress)
    last = results[-1]
    settings = Settings(replications_requested=args.replications, seed=scenario.run.seed, engine=engine,
                        time_scale=args.time_scale or 1.0, scale=args.scale or 1.0)
    judged = summarize_runs(scenario, results, objectives=objectives, settings=settings)
    band = _band(scenario, args.replications, engine, partial=last.partial)
    if band is not None:
        judged = with_band(judged, band.band)
    complete, used = judged.replications_complete, complete_or_last(results)
    title = f"{judged.figures['scenario']}: {scenario.run.duration_s / 3600:g} h simulated on the {engine} engine"
    if len(used) > 1:
        title += f", {len(used)} replications (± 95 % CI)"
    if last.partial:
        title += f"  [PARTIAL: stopped at {last.end_s:,.0f} s: {last.error}"
        title += f"; the {complete} complete of {args.replications} replications shown]" if complete else "]"
    rows, slo_text, verdict_ = judged.rows, judged.slo_text, judged.verdict
    with deferred_signals():  # a second Ctrl-C must not cut the files short
        times = "" if verdict_.window_s is None else f"; {post_note(scenario.traffic.shares)}"
        print(("PARTIAL RUN: " if last.partial else "") + f"{verdict_.text}  [SLO {slo_text}{times}]")
        for warning in verdict_.warnings:
            print(f"warning: {warning}")
        demand = judged.peak_demand_x
        if demand == demand:
            print(f"peak: the busiest 10 s offer {demand:.2g}x the work the site's "
                  f"{scenario.site.app.instances * scenario.site.app.workers} workers can do "
                  f"(the utilization below is the run's average)")
        quick = {}
        if not verdict_.holds and verdict_.window_s is not None and not last.partial and not compressed \
                and not args.no_advise and scenario.site.app is not None:
            quick["advice"] = _quick_advice(args, verdict_, rows, slo_text, judged.to_dict())
        if scenario.uncertain and not last.partial and not compressed:
            quick["risk"] = _quick_risk(args, slo_text, judged.to_dict())
        summary = with_quick(judged, **quick).to_dict()
        print()
        print(format_table(summary_rows(summary), title=title))
        if args.out:
            out = out_dir(args.out)
            files = write_outputs(out, scenario, summary, rows,
                                  merged=merged_quantiles([r.recorder.series for r in used]), slo=objectives)
            shutil.copyfile(args.scenario, out / "scenario.toml")  # what was run, for the report
            files.append("scenario.toml")
            for end, end_rows in ({} if band is None else band.rows).items():
                write_timeseries(out / band_file(end), end_rows)
                files.append(band_file(end))
            print(f"\nwrote {', '.join(files)} to {out}/")
        if workdir is not None:
            workdir.cleanup()
    if last.partial:
        print(f"surge: run stopped early ({last.error}); results above are partial", file=sys.stderr)
        return exit_code(last.error)
    if band is not None and band.error is not None:
        print(f"surge: the prediction band stopped early ({band.error}); its figures are partial", file=sys.stderr)
        return exit_code(band.error)
    return 0


def _band(scenario, replications: int, engine: str, *, partial: bool):
    """The model at both ends of [site.calibration]'s interval (sim.analysis.band); None without one, or when
    the point run itself stopped early."""
    calibration = scenario.site.calibration
    if calibration is None:
        return None
    if partial:
        print("note: the run stopped early: no prediction band", file=sys.stderr)
        return None
    capacity = {"fast": calibration.capacity_high_per_s, "slow": calibration.capacity_low_per_s}

    def progress(end: str, done: int, total: int) -> None:
        if done == 0:
            print(f"prediction band: the {end} end, capacity {capacity[end]:.4g}/s (the calibration's 95 % "
                  "interval), same seed", file=sys.stderr, flush=True)

    return simulate_band(scenario, replications, engine=engine, progress=progress)


def _quick_advice(args, judged, rows, slo_text: str, summary: dict) -> dict:
    """Each mitigation alone, run to 30 min after the losses, in this process: print the cheapest that meets the SLO."""
    from sim.analysis.advise import quick_advice
    from sim.config.scenario import read_scenario_table

    if args.site or args.seed is not None:
        return {"skipped": "--site or --seed given: surge advise takes the scenario file as it is"}
    bin_s = rows[0][1] - rows[0][0] if rows else 0.0
    end_s = (judged.window_s[1] + bin_s if judged.window_s else 0.0) + 1800.0
    try:
        got = quick_advice(read_scenario_table(args.scenario), args.scenario, slo=slo_text, summary=summary,
                           until_s=end_s, engine=args.engine)
    except (ConfigError, NotModelled) as err:  # a mitigation the chosen engine does not model
        return {"skipped": str(err)}
    advise_cmd = f"surge advise {args.scenario} --slo \"{slo_text}\" --out DIR"
    for line in quick_advice_lines(got, advise_cmd):
        print(line)
    return got



def _quick_risk(args, slo_text: str, summary: dict) -> dict | None:
    """One line: how often the SLO's loss terms hold over the [uncertain] ranges, by the fluid model (quick)."""
    from sim.analysis.risk import quick_look
    from sim.config.scenario import read_scenario_table

    if args.site or args.seed is not None:
        return {"skipped": "--site or --seed given: surge risk takes the scenario file as it is"}
    got = quick_look(read_scenario_table(args.scenario), args.scenario, slo=slo_text, summary=summary)
    if got is None:
        return None
    print(f"over the plausible surges ([uncertain] ranges), a quick look (the fluid model on {got['draws']} draws, "
          f"scaled to this run): {', '.join(got['judged_on'])} holds in {got['holds']} of {got['draws']}; surge risk "
          f"{args.scenario} --slo \"{slo_text}\" --out DIR gives the probability with its 95 % interval")
    return got


def _with_site(scenario, path: str):
    """The scenario with its [site] sections replaced by those in ``path``."""
    from sim.config.site import SiteConfig
    from sim.config.tables import from_table

    sections = read_site_file(path)
    given = from_table(SiteConfig, sections)
    return dataclasses.replace(scenario, site=dataclasses.replace(scenario.site, **{k: getattr(given, k)
                                                                                    for k in sections}))
