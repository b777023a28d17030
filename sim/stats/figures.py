"""The figures surge reports, declared once: name, unit, what each is computed from, over what, and where it shows.

One :class:`Figure` per figure, in :data:`REGISTRY`. Everything that names a figure reads
it from here: the SLO parser's terms (:data:`sim.analysis.slo.METRICS`), the terms the quick
advice, the risk screen and ``surge plan`` judge, the columns of ``timeseries.csv`` (a run's
and a load test's), the labels of the console's and the report's rows and of the plots, and
the tables of ``docs/outputs.md`` (a test checks they match). Adding an SLO term is one entry
here; adding a column is one entry here plus its per-bin computation in
:mod:`sim.stats.summary` (a run's) and :mod:`sim.loadtest.stats` (a load test's, when it has one).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Figure", "REGISTRY", "UNITS", "BASES", "EVERY_ATTEMPT", "COMPLETED", "figure", "slo_terms", "columns", "terms_where",
           "shown_where", "slo_lines", "place"]

# "s": seconds (an SLO limit in s or ms); "fraction": 0..1 (an SLO limit in %); "count": how many
# (per bin in a column); "expected": a mean count; "level": a time average of how many; "ratio": busy over in service.
UNITS = ("s", "fraction", "count", "expected", "level", "ratio")

# Over what a latency figure is taken: the two words a reader must not confuse.
EVERY_ATTEMPT = "every attempt"  # every page view and submit, a failed one as never answered
COMPLETED = "completed pages"  # the page views and submits answered, alone
BASES = (EVERY_ATTEMPT, COMPLETED, "")


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One figure. ``key``: its dotted path in ``summary.json`` (None: only a column); ``column``: its
    ``timeseries.csv`` column (None: not one); ``source``: what it is computed from (the recorder's
    counters, histograms and levels, or the load test's); ``basis``: for a latency, over what it is
    taken (:data:`EVERY_ATTEMPT` or :data:`COMPLETED`)."""

    name: str
    unit: str
    label: str
    source: str
    key: str | None = None
    column: str | None = None
    basis: str = ""
    slo: bool = False  # an SLO term: ``--slo "NAME<LIMIT"``
    quick: int = 0  # judged by surge run's quick advice and surge risk's screen, listed in this order (0: not)
    plannable: bool = False  # surge plan sizes the workers for it
    console: bool = False  # labels a row of the summary table surge run and surge loadtest print (and the
    # report's summary section shows): sim.output.summary.summary_rows
    report: bool = False  # a column of surge report's table of a sweep's points: sim.output.report.sweep_table
    model: bool = True  # a run's column has it (False: a load test's alone)
    loadtest: bool = True  # a load test's column has it (False: empty, nan, in its file)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"name: lower-case letters, digits and _, got {self.name!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit: one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.basis not in BASES:
            raise ValueError(f"basis: one of {BASES}, got {self.basis!r}")
        if self.key is None and self.column is None:
            raise ValueError(f"{self.name}: a figure is a summary key, a column or both")
        if self.slo and (self.key is None or self.unit not in ("s", "fraction")):
            raise ValueError(f"{self.name}: an SLO term needs a summary key and a unit of s or fraction")
        if self.quick < 0:
            raise ValueError(f"{self.name}: quick is a place in the quick advice's list (1 first) or 0, "
                             f"got {self.quick}")
        if (self.quick or self.plannable) and not self.slo:
            raise ValueError(f"{self.name}: only an SLO term is judged by the quick advice or sized by plan")
        if not (self.model or self.loadtest):
            raise ValueError(f"{self.name}: a column of neither a run nor a load test")

    @property
    def path(self) -> tuple[str, ...]:
        """``key`` as the path into ``summary.json``'s nested dicts."""
        return tuple(self.key.split(".")) if self.key else ()

    @property
    def described(self) -> str:
        """The label with its basis: ``page response p95 (completed pages)``."""
        return f"{self.label} ({self.basis})" if self.basis else self.label


def _term(name: str, key: str, unit: str, label: str, source: str, basis: str = "", **flags) -> Figure:
    return Figure(name=name, key=key, unit=unit, label=label, source=source, basis=basis, slo=True, **flags)


