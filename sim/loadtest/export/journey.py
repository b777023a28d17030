"""One visitor's journey as the exported scripts replay it: the model's journey, with fixed think times.

The same steps as the locust replay (``LoadPlan.visits``): the landing page; after each page, another
with probability ``1 - 1 / pages_per_visit`` (the paths of ``[loadtest.site].page_paths`` in turn);
then, with probability ``action_rate``, the action page and the form's POST. Each page sends up to
``requests_per_page - 1`` asset requests, each with the probability the plan's ``assets`` mode gives
(all, CDN misses only, none). Every think time is the scenario's median think, time-compressed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.config.distributions import Constant, Distribution, Empirical, Exponential, Lognormal, Uniform
from sim.errors import ConfigError
from sim.loadtest.schedule import LoadPlan

__all__ = ["Journey", "journey_of", "median_s"]


def median_s(dist: Distribution) -> float:
    """A distribution's median: exact where it has a closed form, else of 200,001 seeded draws."""
    if isinstance(dist, Constant):
        return float(dist.value)
    if isinstance(dist, Exponential):
        return float(dist.mean_s) * math.log(2)
    if isinstance(dist, Lognormal):
        return float(dist.median)
    if isinstance(dist, Uniform):
        return (dist.low + dist.high) / 2
    if isinstance(dist, Empirical):
        return float(np.median(dist.samples))
    return float(np.median(dist.sample(np.random.default_rng(0), 200_001)))


@dataclass(frozen=True, kw_only=True)
class Journey:
    landing_path: str
    page_paths: tuple[str, ...]
    action_path: str
    submit_path: str
    submit_fields: tuple[tuple[str, str], ...]
    asset_paths: tuple[str, ...]
    more_pages_p: float  # after each browsing page, the chance of one more: 1 - 1 / pages_per_visit
    action_p: float  # visitors.action_rate: the action page, then the form's POST
    think_median_s: float  # the scenario's median think time (simulated seconds)
    think_ms: int  # the same, time-compressed, in wall milliseconds
    asset_slots: int  # asset requests a page may send: requests_per_page - 1 (0 without asset paths or sending none)
    asset_p: float  # the chance each is sent: 1 (all), the CDN miss ratio (misses)

    def asset_path(self, slot: int) -> str:
        return self.asset_paths[slot % len(self.asset_paths)]

    @property
    def think_s(self) -> float:
        return self.think_ms / 1000

    @property
    def pages(self) -> float:
        """Browsing pages per visitor on average (the landing page included)."""
        return 1 / (1 - self.more_pages_p)

    @property
    def requests(self) -> float:
        """HTTP requests per visitor on average: documents, the form's POST and the assets sent."""
        pages = self.pages + self.action_p
        return pages * (1 + self.asset_slots * self.asset_p) + self.action_p

    @property
    def thinks(self) -> float:
        """Think times per visitor on average: one before every step but the landing page."""
        return self.pages - 1 + 2 * self.action_p


def journey_of(plan: LoadPlan) -> Journey:
    scenario = plan.scenario
    site, v = scenario.loadtest.site, scenario.visitors
    think = median_s(v.think_s)
    if not math.isfinite(think):
        raise ConfigError("visitors.think_s", f"has an infinite median ({think}): a script cannot wait that long")
    share = plan.asset_share
    slots = v.requests_per_page - 1 if site.asset_paths and share > 0 else 0
    return Journey(
        landing_path=site.landing_path, page_paths=tuple(site.page_paths), action_path=site.action_path,
        submit_path=site.submit_path, submit_fields=tuple(site.submit_fields), asset_paths=tuple(site.asset_paths),
        more_pages_p=1.0 - 1.0 / v.pages_per_visit, action_p=float(v.action_rate), think_median_s=think,
        think_ms=round(think / plan.time_scale * 1000), asset_slots=slots, asset_p=share if slots else 0.0)
