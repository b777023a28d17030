"""The ``[site]`` section: the tiers a visitor's requests pass through.

A section that is absent is not modelled (no CDN, no database, no autoscaling, no
waiting room): no default adds a tier or a behaviour silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.config.checks import LIMIT, at_most, non_negative, positive, ratio, whole
from sim.config.distributions import Constant, Distribution, distribution_from_table
from sim.config.limits import (MAX_ACTIVE_USERS, MAX_AUTOSCALE_SCHEDULE, MAX_CONNECTIONS, MAX_INSTANCES, MAX_QUERIES,
                               MAX_QUEUE_LIMIT, MAX_SYN_RETRIES, MAX_WORKERS, MIN_REFRESH_S)
from sim.errors import ConfigError
from sim.config.tables import PARSE

__all__ = [
    "CdnConfig",
    "AppConfig",
    "DbConfig",
    "AutoscaleConfig",
    "ScheduledMin",
    "WaitingRoomConfig",
    "SignatureQueueConfig",
    "CalibrationConfig",
    "SiteConfig",
    "BALANCERS",
    "OVERFLOWS",
    "AUTOSCALE_METRICS",
    "QUEUEING_METHODS",
]

_DIST = {PARSE: distribution_from_table}
BALANCERS = ("round_robin", "least_connections", "random")
# What a full backlog does to a new connection: a 503 at once (a proxy's or an app server's
# queue limit), or its SYN dropped by the kernel, so that the client sends it again after
# syn_rto_s, then twice that, and so on (Linux: 1 s, 3 s, 7 s ... after the first; 6 retries).
OVERFLOWS = ("reject", "drop")
AUTOSCALE_METRICS = ("utilization", "in_flight")
# How the waiting room picks whom to let in when a place frees (Cloudflare's queueing methods):
# the longest waiting, one waiting visitor at random, or nobody waits (turned away at once).
QUEUEING_METHODS = ("fifo", "random", "reject")


@dataclass(frozen=True, kw_only=True)
class CdnConfig:
    hit_ratio: float
    html_hit_ratio: float | None = None
    edge_capacity_per_s: float = math.inf
    # > 0: the edge caches the landing page's HTML this long after each origin fetch (inf: for good).
    landing_ttl_s: float = 0.0

    def __post_init__(self) -> None:
        ratio("hit_ratio", self.hit_ratio)
        ratio("html_hit_ratio", self.html_hit_ratio)
        positive("edge_capacity_per_s", self.edge_capacity_per_s, allow_inf=True)
        non_negative("landing_ttl_s", self.landing_ttl_s, allow_inf=True)

    @property
    def html_ratio(self) -> float:
        """Hit ratio of HTML documents (defaults to ``hit_ratio``)."""
        return self.hit_ratio if self.html_hit_ratio is None else self.html_hit_ratio


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    instances: int = 1
    workers: int = 1
    queue_limit: float = math.inf
    balancer: str = "round_robin"
    page_s: Distribution = field(metadata=_DIST)
    asset_s: Distribution = field(default=Constant(value=0.0), metadata=_DIST)
    submit_s: Distribution | None = field(default=None, metadata=_DIST)
    timeout_s: float = math.inf
    drop_abandoned: bool = False
    overflow: str = "reject"
    syn_retries: int = 6  # net.ipv4.tcp_syn_retries' default
    syn_rto_s: float = 1.0  # the first SYN retransmission timeout (RFC 6298's 1 s)

    def __post_init__(self) -> None:
        whole("instances", self.instances, 1)
        at_most("instances", self.instances, MAX_INSTANCES)
        whole("workers", self.workers, 1)
        at_most("workers", self.workers, MAX_WORKERS)
        whole("queue_limit", self.queue_limit, 0, allow_inf=True)
        if not math.isinf(self.queue_limit):
            at_most("queue_limit", self.queue_limit, MAX_QUEUE_LIMIT)
        if self.balancer not in BALANCERS:
            raise ConfigError("balancer", f"must be one of {', '.join(BALANCERS)}, got {self.balancer!r}")
        positive("timeout_s", self.timeout_s, allow_inf=True)
        if self.overflow not in OVERFLOWS:
            raise ConfigError("overflow", f"must be one of {', '.join(OVERFLOWS)}, got {self.overflow!r}")
        whole("syn_retries", self.syn_retries, 0)
        at_most("syn_retries", self.syn_retries, MAX_SYN_RETRIES)
        positive("syn_rto_s", self.syn_rto_s)
        for key in ("page_s", "asset_s", "submit_s"):
            dist = getattr(self, key)
            if dist is not None and math.isinf(dist.mean):
                raise ConfigError(key, f"must have a finite mean, got {dist!r} (mean inf)")

    @property
    def submit_dist(self) -> Distribution:
        """Service time of a form submit (defaults to ``page_s``)."""
        return self.page_s if self.submit_s is None else self.submit_s


@dataclass(frozen=True, kw_only=True)
class DbConfig:
    connections: int
    query_s: Distribution = field(metadata=_DIST)
    queries_per_page: int = 1
    queries_per_submit: int = 1

    def __post_init__(self) -> None:
        whole("connections", self.connections, 1)
        at_most("connections", self.connections, MAX_CONNECTIONS)
        whole("queries_per_page", self.queries_per_page, 0)
        at_most("queries_per_page", self.queries_per_page, MAX_QUERIES)
        whole("queries_per_submit", self.queries_per_submit, 0)
        at_most("queries_per_submit", self.queries_per_submit, MAX_QUERIES)
        if math.isinf(self.query_s.mean):
            raise ConfigError("query_s", f"must have a finite mean, got {self.query_s!r} (mean inf)")


@dataclass(frozen=True, kw_only=True)
class ScheduledMin:
    """A scheduled action on the autoscaler's lower bound: from ``at_s`` on, at least ``min`` instances."""

    at_s: float
    min: int

    def __post_init__(self) -> None:
        non_negative("at_s", self.at_s)
        whole("min", self.min, 1)


