"""Synthetic traces with known profiles for the fit's tests, and the run-to-run spread they derive from.

    .venv/bin/python tests/analysis/fit_spread.py hourly-exp 30
    .venv/bin/python tests/analysis/fit_spread.py minute-mix 20

Each draw is Poisson noise on the profile's exact counts per interval, seeded from
``SeedSequence(2026).spawn(R)``; printed: each estimate's mean, standard deviation, range,
and how often the 95 % intervals held the truth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

MIX = {"kernel": "mix", "parts": [{"weight": 0.4, "kernel": "power_law", "flat_s": 300, "theta": 0.2315},
                                   {"weight": 0.6, "kernel": "exponential", "half_life_s": 14400}]}
EXP = {"kernel": "exponential", "half_life_s": 14400}
# case: (interval s, span s, shares)
TRUE = {
    "hourly-exp": {"width_s": 3600.0, "span_s": 2 * 86400.0, "at_s": 19234.0,
                   "shares": [{"at_s": 19234.0, "visitors": 1e6, "decay": EXP}]},
    "hourly-mix": {"width_s": 3600.0, "span_s": 2 * 86400.0, "at_s": 19234.0,
                   "shares": [{"at_s": 19234.0, "visitors": 1e6, "decay": MIX}]},
    "minute-mix": {"width_s": 60.0, "span_s": 2 * 86400.0, "at_s": 3634.0,
                   "shares": [{"at_s": 3634.0, "visitors": 1e6, "decay": MIX}]},
    "second-wave": {"width_s": 3600.0, "span_s": 2 * 86400.0, "at_s": 3600.0,
                    "shares": [{"at_s": 3600.0, "visitors": 1e6, "decay": MIX},
                               {"at_s": 26 * 3600.0, "visitors": 3e5,
                                "decay": {"kernel": "exponential", "half_life_s": 7200}}]},
}


def synthetic(case: str) -> tuple[np.ndarray, np.ndarray]:
    """Interval edges and the exact expected counts of ``case``: 30,000 visitors a day, a daily cycle
    of amplitude 0.5 peaking at 20 h, the trace starting at 17 h, and the case's shares."""
    from sim.config.scenario import parse_scenario
    from sim.traffic.profile import build_profile

    t = TRUE[case]
    sc = parse_scenario({"run": {"duration_s": t["span_s"], "bin_s": t["width_s"]}, "traffic": {
        "baseline_per_day": 30000, "diurnal_amplitude": 0.5, "diurnal_peak_hour": 20, "start_hour": 17,
        "shares": t["shares"]}}, path=case)
    edges = np.arange(0.0, t["span_s"] + 1, t["width_s"])
    return edges, np.diff(build_profile(sc).cumulative(edges))


def main(case: str, replications: int) -> None:
    from sim.analysis.fit import fit_trace
    from sim.config.trace import Trace

    edges, mu = synthetic(case)
    truth = TRUE[case]["shares"][0]
    rows = []
    for seed in np.random.SeedSequence(2026).spawn(replications):
        y = np.random.default_rng(seed).poisson(mu).astype(float)
        r = fit_trace(Trace(edges_s=edges, counts=y), start_hour=17)
        row = {"shares": len(r.shares), "baseline": r.baseline_per_day.value, "amp": r.diurnal_amplitude.value,
               "peak_hour": r.diurnal_peak_hour}
        cover = {"baseline": r.baseline_per_day.determined and r.baseline_per_day.low <= 30000 <= r.baseline_per_day.high}
        if r.shares:
            s = r.shares[0]
            row.update(at_s=s.at_s.value, visitors=s.visitors.value, kind=s.kernel.kind,
                       **{k: v.value for k, v in s.kernel_params.items()})
            cover["visitors"] = s.visitors.determined and s.visitors.low <= truth["visitors"] <= s.visitors.high
            cover["at_s"] = s.at_s.low <= truth["at_s"] <= s.at_s.high
        row["cover"] = cover
        rows.append(row)
        print(json.dumps(row), flush=True)
    for k in [k for k in rows[0] if k not in ("kind", "cover")]:
        v = np.array([r.get(k, np.nan) for r in rows], dtype=float)
        print(f"{k:12s} mean {np.nanmean(v):12.6g}  sd {np.nanstd(v, ddof=1):10.4g}  range {np.nanmin(v):.6g} to "
              f"{np.nanmax(v):.6g}")
    print("kernels chosen", {k: sum(r.get("kind") == k for r in rows) for k in ("exponential", "power_law", "mix")})
    for c in rows[0]["cover"]:
        print(f"95 % interval held the truth ({c}): {sum(bool(r['cover'].get(c)) for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(sys.argv[1], int(sys.argv[2]))
