"""An instant capacity plan: Erlang C where the site keeps up, a fluid model where it does not.

The app tier is seen as one many-server queue: the scenario's visitors bring documents,
submits and asset requests (``sim.traffic.journey``), whose mean work (service plus the time
their database queries hold the worker) gives the offered load per bin. Where the load
is below capacity, Erlang C gives waits; the least number of workers meeting a wait or
response-time objective is taken at the busiest bin. Where the peak exceeds capacity,
Whitt's fluid approximation of a many-server queue with abandonment (Whitt 2006),
with the backlog capped at the instances' queue limits (the excess is rejected with a
503), estimates the requests given up on and rejected; retries turn a lost first
attempt into a lost visitor with probability about ``1 - retry.probability``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.analysis import theory
from sim.traffic.journey import origin_work
from sim.traffic.profile import build_profile
from sim.config.scenario import Scenario
from sim.analysis.slo import Objective
from sim.stats.figures import terms_where

__all__ = ["Workload", "workload", "least_workers", "fluid_losses", "FluidLosses", "PLANNABLE", "PLAN_DEFAULT_SLO"]

PLANNABLE = terms_where("plannable")  # the SLO terms plan sizes the workers for (sim.stats.figures)
PLAN_DEFAULT_SLO = "p95<2s"  # what surge plan sizes for without --slo
_QUANTILE = {"50": 0.5, "95": 0.95, "99": 0.99}


@dataclass(frozen=True, kw_only=True)
class Workload:
    """The app tier's load: requests per visitor, their mean work, and the visitor rate per bin."""

    bin_s: float
    visitors_per_s: np.ndarray
    requests_per_visitor: float
    document_share: float  # of requests, those a visitor waits for (documents and submits)
    work_s: float  # mean worker time per request
    page_work_s: float  # mean worker time of a page's document
    query_rate_per_visitor: float
    query_s: float


def workload(scenario: Scenario, *, bin_s: float = 10.0) -> Workload:
    """The profile's visitors per bin and what each asks of the app tier (``origin_work``)."""
    edges, counts = build_profile(scenario).binned(bin_s)
    w = origin_work(scenario)
    docs, submits, assets = w.pages.requests, w.submits.requests, w.assets.requests
    requests = docs + submits + assets
    work = w.pages.work_s + w.submits.work_s + w.assets.work_s
    return Workload(
        bin_s=bin_s, visitors_per_s=counts / np.diff(edges), requests_per_visitor=requests,
        document_share=(docs + submits) / requests if requests else 0.0,
        work_s=work / requests if requests else 0.0, page_work_s=w.pages.app_s,
        query_rate_per_visitor=docs * w.pages.queries + submits * w.submits.queries, query_s=w.query_s,
    )


def least_workers(load: Workload, objective: Objective) -> int:
    """Least total workers meeting a wait or response-time objective at the busiest bin (Erlang C)."""
    if objective.metric not in PLANNABLE:
        raise ValueError(f"the plan handles {', '.join(PLANNABLE)}, not {objective.metric!r}")
    q = _QUANTILE[objective.metric[-2:]]
    lam = float(load.visitors_per_s.max(initial=0.0)) * load.requests_per_visitor
    if not (lam > 0 and load.work_s > 0):
        return 1  # no work reaches the app: one worker (the least an instance has) keeps up
    mu = 1.0 / load.work_s
    # Response = wait + service: budget the wait with the page's mean work taken off.
    wait_s = objective.limit - (0.0 if objective.metric.startswith("wait") else load.page_work_s)
    if wait_s < 0:
        return -1  # no number of workers: the service time alone breaks the objective
    return theory.min_servers_erlang_c(lam, mu, wait_s=wait_s, max_p=1.0 - q)


@dataclass(frozen=True, kw_only=True)
class FluidLosses:
    requests_abandoned: float
    requests_rejected: float
    visitors_abandoned: float
    visitors_failed: float
    overloaded_s: float
    peak_queue: float


