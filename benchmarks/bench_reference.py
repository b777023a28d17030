"""Reference engine vs idiomatic simpy: M/M/10 at rho = 0.9, customers per second of wall time.

    .venv/bin/python benchmarks/bench_reference.py [--customers 1000000] [--engine reference]

Target (issue 7): the project's model at least 2x the idiomatic simpy figure, both
measured in this run on this machine. With ``--engine fast`` this scenario takes the
fast engine's single-FIFO path (``sim/fast_fifo.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import idiomatic_mmc, mmc_scenario, timed  # noqa: E402
from sim.engine import ENGINES, simulate  # noqa: E402
from sim.results import summarize  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--baseline-customers", type=int, default=None, help="default: same as --customers")
    p.add_argument("--engine", choices=ENGINES, default="reference")
    p.add_argument("--patience-mean-s", type=float, default=None, metavar="S",
                   help="M/M/10+M: exponential patience of this mean, give-ups dropped (the baseline stays M/M/10)")
    args = p.parse_args(argv)
    base = idiomatic_mmc(servers=10, rho=0.9, customers=args.baseline_customers or args.customers)
    sc = mmc_scenario(servers=10, rho=0.9, customers=args.customers, patience_mean_s=args.patience_mean_s)
    result, wall = timed(simulate, sc, engine=args.engine)
    s = summarize(result)
    rate = s["visitors"]["arrived"] / wall
    model = "M/M/10" if args.patience_mean_s is None else "M/M/10+M"
    print(f"idiomatic simpy M/M/10 rho=0.9 : {base:12,.0f} customers/s")
    print(f"surge {args.engine:9s} {model} rho=0.9: {rate:12,.0f} customers/s "
          f"({s['visitors']['arrived']:,} customers in {wall:.2f} s, mean wait {s['wait_s']['mean']:.3f} s, "
          f"{s['requests']['abandoned']:,} gave up)")
    print(f"ratio surge / idiomatic        : {rate / base:12.2f}x  (target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
