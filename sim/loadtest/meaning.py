"""What a load test's result says about the real surge, in words: whether it measured the site at
all, its load factor, and what a pass or a failure implies.

A load test plays ``scale x time_scale`` of the surge's real arrival rate (its load
factor f). Staging's capacity C is then bounded on one side only:

* staging held f of the real rate R: C >= f R, so the production site, which must take
  R = (1/f) x f R, needs *at most* 1/f x C (1/f times the load staging was shown to hold;
  less if staging could have taken more, which an unsaturated test cannot tell);
* staging did not hold it: C < f R, so production needs *at least* (more than) 1/f x C.

Either way, ``--match-peak`` (scale = 1 / time_scale, f = 1) plays the real rate itself.

Before any of that, :func:`outcome` asks whether the test measured the site at all: one
whose visitors died in the load generator (an error of the driver, not an HTTP error),
that sent nothing, or whose site served none of its visitors is not a result to read a
capacity from (``surge loadtest`` and locust exit 1 for it, README "Reliability").
"""

from __future__ import annotations

import math

from sim.analysis.slo import evaluate, parse_slo

__all__ = ["held", "meaning", "outcome", "HELD_WITHOUT_SLO", "MEASURED", "FAILED", "INVALID"]

# Without --slo, "held" means these objectives: fewer than 1 % of visitors lost and of requests failed.
HELD_WITHOUT_SLO = "lost_visitors<1%,errors<1%"
MEASURED, FAILED, INVALID = "measured", "failed", "invalid"


def _count(d: dict, key: str) -> int:
    x = d.get(key)
    return int(x) if isinstance(x, (int, float)) and not math.isnan(x) else 0


def _first_error(summary: dict) -> str:
    by_error = (summary.get("driver_errors") or {}).get("by_error") or {}
    return max(by_error, key=by_error.get) if by_error else ""


def outcome(summary: dict) -> dict:
    """``{"status": "measured" | "failed" | "invalid", "reason": text or None}``.

    * invalid: no visitor was sent, or most died of an error in the load generator, or visitors
      arrived and not one request left (what the generator did, not the site);
    * failed: the site served none of its visitors (down, refusing, answering errors only);
    * measured: the figures measure the site (whether it held is :func:`held`'s question).
    Read from the summary's counts only, so a summary.json written before this key is judged too."""
    v = summary.get("visitors") or {}
    arrived, dropped, served = _count(v, "arrived"), _count(v, "dropped"), _count(v, "served")
    failed, died = _count(v, "failed"), _count(v, "died")
    requests = _count(summary.get("requests") or {}, "arrived")
    error = _first_error(summary)
    because = f" (the first of them: {error})" if error else ""
    if arrived + dropped == 0:
        return {"status": INVALID, "reason": "no visitor was sent: the test measured nothing"}
    if died and 2 * died > arrived:
        return {"status": INVALID, "reason": f"{died} of {arrived} visitors died of an error in the load generator"
                                             f"{because}: the figures measure the generator, not the site"}
    if arrived and requests == 0 and not summary.get("partial"):
        return {"status": INVALID, "reason": f"{arrived} visitors arrived and not one request was sent: "
                                             "the figures measure the generator, not the site"}
    if served == 0 and failed > 0:
        statuses = (summary.get("requests") or {}).get("by_status") or {}
        answers = ", ".join(f"{k} x {n}" for k, n in sorted(statuses.items(), key=lambda kv: -kv[1])[:3])
        return {"status": FAILED, "reason": f"the site served none of its {arrived} visitors"
                                            f"{f' ({answers})' if answers else ''}: it was down or refused "
                                            "them all, whatever the load"}
    return {"status": MEASURED, "reason": None}


def held(summary: dict) -> bool:
    """Did the site hold the load it was given? The one place a load test decides it: a test that measured
    the site, and met its SLO verdicts (summary.json's ``slo``), or :data:`HELD_WITHOUT_SLO` when none was given."""
    if outcome(summary)["status"] != MEASURED:
        return False
    verdicts = summary.get("slo") or []
    if verdicts:
        return all(v.get("met") is True for v in verdicts)
    return all(ok for _, _, ok in evaluate(parse_slo(HELD_WITHOUT_SLO), summary))


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
    result = outcome(summary)
    if result["status"] == INVALID:
        return f"This test {played}, but it is invalid: {result['reason']}; it says nothing about the site."
    if result["status"] == FAILED:
        return f"This test {played}, and it failed: {result['reason']}; it says nothing about the site's capacity."
    generator = summary.get("generator") or {}
    if generator.get("kept_up") is False:
        return f"This test {played}, but the load generator fell behind: its figures say nothing about the site."
    x = f"{1 / factor:.3g}x"
    if not held(summary):
        if factor > 1:  # failing above the real rate bounds nothing at the real rate
            return (f"This test {played}, and staging did not hold it: that says nothing of the real surge, "
                    f"{x} of this load; run the test at the real peak (--match-peak).")
        if factor == 1:
            return f"This test {played}, and staging did not hold it: the real surge would overwhelm a site like it."
        return (f"This test {played}, and staging did not hold it: the production site needs at least {x} "
                "staging's capacity; the real surge would overwhelm a site like it.")
    if factor >= 1:
        return f"This test {played}, and staging held it: a site like staging holds the real surge."
    return (f"This test {played}, and staging held it: the production site needs at most {x} staging's capacity "
            f"({x} the load staging was shown to hold), or run the test at the real peak (--match-peak).")
