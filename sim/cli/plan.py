"""``surge plan SCENARIO [--slo ...] [--sweep DIR]``: an instant analytic estimate of the capacity each tier needs."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from sim.analysis import theory
from sim.errors import ConfigError
from sim.output.advise_text import instances_why
from sim.output.text import fmt, format_table
from sim.analysis.mitigations import instance_counts, sizing
from sim.analysis.sizing import PLAN_DEFAULT_SLO, PLANNABLE, fluid_losses, least_workers, workload
from sim.config.scenario import load_scenario
from sim.analysis.slo import parse_slo
from sim.config.checks import LIMIT
from sim.config.limits import MAX_PLAN_ERLANGS

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="instant capacity estimate per tier (Erlang C, and a fluid model where the peak overloads)",
        description="Estimate, in well under a second, the app workers and database connections the "
        "scenario's peak needs to meet the SLO (Erlang C at the busiest bin), and what the current site "
        "loses where the peak exceeds it (Whitt's fluid model with abandonment and a capped backlog).",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML) with a [site.app]")
    p.add_argument("--slo", default=PLAN_DEFAULT_SLO, metavar="OBJECTIVES",
                   help=f"time objectives the plan can size for: {', '.join(PLANNABLE)} (default {PLAN_DEFAULT_SLO})")
    p.add_argument("--sweep", metavar="DIR", help="a sweep of the same scenario: show its simulated answer beside")
    p.set_defaults(func=run)


def _sweep_answer(path: str) -> dict | None:
    meta_path = Path(path) / "sweep.json"
    try:
        return json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:  # ValueError: not JSON, or not UTF-8 text
        raise ConfigError("--sweep", f"cannot read {meta_path}: {err}") from None


def _not_modelled(scenario) -> list[str]:
    """The scenario's sections and keys the analytic plan leaves out."""
    site = scenario.site
    out = [name for name, part in (("[site.autoscale]", site.autoscale), ("[site.waiting_room]", site.waiting_room),
                                   ("[site.signature_queue]", site.signature_queue))
           if part is not None]
    if site.cdn is not None and site.cdn.landing_ttl_s > 0:
        out.append("site.cdn.landing_ttl_s")
    if site.app is not None and not math.isinf(site.app.timeout_s):
        out.append("site.app.timeout_s")
    return out


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    scenario = load_scenario(args.scenario)
    app = scenario.site.app
    if app is None:
        raise ConfigError("site.app", "is needed for a plan: there is no tier to size").at(args.scenario)
    given = parse_slo(args.slo)
    objectives = [o for o in given if o.metric in PLANNABLE]
    unsized = [o.text for o in given if o.metric not in PLANNABLE]
    if not objectives:
        raise ConfigError("--slo", f"the plan sizes for {', '.join(PLANNABLE)}; got {args.slo!r}")
    load = workload(scenario)
    peak_visitors = float(load.visitors_per_s.max(initial=0.0))
    peak_requests = peak_visitors * load.requests_per_visitor
    erlangs = peak_requests * load.work_s
    workers_now = app.instances * app.workers
    # The Erlang C search costs one step per worker: refuse a peak beyond what it can size in a moment.
    db_erlangs = (peak_visitors * load.query_rate_per_visitor * load.query_s) if scenario.site.db else 0.0
    for what, busy in (("app workers", erlangs), ("db connections", db_erlangs)):
        if not busy <= MAX_PLAN_ERLANGS:
            raise ConfigError("traffic", f"the peak ({fmt(peak_visitors)} visitors/s) keeps {busy:.4g} {what} busy on "
                              f"average, more than the {MAX_PLAN_ERLANGS:g} surge plan sizes ({LIMIT})"
                              ).at(args.scenario)
    rows = [
        ("peak", f"{fmt(peak_visitors)} visitors/s -> {fmt(peak_requests)} origin requests/s "
                 f"x {load.work_s * 1000:.1f} ms = {fmt(erlangs)} busy workers needed on average"),
        ("app workers now", f"{workers_now} ({app.instances} instances x {app.workers}): the peak offers "
                            f"{fmt(erlangs / workers_now)}x the work they can do (demand / capacity)"),
    ]
    answers = {}
    for o in objectives:
        need = least_workers(load, o)
        answers[o.text] = need
        if need < 0:
            rows.append((f"least workers for {o.text}", "none: the service time alone breaks it"))
        else:
            rows.append((f"least workers for {o.text}", f"{need} (= {math.ceil(need / app.workers)} instances "
                                                       f"of {app.workers})"))
    rows.append(("other counts of instances", instances_why(instance_counts(scenario, sizing(scenario)),
                                                                    plan=False)))
    db = scenario.site.db
    if db is not None and load.query_s > 0:
        q_rate = peak_visitors * load.query_rate_per_visitor
        conns = theory.min_servers_erlang_c(q_rate, 1.0 / load.query_s, wait_s=load.query_s, max_p=0.01)
        rows.append(("least db connections", f"{conns} (P(wait > one query) <= 1 %; now {db.connections})"))
    if erlangs > workers_now:
        patience = scenario.visitors.patience_s.mean
        retry = scenario.visitors.retry.probability if scenario.visitors.retry else 0.0
        # Dropped SYNs keep their visitors waiting (and giving up) as a backlog would; the few
        # connections that outlast every retry (127 s by default) are not in the fluid model.
        backlog = math.inf if app.overflow == "drop" else app.queue_limit * app.instances
        lost = fluid_losses(load, servers=workers_now, queue_limit=backlog,
                            patience_mean_s=patience, retry_probability=retry, patience_s=scenario.visitors.patience_s)
        rows += [
            ("overloaded (fluid model)", f"{lost.overloaded_s / 3600:.2f} h with the current site"),
            ("visitors who give up", fmt(lost.visitors_abandoned)),
            ("visitors who get 503s", fmt(lost.visitors_failed)),
            ("requests given up / rejected", f"{fmt(lost.requests_abandoned)} / {fmt(lost.requests_rejected)}"),
        ]
    else:
        rows.append(("overload", "none: the current site keeps up with the peak"))
    if args.sweep:
        meta = _sweep_answer(args.sweep)
        for item in meta.get("least_capacity", []):
            surge = ", ".join(f"{k}={v:g}" for k, v in item["surge"].items()) or "the scenario's surge"
            least = item["least"]
            rows.append((f"simulated ({meta.get('slo')}, {surge})",
                         f"{item['capacity_key']} = {least:g}" if least is not None else "none in the range"))
    ignored = _not_modelled(scenario)
    if unsized:
        rows.append(("not sized for (SLO)", f"{', '.join(unsized)}: the plan sizes {', '.join(PLANNABLE)} only; "
                                             "surge advise or surge sweep judge every term"))
    if ignored:
        rows.append(("not in the plan (scenario)", f"{', '.join(ignored)}: the estimate is for the site without "
                                                   "them; surge run and surge advise model them"))
    took = time.perf_counter() - started
    print(format_table(rows, title=f"plan for {scenario.name or args.scenario} ({took * 1000:.0f} ms)"))
    return 0