def _col(name: str, unit: str, label: str, source: str, basis: str = "", **flags) -> Figure:
    return Figure(name=name, column=name, unit=unit, label=label, source=source, basis=basis, **flags)


_ATTEMPTS = "the recorder's page_response histogram, over page_views.attempted + actions.submits"
_PAGES = "the recorder's page_response histogram"
_WAIT = "the recorder's wait histogram"

REGISTRY: tuple[Figure, ...] = (
    # -- SLO terms, in the order the parser lists them ------------------------------------------
    _term("p50", "page_attempt_s.p50", "s", "page response p50", _ATTEMPTS, EVERY_ATTEMPT, plannable=True),
    _term("p95", "page_attempt_s.p95", "s", "page response p95", _ATTEMPTS, EVERY_ATTEMPT, plannable=True,
          quick=3),
    _term("p99", "page_attempt_s.p99", "s", "page response p99", _ATTEMPTS, EVERY_ATTEMPT, plannable=True),
    _term("completed_p50", "page_response_s.p50", "s", "page response p50", _PAGES, COMPLETED),
    _term("completed_p95", "page_response_s.p95", "s", "page response p95", _PAGES, COMPLETED, report=True),
    _term("completed_p99", "page_response_s.p99", "s", "page response p99", _PAGES, COMPLETED),
    _term("mean", "page_response_s.mean", "s", "page response mean", _PAGES, COMPLETED),
    # waits from arrival to service start: wait_p95<0.5s is P(wait > 0.5 s) <= 5 %
    _term("wait_p50", "wait_s.p50", "s", "wait before service p50", _WAIT, plannable=True),
    _term("wait_p95", "wait_s.p95", "s", "wait before service p95", _WAIT, plannable=True),
    _term("wait_p99", "wait_s.p99", "s", "wait before service p99", _WAIT, plannable=True),
    _term("errors", "requests.error_fraction", "fraction", "origin requests answered 503 or 504",
          "requests.rejected + requests.timed_out over requests.arrived (a load test: every request not 2xx/3xx)",
          quick=4),
    _term("dropped", "visitors.dropped_fraction", "fraction", "visitors dropped by the load generator",
          "a load test's visitors.dropped over arrived + dropped"),
    _term("lost_visitors", "visitors.lost_fraction", "fraction", "visitors lost",
          "visitors.abandoned + visitors.failed over visitors.arrived", quick=2, console=True,
          report=True),
    _term("lost_actions", "actions.lost_fraction", "fraction", "actions lost",
          "actions.lost over actions.attempted", quick=1, console=True, report=True),
    # -- timeseries.csv, in its column order ------------------------------------------------------
    _col("bin_start_s", "s", "bin start", "the run's bins (run.bin_s)"),
    _col("bin_end_s", "s", "bin end", "the run's bins (run.bin_s)"),
    _col("arrivals", "count", "visitors arriving", "counter arrivals"),
    _col("page_views", "count", "page views asked for", "counter page_views"),
    _col("completed", "count", "page views completed", "counter completed"),
    _col("rejected", "count", "origin requests answered 503", "counter rejected"),
    _col("timed_out", "count", "origin requests answered 504", "counter timed_out"),
    _col("abandoned", "count", "origin requests given up on", "counter abandoned"),
    _col("retries", "count", "retries started", "counter retries"),
    _col("actions_completed", "count", "actions completed", "counter actions_completed"),
    _col("actions_lost", "count", "actions lost", "counter actions_lost"),
    _col("p50_s", "s", "page response p50", "the bin's response_s histogram", COMPLETED),
    _col("p95_s", "s", "page response p95", "the bin's response_s histogram", COMPLETED),
    _col("p99_s", "s", "page response p99", "the bin's response_s histogram", COMPLETED),
    _col("in_system_app", "level", "requests at the app tier", "level app_in_system", loadtest=False),
    _col("in_queue_app", "level", "requests waiting for an app worker", "level app_queue", loadtest=False),
    _col("in_system_db", "level", "queries at the database", "level db_in_system", loadtest=False),
    _col("in_queue_db", "level", "queries waiting for a connection", "level db_queue", loadtest=False),
    _col("in_queue_waiting_room", "level", "visitors in the waiting room", "level room_queue", loadtest=False),
    _col("utilization_app", "ratio", "app utilization", "levels app_busy over app_capacity", loadtest=False),
    _col("utilization_db", "ratio", "database utilization", "levels db_busy over db_capacity", loadtest=False),
    _col("instances", "level", "app instances in service", "level instances", loadtest=False),
    _col("waiting_room_refreshes", "count", "waiting page reloads", "counter waiting_room_refreshes",
         loadtest=False),
    _col("signature_queue", "level", "signatures waiting for a writer", "level signature_queue", loadtest=False),
    _col("target_arrivals", "expected", "visitors expected", "the load test's plan", model=False),
    _col("dropped", "count", "visitors dropped by the load generator", "the load test's counter dropped",
         model=False),
    _col("errors", "count", "answers other than 503 and 504", "the load test's counter errors", model=False),
    _col("requests", "count", "requests sent", "the load test's counter requests", model=False),
    _col("lag_p99_s", "s", "send lag p99", "the bin's lag histogram", model=False),
    _col("lag_max_s", "s", "send lag max", "the bin's lag histogram", model=False),
    # -- console and report rows ------------------------------------------------------------------
    # (labels no longer than the table's longest, "visitors served (saw every page)": the columns stay put)
    Figure(name="page_response", key="page_response_s", unit="s", label="completed pages p50 / p95 / p99",
           source=_PAGES, basis=COMPLETED, console=True),
    Figure(name="page_attempt", key="page_attempt_s", unit="s", label="every attempt p50 / p95 / p99",
           source=_ATTEMPTS, basis=EVERY_ATTEMPT, console=True),
)


