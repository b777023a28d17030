"""``surge risk`` of a scenario against brute-force Monte Carlo's cost per draw, in the same run (a ratio).

    .venv/bin/python benchmarks/bench_risk.py [scenarios/anca-2020.toml] [--jobs N] [--baseline K]

The baseline: K draws of the same design simulated whole (every draw over the whole run, no
screening, no cut at the surge's end), one after another in this process: their mean wall time
per draw, times the draws ``surge risk`` counted, over --jobs, is what brute force would take for
the same interval. Then ``surge risk``'s estimate (its default draws), timed whole. Target:
anca-2020's P(holds) within +-5 points (95 %) in at most 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    from sim.analysis.risk import assess, plan_draws
    from sim.analysis.screen import brute_force_draw
    from sim.analysis.verdict import default_slo
    from sim.config.scenario import parse_scenario, read_scenario_table
    from sim.config.uncertain import read_uncertain
    from sim.engine import simulate

    p = argparse.ArgumentParser()
    p.add_argument("scenario", nargs="?", default=os.path.join(ROOT, "scenarios", "anca-2020.toml"))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--baseline", type=int, default=4, metavar="K", help="draws simulated whole for the baseline")
    args = p.parse_args()
    table = read_scenario_table(args.scenario)
    scenario = parse_scenario(table, path=args.scenario)
    slo = default_slo(scenario)
    simulate(scenario)  # compiles (or loads) the engine once: neither timing pays for it
    points = plan_draws(table, args.scenario, read_uncertain(table, args.scenario), slo=slo,
                        draws=args.baseline, seed=scenario.run.seed)
    t0 = time.perf_counter()
    for point in points:
        brute_force_draw(point, 1, None, "auto")
    per_draw_s = (time.perf_counter() - t0) / len(points)
    t0 = time.perf_counter()
    result = assess(table, args.scenario, slo=slo, jobs=args.jobs)
    fast_s = time.perf_counter() - t0
    n = len(result.draws)
    lo, hi = result.probability_holds_ci
    brute_s = n * per_draw_s / args.jobs
    print(f"brute force, one draw over the whole run: {per_draw_s:6.1f} s (mean of {len(points)})")
    print(f"brute force for {n} draws on {args.jobs} jobs: {brute_s:6.0f} s (estimated from that)")
    print(f"surge risk ({args.jobs} jobs):  {fast_s:6.1f} s  = {brute_s / fast_s:.1f}x faster; {n} draws: "
          f"{result.simulated} simulated, {result.screened} screened")
    print(f"P(holds {slo}) = {100 * result.probability_holds:.1f} % (95 % interval {100 * lo:.1f}-{100 * hi:.1f} %, "
          f"+-{100 * (hi - lo) / 2:.1f} points)")


if __name__ == "__main__":
    main()
