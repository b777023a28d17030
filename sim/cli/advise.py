"""``surge advise SCENARIO --slo OBJECTIVES [--price-per-instance-hour X] --out DIR``: what to add so the site holds.

Runs the scenario as it is, each mitigation that applies and the cheapest combinations that
meet the SLO, all meeting the same visitors; prints them ranked and writes ``advise.json``,
``advise.png`` and each variant's scenario file (``variants/``: ``surge run`` on one gives
the same figures)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from sim.analysis.advise import DEFAULT_PRICE_PER_INSTANCE_HOUR, advise, describe, rank
from sim.analysis.confidence import advise_with_confidence, check_confidence
from sim.analysis.mitigations import catalog, instance_counts, sizing
from sim.analysis.slo import parse_slo
from sim.analysis.verdict import DEFAULT_SLO, default_slo
from sim.cli.figures import save_figure
from sim.cli.outputs import out_folder
from sim.cli.sweep import _check_dask as check_dask
from sim.analysis.risk import check_draws, check_slo
from sim.config.limits import max_processes
from sim.config.scenario import check_run_size, parse_scenario, read_scenario_table
from sim.engine import ENGINES, pick_engine
from sim.errors import ConfigError, NotModelled
from sim.files import out_dir, write_json
from sim.interrupts import deferred_signals, exit_code
from sim.output.advise_plot import plot_advice
from sim.output.advise_report import probability_text
from sim.output.advise_text import instances_why
from sim.output.text import cost_text, post_note, price_text

__all__ = ["add_parser", "run", "DEFAULT_ADVISE_SLO", "advice_table", "write_variant"]

DEFAULT_ADVISE_SLO = DEFAULT_SLO


def add_parser(sub) -> None:
    p = sub.add_parser(
        "advise",
        help="what must we add? the scenario as it is, each mitigation and the cheapest combinations, ranked",
        description="Run the scenario as it is, each mitigation that applies (caching the landing page, more "
        "workers, instances or database connections, autoscaling and pre-scaling, a waiting room sized by "
        "Little's law, a signature queue) and the cheapest combinations that meet the SLO, all meeting the same "
        "visitors, in parallel; print them ranked by cost among those that meet the SLO, then the rest.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML) with a [site.app]")
    p.add_argument("--slo", metavar="OBJECTIVES",
                   help=f"what the site must meet, as k6 thresholds (default {DEFAULT_ADVISE_SLO.replace('%', '%%')}, or "
                   "lost_visitors<1%% where visitors take no action), e.g. "
                   "\"lost_actions<1%%,p95<2s\"")
    p.add_argument("--price-per-instance-hour", type=float, default=DEFAULT_PRICE_PER_INSTANCE_HOUR, metavar="X",
                   help=f"what an app instance costs an hour, in any currency (default {DEFAULT_PRICE_PER_INSTANCE_HOUR:g} "
                   "US$, an assumption: a small on-demand cloud VM); the cost of a variant is its instance-hours "
                   "added x X, in X's currency")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for advise.json, advise.png and variants/")
    p.add_argument("--jobs", type=int, metavar="N", help="variants run at once (default: the machine's cores)")
    p.add_argument("--engine", choices=ENGINES, default="auto", help="as surge run's (auto: fast where it can)")
    p.add_argument("--confidence", type=float, metavar="P",
                   help="the cheapest variant that meets the SLO in at least this fraction of the plausible surges "
                   "(the scenario's [uncertain.\"KEY\"] ranges, as surge risk draws them), e.g. 0.9; without it, "
                   "the advice is for the scenario's point values")
    p.add_argument("--draws", type=int, metavar="N", help="with --confidence: plausible surges per variant "
                   "(default: surge risk's)")
    p.add_argument("--seed", type=int, metavar="N", help="with --confidence: the draws' seed instead of the "
                   "scenario's run.seed")
    p.add_argument("--dask", metavar="ADDRESS", help="run the variants (and their draws) on an existing Dask "
                   "cluster instead (pip install .[dask])")
    p.set_defaults(func=run)


def _fraction(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.2f} %" if x < 0.1 else f"{100 * x:.1f} %"


def _p95(x) -> str:
    if x is None or x != x:
        return "-"
    return "failed" if math.isinf(x) else f"{x:.2f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def _holds(r: dict) -> str:
    return probability_text(r, missing="-")


def advice_table(rows: list[dict], *, title: str, price_per_instance_hour: float,
                 confidence: float | None = None) -> str:
    header = ["#", "mitigation", "meets SLO", "lost visitors", "lost actions", "p95", "errors", "inst-h added",
              f"cost at {price_text(price_per_instance_hour)}/inst-h", "bottleneck"]
    body = [[str(i + 1), r["name"], "yes" if r["meets_slo"] else "no", _fraction(r["lost_visitors_fraction"]),
             _fraction(r["lost_actions_fraction"]), _p95(r["p95_s"]), _fraction(r["error_fraction"]),
             f"{r['instance_hours_added']:.0f}", f"{r['cost']:.2f}",
             r["bottleneck"] if not r["meets_slo"] else ""] for i, r in enumerate(rows)]
    if confidence is not None:  # the central case's figures, then how often each holds over the plausible surges
        header[2:3] = ["meets SLO (central)", "holds in (95 % CI)", f"in {100 * confidence:g} %"]
        for b, r in zip(body, rows):
            b[3:3] = [_holds(r), {True: "yes", False: "no", None: "-"}[r.get("meets_confidence")]]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = [title, "-" * len(title),
             "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for b in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths)).rstrip())
    return "\n".join(lines)


def _fewer(rows: list[dict], by_index: dict, than: int) -> str | None:
    """The cheapest variant meeting the SLO on a fixed count of instances alone, fewer than ``than``."""
    fixed = [r for r in rank(rows) if r["meets_slo"] and len(r["keys"]) == 1 and r["keys"][0].startswith("instances-x")
             and by_index[r["index"]].table["site"]["app"]["instances"] < than]
    return fixed[0]["name"] if fixed else None


def write_variant(path: Path, table: dict, scenario_path: str) -> None:
    """A variant's scenario as a file of its own: a relative trace made absolute, so it runs from anywhere."""
    import tomli_w

    from sim.files import write_text

    t = dict(table)
    trace = t.get("traffic", {}).get("trace")
    if isinstance(trace, str) and not Path(trace).is_absolute():
        t["traffic"] = {**t["traffic"], "trace": str((Path(scenario_path).parent / trace).resolve())}
    write_text(path, tomli_w.dumps(t))


