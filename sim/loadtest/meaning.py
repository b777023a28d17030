"""What a load test's result says about the real surge, in words: its load factor, and what a pass implies.

A load test plays ``scale x time_scale`` of the surge's real arrival rate (its load
factor). A staging site that held a load factor of 0.14 shows it can take 14 % of the
real peak; the production site then needs at least 1 / 0.14 = 7x staging's capacity,
or the test must play the real peak (``--match-peak``: scale = 1 / time_scale).
"""

from __future__ import annotations

import math

__all__ = ["held", "meaning"]

_LOSS_OK = 0.01  # without --slo, "held" means fewer than 1 % of visitors lost and of requests failed


def held(summary: dict) -> bool:
    """Did the site hold the load it was given? The SLO verdicts if any, else under 1 % lost and failed."""
    verdicts = summary.get("slo") or []
    if verdicts:
        return all(v.get("met") is True for v in verdicts)
    lost = summary.get("visitors", {}).get("lost_fraction")
    errors = summary.get("requests", {}).get("error_fraction")
    return all(isinstance(x, (int, float)) and not math.isnan(x) and x < _LOSS_OK for x in (lost, errors))


def meaning(summary: dict) -> str:
    """One or two sentences: the fraction of the real peak played, and what the result implies."""
    plan = summary.get("plan", {})
    factor = plan.get("load_factor")
    if not isinstance(factor, (int, float)) or factor <= 0:
        return ""
    played = f"played {factor:.3g}x the real surge's arrival rate"
    peak, real = plan.get("played_peak_visitors_per_s"), plan.get("real_peak_visitors_per_s")
    if isinstance(peak, (int, float)) and isinstance(real, (int, float)) and real > 0:
        played += f" (peak {peak:,.3g} of {real:,.3g} visitors/s)"
    generator = summary.get("generator") or {}
    if generator.get("kept_up") is False:
        return f"This test {played}, but the load generator fell behind: its figures say nothing about the site."
    if not held(summary):
        return f"This test {played}, and staging did not hold it: the real surge would overwhelm a site like it."
    if factor >= 1:
        return f"This test {played}, and staging held it: a site like staging holds the real surge."
    return (f"This test {played}, and staging held it: the production site needs at least {1 / factor:.3g}x "
            f"staging's capacity, or run the test at the real peak (--match-peak).")
