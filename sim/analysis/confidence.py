"""``surge advise --confidence P``: the cheapest mitigation, or combination, that meets the SLO in at
least a fraction P of the plausible surges (the scenario's ``[uncertain."KEY"]`` ranges).

The central case's advice comes first, as ``surge advise`` gives it (:class:`sim.analysis.advise.Session`):
every variant run once on the scenario's point values and costed from that run. Variants are then
assessed over the plausible surges (:func:`sim.analysis.risk.assess`: each variant meets the same
design points with the same per-draw seeds, common random numbers, so two variants differ by their
mitigations, not by the surges they met), cheapest first (cost, then fewer changes, then the central
case's losses). The walk stops at the first variant that holds in at least P of the surges: every
variant after it costs as much or more, so none can be cheaper.

Before its full assessment a variant is screened on a few draws (``SCREEN_DRAWS``): one whose 95 %
interval there lies wholly below P cannot be the answer and is not assessed further; its row keeps the
screen's figures, marked ``screened``. When no variant of the central case's advice holds often
enough, combinations of the single mitigations that raised the probability most (one per group, as
``surge advise`` combines) are run on the central case, for their cost, and assessed the same way.
"""

from __future__ import annotations

import math
from typing import Callable

from sim.analysis.advise import (DEFAULT_PRICE_PER_INSTANCE_HOUR, MAX_VARIANTS, Session, Variant, combinations,
                                 lost_fraction, rank)
from sim.errors import ConfigError
from sim.interrupts import INTERRUPTED, reason

__all__ = ["advise_with_confidence", "rank_by_confidence", "check_confidence", "SCREEN_DRAWS", "CONFIDENCE_KEYS"]

# A screen of 16 draws rules a variant out when its 95 % interval lies below P (with Wilson's interval and
# P = 0.9: 12 or fewer of 16 holding, upper bound 0.898), for about a sixth of a full assessment's draws.
SCREEN_DRAWS = 16
# The keys a row gains; None where a variant was not assessed (it could not be the cheapest).
CONFIDENCE_KEYS = ("probability_holds", "probability_holds_ci", "meets_confidence", "assessed", "draws",
                   "draws_simulated", "confidence_partial")


