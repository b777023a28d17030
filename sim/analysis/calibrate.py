"""Fit the model's ``[site]`` to what a step load measured on a real site.

Pure: it takes the measurements (response times and statuses per step) and returns
the fit. The reasoning, by queueing theory:

* **Service times**, per request kind, from a light load, where requests rarely wait:
  a response then is a round trip (the network and the HTTP stack, about constant)
  plus the service time. The round trip is measured apart (TCP connects, which the
  kernel answers without a worker, or a path the site answers without app work), and
  the rest is the service. Its law is chosen by goodness of fit (``fit_service``):
  constant, exponential, gamma, lognormal, or the empirical one when none fits.
* **Workers** (effective concurrency): at saturation every worker is busy, so the
  throughput of answered requests is ``X = c / E[S]``, and ``X * E[S]`` is within one
  of ``c``; of its two integer neighbours, the one where responses start to wait (the
  hinge of response time against requests in flight, ``sim.analysis.concurrency``, over every
  page step) is ``c``. Without per-request send times, ``X * E[S]`` rounded.
* **Backlog**: first how the site overflows, from the saturated steps' answers
  (``overflow``): 503s (an app's or a proxy's queue limit); nothing refused at all
  (a thread pool's queue, a kernel listen backlog never filled, a thread per
  connection: the backlog is unbounded, ``queue_limit = inf``); dropped SYNs (a kernel
  listen backlog overflowing: handshakes of a second and more, as the client's
  retransmission timer fires; the model's ``overflow = "drop"``); or connections refused
  or reset without an answer (the model has no such failure, so they stand as 503s of a
  limit of the same size, and a warning says so). Where there is a limit, by Little's
  law the mean number waiting is the throughput times the mean wait of answered
  requests, ``L_q = X * (mean response - round trip - E[S])`` (with dropped SYNs, the
  median after the handshake); the backlog
  limit is the one whose M/M/c/K queue has that ``L_q`` at the offered rates of the
  saturated steps.

Every fitted number comes with a 95 % interval (``Z95`` standard errors: the central
limit theorem for a mean of ``n`` samples, batch means for the saturated throughput, whose
answers are correlated (``sim.analysis.calibrate_precision``), the delta method for their
product), and what the data cannot determine is said in
``SiteFit.warnings`` (never saturated, too few samples, an interval spanning more than
the hinge can choose from), which ``surge calibrate --strict`` turns into a failure.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from sim.analysis import theory
from sim.analysis.calibrate_precision import CapacityInterval, capacity_interval, pooled_throughput_per_s
from sim.analysis.concurrency import ConcurrencyFit, fit_concurrency, in_flight_when_sent

__all__ = ["StepResult", "ServiceFit", "SiteFit", "fit_service", "fit_site", "pooled_throughput_per_s", "saturated",
           "Z95", "MIN_SAMPLES", "MAX_RELATIVE_HALF_WIDTH"]

Z95 = 1.96  # standard errors either side of a 95 % interval
MIN_SAMPLES = 30  # fewer light-load samples of a kind: its law and mean are said to be uncertain
MAX_RELATIVE_HALF_WIDTH = 0.15  # a mean known to worse than +-15 % (95 %) is said to be undetermined
OVERFLOWS = ("503", "none", "connection errors", "dropped SYNs", "none seen")  # none seen: never saturated
CONNECTION_ERROR = -1  # a step's status for a connection refused or reset (as sim.loadtest.probe)
REFUSED_AT_MOST = 0.01  # a saturated site that turns away at most 1 % of requests queues everything
# A handshake this long was retransmitted: Linux sends a dropped SYN again after 1 s (RFC 6298's
# initial timeout), where a loopback or LAN handshake takes under a millisecond and a WAN one a
# round trip, well under 0.9 s.
DROPPED_SYN_S = 0.9


@dataclass(frozen=True, kw_only=True)
class StepResult:
    kind: str  # "page", "asset" or "submit"
    rate_per_s: float  # offered
    duration_s: float
    response_s: np.ndarray  # of answered (2xx/3xx) requests
    done_s: np.ndarray  # when each answered request completed, since the step's start
    statuses: dict = field(default_factory=dict)  # status -> count
    # Every request, answered or not, in the order sent (None: not measured): when it really
    # left the client and when its answer or error came back, and whether it was answered.
    sent_s: np.ndarray | None = None
    finished_s: np.ndarray | None = None
    ok: np.ndarray | None = None
    connect_s: np.ndarray | None = None  # each request's TCP handshake (nan: none completed)

    @property
    def dropped_syns(self) -> int:
        """Requests whose handshake was retransmitted (a SYN dropped by a full listen backlog)."""
        return 0 if self.connect_s is None else int(np.count_nonzero(self.connect_s >= DROPPED_SYN_S))

    def answered_connect_s(self) -> np.ndarray:
        """The handshake of each answered request (zeros when not measured)."""
        if self.connect_s is None or self.ok is None:
            return np.zeros(self.answered)
        return np.nan_to_num(self.connect_s[self.ok])

    def in_flight_responses(self, round_trip_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(others in the site when it arrived, response from then) of each answered request."""
        if self.sent_s is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        arrived = self.sent_s
        if self.connect_s is not None:  # a retransmitted handshake reaches the site when it completes
            connect = np.nan_to_num(self.connect_s)
            arrived = self.sent_s + np.where(connect >= DROPPED_SYN_S, connect, 0.0)
        n = in_flight_when_sent(arrived, self.finished_s, round_trip_s=round_trip_s)
        return n[self.ok], (self.finished_s - arrived)[self.ok]

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def answered(self) -> int:
        return len(self.response_s)

    @property
    def rejected_fraction(self) -> float:
        return self.statuses.get(503, 0) / self.sent if self.sent else 0.0

    @property
    def window_s(self) -> float:
        """The part of the step whose answers count: all but its first quarter (the queue filling)."""
        return 0.75 * self.duration_s

    @property
    def answered_in_window(self) -> int:
        """Answers that completed within the window; those after the step would add the drained backlog."""
        start = self.duration_s - self.window_s
        return int(np.count_nonzero((self.done_s >= start) & (self.done_s <= self.duration_s)))

    @property
    def throughput_per_s(self) -> float:
        return self.answered_in_window / self.window_s


