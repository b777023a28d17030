"""Synthetic traces with known profiles for the fit's tests, and the run-to-run spread they derive from.

    .venv/bin/python tests/analysis/fit_spread.py hourly-exp 30
    .venv/bin/python tests/analysis/fit_spread.py minute-mix 20
    .venv/bin/python tests/analysis/fit_spread.py coverage 200

Each draw is Poisson noise on the profile's exact counts per interval, seeded from
``SeedSequence(2026).spawn(R)``; printed: each estimate's mean, standard deviation, range,
and how often the 95 % intervals held the truth. ``coverage`` fits ``hourly-exp`` as the
interval test does (``coverage_fit``) and prints how often each interval held the truth and
the time a fit takes.
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


def coverage_fit(trace):
    """The fit the interval-coverage test makes: one share of the exponential kernel. The full search
    (every kernel, up to 3 shares) picks that very model for ``hourly-exp`` 30 times of 30 and then has
    the same likelihood and maximum, so its intervals are these; this one takes a tenth of the time or less."""
    from sim.analysis.fit import fit_trace

    return fit_trace(trace, start_hour=17, kernels=("exponential",), max_shares=1)


def covered(r) -> dict[str, bool]:
    """Whether each 95 % interval of a ``hourly-exp`` fit holds the true value."""
    t = TRUE["hourly-exp"]["shares"][0]
    s = r.shares[0]

    def holds(est, value) -> bool:
        return est.determined and est.low <= value <= est.high

    return {"baseline": holds(r.baseline_per_day, 30000), "amplitude": holds(r.diurnal_amplitude, 0.5),
            "at_s": holds(s.at_s, t["at_s"]), "visitors": holds(s.visitors, t["visitors"]),
            "half_life_s": holds(s.kernel_params["half_life_s"], t["decay"]["half_life_s"])}


def coverage(replications: int) -> None:
    import time

    from sim.config.trace import Trace

    edges, mu = synthetic("hourly-exp")
    counts: dict[str, int] = {}
    took = []
    for seed in np.random.SeedSequence(2026).spawn(replications):
        y = np.random.default_rng(seed).poisson(mu).astype(float)
        start = time.perf_counter()
        r = coverage_fit(Trace(edges_s=edges, counts=y))
        took.append(time.perf_counter() - start)
        assert len(r.shares) == 1
        for k, v in covered(r).items():
            counts[k] = counts.get(k, 0) + v
    for k, n in counts.items():
        print(f"95 % interval held the truth ({k}): {n} of {replications}")
    print(f"a fit took {np.mean(took):.3f} s on average, {np.max(took):.3f} s at most")


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
    if sys.argv[1] == "coverage":
        coverage(int(sys.argv[2]))
    else:
        main(sys.argv[1], int(sys.argv[2]))
