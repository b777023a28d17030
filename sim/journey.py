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
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario import Scenario

__all__ = ["PerVisitor", "per_visitor"]


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