LAWS = ("constant", "exponential", "gamma", "lognormal", "empirical")
CONSTANT_CV = 0.1  # a service this steady is constant: its spread is the clock's and the scheduler's
EMPIRICAL_QUANTILES = 101  # an empirical law keeps this many quantiles (0 %, 1 %, ... 100 %)


@dataclass(frozen=True, kw_only=True)
class ServiceFit:
    kind: str
    samples: int
    mean_s: float
    cv: float
    law: str  # one of LAWS
    round_trip_s: float
    median_s: float
    sigma: float
    ks_distance: float  # the chosen law's Kolmogorov-Smirnov distance (nan for constant)
    round_trip_source: str = "the fastest light-load response"
    shape: float = math.inf  # the gamma's shape, 1 / CV^2
    distances: dict = field(default_factory=dict)  # law -> KS distance, for each law tried
    ks_critical: float = math.nan  # the 1 % critical distance for this many samples
    quantiles_s: tuple = ()  # the empirical law's values
    mean_interval_s: tuple = (math.nan, math.nan)  # 95 % interval of the mean

    def toml(self) -> str:
        if self.law == "constant":
            return f'{{ dist = "constant", value = {self.mean_s:.6g} }}'
        if self.law == "exponential":
            return f'{{ dist = "exponential", mean = {self.mean_s:.6g} }}'
        if self.law == "gamma":
            return f'{{ dist = "gamma", shape = {self.shape:.6g}, scale = {self.mean_s / self.shape:.6g} }}'
        if self.law == "empirical":
            return "{ dist = \"empirical\", samples = [" + ", ".join(f"{v:.6g}" for v in self.quantiles_s) + "] }"
        return f'{{ dist = "lognormal", median = {self.median_s:.6g}, sigma = {self.sigma:.4g} }}'

    def scaled(self, factor: float) -> "ServiceFit":
        """The same law with every time ``factor`` times longer (the shape kept)."""
        return dataclasses.replace(self, mean_s=self.mean_s * factor, median_s=self.median_s * factor,
                                   quantiles_s=tuple(v * factor for v in self.quantiles_s),
                                   mean_interval_s=tuple(v * factor for v in self.mean_interval_s))

    def quality(self) -> str:
        """The fit's distance, in words, for the site file's comments."""
        if self.law == "constant":
            return f"CV {self.cv:.3f} <= {CONSTANT_CV:g}"
        tried = ", ".join(f"{law} {d:.3f}" for law, d in self.distances.items())
        return f"Kolmogorov-Smirnov distance {self.ks_distance:.3f} (1 % critical {self.ks_critical:.3f}; {tried})"


