"""What a run records: per-bin counters, latency histograms and time-weighted levels.

Everything streams into fixed-size accumulators (bins over the simulated time and
log-bucket histograms), so memory follows the simulated duration, never the number
of requests. Totals for the summary cover what happens after ``run.warmup_s``;
the time series shows every bin.
"""

from __future__ import annotations

from collections import Counter

from sim.journey import PAGE, SUBMIT
from sim.metrics import BinnedSeries, LogHistogram, TimeWeighted
from sim.scenario import Scenario

__all__ = ["Recorder", "LEVELS"]

ASSETS = 2
# Time-weighted levels, each averaged per bin.
LEVELS = ("app_busy", "app_queue", "app_capacity", "instances",
          "db_busy", "db_queue", "db_capacity", "room_active", "room_queue")


class Recorder:
    def __init__(self, scenario: Scenario) -> None:
        run = scenario.run
        self.warmup_s = run.warmup_s
        self.duration_s = run.duration_s
        self.series = BinnedSeries(duration_s=run.duration_s, bin_s=run.bin_s)
        self.levels = {name: TimeWeighted(duration_s=run.duration_s, bin_s=run.bin_s) for name in LEVELS}
        self.wait = LogHistogram()  # arrival at the app tier -> start of service
        self.response = LogHistogram()  # every completed origin request
        self.page_response = LogHistogram()  # completed page views and submits: what visitors wait for
        self.totals: Counter[str] = Counter()
        self.abandoned_wait_s = 0.0  # total time abandoned requests waited (for Little's law)
        self._capacity = self._connections = -1
        site = scenario.site
        self.modelled = {"app": site.app is not None, "db": site.db is not None,
                         "autoscale": site.autoscale is not None, "waiting_room": site.waiting_room is not None,
                         "cdn": site.cdn is not None}
        if site.app is not None:
            self.app_levels(0.0, 0, 0, site.app.instances * site.app.workers, site.app.instances)
        if site.db is not None:
            self.db_levels(0.0, 0, 0, site.db.connections)

    # -- visitors ---------------------------------------------------------------------
    def visitor_arrived(self, t: float, measured: bool, intends_action: bool) -> None:
        self.series.count("arrivals", t)
        if measured:
            self.totals["visitors.arrived"] += 1
            self.totals["actions.attempted"] += intends_action

    def visitor_left(self, t: float, measured: bool, intends_action: bool, outcome: str, *, acted: bool,
                     where: str) -> None:
        if outcome != "served":
            self.series.count(f"visitors_{outcome}", t)
        lost = intends_action and not acted
        if lost:
            self.series.count("actions_lost", t)
        if measured:
            self.totals[f"visitors.{outcome}"] += 1
            self.totals["actions.lost"] += lost
            if where == "waiting_room":
                self.totals["waiting_room.abandoned"] += 1

    def retry(self, t: float) -> None:
        self.series.count("retries", t)
        if t >= self.warmup_s:
            self.totals["visitors.retries"] += 1

    # -- page views -------------------------------------------------------------------
    def page_view(self, t: float, kind: int) -> None:
        self.series.count("page_views" if kind == PAGE else "submits", t)
        if t >= self.warmup_s:
            self.totals["page_views.attempted" if kind == PAGE else "actions.submits"] += 1

    def cdn_hits(self, t: float, hits: int) -> None:
        if hits:
            self.series.count("cdn_hits", t, hits)
            if t >= self.warmup_s:
                self.totals["requests.cdn_hits"] += hits

    def origin_unmodelled(self, t: float, kind: int) -> None:
        if t >= self.warmup_s:
            self.totals["requests.unmodelled"] += 1

    def page_result(self, t: float, kind: int, result: str) -> None:
        if result != "ok":
            return
        self.series.count("completed" if kind == PAGE else "actions_completed", t)
        if t >= self.warmup_s:
            self.totals["page_views.completed" if kind == PAGE else "actions.completed"] += 1

    # -- origin requests -----------------------------------------------------------------
    def request_arrived(self, req) -> None:
        self.series.count("origin_requests", req.arrival_s, req.count)
        if req.measured:
            self.totals["requests.arrived"] += req.count

    def request_started(self, req) -> None:
        if req.measured:
            self.wait.add(req.start_s - req.arrival_s)
            self.totals["requests.started"] += req.count

    def request_completed(self, req) -> None:
        now = self._now(req)
        response = now - req.arrival_s
        if req.kind != ASSETS:
            self.series.observe("response_s", now, response)
        if req.measured:
            self.totals["requests.completed"] += req.count
            self.response.add(response)
            if req.kind != ASSETS:
                self.page_response.add(response)

    def request_wasted(self, req) -> None:
        """Served after its visitor had gone (gave up or got a 504): a worker's time for nothing."""
        if req.measured:
            self.totals["requests.wasted"] += req.count

    def request_rejected(self, req) -> None:
        self._failed("rejected", req)

    def request_timed_out(self, req) -> None:
        self._failed("timed_out", req)

    def request_abandoned(self, req) -> None:
        self._failed("abandoned", req)
        if req.measured:
            self.abandoned_wait_s += self._now(req) - req.arrival_s

    def _failed(self, what: str, req) -> None:
        self.series.count(what, self._now(req), req.count)
        if req.measured:
            self.totals[f"requests.{what}"] += req.count

    def _now(self, req) -> float:
        return req.done.env.now

    # -- levels ---------------------------------------------------------------------------
    def app_levels(self, t: float, busy: int, waiting: int, capacity: int, instances: int) -> None:
        lv = self.levels
        lv["app_busy"].update(t, busy)
        lv["app_queue"].update(t, waiting)
        if capacity != self._capacity:  # rare: only when instances come or go
            self._capacity = capacity
            lv["app_capacity"].update(t, capacity)
            lv["instances"].update(t, instances)

    def db_levels(self, t: float, busy: int, waiting: int, connections: int) -> None:
        lv = self.levels
        lv["db_busy"].update(t, busy)
        lv["db_queue"].update(t, waiting)
        if connections != self._connections:
            self._connections = connections
            lv["db_capacity"].update(t, connections)

    def level_mean(self, name: str, from_s: float) -> float:
        """Time average of a level after ``from_s``; ``*_in_system`` is busy plus queue."""
        if name.endswith("_in_system"):
            tier = name[: -len("_in_system")]
            return self.levels[f"{tier}_busy"].mean(from_s) + self.levels[f"{tier}_queue"].mean(from_s)
        return self.levels[name].mean(from_s)

    def level_per_bin(self, name: str):
        if name.endswith("_in_system"):
            tier = name[: -len("_in_system")]
            return self.levels[f"{tier}_busy"].mean_per_bin() + self.levels[f"{tier}_queue"].mean_per_bin()
        return self.levels[name].mean_per_bin()

    def waiting_room_levels(self, t: float, active: int, waiting: int) -> None:
        self.levels["room_active"].update(t, active)
        self.levels["room_queue"].update(t, waiting)

    def finish(self, end_s: float) -> None:
        for level in self.levels.values():
            level.finish(end_s)