def _check(registry: tuple[Figure, ...]) -> None:
    names = [f.name for f in registry if f.key is not None]  # a column may share a term's name (errors)
    for kind, seen in (("key name", names), ("column", [f.column for f in registry if f.column])):
        twice = {n for n in seen if seen.count(n) > 1}
        if twice:
            raise ValueError(f"figures: {kind} declared twice: {', '.join(sorted(twice))}")


_check(REGISTRY)
_BY_NAME = {f.name: f for f in REGISTRY if f.key is not None}


def figure(name: str) -> Figure:
    """The summary figure (SLO term, console row) called ``name``."""
    return _BY_NAME[name]


def slo_terms() -> tuple[Figure, ...]:
    return tuple(f for f in REGISTRY if f.slo)


def terms_where(flag: str) -> tuple[str, ...]:
    """The SLO terms with ``flag`` set (``"quick"``, ``"plannable"``), in the order it gives (else the registry's)."""
    return tuple(f.name for f in sorted((f for f in REGISTRY if f.slo and getattr(f, flag)),
                                        key=lambda f: getattr(f, flag)))


def columns(*, model: bool = True, loadtest: bool = False) -> list[str]:
    """The columns of a run's ``timeseries.csv`` (``model``), then those only a load test's has."""
    cols = [f.column for f in REGISTRY if f.column and f.model] if model else []
    if loadtest:
        cols += [f.column for f in REGISTRY if f.column and not f.model]
    return cols


def slo_lines(objectives, keys: tuple[str, ...]) -> list[tuple[float, str]]:
    """The objectives judged on figures under ``keys`` of summary.json (``"page_attempt_s"``,
    ``"actions.lost_fraction"``), as (limit, label) for a plot: ``SLO p95<2s (every attempt)``."""
    lines = []
    for o in objectives:
        f = figure(o.metric)
        if any(f.key == k or f.key.startswith(f"{k}.") for k in keys):
            lines.append((o.limit, f"SLO {o.text}" + (f" ({f.basis})" if f.basis else "")))
    return lines


def shown_where(flag: str) -> tuple[Figure, ...]:
    """The figures with ``flag`` (``"console"``, ``"report"``) set, in the registry's order."""
    return tuple(f for f in REGISTRY if getattr(f, flag))


def place(values: dict[str, float]) -> dict:
    """SLO terms' values (``{"p95": 1.2}``) as the nested part of a summary they are judged from."""
    out: dict = {}
    for name, value in values.items():
        *parents, leaf = figure(name).path
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out
