"""``surge advise --confidence P``: the cheapest mitigation, or combination, that meets the SLO in at
least a fraction P of the plausible surges (the scenario's ``[uncertain."KEY"]`` ranges).

The central case's advice comes first, as ``surge advise`` gives it (:class:`sim.analysis.advise.Session`):
every variant run once on the scenario's point values and costed from that run. Variants are then
assessed over the plausible surges (:func:`sim.analysis.risk.assess`: each variant meets the same
design points with the same per-draw seeds, common random numbers, so two variants differ by their
mitigations, not by the surges they met), cheapest first (cost, then fewer changes, then the central
case's losses). The walk stops at the first variant that holds in at least P of the surges: every
variant after it costs as much or more, so none can be cheaper.

Most variants are ruled out before drawing many surges. The draws are ranked by the fluid model's
score for the scenario as it is (:mod:`sim.analysis.screen`: the surge's severity), and losses grow
with the surge: a variant that fails a surge fails the more severe ones too, so it holds in at most
the share of the draws no more severe. A variant failing the central case is bounded so, at no cost;
one holding it is simulated on the one draw whose severity rank is just below P - ``PRUNE_MARGIN``
(the same draw, with the same seed, that ``assess`` would simulate) and bounded so where it fails
there. A variant is ruled out where its bound is below P by the margin (``assessed: "ruled out"``,
the bound in ``probability_holds_bound``); the others are assessed in full. When no variant of the
central case's advice holds often enough, combinations of the single mitigations that raised the
probability most (one per group, as ``surge advise`` combines) are run on the central case, for
their cost, and judged the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.analysis.advise import (DEFAULT_PRICE_PER_INSTANCE_HOUR, MAX_VARIANTS, Session, Variant, combinations,
                                 lost_fraction, rank)
from sim.analysis.runner import run_points, shared_pool
from sim.analysis.screen import DrawPoint, draw_figures, run_draw, screen_draw
from sim.config.uncertain import point_table
from sim.errors import ConfigError
from sim.interrupts import INTERRUPTED, reason

__all__ = ["advise_with_confidence", "rank_by_confidence", "check_confidence", "Surges", "rank_surges", "PRUNE_MARGIN",
           "CONFIDENCE_KEYS"]

# The severity ranking is the fluid model's for the site as it is: a variant (more capacity, a cache, a
# queue) may order a few surges differently, so the bound must fall short of P by a margin before it
# rules a variant out; tests/analysis/test_confidence.py assesses the variants it rules out and finds
# them below P.
PRUNE_MARGIN = 0.05
# The keys a row gains; None where a variant was not assessed (it could not be the cheapest).
CONFIDENCE_KEYS = ("probability_holds", "probability_holds_ci", "meets_confidence", "assessed",
                   "probability_holds_bound", "draws", "draws_simulated", "confidence_partial")


def check_confidence(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ConfigError("--confidence", f"must be within (0, 1), e.g. 0.9, got {confidence!r}")
    return float(confidence)


def _no_figures(row: dict) -> None:
    row.update({"probability_holds": None, "probability_holds_ci": None, "meets_confidence": None,
                "assessed": "no", "probability_holds_bound": None, "draws": 0, "draws_simulated": 0, "confidence_partial": False})


def _figures(row: dict, result, confidence: float) -> None:
    lo, hi = result.probability_holds_ci
    row.update({"probability_holds": result.probability_holds, "probability_holds_ci": [lo, hi],
                "meets_confidence": not result.partial and result.probability_holds >= confidence,
                "assessed": "assessed", "draws": len(result.draws), "draws_simulated": result.simulated,
                "confidence_partial": bool(result.partial)})


@dataclass(frozen=True, kw_only=True)
class Surges:
    """``assess``'s plausible surges (the same design points and per-draw seeds) ranked by severity: the
    fluid model's score for the scenario as it is (:func:`sim.analysis.screen.draw_figures`)."""

    values: tuple[dict, ...]  # per draw: uncertain key -> value
    seeds: tuple  # per draw: its SeedSequence
    scores: np.ndarray  # per draw
    central_score: float
    path: str
    slo: str

    def milder(self, score: float) -> float:
        """The share of the draws a variant failing at ``score`` may hold in: those no more severe (ties
        included: the score cannot order them)."""
        return float(np.mean(self.scores <= score))

    def probe(self, table: dict, share: float) -> tuple[DrawPoint, float]:
        """The draw whose severity rank is just below ``share`` of the draws, on ``table`` (a variant), and
        the share a variant failing it may hold in (itself excluded)."""
        d = int(np.argsort(self.scores, kind="stable")[max(math.floor(share * len(self.scores)) - 1, 0)])
        bound = (np.count_nonzero(self.scores <= self.scores[d]) - 1) / len(self.scores)
        return DrawPoint(index=d, table=point_table(table, self.values[d]), path=self.path, values=self.values[d],
                         seed_seq=self.seeds[d], slo=self.slo), float(bound)


