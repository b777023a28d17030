"""``surge sweep SCENARIO --vary KEY=VALUES ... --out DIR``: capacity curves and the least capacity for an SLO."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import sys
from pathlib import Path

from sim.analysis.capacity import least_capacity, load_table, parse_vary, plan_points
from sim.analysis.runner import run_points
from sim.engine import ENGINES, pick_engine
from sim.errors import ConfigError
from sim.interrupts import deferred_signals, exit_code
from sim.files import write_csv, write_json
from sim.output.text import format_table
from sim.cli.figures import save_figure
from sim.output.plots import plot_capacity
from sim.config.checks import at_most
from sim.config.limits import MAX_REPLICATIONS, max_processes
from sim.config.scenario import load_scenario, parse_scenario, read_site_file
from sim.cli.outputs import out_folder
from sim.analysis.slo import parse_slo
from sim.stats.figures import figure, slo_lines

__all__ = ["add_parser", "run", "check_pool_flags"]

DASK_CONNECT_TIMEOUT_S = 5.0  # how long --dask's scheduler may take to accept a connection

# file, the figure drawn (sim.stats.figures), the keys whose SLO terms' limits are drawn on it. The p95 over
# every attempt is at least the completed pages' (a failure counts as never answered): a curve above a
# p95 limit breaks it.
PLOTS = (("p95.png", figure("completed_p95"), ("page_attempt_s.p95", "page_response_s.p95")),
         ("lost_visitors.png", figure("lost_visitors"), ("visitors.lost_fraction",)),
         ("lost_actions.png", figure("lost_actions"), ("actions.lost_fraction",)))


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="sweep capacity against surge size; find the least capacity that meets an SLO",
        description="Run the scenario at every point of a grid. The first --vary is the capacity (x axis), "
        "the others surge sizes (one line each). Values: FIRST:LAST[:STEP] (inclusive), V1,V2,..., or "
        "log:FIRST:LAST:COUNT. Writes sweep.csv, sweep.json and plots; prints the least capacity per surge size.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES", required=True,
                   help="a numeric scenario key by its dotted path (list items by index), e.g. "
                   "site.app.instances=1:24 or traffic.shares.0.followers=50e6,188e6,400e6")
    p.add_argument("--slo", metavar="OBJECTIVES", help='e.g. "p95<2s,lost_actions<1%%"')
    p.add_argument("--replications", type=int, default=1, metavar="R", help="replications per point (CI bands)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="local processes (default: one per core); results do not depend on it")
    p.add_argument("--dask", metavar="ADDRESS", help="run the points on an existing Dask cluster instead "
                   "(pip install .[dask])")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto (default): the fast engine where it models the scenario, else the reference")
    p.add_argument("--seed", type=int, metavar="N", help="seed instead of the scenario's run.seed")
    p.add_argument("--site", metavar="FILE", help="a [site] file (as surge calibrate writes): its sections "
                   "replace the scenario's at every point, as in surge run --site")
    p.add_argument("--out", metavar="DIR", required=True, help="folder for sweep.csv, sweep.json and plots")
    p.set_defaults(func=run)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total)
    end = "\n" if done == total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} points", end=end, file=sys.stderr, flush=True)


def _check_dask(address: str, timeout_s: float = DASK_CONNECT_TIMEOUT_S) -> None:
    """A scheduler that cannot be reached is one line (exit 2) after a short wait, not a traceback after 30 s."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls"):
        return  # another transport (inproc, ucx): Dask itself says what is wrong
    host, _, port = rest.rstrip("/").rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--dask", f"must be a scheduler address like tcp://127.0.0.1:8786, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ConfigError("--dask", f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s: "
                          f"{why}") from None


def check_pool_flags(args: argparse.Namespace) -> None:
    """``--jobs``, ``--seed`` and ``--dask`` as the commands that run many points check them."""
    if not 1 <= args.jobs <= max_processes():
        raise ConfigError("--jobs", f"must be within [1, {max_processes()}] (the cores), got {args.jobs}")
    if args.seed is not None and args.seed < 0:
        raise ConfigError("--seed", f"must be >= 0, got {args.seed}")
    if args.dask:
        _check_dask(args.dask)


