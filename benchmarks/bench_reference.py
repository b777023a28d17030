"""Reference engine vs idiomatic simpy: M/M/10 at rho = 0.9, customers per second of wall time.

    .venv/bin/python benchmarks/bench_reference.py [--customers 1000000] [--engine reference] [--heap-clock]

Both measured in this run on this machine. The target was once 2x; about 1.6x is accepted
for the reference, the model's readable specification (the fast engine is the fast one). With ``--engine fast`` this scenario takes the
fast engine's compiled loop (``sim/engine/compiled/``). ``--heap-clock`` also runs the
reference's model on a bare heap of ``(time, seq, fn, arg)`` instead of simpy: what the
model's own Python costs, the most any clock under it could give.

The level fold is numba-compiled; loading it from its cache is a one-off of each process
(about 0.5 s), measured and printed before the timed runs, not inside them.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import idiomatic_mmc, mmc_scenario, timed  # noqa: E402
from sim.engine import ENGINES, replication_seeds, simulate  # noqa: E402
from sim.engine.clock import HeapClock  # noqa: E402
from sim.engine.reference.model import Model  # noqa: E402
from sim.stats.summary import summarize  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--baseline-customers", type=int, default=None, help="default: same as --customers")
    p.add_argument("--engine", choices=ENGINES, default="reference")
    p.add_argument("--patience-mean-s", type=float, default=None, metavar="S",
                   help="M/M/10+M: exponential patience of this mean, give-ups dropped (the baseline stays M/M/10)")
    p.add_argument("--heap-clock", action="store_true", help="also run the model on a bare heap clock")
    args = p.parse_args(argv)
    _, warm = timed(simulate, mmc_scenario(servers=10, rho=0.9, customers=1000), engine=args.engine)
    print(f"one-off: compiled code loaded by a first small run in {warm:.2f} s (not timed below)")
    base = idiomatic_mmc(servers=10, rho=0.9, customers=args.baseline_customers or args.customers)
    sc = mmc_scenario(servers=10, rho=0.9, customers=args.customers, patience_mean_s=args.patience_mean_s)
    result, wall = timed(simulate, sc, engine=args.engine)
    if result.partial:
        print(f"run failed: {result.error}", file=sys.stderr)
        return 1
    s = summarize(result)
    rate = s["visitors"]["arrived"] / wall
    model = "M/M/10" if args.patience_mean_s is None else "M/M/10+M"
    print(f"idiomatic simpy M/M/10 rho=0.9 : {base:12,.0f} customers/s")
    print(f"surge {args.engine:9s} {model} rho=0.9: {rate:12,.0f} customers/s "
          f"({s['visitors']['arrived']:,} customers in {wall:.2f} s, mean wait {s['wait_s']['mean']:.3f} s, "
          f"{s['requests']['abandoned']:,} gave up)")
    print(f"ratio surge / idiomatic        : {rate / base:12.2f}x  (accepted for the readable reference: about 1.6x)")
    if args.heap_clock:
        model = Model(sc, replication_seeds(sc.run.seed, 1)[0], HeapClock())
        heap, wall = timed(model.run, "heap")
        h = summarize(heap)
        heap_rate = h["visitors"]["arrived"] / wall
        print(f"the model on a bare heap clock : {heap_rate:12,.0f} customers/s "
              f"({heap_rate / base:.2f}x idiomatic; same waits as on simpy: {h['wait_s'] == s['wait_s']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