def rank_surges(table: dict, path: str, *, slo: str, draws: int | None = None, seed: int | None = None,
                jobs: int = 1, dask: str | None = None,
                progress: Callable[[str, int, int], None] | None = None) -> tuple[Surges | None, str | None]:
    """The plausible surges ranked (see :class:`Surges`), and why it stopped (None: done; else no surges)."""
    from sim.analysis.risk import DEFAULT_DRAWS, plan_draws
    from sim.config.scenario import parse_scenario
    from sim.config.uncertain import read_uncertain

    # By default assess judges the first half of its design first, and more only while its interval is wide:
    # the surges ranked are those first ones.
    n = DEFAULT_DRAWS // 2 if draws is None else draws
    seed = parse_scenario(table, path=path).run.seed if seed is None else seed
    points = plan_draws(table, path, read_uncertain(table, path), slo=slo, draws=n, seed=seed)
    stage = "ranking the plausible surges (fluid model)"
    got = run_points(points, replications=1, seed=seed, engine="auto", jobs=jobs, dask_address=dask,
                     progress=lambda done, total: progress and progress(stage, done, total), fn=screen_draw)
    if got.stopped or len(got) < n:
        return None, got.stopped or INTERRUPTED
    central = draw_figures(DrawPoint(index=-1, table=point_table(table, {}), path=path, values={},
                                     seed_seq=points[0].seed_seq, slo=slo))["score"]
    return Surges(values=tuple(p.values for p in points), seeds=tuple(p.seed_seq for p in points), scores=np.array([r["score"] for r in got], dtype=float),
                  central_score=float(central), path=path, slo=slo), None


def rank_by_confidence(rows: list[dict]) -> list[dict]:
    """Those meeting the confidence by cost (then fewer changes, then the higher probability); then the
    rest assessed, by probability of holding, then cost; then those ruled out or not assessed, as
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
                           ) -> tuple[list[dict], list[Variant], str | None]:
    """Rows ranked by :func:`rank_by_confidence` (each with ``surge advise``'s keys and ``CONFIDENCE_KEYS``),
    the variants run, and why it stopped (None: done)."""
    confidence = check_confidence(confidence)
    with shared_pool(jobs):  # the stages and every assessment's batches of draws on one pool of processes
        return _advise(table, path, slo=slo, confidence=confidence, draws=draws, seed=seed,
                       price_per_instance_hour=price_per_instance_hour, jobs=jobs, engine=engine, dask=dask,
                       progress=progress)


def _advise(table: dict, path: str, *, slo: str, confidence: float, draws: int | None, seed: int | None,
            price_per_instance_hour: float, jobs: int, engine: str, dask: str | None,
            progress: Callable[[str, int, int], None] | None) -> tuple[list[dict], list[Variant], str | None]:
    from sim.analysis.risk import assess

    session = Session(table, path, slo=slo, price_per_instance_hour=price_per_instance_hour, jobs=jobs,
                      engine=engine, dask=dask, progress=progress)
    session.central()
    for r in session.rows:
        _no_figures(r)
    if session.stopped is not None:
        return rank_by_confidence(session.rows), session.variants, session.stopped
    tables = {v.index: v.table for v in session.variants}
    try:
        surges, session.stopped = rank_surges(table, path, slo=slo, draws=draws, seed=seed, jobs=jobs, dask=dask,
                                              progress=progress)
    except KeyboardInterrupt as exc:  # between the pool's batches: what the central case gave is kept
        session.stopped = reason(exc)
    if session.stopped is not None:
        return rank_by_confidence(session.rows), session.variants, session.stopped

    def ruled_out(row: dict, variant: dict) -> float | None:
        """The share of the surges ``row`` may hold in at most, where it is below P by the margin; None where
        it is not (or a stop came: ``session.stopped``). A variant failing the central case is bounded by the
        central case's severity; one holding it is tried on the surge just below P - margin in severity."""
        if not row["complete"]:
            return None
        if not row["meets_slo"]:
            bound = surges.milder(surges.central_score)
            return bound if bound < confidence - PRUNE_MARGIN else None
        point, bound = surges.probe(variant, confidence - PRUNE_MARGIN)
        if bound >= confidence - PRUNE_MARGIN:  # ties in the score: the surges cannot be told apart there
            return None
        got = run_points([point], replications=1, seed=None, engine=engine, jobs=jobs, dask_address=dask,
                         progress=lambda done, total: None, fn=run_draw)
        if got.stopped or not got or not got[0]["complete"]:
            session.stopped = got.stopped or INTERRUPTED
            return None
        row["probe"] = {"draw": point.index, "inputs": point.values, "holds": got[0]["holds"],
                        "lost_actions_fraction": got[0]["lost_actions_fraction"],
                        "lost_visitors_fraction": got[0]["lost_visitors_fraction"]}
        return None if got[0]["holds"] else bound

    def judge(rows: list[dict], stage: str) -> dict | None:
        """Judge ``rows`` cheapest first; the first meeting the confidence (None: none did, or a stop)."""
        order = _walk_order(rows)
        for done, r in enumerate(order, 1):
            bound = ruled_out(r, tables[r["index"]])
            if bound is not None:
                r.update({"assessed": "ruled out", "probability_holds_bound": bound, "meets_confidence": False})
            elif session.stopped is not None:
                return None
            else:
                try:
                    result = assess(tables[r["index"]], path, slo=slo, draws=draws, seed=seed, jobs=jobs, dask=dask,
                                    engine=engine)
                except KeyboardInterrupt as exc:  # between its batches: the variants judged so far are kept
                    session.stopped = reason(exc)
                    return None
                _figures(r, result, confidence)
                if result.partial:
                    session.stopped = result.stopped or INTERRUPTED
                    return None
            if progress:
                progress(stage, done, len(order))
            if r["meets_confidence"]:
                return r
        return None

    found = judge(session.rows, f"over the plausible surges (confidence {confidence:g})")
    if found is None and session.stopped is None:
        base = session.rows[0]
        singles = [r for r in session.rows if len(r["keys"]) == 1]
        tried = {tuple(sorted(v.keys)) for v in session.variants}

        def shortfall(r):  # a ruled-out variant by its bound, a central case's loss beyond the SLO ranking it
            if r["probability_holds"] is not None:
                return 1.0 - r["probability_holds"]
            if r["probability_holds_bound"] is None:
                return math.inf
            return 2.0 - r["probability_holds_bound"] + min(lost_fraction(r), 1.0)

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