@dataclass(frozen=True, kw_only=True)
class AutoscaleConfig:
    metric: str = "utilization"
    target: float
    period_s: float = 60.0
    warmup_s: float = 180.0
    min: int = 1
    max: int
    step: int = 1
    cooldown_s: float = 300.0
    # Scheduled raises of the lower bound (pre-scaling before a known post), sorted by at_s.
    schedule: tuple[ScheduledMin, ...] = ()

    def __post_init__(self) -> None:
        if self.metric not in AUTOSCALE_METRICS:
            raise ConfigError("metric", f"must be one of {', '.join(AUTOSCALE_METRICS)}, got {self.metric!r}")
        positive("target", self.target)
        if self.metric == "utilization" and self.target > 1:
            raise ConfigError("target", f"must be within (0, 1] for metric = 'utilization', got {self.target!r}")
        positive("period_s", self.period_s)
        non_negative("warmup_s", self.warmup_s)
        non_negative("cooldown_s", self.cooldown_s)
        whole("min", self.min, 1)
        whole("max", self.max, 1)
        at_most("max", self.max, MAX_INSTANCES)
        if self.max < self.min:
            raise ConfigError("max", f"must be >= min ({self.min}), got {self.max!r}")
        whole("step", self.step, 1)
        at_most("schedule", len(self.schedule), MAX_AUTOSCALE_SCHEDULE, what="the number of entries")
        for i, entry in enumerate(self.schedule):
            if entry.min > self.max:
                raise ConfigError(f"schedule[{i}].min", f"must be <= max ({self.max}), got {entry.min!r}")
            if i and entry.at_s <= self.schedule[i - 1].at_s:
                raise ConfigError(f"schedule[{i}].at_s", f"must be > schedule[{i - 1}].at_s "
                                  f"({self.schedule[i - 1].at_s:g}): entries sorted by at_s, each once, "
                                  f"got {entry.at_s!r}")