@dataclass(frozen=True, kw_only=True)
class SiteFit:
    services: dict  # kind -> ServiceFit
    workers: int
    workers_raw: float  # saturated throughput x light-load mean service: a check on the hinge
    concurrency: ConcurrencyFit | None  # the hinge fit (None: no per-request send times measured)
    queue_limit: float  # a whole number, or math.inf: nothing was ever refused
    queue_raw: float
    saturated_throughput_per_s: float
    saturated_at_per_s: float | None
    throughput_interval_per_s: tuple = (math.nan, math.nan)  # 95 %
    workers_raw_interval: tuple = (math.nan, math.nan)  # 95 % interval of throughput x service
    queue_raw_range: tuple = (math.nan, math.nan)  # lowest and highest of the saturated steps' estimates
    saturated_steps: int = 0
    warnings: tuple = ()  # what the data could not determine, in words
    overflow: str = "none seen"  # one of OVERFLOWS: how the saturated site turned requests away
    capacity: CapacityInterval | None = None  # the batch-means interval behind throughput_interval_per_s
    precision_target: float | None = None  # the half-width asked for (relative), None: none asked

    @property
    def precision(self) -> float:
        """The capacity interval's half-width reached, relative to the capacity."""
        lo, hi = self.throughput_interval_per_s
        return (hi - lo) / 2 / self.saturated_throughput_per_s if self.saturated_throughput_per_s > 0 else math.inf


def _ks(samples: np.ndarray, cdf) -> float:
    x = np.sort(samples)
    n = len(x)
    f = cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


def fit_service(kind: str, response_s: np.ndarray, *, round_trip_s: float | None = None,
                round_trip_source: str = "the fastest light-load response",
                round_trip_sd_s: float = 0.0) -> ServiceFit:
    """The service-time law of ``kind`` from light-load responses less the round trip.

    ``round_trip_s`` is measured apart from the service (a TCP connect, a path without app work);
    without it the fastest response stands in, which holds only where a service can be near 0
    (an exponential's): a page whose render never takes 0 s would lose most of it to the round trip.
    The law: constant when the CV is at most CONSTANT_CV; else the exponential (one parameter, M/M/c)
    when its Kolmogorov-Smirnov distance is within the 1 % critical one, 1.628 / sqrt(n); else the
    better of gamma and lognormal when it is; else the empirical law (its quantiles).
    ``round_trip_sd_s``: the round trip's own spread, when it was measured with the responses; a
    response is the sum of the two, independent, so the service's variance is the difference."""
    x = np.asarray(response_s, dtype=float)
    if len(x) < 10:
        raise ValueError(f"{kind}: {len(x)} answered requests at light load; need at least 10")
    if round_trip_s is None:
        round_trip_s = float(x.min())
    x = x - round_trip_s
    # Mean and spread over every response: a mean round trip is longer than some responses' own share.
    every, mean, sd = x, float(x.mean()), float(x.std(ddof=1))
    x = x[x > 0]  # the law's shape from the responses longer than the round trip
    if len(x) < 10 or mean <= 0:
        raise ValueError(f"{kind}: fewer than 10 responses are longer than the round trip "
                         f"({round_trip_s * 1000:.3g} ms)")
    cv = math.sqrt(max(sd**2 - round_trip_sd_s**2, 0.0)) / mean
    logs = np.log(x)
    sigma = float(logs.std(ddof=1))
    median = mean * math.exp(-sigma**2 / 2)  # the lognormal's mean is the service's (the logs see only x > 0)
    shape = 1.0 / max(cv, 1e-9) ** 2
    half = Z95 * sd / math.sqrt(len(response_s))  # the mean's standard error, by the central limit
    common = dict(kind=kind, samples=len(x), mean_s=mean, cv=cv, round_trip_s=round_trip_s, median_s=median,
                  sigma=sigma, round_trip_source=round_trip_source, shape=shape,
                  ks_critical=1.628 / math.sqrt(len(x)), mean_interval_s=(mean - half, mean + half))
    if cv <= CONSTANT_CV:
        return ServiceFit(law="constant", ks_distance=math.nan, **common)
    distances = {
        "exponential": _ks(x, lambda v: 1 - np.exp(-v / mean)),
        "gamma": _ks(x, lambda v: special.gammainc(shape, v * shape / mean)),
        "lognormal": _ks(x, lambda v: special.ndtr((np.log(v) - math.log(median)) / sigma)),
    }
    critical = common["ks_critical"]
    best = min(("gamma", "lognormal"), key=distances.get)
    # The simplest law the data do not reject: the exponential (one parameter, M/M/c) where it passes.
    law = "exponential" if distances["exponential"] <= critical else best
    if distances[law] > critical:
        # of every response (those under the round trip as 0), so the law's mean is the service's
        q = tuple(float(v) for v in np.maximum(np.quantile(every, np.linspace(0, 1, EMPIRICAL_QUANTILES)), 0.0))
        return ServiceFit(law="empirical", ks_distance=_ks(x, lambda v: np.searchsorted(q, v, side="right") / len(q)),
                          distances=distances, quantiles_s=q, **common)
    return ServiceFit(law=law, ks_distance=distances[law], distances=distances, **common)


