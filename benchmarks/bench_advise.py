"""``surge advise`` of a scenario, whole, against one run of it in the same process (a ratio).

    .venv/bin/python benchmarks/bench_advise.py [scenarios/anca-2020.toml] [--jobs N]

Prints the wall time of one fast-engine run of the scenario as it is (the baseline), of the
whole advice (every stage, every variant, on --jobs processes, the figure and files left out),
their ratio and the variants run. Target (issue 15): the advice of anca-2020 within a minute on
this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    from sim.analysis.advise import advise
    from sim.analysis.verdict import default_slo
    from sim.config.scenario import parse_scenario, read_scenario_table
    from sim.engine import simulate

    p = argparse.ArgumentParser()
    p.add_argument("scenario", nargs="?", default=os.path.join(ROOT, "scenarios", "anca-2020.toml"))
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    table = read_scenario_table(args.scenario)
    scenario = parse_scenario(table, path=args.scenario)
    simulate(scenario)  # compiles (or loads) the engine once: neither timing pays for it
    t0 = time.perf_counter()
    simulate(scenario)
    one_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows, variants, stopped = advise(table, args.scenario, slo=default_slo(scenario), jobs=args.jobs)
    advise_s = time.perf_counter() - t0
    engines = sorted({r["engine"] for r in rows})
    print(f"one run (fast engine):   {one_s:6.1f} s")
    print(f"surge advise ({args.jobs} jobs): {advise_s:6.1f} s  = {advise_s / one_s:.1f} runs' time for "
          f"{len(variants)} variants ({', '.join(engines)}); stopped: {stopped}")
    meets = [r for r in rows if r["meets_slo"]]
    print(f"cheapest meeting the SLO: {meets[0]['name'] if meets else None}")


if __name__ == "__main__":
    main()