def run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    varies = [parse_vary(v) for v in args.vary]
    objectives = parse_slo(args.slo) if args.slo else ()
    if args.replications < 1:
        raise ConfigError("--replications", f"must be >= 1, got {args.replications}")
    at_most("--replications", args.replications, MAX_REPLICATIONS)
    check_pool_flags(args)
    table = load_table(args.scenario)
    if args.site:  # as surge run --site: the file's sections replace the scenario's, then the grid is laid
        table = {**table, "site": {**table.get("site", {}), **read_site_file(args.site)}}
    points = plan_points(table, scenario.path, varies)  # every point checked before any runs
    engine = pick_engine(parse_scenario(points[0].table, path=scenario.path), args.engine)
    out = out_folder(args.out)  # the input is good: a bad --out is found now, not after the sweep
    shutil.copyfile(args.scenario, out / "scenario.toml")
    print(f"{len(points)} points x {args.replications} replications, engine {engine}", file=sys.stderr)
    rows = run_points(points, replications=args.replications, seed=args.seed, engine=engine,
                      jobs=args.jobs, dask_address=args.dask, progress=_progress)
    partial = len(rows) < len(points) or any(r["partial"] for r in rows)
    capacity_key, surge_keys = varies[0].key, [v.key for v in varies[1:]]
    least = least_capacity(rows, capacity_key, surge_keys, objectives) if objectives else []
    with deferred_signals():  # a second Ctrl-C must not cut the files short
        _write(out, args, rows, varies, least, partial, engine, points)
        _plots(out, rows, capacity_key, surge_keys, objectives, least)
        _print(least, capacity_key, objectives, rows, len(points))
        print(f"\nwrote sweep.csv, sweep.json, {', '.join(p[0] for p in PLOTS)} to {out}/")
    if rows.stopped:
        return exit_code(rows.stopped)
    return 1 if partial else 0  # a point that failed midway


def _write(out: Path, args, rows, varies, least, partial: bool, engine: str, planned) -> None:
    keys = [v.key for v in varies]
    figures = sorted({k for r in rows for k in r["figures"]})
    write_csv(out / "sweep.csv", keys + ["complete"] + figures,
              ([r["values"][k] for k in keys] + [int(r["complete"])] + [_cell(r["figures"].get(f)) for f in figures]
               for r in rows))
    write_json(out / "sweep.json", {
        "scenario": args.scenario, "vary": [{"key": v.key, "values": list(v.values)} for v in varies],
        "slo": args.slo, "least_capacity": least, "points": len(rows),
        "points_planned": len(planned), "points_complete": sum(r["complete"] for r in rows),
        "replications": args.replications, "engine": engine, "partial": partial, "stopped": rows.stopped,
    })


def _cell(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def _plots(out: Path, rows, capacity_key, surge_keys, objectives, least) -> None:
    marks = {tuple(item["surge"][k] for k in surge_keys): item["least"] for item in least}
    for name, shown, keys in PLOTS:
        unit, scale = ("s", 1.0) if shown.unit == "s" else ("%", 100.0)
        save_figure(out / name, lambda f, shown=shown, unit=unit, scale=scale, keys=keys: plot_capacity(
            f.add_subplot(), rows, capacity_key=capacity_key, surge_keys=surge_keys, figure=shown.key,
            ylabel=f"{shown.described} ({unit})", slo_lines=slo_lines(objectives, keys), least=marks or None,
            scale=scale))


def _print(least, capacity_key, objectives, rows, total) -> None:
    complete = sum(r["complete"] for r in rows)
    if complete < total:
        why = f" ({rows.stopped})" if rows.stopped else ""
        print(f"PARTIAL{why}: {complete} of {total} points complete, {len(rows) - complete} stopped midway; "
              "the least capacity is judged on complete points only", file=sys.stderr)
    if not objectives:
        print("no --slo given: see the curves for the capacity you need")
        return
    slo = ",".join(o.text for o in objectives)
    rows = []
    for item in least:
        surge = ", ".join(f"{k}={v:g}" for k, v in item["surge"].items()) or "the scenario's surge"
        answer = f"{capacity_key} = {item['least']:g}" if item["least"] is not None else "none in the range"
        rows.append((surge, answer))
    print(format_table(rows, title=f"least capacity meeting {slo}"))