def saturated(step: StepResult) -> bool:
    """The site no longer keeps up: it rejects, or answers clearly less than it is offered.

    "Clearly": under 85 % of the offered rate and short by more than 3 Poisson standard
    deviations of the arrivals in the window, so a short, light step's noise (32 expected,
    sd 18 %) is not taken for saturation."""
    expected = step.rate_per_s * step.window_s
    short = expected - step.answered_in_window
    return step.rejected_fraction > 0.05 or (step.throughput_per_s < 0.85 * step.rate_per_s
                                             and short > 3 * math.sqrt(expected))


def _concurrency(steps: list[StepResult], throughput_per_s: float, round_trip_s: float,
                 workers_raw: float, service_cv: float = 1.0, at_least: float = 0.0) -> ConcurrencyFit | None:
    """The hinge fit over every page step's answers (each step counts its own requests in flight).

    ``at_least``: a lower bound on the workers (see ``fit_site``); a neighbour below it is not a candidate."""
    pairs = [s.in_flight_responses(round_trip_s) for s in steps]
    n = np.concatenate([p[0] for p in pairs])
    if not len(n):
        return None
    # X * E[S] narrows it to two neighbours; the hinge, read where it is (up to about twice
    # that many in flight), picks one of them.
    low = max(1, math.floor(workers_raw))
    candidates = [c for c in (low, low + 1) if c >= at_least] or [low + 1]
    try:
        return fit_concurrency(n, np.concatenate([p[1] for p in pairs]), throughput_per_s=throughput_per_s,
                               candidates=candidates, max_in_flight=math.ceil(2 * workers_raw) + 2,
                               service_cv=service_cv)
    except ValueError:
        return None


