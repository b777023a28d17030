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
* **Backlog**: by Little's law the mean number waiting is the throughput times the
  mean wait of answered requests, ``L_q = X * (mean response - round trip - E[S])``;
  the backlog limit is the one whose M/M/c/K queue has that ``L_q`` at the offered
  rates of the saturated steps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from sim.analysis import theory
from sim.analysis.concurrency import ConcurrencyFit, fit_concurrency, in_flight_when_sent

__all__ = ["StepResult", "ServiceFit", "SiteFit", "fit_service", "fit_site", "pooled_throughput_per_s", "saturated",
           "site_toml"]


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

    def in_flight_responses(self, round_trip_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(others in the site when it arrived, response from sending) of each answered request."""
        if self.sent_s is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        n = in_flight_when_sent(self.sent_s, self.finished_s, round_trip_s=round_trip_s)
        return n[self.ok], (self.finished_s - self.sent_s)[self.ok]

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
                                   quantiles_s=tuple(v * factor for v in self.quantiles_s))

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
    queue_limit: int
    queue_raw: float
    saturated_throughput_per_s: float
    saturated_at_per_s: float | None


def _ks(samples: np.ndarray, cdf) -> float:
    x = np.sort(samples)
    n = len(x)
    f = cdf(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


def fit_service(kind: str, response_s: np.ndarray, *, round_trip_s: float | None = None,
                round_trip_source: str = "the fastest light-load response") -> ServiceFit:
    """The service-time law of ``kind`` from light-load responses less the round trip.

    ``round_trip_s`` is measured apart from the service (a TCP connect, a path without app work);
    without it the fastest response stands in, which holds only where a service can be near 0
    (an exponential's): a page whose render never takes 0 s would lose most of it to the round trip.
    The law: constant when the CV is at most CONSTANT_CV; else the exponential (one parameter, M/M/c)
    when its Kolmogorov-Smirnov distance is within the 1 % critical one, 1.628 / sqrt(n); else the
    better of gamma and lognormal when it is; else the empirical law (its quantiles)."""
    x = np.asarray(response_s, dtype=float)
    if len(x) < 10:
        raise ValueError(f"{kind}: {len(x)} answered requests at light load; need at least 10")
    if round_trip_s is None:
        round_trip_s = float(x.min())
    x = x - round_trip_s
    x = x[x > 0]
    if len(x) < 10:
        raise ValueError(f"{kind}: fewer than 10 responses are longer than the round trip "
                         f"({round_trip_s * 1000:.3g} ms)")
    mean = float(x.mean())
    cv = float(x.std(ddof=1) / mean)
    logs = np.log(x)
    median, sigma = float(np.exp(logs.mean())), float(logs.std(ddof=1))
    shape = 1.0 / max(cv, 1e-9) ** 2
    common = dict(kind=kind, samples=len(x), mean_s=mean, cv=cv, round_trip_s=round_trip_s, median_s=median,
                  sigma=sigma, round_trip_source=round_trip_source, shape=shape,
                  ks_critical=1.628 / math.sqrt(len(x)))
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
        q = tuple(float(v) for v in np.quantile(x, np.linspace(0, 1, EMPIRICAL_QUANTILES)))
        return ServiceFit(law="empirical", ks_distance=_ks(x, lambda v: np.searchsorted(q, v, side="right") / len(q)),
                          distances=distances, quantiles_s=q, **common)
    return ServiceFit(law=law, ks_distance=distances[law], distances=distances, **common)


def saturated(step: StepResult) -> bool:
    """The site no longer keeps up: it rejects, or answers clearly less than it is offered."""
    return step.rejected_fraction > 0.05 or step.throughput_per_s < 0.85 * step.rate_per_s


def pooled_throughput_per_s(steps: list[StepResult]) -> float:
    """The saturated throughput: every saturated step's answers over their windows together.

    Each saturated step measures the same capacity; the best of them would pick the
    luckiest noise (a short step's count is off by several percent), the pool averages it."""
    return sum(s.answered_in_window for s in steps) / sum(s.window_s for s in steps)


def _concurrency(steps: list[StepResult], throughput_per_s: float, round_trip_s: float,
                 workers_raw: float) -> ConcurrencyFit | None:
    """The hinge fit over every page step's answers (each step counts its own requests in flight)."""
    pairs = [s.in_flight_responses(round_trip_s) for s in steps]
    n = np.concatenate([p[0] for p in pairs])
    if not len(n):
        return None
    # X * E[S] narrows it to two neighbours; the hinge, read where it is (up to about twice
    # that many in flight), picks one of them.
    low = max(1, math.floor(workers_raw))
    try:
        return fit_concurrency(n, np.concatenate([p[1] for p in pairs]), throughput_per_s=throughput_per_s,
                               candidates=[low, low + 1], max_in_flight=math.ceil(2 * workers_raw) + 2)
    except ValueError:
        return None


def fit_site(light: dict, steps: list[StepResult], *, round_trip_s: float | None = None,
             round_trip_source: str = "the fastest light-load response") -> SiteFit:
    """``light``: kind -> light-load StepResult; ``steps``: the rising page load, in order;
    ``round_trip_s``: measured apart from the service (None: each kind's fastest response)."""
    services = {kind: fit_service(kind, step.response_s, round_trip_s=round_trip_s,
                                  round_trip_source=round_trip_source) for kind, step in light.items()}
    page = services["page"]
    sat = [s for s in steps if saturated(s)]
    if not sat:
        raise ValueError(f"the site never saturated up to {steps[-1].rate_per_s:g} requests/s: "
                         "raise --max-rate to find its capacity")
    x = pooled_throughput_per_s(sat)
    workers_raw = x * page.mean_s
    concurrency = _concurrency([light["page"], *steps], x, page.round_trip_s, workers_raw)
    workers = concurrency.workers if concurrency else max(1, round(workers_raw))
    # At saturation every worker is busy: the throughput gives the service time under load,
    # round trips of the worker's own (accepting, writing) included, which a light load misses.
    page = page.scaled(workers / x / page.mean_s)
    services["page"] = page
    mu = 1.0 / page.mean_s
    measured = []  # (offered rate, measured mean number waiting) of each saturated step
    for s in sat:
        if s.answered:
            wait = max(float(s.response_s.mean()) - page.round_trip_s - page.mean_s, 0.0)
            measured.append((s.rate_per_s, s.throughput_per_s * wait))
    queue_raw = float(np.mean([lq for _, lq in measured])) if measured else 0.0

    def misfit(q: int) -> float:
        return sum((theory.mmck_stats(workers, capacity=workers + q, arrival_rate_per_s=lam,
                                      service_rate_per_s=mu).mean_queue - lq) ** 2 for lam, lq in measured)

    # L_q grows with the limit: the best limit is found by a scan over the plausible range.
    queue_limit = min(range(0, max(8, int(4 * queue_raw) + 8)), key=misfit) if measured else 0
    return SiteFit(services=services, workers=workers, workers_raw=workers_raw, concurrency=concurrency,
                   queue_limit=queue_limit,
                   queue_raw=queue_raw, saturated_throughput_per_s=x, saturated_at_per_s=sat[0].rate_per_s)


def _workers_reason(fit: SiteFit) -> str:
    check = f"throughput x mean page service at light load = {fit.workers_raw:.2f}"
    if fit.concurrency is None:
        return check
    c = fit.concurrency
    return f"requests wait once {c.workers} others are in the site (hinge over {c.samples} responses); {check}"


def site_toml(fit: SiteFit, *, host: str, when: str) -> str:
    """A ``[site]`` section a scenario can include, with the fit's quality in comments."""
    first = next(iter(fit.services.values()))
    lines = [f"# Written by `surge calibrate` against {host} on {when}.",
             f"# Round trip: {first.round_trip_s * 1000:.3f} ms, from {first.round_trip_source}.",
             "# Service times: light-load responses less the round trip; the law by goodness of fit; the page's",
             "# mean is then set from the saturated throughput (below), which counts the worker's own overheads too."]
    for s in fit.services.values():
        lines.append(f"# {s.kind}: {s.samples} samples, service mean {s.mean_s * 1000:.2f} ms, CV {s.cv:.2f} -> "
                     f"{s.law} ({s.quality()})")
    lines += [
        f"# Saturation from {fit.saturated_at_per_s:g} requests/s: {fit.saturated_throughput_per_s:.1f} answered/s"
        " over the saturated steps;",
        f"#   workers = {fit.workers}: {_workers_reason(fit)},",
        f"#   and the page service under load = workers / throughput = {fit.services['page'].mean_s * 1000:.2f} ms;",
        f"#   mean number waiting there (Little: throughput x mean wait) {fit.queue_raw:.1f}",
        f"#   -> backlog limit {fit.queue_limit}, the M/M/c/K limit with that mean number waiting",
        "[site.app]",
        "instances = 1",
        f"workers = {fit.workers}",
        f"queue_limit = {fit.queue_limit}",
        f"page_s = {fit.services['page'].toml()}",
    ]
    if "asset" in fit.services:
        lines.append(f"asset_s = {fit.services['asset'].toml()}")
    if "submit" in fit.services:
        lines.append(f"submit_s = {fit.services['submit'].toml()}")
    lines += [
        "# The services above are whole responses less the round trip: the site's own database work is in",
        "# them. A scenario's [site.db] would add it a second time, so this file replaces it with none",
        "# (the database pool's own queueing is then not modelled apart from the workers').",
        "[site.db]",
        "connections = 1",
        "query_s = 0",
        "queries_per_page = 0",
        "queries_per_submit = 0",
    ]
    return "\n".join(lines) + "\n"