def check_confidence(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ConfigError("--confidence", f"must be within (0, 1), e.g. 0.9, got {confidence!r}")
    return float(confidence)


def _no_figures(row: dict) -> None:
    row.update({"probability_holds": None, "probability_holds_ci": None, "meets_confidence": None,
                "assessed": "no", "draws": 0, "draws_simulated": 0, "confidence_partial": False})


def _figures(row: dict, result, confidence: float, how: str) -> None:
    lo, hi = result.probability_holds_ci
    row.update({"probability_holds": result.probability_holds, "probability_holds_ci": [lo, hi],
                "meets_confidence": how == "assessed" and not result.partial and result.probability_holds >= confidence,
                "assessed": how, "draws": len(result.draws),
                "draws_simulated": sum(d.get("how") == "simulated" for d in result.draws),
                "confidence_partial": bool(result.partial)})


def rank_by_confidence(rows: list[dict]) -> list[dict]:
    """Those meeting the confidence by cost (then fewer changes, then the higher probability); then the
    rest assessed or screened, by probability of holding, then cost; then those not assessed, as
    ``surge advise`` ranks them."""
    def p(r):
        return r["probability_holds"] if r["probability_holds"] is not None else -1.0

    meets = sorted((r for r in rows if r["meets_confidence"]), key=lambda r: (r["cost"], len(r["keys"]), -p(r)))
    rest = sorted((r for r in rows if not r["meets_confidence"] and r["probability_holds"] is not None),
                  key=lambda r: (-p(r), r["cost"], len(r["keys"])))
    return meets + rest + rank([r for r in rows if r["probability_holds"] is None])


def _walk_order(rows: list[dict]) -> list[dict]:
    def lost(r):
        x = lost_fraction(r)
        return x if x == x else 1.0

    return sorted(rows, key=lambda r: (r["cost"], len(r["keys"]), lost(r)))


def advise_with_confidence(table: dict, path: str, *, slo: str, confidence: float, draws: int | None = None,
                           seed: int | None = None,
                           price_per_instance_hour: float = DEFAULT_PRICE_PER_INSTANCE_HOUR, jobs: int = 1,
                           engine: str = "auto", dask: str | None = None,
                           progress: Callable[[str, int, int], None] | None = None,
                           assess: Callable | None = None) -> tuple[list[dict], list[Variant], str | None]:
    """Rows ranked by :func:`rank_by_confidence` (each with ``surge advise``'s keys and ``CONFIDENCE_KEYS``),
    the variants run, and why it stopped (None: done). ``assess`` is :func:`sim.analysis.risk.assess`."""
    if assess is None:
        from sim.analysis.risk import assess
    confidence = check_confidence(confidence)
    session = Session(table, path, slo=slo, price_per_instance_hour=price_per_instance_hour, jobs=jobs,
                      engine=engine, dask=dask, progress=progress)
    session.central()
    for r in session.rows:
        _no_figures(r)
    if session.stopped is not None:
        return rank_by_confidence(session.rows), session.variants, session.stopped
    tables = {v.index: v.table for v in session.variants}
    screen = draws is None or draws > 2 * SCREEN_DRAWS  # a screen of most of the draws saves nothing

    def judge(rows: list[dict], stage: str, below_cost: float = math.inf) -> dict | None:
        """Assess ``rows`` cheapest first; the first meeting the confidence (None: none did, or a stop)."""
        order = [r for r in _walk_order(rows) if r["cost"] < below_cost]
        for done, r in enumerate(order, 1):
            kw = dict(slo=slo, seed=seed, jobs=jobs, dask=dask, engine=engine)
            try:
                if screen:
                    first = assess(tables[r["index"]], path, draws=SCREEN_DRAWS, **kw)
                    _figures(r, first, confidence, "screened")
                    if first.partial:
                        session.stopped = INTERRUPTED
                        return None
                    if first.probability_holds_ci[1] < confidence:
                        if progress:
                            progress(stage, done, len(order))
                        continue
                result = assess(tables[r["index"]], path, draws=draws, **kw)
            except KeyboardInterrupt as exc:  # what is assessed is kept
                session.stopped = reason(exc)
                return None
            _figures(r, result, confidence, "assessed")
            if progress:
                progress(stage, done, len(order))
            if result.partial:
                session.stopped = INTERRUPTED
                return None
            if r["meets_confidence"]:
                return r
        return None

    found = judge(session.rows, f"over the plausible surges (confidence {confidence:g})")
    if found is None and session.stopped is None:
        base = session.rows[0]
        singles = [r for r in session.rows if len(r["keys"]) == 1]
        tried = {tuple(sorted(v.keys)) for v in session.variants}

        def shortfall(r):
            return 1.0 - r["probability_holds"] if r["probability_holds"] is not None else math.inf

        for size in (2, 3):
            combos = [c for c in combinations(singles, session.by_key, base, size, shortfall=shortfall,
                                              met=lambda r: bool(r["meets_confidence"]))
                      if tuple(sorted(c)) not in tried][:max(MAX_VARIANTS - len(session.variants), 0)]
            if not combos:
                continue
            batch = [session.variant(c) for c in combos]
            tables.update({v.index: v.table for v in batch})
            fresh = session.run_stage(f"combinations of {size} (central case, for their cost)", batch)
            for r in fresh:
                _no_figures(r)
            if session.stopped is not None:
                break
            found = judge(fresh, f"combinations of {size} over the plausible surges")
            if found is not None or session.stopped is not None:
                break
    return rank_by_confidence(session.rows), session.variants, session.stopped