def fit_site(light: dict, steps: list[StepResult], *, round_trip_s: float | dict | None = None,
             round_trip_source: str | dict = "the fastest light-load response",
             typical_round_trip_s: float | None = None, round_trip_sd_s: float | dict = 0.0,
             precision_target: float | None = None) -> SiteFit:
    """``light``: kind -> light-load StepResult; ``steps``: the rising page load, in order;
    ``round_trip_s``, ``round_trip_source``, ``round_trip_sd_s``: one, or per kind (dict), as ``fit_service``'s.
    ``typical_round_trip_s`` (None: the page's mean one) counts the requests in flight: that count compares
    the times of other requests, which the typical round trip moves, not a few stalled ones.

    A site that never saturated is fitted from its best throughput as a lower bound on its
    workers (the model then errs on the side of too little capacity), and said in ``warnings``;
    so is a capacity interval wider than +-``precision_target`` (relative)."""
    def of(value, kind):
        return value.get(kind) if isinstance(value, dict) else value

    services = {kind: fit_service(kind, step.response_s, round_trip_s=of(round_trip_s, kind), round_trip_source=of(
        round_trip_source, kind), round_trip_sd_s=of(round_trip_sd_s, kind) or 0.0) for kind, step in light.items()}
    warnings = [f"{s.kind}: only {s.samples} light-load samples (fewer than {MIN_SAMPLES}): its law is a guess"
                for s in services.values() if s.samples < MIN_SAMPLES]
    page = services["page"]
    sat = [s for s in steps if saturated(s)]
    if not steps:
        raise ValueError("no load steps were measured")
    if not sat:
        best = max(steps, key=lambda s: s.throughput_per_s)
        warnings.append(f"the site never saturated up to {steps[-1].rate_per_s:g} requests/s: workers "
                        f"{max(1, math.ceil(best.throughput_per_s * page.mean_s))} and no backlog are a lower bound "
                        "(raise --max-rate to find its capacity)")
    used = sat or [max(steps, key=lambda s: s.throughput_per_s)]
    capacity = capacity_interval(used)
    x, x_lo, x_hi = capacity.capacity_per_s, capacity.low_per_s, capacity.high_per_s
    if precision_target is not None and capacity.precision > precision_target:
        warnings.append(f"capacity: {x:.1f} pages/s known to +-{capacity.precision:.1%} (95 %), wider than "
                        f"--precision {precision_target:.1%}: raise --duration-s to hold the saturated load longer")
    workers_raw = x * page.mean_s
    # delta method: relative errors of the throughput and of the mean service add in quadrature (the
    # throughput's: its half-width over Z95, t's wider quantile kept as a margin)
    se_service = (page.mean_interval_s[1] - page.mean_s) / Z95
    rel = math.sqrt((capacity.precision / Z95) ** 2 + (se_service / page.mean_s) ** 2)
    raw_interval = (workers_raw * (1 - Z95 * rel), workers_raw * (1 + Z95 * rel))
    if not sat:
        workers, concurrency = max(1, math.ceil(workers_raw)), None
    else:
        hinge_trip_s = page.round_trip_s if typical_round_trip_s is None else typical_round_trip_s
        # With the round trip measured during the light loads (typical_round_trip_s), the light-load
        # service is the worker's time alone, and a saturated worker adds its overheads to it (accepting,
        # parsing, writing, waiting for a core), never takes less: so c = X * E[S at saturation] is at
        # least X * E[S at light load], and a neighbour below that product's 95 % interval is ruled out.
        # (A round trip of handshakes leaves the HTTP stack's time in the light-load service: no bound.)
        at_least = raw_interval[0] if typical_round_trip_s is not None else 0.0
        concurrency = _concurrency([light["page"], *steps], x, hinge_trip_s, workers_raw, page.cv, at_least)
        workers = concurrency.workers if concurrency else max(1, round(workers_raw))
        if concurrency is None:
            warnings.append("workers: responses against requests in flight show no hinge; workers is "
                            f"throughput x service ({workers_raw:.2f}) rounded")
        low = max(1, math.floor(workers_raw))
        if math.floor(raw_interval[0]) < low - 1 or math.ceil(raw_interval[1]) > low + 2:
            warnings.append(f"workers: throughput x service is {raw_interval[0]:.2f} to {raw_interval[1]:.2f} "
                            "(95 %), wider than the two numbers the hinge chooses from: measure longer")
        # At saturation every worker is busy: the throughput gives the service time under load,
        # round trips of the worker's own (accepting, writing) included, which a light load misses.
        page = page.scaled(workers / x / page.mean_s)
        page = dataclasses.replace(page, mean_interval_s=(workers / x_hi, workers / max(x_lo, 1e-12)))
        services["page"] = page
    for s in services.values():
        lo, hi = s.mean_interval_s
        if (hi - lo) / 2 > MAX_RELATIVE_HALF_WIDTH * s.mean_s:
            warnings.append(f"{s.kind}: mean service {lo * 1000:.3g} to {hi * 1000:.3g} ms (95 %), wider than "
                            f"+-{MAX_RELATIVE_HALF_WIDTH:.0%}: measure longer")
    overflow = _overflow(sat)
    if overflow == "none":
        return SiteFit(services=services, workers=workers, workers_raw=workers_raw, concurrency=concurrency,
                       queue_limit=math.inf, queue_raw=math.nan, saturated_throughput_per_s=x,
                       saturated_at_per_s=sat[0].rate_per_s, throughput_interval_per_s=(x_lo, x_hi),
                       workers_raw_interval=raw_interval, queue_raw_range=(math.nan, math.nan),
                       saturated_steps=len(sat), warnings=tuple(warnings), overflow=overflow,
                       capacity=capacity, precision_target=precision_target)
    if overflow == "connection errors":
        warnings.append("overflow: the saturated site refused or reset connections without an answer (a kernel "
                        "listen backlog overflowing); the model has no such failure and turns them into 503s of "
                        "a backlog limit of the same size")
    mu = 1.0 / page.mean_s
    measured = []  # (offered rate, measured mean number waiting) of each saturated step
    for s in sat:
        if s.answered:
            response = float(s.response_s.mean())
            if overflow == "dropped SYNs":
                # A retransmission's back-off is not a wait in the backlog, and it can come after the
                # handshake too: the final ACK dropped, the handshake then completes when the SYN-ACK
                # (1 s) or the request's data (200 ms, TCP's least timeout) is sent again. The waits
                # are read from the requests whose handshake no timer delayed, and by their median,
                # which the minority delayed after it does not move (a saturated backlog is full:
                # its waits are near their mean).
                connect = s.answered_connect_s()
                direct = connect < DROPPED_SYN_S
                response = float(np.median(s.response_s[direct] - connect[direct] if direct.any() else s.response_s))
            wait = max(response - page.round_trip_s - page.mean_s, 0.0)
            measured.append((s.rate_per_s, s.throughput_per_s * wait))
    queue_raw = float(np.mean([lq for _, lq in measured])) if measured else 0.0
    queue_range = (min(lq for _, lq in measured), max(lq for _, lq in measured)) if measured else (0.0, 0.0)
    if len(measured) == 1:
        warnings.append("backlog: read from one saturated step only (raise --max-rate or --duration-s)")

    def misfit(q: int) -> float:
        return sum((theory.mmck_stats(workers, capacity=workers + q, arrival_rate_per_s=lam,
                                      service_rate_per_s=mu).mean_queue - lq) ** 2 for lam, lq in measured)

    # L_q grows with the limit: the best limit is found by a scan over the plausible range.
    queue_limit = min(range(0, max(8, int(4 * queue_raw) + 8)), key=misfit) if measured else 0
    return SiteFit(services=services, workers=workers, workers_raw=workers_raw, concurrency=concurrency,
                   queue_limit=queue_limit, queue_raw=queue_raw, saturated_throughput_per_s=x,
                   saturated_at_per_s=sat[0].rate_per_s if sat else None,
                   throughput_interval_per_s=(x_lo, x_hi), workers_raw_interval=raw_interval,
                   queue_raw_range=queue_range, saturated_steps=len(sat), warnings=tuple(warnings),
                   overflow=overflow if sat else "none seen", capacity=capacity,
                   precision_target=precision_target)


def _overflow(sat: list[StepResult]) -> str:
    """How the saturated steps turned requests away: "503", "dropped SYNs", "connection errors", or "none"."""
    if not sat:
        return "none seen"
    sent = sum(s.sent for s in sat)
    refused = sum(s.statuses.get(503, 0) for s in sat)
    errors = sum(s.statuses.get(CONNECTION_ERROR, 0) for s in sat)  # timeouts (0) are a long queue: not refused
    dropped = sum(s.dropped_syns for s in sat)
    if max(refused + errors, dropped) <= REFUSED_AT_MOST * sent:
        return "none"
    if dropped >= refused + errors:
        return "dropped SYNs"
    return "connection errors" if errors > refused else "503"