@dataclass(frozen=True, kw_only=True)
class WaitingRoomConfig:
    active_limit: int
    session_s: Distribution = field(metadata=_DIST)
    queue_patience_s: Distribution = field(default=Constant(value=math.inf), metadata=_DIST)
    new_users_per_minute: float = math.inf  # admissions at least 60 / new_users_per_minute s apart
    queueing_method: str = "fifo"
    refresh_s: float = 20.0  # the waiting page reloads itself this often (an assumption)

    def __post_init__(self) -> None:
        whole("active_limit", self.active_limit, 1)
        at_most("active_limit", self.active_limit, MAX_ACTIVE_USERS)
        positive("new_users_per_minute", self.new_users_per_minute, allow_inf=True)
        if self.queueing_method not in QUEUEING_METHODS:
            raise ConfigError("queueing_method",
                              f"must be one of {', '.join(QUEUEING_METHODS)}, got {self.queueing_method!r}")
        positive("refresh_s", self.refresh_s, allow_inf=True)
        if self.refresh_s < MIN_REFRESH_S:
            raise ConfigError("refresh_s", f"must be >= {MIN_REFRESH_S:g} ({LIMIT}), got {self.refresh_s!r}")

    @property
    def admission_gap_s(self) -> float:
        """Least time between two admissions (0 when new users per minute are unbounded)."""
        return 60.0 / self.new_users_per_minute


@dataclass(frozen=True, kw_only=True)
class SignatureQueueConfig:
    """A durable queue between the submit and its database write: the submit only enqueues and answers."""

    ack_s: Distribution = field(default=Constant(value=0.01), metadata=_DIST)
    writers: int = 1
    write_s: Distribution | None = field(default=None, metadata=_DIST)

    def __post_init__(self) -> None:
        whole("writers", self.writers, 1)
        at_most("writers", self.writers, MAX_WORKERS)
        for key in ("ack_s", "write_s"):
            dist = getattr(self, key)
            if dist is not None and math.isinf(dist.mean):
                raise ConfigError(key, f"must have a finite mean, got {dist!r} (mean inf)")

    def write_dist(self, app: AppConfig) -> Distribution:
        """A writer's work per signature (defaults to the submit's service time: the work it moves)."""
        return app.submit_dist if self.write_s is None else self.write_s


@dataclass(frozen=True, kw_only=True)
class CalibrationConfig:
    """What ``surge calibrate`` measured of a site, with 95 % intervals: not a tier, the data of a prediction band.

    The fitted page service is ``app.workers / capacity_per_s``; a band runs the model again at the
    interval's two ends, the page service ``workers / capacity_high_per_s`` and ``workers / capacity_low_per_s``."""

    capacity_per_s: float  # the saturated throughput, pages answered per second
    capacity_low_per_s: float  # its 95 % interval
    capacity_high_per_s: float
    precision: float  # the interval's half-width reached, relative to capacity_per_s
    precision_target: float | None = None  # the half-width asked for (calibrate --precision)
    round_trip_s: float = 0.0  # taken off each light-load response

    def __post_init__(self) -> None:
        positive("capacity_low_per_s", self.capacity_low_per_s)
        positive("capacity_per_s", self.capacity_per_s)
        positive("capacity_high_per_s", self.capacity_high_per_s)
        if not (self.capacity_low_per_s <= self.capacity_per_s <= self.capacity_high_per_s):
            raise ConfigError("capacity_per_s", f"must lie within [capacity_low_per_s, capacity_high_per_s] = "
                              f"[{self.capacity_low_per_s:g}, {self.capacity_high_per_s:g}], got {self.capacity_per_s:g}")
        non_negative("precision", self.precision)
        if self.precision_target is not None:
            positive("precision_target", self.precision_target)
        non_negative("round_trip_s", self.round_trip_s)


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    cdn: CdnConfig | None = None
    app: AppConfig | None = None
    db: DbConfig | None = None
    autoscale: AutoscaleConfig | None = None
    waiting_room: WaitingRoomConfig | None = None
    signature_queue: SignatureQueueConfig | None = None
    calibration: CalibrationConfig | None = None  # written by surge calibrate; read for a prediction band

    def __post_init__(self) -> None:
        if self.calibration is not None and self.app is None:
            raise ConfigError("calibration", "needs [site.app]: its capacity is the app workers'")
        if self.db is not None and self.app is None:
            raise ConfigError("db", "needs [site.app]: database queries are made by app workers")
        if self.signature_queue is not None and self.app is None:
            raise ConfigError("signature_queue", "needs [site.app]: the submit that enqueues is an app request")
        if self.autoscale is not None:
            if self.app is None:
                raise ConfigError("autoscale", "needs [site.app]: it scales app instances")
            if not (self.autoscale.min <= self.app.instances <= self.autoscale.max):
                raise ConfigError(
                    "app.instances",
                    f"must be within autoscale [min, max] = [{self.autoscale.min}, {self.autoscale.max}], "
                    f"got {self.app.instances}",
                )