def _slug(keys) -> str:
    return "+".join(keys) or "as-is"


def _check_confidence_flags(args, table: dict) -> None:
    """--confidence in (0, 1), its companions only with it, and ranges to draw from: before anything runs."""
    if args.confidence is None:
        for flag, value in (("--draws", args.draws), ("--seed", args.seed)):
            if value is not None:
                raise ConfigError(flag, "is for --confidence (the plausible surges' draws); give --confidence too")
        return
    check_confidence(args.confidence)
    if args.draws is not None:
        check_draws(args.draws)
    if args.slo is not None:  # a plausible surge is simulated over its surge only: judged on surge risk's terms
        check_slo(args.slo)
    if args.seed is not None and args.seed < 0:
        raise ConfigError("--seed", f"must be >= 0, got {args.seed}")
    from sim.config.uncertain import read_uncertain

    if not read_uncertain(table, args.scenario):
        raise ConfigError("uncertain", "--confidence needs the plausible surges, and the scenario has no "
                          "[uncertain.\"KEY\"] table to draw them from (docs/scenario-format.md)",
                          source=args.scenario)


def run(args: argparse.Namespace) -> int:
    if args.slo is not None:
        parse_slo(args.slo)
    price = args.price_per_instance_hour
    if not (price >= 0 and math.isfinite(price)):
        raise ConfigError("--price-per-instance-hour", f"must be >= 0 and finite, got {price!r}")
    jobs = args.jobs if args.jobs is not None else min(os.cpu_count() or 1, max_processes())
    if not 1 <= jobs <= max_processes():
        raise ConfigError("--jobs", f"must be within [1, {max_processes()}] (the cores), got {jobs}")
    if args.confidence is not None:
        check_confidence(args.confidence)
    if args.dask:
        check_dask(args.dask)
    table = read_scenario_table(args.scenario)
    try:
        scenario = parse_scenario(table, path=args.scenario)
        if scenario.site.app is None:
            raise ConfigError("site.app", "is needed for advice: there is no tier to add to")
        check_run_size(scenario)
        pick_engine(scenario, args.engine)
    except (ConfigError, NotModelled) as err:
        raise err.at(args.scenario) from None
    _check_confidence_flags(args, table)
    args.slo = args.slo or default_slo(scenario)
    objectives = parse_slo(args.slo)
    out_folder(args.out)
    started = time.perf_counter()
    mitigations = catalog(scenario, sizing(scenario))
    n = len(mitigations)
    over = (f", then the cheapest first over the plausible surges until one holds in {100 * args.confidence:g} % "
            "of them" if args.confidence is not None else "")
    where = f"on the Dask cluster at {args.dask}" if args.dask else f"{jobs} at once"
    print(f"advising on {args.scenario}: the scenario as it is and {n} mitigations, then combinations{over} "
          f"({where}; Ctrl-C stops and keeps what is done)", file=sys.stderr, flush=True)

    def progress(stage: str, done: int, total: int) -> None:
        if done:
            print(f"  {stage}: {done}/{total}", file=sys.stderr, flush=True)

    if args.confidence is None:
        rows, variants, stopped = advise(table, args.scenario, slo=args.slo, price_per_instance_hour=price,
                                         jobs=jobs, engine=args.engine, progress=progress, dask=args.dask)
    else:
        rows, variants, stopped = advise_with_confidence(
            table, args.scenario, slo=args.slo, confidence=args.confidence, draws=args.draws, seed=args.seed,
            price_per_instance_hour=price, jobs=jobs, engine=args.engine, dask=args.dask, progress=progress)
    elapsed = time.perf_counter() - started
    by_index = {v.index: v for v in variants}
    with deferred_signals():
        out = out_dir(args.out)
        (out / "variants").mkdir(exist_ok=True)
        for r in rows:
            v = by_index[r["index"]]
            name = f"variants/{v.index:02d}-{_slug(v.keys)}.toml"
            write_variant(out / name, v.table, args.scenario)
            r["mitigation"] = r["name"]
            r["scenario"] = str(out / name)
        partial = stopped is not None or any(r["partial"] or r.get("confidence_partial") for r in rows)
        base = next((r for r in rows if not r["keys"]), None)
        meets = [r for r in rank(rows) if r["meets_slo"]]  # the order surge advise ranks them in
        confident = [r for r in rows if r.get("meets_confidence")]  # ranked first, cheapest first
        doc = {"name": scenario.name or args.scenario, "scenario": args.scenario, "slo": args.slo, "price_per_instance_hour": price, "partial": partial,
               "stopped": stopped, "elapsed_s": elapsed, "variants_run": len(rows),
               "as_is": base["verdict"] if base else None,
               "cheapest": meets[0]["mitigation"] if meets else None, "rows": rows,
               "mitigations": describe(mitigations)}
        if args.confidence is not None:
            doc.update({"confidence": args.confidence, "draws": args.draws, "seed": args.seed,
                        "cheapest_at_confidence": confident[0]["mitigation"] if confident else None,
                        "as_is_probability_holds": base["probability_holds"] if base else None,
                        "as_is_probability_holds_ci": base["probability_holds_ci"] if base else None})
        write_json(out / "advise.json", doc)
        lost_limit = next((o.limit for o in objectives if o.metric == "lost_actions"), None)
        p95_limit = next((o.limit for o in objectives if o.metric == "p95"), None)

        def draw(fig):
            left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
            plot_advice(left, right, rows, lost_limit=lost_limit, p95_limit_s=p95_limit,
                        title=f"{scenario.name or args.scenario}: what to add (SLO {args.slo})")

        save_figure(out / "advise.png", draw, figsize=(12, 1.2 + 0.38 * max(len(rows), 3)))
        title = f"{scenario.name or args.scenario}: {len(rows)} variants, SLO {args.slo}, same visitors in each"
        if partial:
            title += f"  [PARTIAL: {stopped or 'a run stopped early'}]"
        if base:
            times = f"  [{post_note(scenario.traffic.shares)}]" if base.get("loss_window_s") else ""
            print(f"as it is: {base['verdict']}{times}")
            if base.get("probability_holds") is not None:
                print(f"as it is, over the plausible surges: holds in {_holds(base)} of them")
        print(f"cheapest that meets the SLO: {meets[0]['mitigation']} (cost {cost_text(meets[0]['cost'], price)})"
              if meets else "no variant tried meets the SLO: see the best ones below")
        counts = instance_counts(scenario, sizing(scenario))
        print(f"how many instances: {instances_why(counts, fewer=_fewer(rows, by_index, counts.at_target))}")
        if args.confidence is not None:
            share = f"{100 * args.confidence:g} %"
            print(f"cheapest that meets the SLO in {share} of the plausible surges: {confident[0]['mitigation']} "
                  f"(cost {cost_text(confident[0]['cost'], price)}; holds in {_holds(confident[0])})" if confident
                  else f"no variant tried meets the SLO in {share} of the plausible surges: see the best below")
        print()
        print(advice_table(rows, title=title, price_per_instance_hour=price, confidence=args.confidence))
        print(f"\nwrote advise.json, advise.png and {len(rows)} scenarios in variants/ to {out}/ "
              f"({elapsed:.0f} s)")
    if stopped is not None:
        return exit_code(stopped)
    if partial:
        return 1
    return 0
