"""An open-workload load test planned from a scenario: when visitors arrive, what they ask for.

Pure: no HTTP, no locust. The locust driver in ``loadtests/`` only carries the plan out.
The scenario's surge is played ``time_scale`` times faster and ``scale`` times smaller:
in wall time the arrival rate is ``scale * time_scale * rate_per_s(time_scale * t)``,
so the test sees ``scale`` times the scenario's visitors in ``1 / time_scale`` of its time.
Think times shrink with the time scale; latencies are whatever the site gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.traffic.arrivals import sample_arrivals
from sim.errors import ConfigError
from sim.traffic.journey import SUBMIT, draw_journeys, per_visitor
from sim.traffic.profile import build_profile
from sim.config.checks import LIMIT
from sim.config.limits import MAX_LOADTEST_VISITORS
from sim.config.scenario import Scenario

__all__ = ["HttpRequest", "Visit", "LoadPlan", "ASSET_MODES", "DOCUMENT", "ASSET", "FORM"]

ASSET_MODES = ("all", "misses", "none")
DOCUMENT, ASSET, FORM = "document", "asset", "submit"


@dataclass(frozen=True, kw_only=True)
class HttpRequest:
    method: str
    path: str
    kind: str  # DOCUMENT, ASSET or FORM
    form: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class Visit:
    """One visitor: ``steps`` of (think before it in wall seconds, the document, its assets)."""

    intends_action: bool
    steps: tuple[tuple[float, HttpRequest, tuple[HttpRequest, ...]], ...]


class LoadPlan:
    def __init__(self, scenario: Scenario, *, time_scale: float = 1.0, scale: float = 1.0,
                 duration_s: float | None = None, assets: str = "misses") -> None:
        if not (0 < time_scale < math.inf):
            raise ConfigError("--time-scale", f"must be > 0, got {time_scale!r}")
        if not (0 < scale < math.inf):
            raise ConfigError("--scale", f"must be > 0, got {scale!r}")
        if duration_s is not None and not (0 < duration_s < math.inf):
            raise ConfigError("--duration-s", f"must be > 0, got {duration_s!r}")
        if assets not in ASSET_MODES:
            raise ConfigError("--assets", f"must be one of {', '.join(ASSET_MODES)}, got {assets!r}")
        self.scenario = scenario
        self.time_scale = float(time_scale)
        self.scale = float(scale)
        self.assets = assets
        full = scenario.run.duration_s
        self.sim_duration_s = full if duration_s is None else min(full, duration_s * time_scale)
        self.duration_s = self.sim_duration_s / self.time_scale  # wall seconds of arrivals
        self.profile = build_profile(scenario)
        expected = self.expected_visitors()
        if not expected <= MAX_LOADTEST_VISITORS:  # its arrivals are drawn at once, and each visitor is a greenlet
            raise ConfigError("--scale", f"the load test expects {expected:.4g} visitors ({scale:g} x the "
                              f"scenario's), more than the {MAX_LOADTEST_VISITORS:g} a load test may send ({LIMIT})")

    # -- the rate, a thin wrapper over the profile (the surge lives in sim.traffic.profile) -------
    def target_rate_per_s(self, t_s: float) -> float:
        """Visitors per wall second the test aims at ``t_s`` seconds after its start."""
        if not (0 <= t_s < self.duration_s):
            return 0.0
        return float(self.scale * self.time_scale * self.profile.rate_per_s(t_s * self.time_scale))

    def expected_visitors(self) -> float:
        return self.scale * self.profile.expected_visitors(0.0, self.sim_duration_s)

    def planned_visitors(self, t_s: float) -> float:
        """Visitors the plan expects in its first ``t_s`` wall seconds."""
        t = min(max(t_s, 0.0), self.duration_s) * self.time_scale
        return self.scale * float(self.profile.cumulative(t))

    def target_per_bin(self) -> tuple[np.ndarray, np.ndarray]:
        """Bin edges in simulated seconds (``run.bin_s``) and the expected arrivals in each."""
        edges, counts = self.profile.binned(self.scenario.run.bin_s)
        keep = edges[:-1] < self.sim_duration_s
        edges = np.minimum(edges[: int(keep.sum()) + 1], self.sim_duration_s)
        return edges, self.scale * np.diff(self.profile.cumulative(edges))

    # -- what happens ---------------------------------------------------------------------
    def arrivals(self, rng: np.random.Generator, *, share: float = 1.0) -> np.ndarray:
        """Arrival times in wall seconds; ``share`` of the rate (a worker's part of a distributed test)."""
        sim_times = sample_arrivals(self.profile, rng, t1_s=self.sim_duration_s, scale=self.scale * share)
        return sim_times / self.time_scale

    def visits(self, rng: np.random.Generator, n: int) -> list[Visit]:
        """``n`` visitors' journeys, drawn as the model draws them (sim.traffic.journey)."""
        plans = draw_journeys(self.scenario, rng, n)
        site = self.scenario.loadtest.site
        rpp = self.scenario.visitors.requests_per_page
        visits = []
        asset_turn = 0
        for i in range(n):
            lo, hi = int(plans.first_step[i]), int(plans.first_step[i + 1])
            steps = []
            for k, s in enumerate(range(lo, hi)):
                think = float(plans.think_s[s]) / self.time_scale
                if plans.kind[s] == SUBMIT:
                    doc = HttpRequest(method="POST", path=site.submit_path, kind=FORM, form=site.submit_fields)
                    steps.append((think, doc, ()))
                    continue
                if k == 0:
                    path = site.landing_path
                elif s + 1 < hi and plans.kind[s + 1] == SUBMIT:
                    path = site.action_path
                else:
                    path = site.page_paths[(k - 1) % len(site.page_paths)]
                count = {"all": rpp - 1, "misses": int(plans.assets[s]), "none": 0}[self.assets]
                if not site.asset_paths:
                    count = 0
                assets = []
                for _ in range(count):
                    assets.append(HttpRequest(method="GET", path=site.asset_paths[asset_turn % len(site.asset_paths)],
                                              kind=ASSET))
                    asset_turn += 1
                steps.append((think, HttpRequest(method="GET", path=path, kind=DOCUMENT), tuple(assets)))
            visits.append(Visit(intends_action=bool(plans.intends_action[i]), steps=tuple(steps)))
        return visits

    def requests_per_visitor(self) -> float:
        """HTTP requests a visitor sends on average (documents, submits and the assets sent)."""
        each = per_visitor(self.scenario)
        v = self.scenario.visitors
        asset_share = self.asset_share if self.scenario.loadtest.site.asset_paths else 0.0
        return each.page_views + v.pages_per_visit * (v.requests_per_page - 1) * asset_share

    @property
    def asset_share(self) -> float:
        """The chance that each of a page's asset requests is sent: all (1), only the CDN misses, or none (0)."""
        cdn = self.scenario.site.cdn
        return {"all": 1.0, "misses": 1.0 - (cdn.hit_ratio if cdn else 0.0), "none": 0.0}[self.assets]

    @property
    def load_factor(self) -> float:
        """The fraction of the surge's real arrival rate the test plays: ``scale x time_scale``."""
        return self.scale * self.time_scale

    def real_peak_per_s(self) -> float:
        """The real surge's peak arrival rate (visitors per second) within the part of it played."""
        step = max(1.0, self.sim_duration_s / 200_000)
        grid = np.unique(np.concatenate([np.arange(0.0, self.sim_duration_s, step),
                                         [s.at_s for s in self.scenario.traffic.shares if s.at_s < self.sim_duration_s]]))
        return float(np.max(self.profile.rate_per_s(grid))) if len(grid) else 0.0

    def peak_requests_per_s(self) -> float:
        """Requests per second at the played peak: its visitor arrivals x the requests a visitor sends."""
        return self.load_factor * self.real_peak_per_s() * self.requests_per_visitor()

    def describe(self) -> dict:
        real_peak = self.real_peak_per_s()
        return {"time_scale": self.time_scale, "scale": self.scale, "duration_s": self.duration_s,
                "sim_duration_s": self.sim_duration_s, "assets": self.assets,
                "expected_visitors": self.expected_visitors(), "load_factor": self.load_factor,
                "real_peak_visitors_per_s": real_peak, "played_peak_visitors_per_s": self.load_factor * real_peak}
