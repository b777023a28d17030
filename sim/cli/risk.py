"""``surge risk SCENARIO --slo OBJECTIVES --out DIR``: how likely the site holds over the plausible surges.

Draws the surges the scenario's ``[uncertain]`` tables describe (sim.analysis.risk), prints the
probability that the SLO holds with its 95 % interval, the lost actions and visitors over the
draws, and the inputs that matter most; writes ``risk.json``, ``risk.png`` and ``sensitivity.png``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from sim.analysis.risk import DEFAULT_DRAWS, assess, check_draws, check_slo
from sim.analysis.slo import parse_slo
from sim.analysis.verdict import DEFAULT_SLO, default_slo
from sim.cli.figures import save_figure
from sim.cli.outputs import out_folder
from sim.cli.sweep import check_pool_flags
from sim.config.scenario import load_scenario, read_scenario_table
from sim.config.uncertain import read_uncertain
from sim.engine import ENGINES
from sim.errors import ConfigError
from sim.files import write_json
from sim.interrupts import deferred_signals, exit_code
from sim.output.risk_plot import plot_risk_curve, plot_sensitivity
from sim.output.text import format_table

__all__ = ["add_parser", "run", "risk_lines"]


def add_parser(sub) -> None:
    p = sub.add_parser(
        "risk",
        help="will it hold? the probability that the SLO holds over the plausible surges ([uncertain] ranges)",
        description="Draw the surges the scenario's [uncertain.\"dotted.key\"] tables describe (a Latin hypercube, "
        "each draw with its own seed), screen each with the fluid model and simulate those near the SLO's "
        "boundary; print the probability that the SLO holds with its 95 %% interval, the lost actions and "
        "visitors (median, 90th and 99th percentile) and which inputs matter most (partial rank correlation). "
        "Writes risk.json, risk.png and sensitivity.png.",
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML) with [uncertain] tables")
    p.add_argument("--slo", metavar="OBJECTIVES",
                   help=f"what the site must meet (default {DEFAULT_SLO.replace('%', '%%')}, or lost_visitors<1%% "
                   "where visitors take no action); terms: lost_actions, lost_visitors, p95, errors")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for risk.json, risk.png and sensitivity.png")
    p.add_argument("--draws", type=int, metavar="N",
                   help=f"surges drawn (default: {DEFAULT_DRAWS // 2}, then {DEFAULT_DRAWS} if the 95 %% interval is "
                   "still wider than +-5 points)")
    p.add_argument("--seed", type=int, metavar="S", help="seed instead of the scenario's run.seed")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="local processes (default: one per core); results do not depend on it")
    p.add_argument("--dask", metavar="ADDRESS", help="run the draws on an existing Dask cluster instead "
                   "(pip install .[dask])")
    p.add_argument("--engine", choices=ENGINES, default="auto", help="as surge run's (auto: fast where it can)")
    p.set_defaults(func=run)


def _pct(x: float) -> str:
    return "-" if x != x else f"{100 * x:.2f} %" if x < 0.1 else f"{100 * x:.1f} %"


def risk_lines(risk: dict) -> list[str]:
    """The answer in a few lines (printed, and shown in the report)."""
    p, (lo, hi) = risk["probability_holds"], risk["probability_holds_ci"]
    head = (f"the SLO {risk['slo']} holds in {100 * p:.0f} % of the plausible surges (95 % interval "
            f"{100 * lo:.0f}-{100 * hi:.0f} %), over {risk['draws_count']} drawn surges: {risk['simulated']} "
            f"simulated near the boundary, {risk['screened']} screened by the fluid model")
    return [head]


def _progress(stage: str, done: int, total: int) -> None:
    print(f"\r{stage}: {done}/{total} surges", end="\n" if done == total else "", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.slo is not None:
        check_slo(args.slo)
    if args.draws is not None:
        check_draws(args.draws)
    scenario = load_scenario(args.scenario)
    table = read_scenario_table(args.scenario)
    if not read_uncertain(table, args.scenario):
        raise ConfigError("uncertain", "no [uncertain.\"dotted.key\"] tables: nothing to draw; give the ranges of "
                          "the values the scenario rests on (docs/scenario-format.md)").at(args.scenario)
    slo = args.slo or default_slo(scenario)
    check_pool_flags(args)
    out = out_folder(args.out)
    started = time.perf_counter()
    result = assess(table, args.scenario, slo=slo, draws=args.draws, seed=args.seed, jobs=args.jobs,
                    dask=args.dask, engine=args.engine, progress=_progress)
    risk = {"scenario": args.scenario, "name": scenario.name, **result.to_dict(),
            "elapsed_s": time.perf_counter() - started}
    limit = next((o.limit for o in parse_slo(slo) if o.metric in ("lost_actions", "lost_visitors")), None)
    what = "actions" if scenario.visitors.action_rate > 0 else "visitors"
    with deferred_signals():  # a second Ctrl-C must not cut the files short
        write_json(out / "risk.json", risk)
        shutil.copyfile(args.scenario, out / "scenario.toml")
        name = scenario.name or args.scenario

        def curve(fig):
            ax = fig.add_subplot()
            plot_risk_curve(ax, [d[f"lost_{what}_fraction"] for d in result.draws], slo_limit=limit, what=what,
                            probability_holds=result.probability_holds, interval=result.probability_holds_ci)
            ax.set_title(f"{name}: {what} lost over {len(result.draws)} plausible surges ({result.simulated} "
                         f"simulated, {result.screened} screened)", fontsize=10)

        def sensitivity(fig):
            ax = fig.add_subplot()
            plot_sensitivity(ax, result.sensitivities)
            ax.set_title(f"{name}: what matters most (red: more {what} lost as it grows)", fontsize=10)

        save_figure(out / "risk.png", curve, figsize=(8, 4.5))
        save_figure(out / "sensitivity.png", sensitivity, figsize=(8, 1.5 + 0.35 * max(len(result.sensitivities), 1)))
        _print(risk, result)
        print(f"\nwrote risk.json, risk.png, sensitivity.png, scenario.toml to {out}/")
    if result.partial:
        print(f"surge: risk stopped early ({result.stopped}); the figures above are over the draws judged so far",
              file=sys.stderr)
        return exit_code(result.stopped) if result.stopped in ("interrupted", "terminated") else 1
    return 0


def _print(risk: dict, result) -> None:
    if result.partial:
        print(f"PARTIAL ({result.stopped}): {len(result.draws)} of {result.planned} surges judged")
    if not result.draws:
        print("no surge was judged")
        return
    for line in risk_lines(risk):
        print(line)
    rows = [(f"lost {what}", f"median {_pct(q['p50'])}, 90th percentile {_pct(q['p90'])}, 99th {_pct(q['p99'])}")
            for what, q in (("actions", risk["lost_actions_fraction"]), ("visitors", risk["lost_visitors_fraction"]))]
    print()
    print(format_table(rows, title="over the plausible surges"))
    sens = [(s["key"], f"{s['prcc']:+.2f}") for s in result.sensitivities if s["prcc"] == s["prcc"]]
    if sens:
        print()
        print(format_table(sens, title="what matters most: partial rank correlation with the actions lost "
                                       "(+1: more losses as it grows, 0: no monotone effect)"))
