"""Flat cost under overload: M/M/10 at rho = 1.5 (no abandonment) vs rho = 0.9, same run.

    .venv/bin/python benchmarks/bench_overload.py [--customers 500000] [--engine reference]

Target (issue 7): with the backlog reaching 1e5 and more, customers per second of
wall time within 20 % of the rho = 0.9 figure (O(1) work per event whatever the
queue). The idiomatic simpy figures at both loads are printed for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import idiomatic_mmc, mmc_scenario, timed  # noqa: E402
from sim.engine import ENGINES, simulate  # noqa: E402
from sim.stats.summary import summarize  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=500_000)
    p.add_argument("--engine", choices=ENGINES, default="reference")
    p.add_argument("--no-baseline", action="store_true", help="skip the idiomatic simpy runs")
    args = p.parse_args(argv)
    # Compiled code (the level fold, the fast engine's loop) loads on first use: not inside either timed run.
    _, warm = timed(simulate, mmc_scenario(servers=10, rho=0.9, customers=1000), engine=args.engine)
    print(f"one-off: compiled code loaded by a first small run in {warm:.2f} s (not timed below)")
    rates = {}
    for rho in (0.9, 1.5):
        result, wall = timed(simulate, mmc_scenario(servers=10, rho=rho, customers=args.customers), engine=args.engine)
        if result.partial:
            print(f"run failed: {result.error}", file=sys.stderr)
            return 1
        s = summarize(result)
        rates[rho] = s["visitors"]["arrived"] / wall
        line = (f"surge {args.engine} rho={rho}: {rates[rho]:10,.0f} customers/s  ({s['visitors']['arrived']:,} in "
                f"{wall:.2f} s, peak backlog {s['peak_queue']['app']:,.0f})")
        if not args.no_baseline:
            line += f"   idiomatic simpy: {idiomatic_mmc(servers=10, rho=rho, customers=args.customers):10,.0f}/s"
        print(line)
    print(f"ratio rho=1.5 / rho=0.9: {rates[1.5] / rates[0.9]:.3f}  (target >= 0.8)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
