"""The mitigations ``surge advise`` tries: each a change to a scenario's TOML table, sized from the scenario.

A mitigation applies only where it makes sense (no database pool to grow without a
``[site.db]``, no signature queue without actions). Each is sized from the scenario, never
guessed: the waiting room from Little's law (admissions per second = what the site can serve
per second; active users = that rate times how long a visitor holds a place), pre-scaling
from the peak's offered work. What each assumes is in its ``description``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

from sim.analysis.verdict import work_by_kind
from sim.config.limits import MAX_ACTIVE_USERS, MAX_CONNECTIONS, MAX_INSTANCES, MAX_WORKERS
from sim.config.scenario import Scenario

__all__ = ["Mitigation", "Sizing", "sizing", "catalog", "apply", "InstanceCounts", "instance_counts", "LANDING_TTL_S",
           "TARGET_UTILIZATION"]

LANDING_TTL_S = 10.0  # a micro-cache: the landing page's HTML is at most 10 s stale
TARGET_UTILIZATION = 0.75  # Cloudflare's advice for total active users: ~75 % of what the origin can take
BOOT_S = 120.0  # an instance's boot to taking traffic (assumption: a cloud VM with a baked image, 1-3 min)
SESSION_S = 300.0  # Cloudflare Waiting Room's default session duration (5 minutes)
ROOM_PATIENCE_MEDIAN_S = 600.0  # assumption: half the visitors in the waiting room wait 10 minutes
MAX_ROOM_PLACES = MAX_ACTIVE_USERS  # a site that serves more than this needs no waiting room


@dataclass(frozen=True, kw_only=True)
class Sizing:
    """What the advice sizes from: the site's capacity and the surge's peak, from the scenario alone."""

    capacity_visitors_per_s: float  # visitors per second the app (or db) tier serves at full use
    peak_visitors_per_s: float  # the profile's busiest 10 s
    visit_s: float  # a visitor's time on the site: think times between their pages
    instances_needed: int  # instances that keep the peak at TARGET_UTILIZATION
    first_share_s: float | None
    surge_end_s: float | None


@dataclass(frozen=True, kw_only=True)
class Mitigation:
    key: str  # short id, e.g. "workers-x2"
    label: str  # what a person reads
    description: str
    edit: Callable[[dict], None] = field(repr=False)  # changes a table in place
    free: bool = True  # adds no instance-hours by itself
    group: str = ""  # mitigations of one group replace each other: a combination takes one of each


def sizing(scenario: Scenario, *, surge_window_s: tuple[float, float] | None = None) -> Sizing:
    from sim.analysis.sizing import workload

    site, v = scenario.site, scenario.visitors
    app, db = site.app, site.db
    load = workload(scenario)
    peak = float(load.visitors_per_s.max(initial=0.0))
    work = work_by_kind(scenario)
    app_work = sum(w for k, w in work.items() if not k.startswith("db."))
    db_work = sum(w for k, w in work.items() if k.startswith("db."))
    caps = []
    if app_work > 0:
        caps.append(app.instances * app.workers / app_work)
    if db is not None and db_work > 0:
        caps.append(db.connections / db_work)
    capacity = min(caps) if caps else math.inf
    need = math.ceil(peak * app_work / (app.workers * TARGET_UTILIZATION)) if app_work > 0 else app.instances
    shares = scenario.traffic.shares
    first = min((s.at_s for s in shares), default=None)
    pages = v.pages_per_visit + v.action_rate
    return Sizing(capacity_visitors_per_s=capacity, peak_visitors_per_s=peak,
                  visit_s=max(pages - 1, 0) * v.think_s.mean, instances_needed=max(need, 1),
                  first_share_s=first, surge_end_s=surge_window_s[1] if surge_window_s else None)


def _node(table: dict, dotted: str) -> tuple[dict, str]:
    *head, last = dotted.split(".")
    node = table
    for part in head:
        node = node.setdefault(part, {})
    return node, last


def _set(key: str, value) -> Callable[[dict], None]:
    def edit(table: dict) -> None:
        node, last = _node(table, key)
        node[last] = value
    return edit


def _all(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(table: dict) -> None:
        for e in edits:
            e(table)
    return edit


def catalog(scenario: Scenario, size: Sizing, *, instance_steps: tuple[float, ...] = (2, 3, 4)) -> list[Mitigation]:
    """Every mitigation that applies to the scenario, sized for it."""
    site, v = scenario.site, scenario.visitors
    app, db, cdn = site.app, site.db, site.cdn
    out: list[Mitigation] = []
    if app is None:
        return out
    cdn_base = {} if cdn is not None else {"hit_ratio": 0.95}
    add_cdn = "" if cdn is not None else " (and a CDN for assets, 95 % hits)"
    if cdn is None or cdn.landing_ttl_s < LANDING_TTL_S:
        out.append(Mitigation(
            key="cache-landing", group="landing", label=f"cache landing HTML {LANDING_TTL_S:g} s",
            description=f"the CDN caches the landing page's HTML for {LANDING_TTL_S:g} s{add_cdn}",
            edit=_all(*(_set(f"site.cdn.{k}", x) for k, x in cdn_base.items()),
                      _set("site.cdn.landing_ttl_s", LANDING_TTL_S))))
    if cdn is None or not math.isinf(cdn.landing_ttl_s):
        out.append(Mitigation(
            key="static-landing", group="landing", label="static landing page",
            description=f"the landing page served as a static page from the CDN during the surge{add_cdn}",
            edit=_all(*(_set(f"site.cdn.{k}", x) for k, x in cdn_base.items()),
                      _set("site.cdn.landing_ttl_s", math.inf))))
    if app.workers * 2 <= MAX_WORKERS:
        out.append(Mitigation(
            key="workers-x2", group="workers", label=f"workers x2 ({app.workers} -> {app.workers * 2})",
            description="twice the workers on the same instances (assumes their memory allows it; "
                        "the model has no CPU contention)",
            edit=_set("site.app.workers", app.workers * 2)))
    if site.autoscale is None:
        for k in instance_steps:
            n = min(math.ceil(app.instances * k), MAX_INSTANCES)
            if n > app.instances:
                out.append(Mitigation(
                    key=f"instances-x{k:g}", group="instances", label=f"instances x{k:g} ({app.instances} -> {n})",
                    description=f"{n} app instances for the whole run", free=False,
                    edit=_set("site.app.instances", n)))
    if db is not None and db.connections * 2 <= MAX_CONNECTIONS:
        out.append(Mitigation(
            key="db-pool-x2", group="db", label=f"db pool x2 ({db.connections} -> {db.connections * 2})",
            description="twice the database connections", edit=_set("site.db.connections", db.connections * 2)))
    top = _top(scenario, size)
    if site.autoscale is None and top > app.instances:
        scale = {"metric": "utilization", "target": 0.6, "period_s": 60.0, "warmup_s": BOOT_S,
                 "min": app.instances, "max": top, "step": max(app.instances, 1), "cooldown_s": 300.0}
        out.append(Mitigation(
            key="autoscale", group="instances", label=f"autoscale {app.instances}-{top}",
            description=f"autoscaling on utilization 60 %, every 60 s, {BOOT_S:g} s boot, up to {top} instances, "
                        f"step {scale['step']}, cooldown 300 s", free=False,
            edit=_set("site.autoscale", dict(scale))))
        at = max(size.first_share_s - BOOT_S - 300.0, 0.0) if size.first_share_s is not None else math.inf
        if at < scenario.run.duration_s:  # a post in the run
            schedule = [{"at_s": at, "min": top}]
            if size.surge_end_s is not None and at < size.surge_end_s < scenario.run.duration_s:
                schedule.append({"at_s": size.surge_end_s, "min": app.instances})
            out.append(Mitigation(
                key="pre-scale", group="instances", label=f"pre-scale to {top} before the post",
                description=f"autoscaling as above, its minimum raised to {top} at {at:g} s (5 min + boot before "
                            "the first share) and back after the surge", free=False,
                edit=_set("site.autoscale", {**scale, "schedule": schedule})))
    if site.waiting_room is None and _room_size(size)[1] <= MAX_ROOM_PLACES:
        rate, active = _room_size(size)
        path = scenario.path

        def room_edit(table: dict) -> None:
            # Sized for the site it guards: after the other mitigations of a combination (apply() makes it last).
            from sim.config.scenario import parse_scenario

            r, n = _room_size(sizing(parse_scenario(table, path=path)))
            room = {"active_limit": n, "session_s": SESSION_S,
                    "queue_patience_s": {"dist": "lognormal", "median": ROOM_PATIENCE_MEDIAN_S, "sigma": 1.0},
                    "new_users_per_minute": round(r * 60, 1)}
            table.setdefault("site", {})["waiting_room"] = room

        out.append(Mitigation(
            key="waiting-room", group="room", label="waiting room (Little's law)",
            description=f"a waiting room sized by Little's law: {rate:.3g} visitors/s let in (75 % of the "
                        f"{size.capacity_visitors_per_s:.3g}/s the site serves) x {size.visit_s + SESSION_S:.0f} s "
                        f"a place is held (visit + {SESSION_S:g} s session) = {active} active users; in a "
                        "combination, sized for the site the other mitigations make",
            edit=room_edit))
    if v.action_rate > 0 and site.signature_queue is None:
        writers = max(db.connections // 2, 1) if db is not None else app.workers
        out.append(Mitigation(
            key="signature-queue", group="sigq", label=f"signature queue ({writers} writers)",
            description=f"form submits acknowledged at once and written by {writers} background writers "
                        "from a durable queue", edit=_set("site.signature_queue", {"writers": writers})))
    return out


def _top(scenario: Scenario, size: Sizing) -> int:
    """Autoscaling's and pre-scaling's instances: the peak's need, at least twice the site's."""
    return min(max(size.instances_needed, scenario.site.app.instances * 2), MAX_INSTANCES)


@dataclass(frozen=True, kw_only=True)
class InstanceCounts:
    """How many app instances: the count each command sizes, each for its own question."""

    now: int
    workers_per_instance: int
    peak_need: int  # the busiest 10 s at TARGET_UTILIZATION, no queue
    at_target: int  # pre-scaling's and autoscaling's: peak_need, at least twice ``now``
    objective: str  # what surge plan sizes for by default
    for_objective: int | None  # surge plan's: Erlang C at the busiest 10 s (None: no count meets it)


def instance_counts(scenario: Scenario, size: Sizing) -> InstanceCounts:
    """The instances pre-scaling adds and surge plan's count for its default objective, for one scenario."""
    from sim.analysis.sizing import PLAN_DEFAULT_SLO, least_workers, workload
    from sim.analysis.slo import parse_slo

    app = scenario.site.app
    need = least_workers(workload(scenario), parse_slo(PLAN_DEFAULT_SLO)[0])
    return InstanceCounts(now=app.instances, workers_per_instance=app.workers, peak_need=size.instances_needed,
                          at_target=_top(scenario, size),
                          objective=PLAN_DEFAULT_SLO,
                          for_objective=math.ceil(need / app.workers) if need >= 0 else None)


def _room_size(size: Sizing) -> tuple[float, int]:
    """Admissions per second (75 % of what the site serves) and active users (Little's law: that rate
    times how long a visitor holds a place, their visit and the session after it)."""
    rate = size.capacity_visitors_per_s * TARGET_UTILIZATION
    places = rate * (size.visit_s + SESSION_S)
    return rate, max(math.ceil(places), 1) if places < MAX_ROOM_PLACES else MAX_ROOM_PLACES + 1


def apply(table: dict, mitigations: list[Mitigation]) -> dict:
    """A copy of the table with every mitigation's edit made, the waiting room's last (it is sized
    for the site the others make)."""
    out = copy.deepcopy(table)
    for m in sorted(mitigations, key=lambda m: m.group == "room"):
        m.edit(out)
    return out
