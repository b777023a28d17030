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
from sim.output.text import format_table
from sim.cli.figures import save_figure
from sim.output.plots import plot_instances, plot_latency, plot_queue, plot_throughput
from sim.stats.summary import TIMESERIES_COLUMNS, aggregate, summarize, timeseries
from sim.config.checks import at_most
from sim.config.limits import MAX_REPLICATIONS
from sim.config.scenario import check_run_size, load_scenario, read_site_file
from sim.cli.outputs import out_folder

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="simulate the site under the scenario's surge (discrete-event model)",
        description="Simulate the scenario's visitors meeting its [site]; print what they lived through "
        "(visitors and actions lost, response times, errors) and, with --out, write summary.json, "
        "timeseries.csv and plots.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML), e.g. scenarios/anca-2020.toml")
    p.add_argument("--out", metavar="DIR", help="folder for summary.json, timeseries.csv and the plots")
    p.add_argument("--seed", type=int, metavar="N", help="seed instead of the scenario's run.seed")
    p.add_argument("--replications", type=int, default=1, metavar="R",
                   help="independent replications (SeedSequence.spawn); figures get 95%% confidence half-widths")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default): fast where it models the scenario, else reference; reference: the "
                   "model on simpy; fast: the same model compiled (same results), which refuses "
                   "[site.waiting_room]")
    p.add_argument("--site", metavar="FILE", help="a [site] file (as surge calibrate writes): its sections "
                   "replace the scenario's")
    p.add_argument("--time-scale", type=float, metavar="X", help="model a load test played X times faster "
                   "(with --scale; think times shrink, visitors neither give up nor retry, as its clients)")
    p.add_argument("--scale", type=float, metavar="Y", help="model a load test of Y times the visitors")
    p.set_defaults(func=run)


def _mean_rows(runs_rows: list[list[list]]) -> list[list]:
    if len(runs_rows) == 1:
        return runs_rows[0]
    stacked = np.array(runs_rows, dtype=float)
    with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore", RuntimeWarning)  # all-nan bins stay nan
        return np.nanmean(stacked, axis=0).tolist()


def write_outputs(out, scenario, summary: dict, rows: list[list]) -> list[str]:
    write_json(out / "summary.json", summary)
    write_csv(out / "timeseries.csv", TIMESERIES_COLUMNS,
              ([f"{x:.6g}" if isinstance(x, float) and not math.isnan(x) else ("" if x != x else x) for x in row]
               for row in rows))
    files = ["summary.json", "timeseries.csv"]
    if not rows:
        return files

    def latency(fig):
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
        plot_latency(top, bottom, rows, TIMESERIES_COLUMNS)
        top.set_title(f"{summary['scenario']}: page response time under the surge")

    save_figure(out / "latency.png", latency, figsize=(10, 6))
    save_figure(out / "throughput.png", lambda f: plot_throughput(f.add_subplot(), rows, TIMESERIES_COLUMNS))
    save_figure(out / "queue.png", lambda f: plot_queue(f.add_subplot(), rows, TIMESERIES_COLUMNS))
    files += ["latency.png", "throughput.png", "queue.png"]
    if scenario.site.autoscale is not None:
        save_figure(out / "instances.png", lambda f: plot_instances(f.add_subplot(), rows, TIMESERIES_COLUMNS))
        files.append("instances.png")
    return files


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
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
            engine = pick_engine(scenario, getattr(args, "engine", "auto"))
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
    # Replications stopped midway are left out of the means: only complete ones are averaged (a
    # lone replication that was stopped is shown as it is, marked partial).
    used = [r for r in results if not r.partial] or [last]
    summaries = [summarize(r) for r in used]
    summary = aggregate(summaries) if len(summaries) > 1 else {**summaries[0], "replications": 1}
    complete = sum(not r.partial for r in results)
    summary["partial"] = last.partial
    summary["replications_requested"], summary["replications_complete"] = args.replications, complete
    summary["seed"] = scenario.run.seed
    summary["engine"] = engine
    summary["time_scale"], summary["scale"] = args.time_scale or 1.0, args.scale or 1.0
    title = f"{summary['scenario']}: {scenario.run.duration_s / 3600:g} h simulated on the {engine} engine"
    if len(used) > 1:
        title += f", {len(used)} replications (± 95 % CI)"
    if last.partial:
        title += f"  [PARTIAL: stopped at {last.end_s:,.0f} s: {last.error}"
        title += f"; the {complete} complete of {args.replications} replications shown]" if complete else "]"
    with deferred_signals():  # a second Ctrl-C must not cut the files short
        print(format_table(summary_rows(summary), title=title))
        if args.out:
            out = out_dir(args.out)
            files = write_outputs(out, scenario, summary, _mean_rows([timeseries(r) for r in used]))
            shutil.copyfile(args.scenario, out / "scenario.toml")  # what was run, for the report
            files.append("scenario.toml")
            print(f"\nwrote {', '.join(files)} to {out}/")
        if workdir is not None:
            workdir.cleanup()
    if last.partial:
        print(f"surge: run stopped early ({last.error}); results above are partial", file=sys.stderr)
        return exit_code(last.error)
    return 0


def _with_site(scenario, path: str):
    """The scenario with its [site] sections replaced by those in ``path``."""
    from sim.config.site import SiteConfig
    from sim.config.tables import from_table

    sections = read_site_file(path)
    given = from_table(SiteConfig, sections)
    return dataclasses.replace(scenario, site=dataclasses.replace(scenario.site, **{k: getattr(given, k)
                                                                                    for k in sections}))