def fluid_losses(load: Workload, *, servers: int, queue_limit: float, patience_mean_s: float,
                 retry_probability: float, iterations: int = 4, patience_s=None) -> FluidLosses:
    """Requests and visitors lost where the peak exceeds capacity (fluid model, bin by bin).

    Retries add load where requests are lost: a document lost with probability l comes
    back with probability p, so the documents arriving are 1 / (1 - p l) times the first
    attempts (a fixed point, found in a few passes); and a page's assets come only after its
    document was served, so they arrive at the served documents' rate. A visitor ends lost
    when a loss is not followed by a retry: lost documents x (1 - p).

    ``patience_s`` (a distribution): visitors give up at its hazard over the current wait,
    ``-ln(1 - F(w)) / w`` at ``w`` = queue / capacity, instead of the exponential's ``1 / mean``
    (a lognormal patience of median 3 s gives up half as often as an exponential of the same
    mean at a 0.7 s wait).
    """
    draws = None
    if patience_s is not None:  # F(w) from a fixed sample: deterministic, for any law
        draws = np.sort(np.asarray(patience_s.sample(np.random.default_rng(0), 20_000), dtype=float))
    docs = load.requests_per_visitor * load.document_share
    assets = load.requests_per_visitor - docs
    boost = np.ones(len(load.visitors_per_s))
    loss = np.zeros(len(load.visitors_per_s))
    for _ in range(iterations):
        doc_rate = load.visitors_per_s * docs * boost
        # A page's assets are fetched once its document is served: a lost document brings none.
        asset_rate = doc_rate * np.clip(1.0 - loss, 0.0, 1.0) * (assets / docs if docs else 0.0)
        totals, lost = _fluid(load, doc_rate, asset_rate, servers=servers,
                              queue_limit=queue_limit, patience_mean_s=patience_mean_s, patience_draws=draws)
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.where(doc_rate > 0, lost / (doc_rate * load.bin_s), 0.0)
        boost = 1.0 / (1.0 - retry_probability * np.clip(loss, 0.0, 0.99))
    abandoned, rejected_docs, rejected, overloaded, peak = totals
    keep = 1.0 - retry_probability
    return FluidLosses(requests_abandoned=abandoned, requests_rejected=rejected,
                       visitors_abandoned=abandoned * keep, visitors_failed=rejected_docs * keep,
                       overloaded_s=overloaded, peak_queue=peak)


def _hazard(draws: np.ndarray, wait_s: float) -> float:
    f = min(np.searchsorted(draws, wait_s, side="right") / len(draws), 1 - 1 / len(draws))
    return -math.log1p(-f) / wait_s


def _fluid(load: Workload, doc_rate: np.ndarray, asset_rate: np.ndarray, *, servers: int, queue_limit: float,
           patience_mean_s: float, patience_draws: np.ndarray | None = None):
    mu = 1.0 / load.work_s
    theta = 1.0 / patience_mean_s if patience_mean_s > 0 and not math.isinf(patience_mean_s) else 0.0
    cap = servers * mu
    q = abandoned = rejected = rejected_docs = overloaded = peak = 0.0
    lost = np.zeros(len(doc_rate))
    for i, (lam_d, lam_b) in enumerate(zip(doc_rate, asset_rate)):
        lam = lam_d + lam_b
        # Only documents carry a visitor's patience: the queue's abandonment rate is q * share * theta.
        share = lam_d / lam if lam > 0 else 0.0
        if patience_draws is not None and not (q <= 0 and lam <= cap):  # a bin the servers keep up with needs none
            theta = _hazard(patience_draws, max(q, 1.0) / cap)
        gamma = theta * share
        a0, r0 = abandoned, rejected
        t_left = load.bin_s
        while t_left > 1e-12:
            if q <= 0 and lam <= cap:
                q = 0.0
                break  # the servers keep up: no queue in the fluid limit
            overloaded += t_left
            excess = lam - cap
            if q >= queue_limit and excess - gamma * q >= 0:
                # At the cap: everything the queue cannot hold is rejected.
                abandoned += gamma * q * t_left
                rejected += (excess - gamma * q) * t_left
                break
            # dq/dt = excess - gamma q: solved exactly until the bin ends, or the cap or zero is reached.
            if gamma > 0:
                target = excess / gamma
                step = _time_to(q, target, gamma, queue_limit if excess > 0 else 0.0, t_left)
                q_new = target + (q - target) * math.exp(-gamma * step)
                abandoned += excess * step - (q_new - q)  # arrived beyond capacity and did not stay
            else:
                step = min(t_left, (queue_limit - q) / excess if excess > 0 else q / -excess)
                q_new = q + excess * step
            if q_new == q and t_left - step == t_left:
                # Within a rounding of the cap or of zero, the step is below both clocks' resolution: go there.
                q_new = queue_limit if excess > 0 else 0.0
            q = min(max(q_new, 0.0), queue_limit)
            peak = max(peak, q)
            t_left -= step
        rejected_docs += (rejected - r0) * share
        lost[i] = (abandoned - a0) + (rejected - r0) * share
    return (abandoned, rejected_docs, rejected, overloaded, peak), lost


def _time_to(q: float, target: float, gamma: float, bound: float, t_left: float) -> float:
    """Time for q(t) = target + (q - target) e^{-gamma t} to reach ``bound`` (at most t_left)."""
    if q == target or not (min(q, target) < bound < max(q, target)):
        return t_left
    return min(t_left, -math.log((bound - target) / (q - target)) / gamma)
