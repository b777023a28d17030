"""``surge advise`` of a scenario, whole, against one run of it in the same process (a ratio).

    .venv/bin/python benchmarks/bench_advise.py [scenarios/anca-2020.toml] [--jobs N] [--confidence P [--draws N]]

Prints the wall time of one fast-engine run of the scenario as it is (the baseline), of the
whole advice (every stage, every variant, on --jobs processes, the figure and files left out),
their ratio and the variants run. Target: the advice of anca-2020 within a minute on this
2-core machine. With --confidence, also ``advise --confidence P`` (the same central advice, then
the variants cheapest first over the plausible surges): its wall time, its ratio to the advice
and to one run, the variants assessed or screened and the draws simulated. Target: within
3 minutes for P = 0.9.
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
    p.add_argument("--confidence", type=float)
    p.add_argument("--draws", type=int)
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
    if args.confidence is None:
        return
    from sim.analysis.confidence import advise_with_confidence

    t0 = time.perf_counter()
    def progress(stage: str, done: int, total: int) -> None:
        if done == total or stage.startswith("over") or stage.startswith("combinations"):
            print(f"  [{time.perf_counter() - t0:5.0f} s] {stage}: {done}/{total}", file=sys.stderr, flush=True)

    rows, variants, stopped = advise_with_confidence(table, args.scenario, slo=default_slo(scenario),
                                                     confidence=args.confidence, draws=args.draws, jobs=args.jobs,
                                                     progress=progress)
    confident_s = time.perf_counter() - t0
    judged = [r for r in rows if r["assessed"] != "no"]
    print(f"surge advise --confidence {args.confidence:g} ({args.jobs} jobs): {confident_s:6.1f} s  = "
          f"{confident_s / advise_s:.1f}x the advice, {confident_s / one_s:.1f} runs' time; {len(variants)} variants, "
          f"{sum(r['assessed'] == 'assessed' for r in judged)} assessed, "
          f"{sum(r['assessed'] == 'ruled out' for r in judged)} ruled out "
          f"({sum('probe' in r for r in judged)} on a simulated draw), "
          f"{sum(r['draws_simulated'] for r in judged)} draws simulated of {sum(r['draws'] for r in judged)}; "
          f"stopped: {stopped}")
    for r in judged:
        if r["assessed"] == "ruled out":
            print(f"  {r['name']:<52} cost {r['cost']:6.2f}  holds in at most {100 * r['probability_holds_bound']:3.0f} % "
                  f"(ruled out: fails {'a simulated draw' if 'probe' in r else 'the central case'})")
            continue
        lo, hi = r["probability_holds_ci"]
        print(f"  {r['name']:<52} cost {r['cost']:6.2f}  holds in {100 * r['probability_holds']:3.0f} % "
              f"[{100 * lo:.0f}, {100 * hi:.0f}] ({r['assessed']}, {r['draws_simulated']}/{r['draws']} simulated)")
    found = [r for r in rows if r["meets_confidence"]]
    print(f"cheapest meeting the SLO in {100 * args.confidence:g} % of the plausible surges: "
          f"{found[0]['name'] if found else None}")


if __name__ == "__main__":
    main()
