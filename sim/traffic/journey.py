"""What a visitor does, and what that costs in page views and HTTP requests.

The story mixes three units; these keep them apart:
- a *visitor* follows one journey;
- a journey has *page views*: a geometric number of browsing pages with mean
  ``visitors.pages_per_visit`` (at least the landing page; after each page the
  visitor leaves with probability 1 / pages_per_visit), plus, with probability
  ``visitors.action_rate``, an action page followed by a form submit;
- a page view is ``visitors.requests_per_page`` HTTP *requests*: the HTML
  document and ``requests_per_page - 1`` assets. A form submit is one request.
  Of these, ``site.cdn.html_hit_ratio`` (documents) and ``site.cdn.hit_ratio``
  (assets) are served at the edge; the rest, and every submit, reach the *origin*.
  The browser fetches a page's asset misses one after another once the document
  has come; the visitor's think time starts when the last of them is done.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.scenario import Scenario
from sim.vocabulary import PAGE, SUBMIT  # a journey's step kinds

__all__ = ["PerVisitor", "per_visitor", "KindWork", "OriginWork", "origin_work", "JourneyPlans", "draw_journeys",
           "PAGE", "SUBMIT"]


@dataclass(frozen=True, kw_only=True)
class PerVisitor:
    """Expected counts per arriving visitor (who is served)."""

    page_views: float
    actions: float
    requests: float
    origin_requests: float


def per_visitor(scenario: Scenario) -> PerVisitor:
    v = scenario.visitors
    cdn = scenario.site.cdn
    html_hit, asset_hit = (0.0, 0.0) if cdn is None else (cdn.html_ratio, cdn.hit_ratio)
    page_views = v.pages_per_visit + v.action_rate
    assets = v.requests_per_page - 1
    return PerVisitor(
        page_views=page_views,
        actions=v.action_rate,
        requests=page_views * v.requests_per_page + v.action_rate,
        origin_requests=page_views * ((1 - html_hit) + assets * (1 - asset_hit)) + v.action_rate,
    )


@dataclass(frozen=True, kw_only=True)
class KindWork:
    """One request kind at the origin, per arriving visitor."""

    requests: float  # requests of this kind reaching the app tier
    app_s: float  # mean app worker time of one (its queries' time included: the worker holds it)
    queries: float  # database queries one makes (a queued submit's: its writer's)

    @property
    def work_s(self) -> float:
        """App worker seconds per visitor."""
        return self.requests * self.app_s


@dataclass(frozen=True, kw_only=True)
class OriginWork:
    """What an arriving visitor asks of the app tier and the database, by request kind (sim.vocabulary)."""

    pages: KindWork  # HTML documents that miss the edge
    submits: KindWork  # form submits
    assets: KindWork  # asset requests that miss the edge
    query_s: float  # mean query time (0 without a database)

    def db_s(self, kind: KindWork) -> float:
        """Database connection seconds per visitor of ``kind``."""
        return kind.requests * kind.queries * self.query_s


def origin_work(scenario: Scenario) -> OriginWork:
    """The origin's work per arriving visitor, by kind, as the engines model it.

    Every journey's first page is the landing page: with ``site.cdn.landing_ttl_s`` > 0 it comes
    from the edge (a TTL of seconds leaves one origin fetch per TTL, nothing beside a surge's
    visitors). With ``[site.signature_queue]`` a submit holds its worker for ``ack_s`` only; its
    queries are still made, by a writer. Without an app tier every kind's ``app_s`` is 0.
    """
    site, v = scenario.site, scenario.visitors
    app, db, cdn = site.app, site.db, site.cdn
    per = per_visitor(scenario)
    html_miss = 1.0 - (cdn.html_ratio if cdn else 0.0)
    asset_miss = 1.0 - (cdn.hit_ratio if cdn else 0.0)
    landing_miss = 0.0 if cdn is not None and cdn.landing_ttl_s > 0 else html_miss
    q = db.query_s.mean if db else 0.0
    qpp, qps = (db.queries_per_page, db.queries_per_submit) if db else (0, 0)
    sigq = site.signature_queue
    if app is None:
        page_s = submit_s = asset_s = 0.0
    else:
        page_s, asset_s = app.page_s.mean + qpp * q, app.asset_s.mean
        submit_s = app.submit_dist.mean + qps * q if sigq is None else sigq.ack_s.mean
    return OriginWork(
        pages=KindWork(requests=landing_miss + (per.page_views - 1) * html_miss, app_s=page_s, queries=qpp),
        submits=KindWork(requests=v.action_rate, app_s=submit_s, queries=qps),
        assets=KindWork(requests=per.page_views * (v.requests_per_page - 1) * asset_miss, app_s=asset_s, queries=0),
        query_s=q)




@dataclass(frozen=True, kw_only=True, eq=False)
class JourneyPlans:
    """Pre-drawn journeys of a chunk of visitors, one row per step (vectorised draws).

    Drawn from the visitor stream in arrival order only, so the same visitors, with
    the same patience and service times, meet every site a sweep compares (common
    random numbers). A retried step repeats the same work.
    """

    first_step: np.ndarray  # per visitor: index of its first step; visitor i owns [first_step[i], first_step[i+1])
    intends_action: np.ndarray  # per visitor, bool
    patience_s: np.ndarray  # per visitor
    kind: np.ndarray  # per step: PAGE or SUBMIT
    think_s: np.ndarray  # per step: pause before the step (0 for the landing page)
    html_hit: np.ndarray  # per step, bool: the page's HTML is served at the edge
    service_s: np.ndarray  # per step: app service time of the document or submit (ack_s with a signature queue and its stream)
    assets: np.ndarray  # per step: asset requests that miss the CDN
    asset_first: np.ndarray  # per step: index of its first asset's service time in ``asset_s``
    asset_s: np.ndarray  # app service time of each asset miss, a step's ``assets`` of them in a row
    query_s: np.ndarray  # per step x queries: database query times (shape (steps, max queries))
    queries: np.ndarray  # per step: number of queries the request makes (a queued submit's: none, its writer's)


def draw_journeys(scenario: Scenario, rng: np.random.Generator, n: int,
                  acks: np.random.Generator | None = None) -> JourneyPlans:
    """Draw the journeys of ``n`` visitors (see the module docstring for the journey).

    With a signature queue and ``acks`` (the queue's own stream), a submit's service time is
    its ``ack_s`` drawn from ``acks``; the visitor stream draws the submit's time all the same,
    so the queue never moves the visitors' draws.
    """
    v = scenario.visitors
    site = scenario.site
    pages = rng.geometric(1.0 / v.pages_per_visit, n) if v.pages_per_visit > 1 else np.ones(n, dtype=np.int64)
    intends = rng.random(n) < v.action_rate
    patience = np.asarray(v.patience_s.sample(rng, n), dtype=float)
    steps_per = pages + 2 * intends  # the action page and the submit
    first = np.concatenate([[0], np.cumsum(steps_per)])
    total = int(first[-1])
    kind = np.full(total, PAGE, dtype=np.int8)
    kind[first[1:][intends] - 1] = SUBMIT  # the last step of an acting visitor
    think = np.asarray(v.think_s.sample(rng, total), dtype=float)
    think[first[:-1]] = 0.0  # the landing page comes at arrival
    cdn, app, db = site.cdn, site.app, site.db
    html_hit = (rng.random(total) < cdn.html_ratio) & (kind == PAGE) if cdn else np.zeros(total, dtype=bool)
    service = np.zeros(total)
    if app is not None:
        is_page = kind == PAGE
        service[is_page] = app.page_s.sample(rng, int(is_page.sum()))
        n_submits = int((~is_page).sum())
        service[~is_page] = app.submit_dist.sample(rng, n_submits)
        if site.signature_queue is not None and acks is not None:
            # The submit only enqueues and answers: its ack_s, from the queue's stream (the
            # visitor stream's submit draw above is kept, unused, for common random numbers).
            service[~is_page] = site.signature_queue.ack_s.sample(acks, n_submits)
    miss = 1.0 - (cdn.hit_ratio if cdn else 0.0)
    assets = np.where(kind == PAGE, rng.binomial(v.requests_per_page - 1, miss, total), 0)
    asset_first = (np.cumsum(assets) - assets).astype(np.int64)
    n_assets = int(assets.sum())
    # Drawn per request: the browser sends them one at a time, each a job of its own at the origin.
    asset_s = (np.asarray(app.asset_s.sample(rng, n_assets), dtype=float) if app is not None and n_assets
               else np.zeros(n_assets))
    if db is not None:
        # A queued signature's queries are made by its writer, from the submit's row of query times.
        per_submit = db.queries_per_submit if site.signature_queue is None else 0
        queries = np.where(kind == PAGE, db.queries_per_page, per_submit).astype(np.int64)
        width = int(max(db.queries_per_page, db.queries_per_submit))
        query = np.asarray(db.query_s.sample(rng, total * width), dtype=float).reshape(total, width) if width else np.zeros((total, 0))
    else:
        queries = np.zeros(total, dtype=np.int64)
        query = np.zeros((total, 0))
    return JourneyPlans(first_step=first, intends_action=intends, patience_s=patience, kind=kind, think_s=think,
                        html_hit=html_hit, service_s=service, assets=assets, asset_first=asset_first, asset_s=asset_s,
                        query_s=query, queries=queries)
