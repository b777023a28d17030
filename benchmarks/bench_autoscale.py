"""The default scenario with an autoscaler: scenarios/anca-2020.toml, 48 h, on both engines.

    .venv/bin/python benchmarks/bench_autoscale.py [--target 0.6] [--max 20] [--warmup-s 120] [--hours 48]

The scenario's site with ``[site.autoscale] target, max, warmup_s`` added (the other keys at
their defaults: utilization, period 60 s, min 1, step 1, cooldown 300 s). Both engines run in
this process, one after the other, after a small run that loads the compiled code (a
one-off of each process, printed, not timed). Target: the fast engine >= 10x the reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.common import timed  # noqa: E402
from sim.config.scenario import load_scenario  # noqa: E402
from sim.config.site import AutoscaleConfig  # noqa: E402
from sim.engine import simulate  # noqa: E402
from sim.stats.summary import summarize, timeseries  # noqa: E402


def autoscaled(path: str, *, target: float, most: int, warmup_s: float, hours: float):
    sc = load_scenario(path)
    site = dataclasses.replace(sc.site, autoscale=AutoscaleConfig(target=target, max=most, warmup_s=warmup_s))
    run = dataclasses.replace(sc.run, duration_s=min(sc.run.duration_s, hours * 3600))
    return dataclasses.replace(sc, site=site, run=run)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=os.path.join(ROOT, "scenarios", "anca-2020.toml"))
    p.add_argument("--target", type=float, default=0.6)
    p.add_argument("--max", type=int, default=20)
    p.add_argument("--warmup-s", type=float, default=120.0)
    p.add_argument("--hours", type=float, default=48.0)
    args = p.parse_args(argv)
    sc = autoscaled(args.scenario, target=args.target, most=args.max, warmup_s=args.warmup_s, hours=args.hours)
    _, warm = timed(simulate, autoscaled(args.scenario, target=args.target, most=args.max, warmup_s=args.warmup_s,
                                         hours=0.5), engine="fast")
    print(f"one-off: compiled code loaded by a first small run in {warm:.2f} s (not timed below)")
    out = {}
    for engine in ("reference", "fast"):
        result, wall = timed(simulate, sc, engine=engine)
        if result.partial:
            print(f"{engine} run failed: {result.error}", file=sys.stderr)
            return 1
        s = summarize(result)
        out[engine] = (wall, s, timeseries(result))
        print(f"{engine:9s} autoscaled {args.hours:g} h: {wall:6.1f} s, {s['visitors']['arrived']:,} visitors, "
              f"instances mean {s['instances']['mean']:.2f} max {s['instances']['max']:g}, "
              f"lost {s['visitors']['lost']:,}, page p99 {s['page_response_s']['p99']:.3f} s")
    (ref_wall, ref_s, ref_ts), (fast_wall, fast_s, fast_ts) = out["reference"], out["fast"]
    same = (json.dumps(ref_s, sort_keys=True) == json.dumps(fast_s, sort_keys=True)
            and json.dumps(ref_ts) == json.dumps(fast_ts))
    print(f"fast / reference speed: {ref_wall / fast_wall:.2f}x (target >= 10x); same summary and time series: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
