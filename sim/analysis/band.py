"""A prediction band: the model run again at the two ends of the calibration's capacity interval.

``surge calibrate`` writes ``[site.calibration]``: the saturated throughput it fitted and its
95 % interval. The page service in ``[site.app].page_s`` was set from the point capacity
(``workers / capacity_per_s``); the band's two runs keep its law's shape and scale it to
``workers / capacity_high_per_s`` (the fast end: the most the site may answer) and
``workers / capacity_low_per_s`` (the slow end). The factor is taken relative to the point
capacity, ``capacity_per_s / capacity_*_per_s``, so that a page law edited by hand after the
calibration is scaled by the same uncertainty rather than replaced. Form submits take the page
law when ``submit_s`` is not given, so they follow it; assets and the database keep theirs, as the
calibration measured only pages.

Each end is run with the point run's seed and replications (common random numbers: the same
visitors meet a faster or slower site), so the band is the calibration's uncertainty alone,
not the model's run-to-run noise. Its figures mirror the summary's paths, each a pair
``[fast end, slow end]``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

from sim.analysis.agreement import disagreements
from sim.analysis.run_summary import figures_and_rows
from sim.config.distributions import scaled
from sim.config.scenario import Scenario
from sim.config.site import CalibrationConfig
from sim.engine import simulate_replications
from sim.stats.figures import figure

__all__ = ["ENDS", "BAND_TERMS", "BAND_COUNTS", "BandRun", "end_factors", "end_scenarios", "prediction_band",
           "simulate_band", "band_pair", "outside", "band_file", "measured_against", "outside_spans"]

ENDS = ("fast", "slow")  # the order of every pair: capacity_high_per_s's end, then capacity_low_per_s's

# The SLO terms (sim.stats.figures) a band carries, and the counts beside their fractions.
BAND_TERMS = ("completed_p95", "completed_p99", "p95", "p99", "errors", "lost_visitors", "lost_actions")
BAND_COUNTS = ("visitors.lost", "actions.lost")


def end_factors(calibration: CalibrationConfig) -> dict[str, float]:
    """How many times longer the page service is at each end than at the point capacity."""
    return {"fast": calibration.capacity_per_s / calibration.capacity_high_per_s,
            "slow": calibration.capacity_per_s / calibration.capacity_low_per_s}


def end_scenarios(scenario: Scenario) -> dict[str, Scenario]:
    """The scenario at each end of its calibration's interval (``{"fast": ..., "slow": ...}``).

    Raises ValueError for a scenario whose site carries no ``[site.calibration]``."""
    calibration = scenario.site.calibration
    if calibration is None:
        raise ValueError("the scenario's site has no [site.calibration]: no interval to run a band at")
    app = scenario.site.app
    return {end: dataclasses.replace(scenario, site=dataclasses.replace(
                scenario.site, app=dataclasses.replace(app, page_s=scaled(app.page_s, factor))))
            for end, factor in end_factors(calibration).items()}


def _at(figures: dict, path: tuple[str, ...]):
    for part in path:
        if not isinstance(figures, dict) or part not in figures:
            return None
        figures = figures[part]
    return figures


def _place(out: dict, path: tuple[str, ...], value) -> None:
    *parents, leaf = path
    for part in parents:
        out = out.setdefault(part, {})
    out[leaf] = value


def _plain(x):
    """A figure as summary.json holds it: a number, or None where the summary has none (or not a finite one)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return x


def _answered(figures: dict):
    """The share of attempts answered, when there were attempts (None otherwise)."""
    attempts = _plain(_at(figures, ("page_attempt_s", "attempts")))
    return _plain(_at(figures, ("page_attempt_s", "answered_fraction"))) if attempts else None


def prediction_band(scenario: Scenario, by_end: dict[str, dict], *, partial: bool = False) -> dict:
    """``summary.json``'s ``prediction_band``: the capacity interval, which end is which, and each figure
    of ``BAND_TERMS`` and ``BAND_COUNTS`` as ``[fast end, slow end]``, from each end's summary figures
    ``by_end`` (:func:`sim.stats.summary.summarize`'s, or their means over replications). A figure
    neither end has a value for is left out (an attempt percentile the failures reach
    at both ends is kept, ``[null, null]``); ``partial``: an end's run stopped early."""
    calibration = scenario.site.calibration
    factors = end_factors(calibration)
    page_mean_s = scenario.site.app.page_s.mean
    band: dict = {
        "capacity_per_s": calibration.capacity_per_s,
        "capacity_low_per_s": calibration.capacity_low_per_s,
        "capacity_high_per_s": calibration.capacity_high_per_s,
        "precision": calibration.precision,
        "ends": list(ENDS),
        "capacity_at_ends_per_s": [calibration.capacity_high_per_s, calibration.capacity_low_per_s],
        "page_service_mean_s": [page_mean_s * factors[end] for end in ENDS],
        "partial": partial,
    }
    paths = [figure(name).path for name in BAND_TERMS] + [tuple(k.split(".")) for k in BAND_COUNTS]
    for path in paths:
        pair = [_plain(_at(by_end.get(end, {}), path)) for end in ENDS]
        # an attempt percentile is null where the failures reach it: kept, unanswered at both ends
        unanswered = path[0] == "page_attempt_s" and all(_answered(by_end.get(end, {})) is not None for end in ENDS)
        if any(v is not None for v in pair) or unanswered:
            _place(band, path, pair)
    return band


def band_file(end: str) -> str:
    """The time series of a band's end, written beside ``timeseries.csv`` (``surge compare`` reads them)."""
    return f"timeseries_band_{end}.csv"


@dataclass(frozen=True, kw_only=True)
class BandRun:
    """Both ends simulated: ``band`` (summary.json's ``prediction_band``), each end's mean time series, and the
    reason a run stopped early (None: both complete)."""

    band: dict
    rows: dict  # end -> timeseries.csv's rows (TIMESERIES_COLUMNS)
    error: str | None = None


def simulate_band(scenario: Scenario, replications: int, *, engine: str,
                  progress: Callable[[str, int, int], None] | None = None) -> BandRun:
    """The model at each end of the calibration's interval, with the scenario's seed and ``replications``.

    Ctrl-C or an error stops it between or within replications: what was computed is kept (an end
    stopped midway holds its partial figures, an end not reached is left out) and the band is marked partial. ``progress(end, done, total)`` as
    :func:`sim.engine.simulate_replications` calls it."""
    by_end: dict[str, dict] = {}
    rows: dict[str, list] = {}
    error = None
    for end, at_end in end_scenarios(scenario).items():
        results = simulate_replications(at_end, replications, engine=engine,
                                        progress=None if progress is None else
                                        (lambda done, total, end=end: progress(end, done, total)))
        by_end[end], rows[end] = figures_and_rows(results)
        if results[-1].partial:
            error = results[-1].error
            break
    return BandRun(band=prediction_band(scenario, by_end, partial=error is not None), rows=rows, error=error)


def band_pair(band: dict | None, key: str) -> tuple[float, float] | None:
    """The ``[fast end, slow end]`` of a dotted ``key`` in a ``prediction_band``, None when it has none. An
    attempt percentile's null is one the failures reach: ``inf``, unanswered."""
    pair = _at(band, tuple(key.split("."))) if isinstance(band, dict) else None
    if not isinstance(pair, list) or len(pair) != 2:
        return None
    unanswered = key.startswith("page_attempt_s.")
    ends = [math.inf if unanswered and v is None else _plain(v) for v in pair]
    return None if None in ends else (float(ends[0]), float(ends[1]))


def _judged(figures: dict, key: str):
    """A measured figure to judge against a band; an attempt percentile missing where there were attempts
    is unanswered (``inf``); None for a figure the summary does not hold."""
    value = _plain(_at(figures, tuple(key.split("."))))
    if value is None and key.startswith("page_attempt_s.") and _answered(figures) is not None:
        return math.inf
    return value


def outside(value, pair: tuple[float, float] | None) -> int:
    """-1 below the band, +1 above it, 0 inside (its ends included, in either order) or when either is
    missing; ``inf`` (unanswered) is a value like any other."""
    if pair is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return 0
    low, high = min(pair), max(pair)
    return -1 if value < low else 1 if value > high else 0


def measured_against(band: dict, measured: dict) -> list[dict]:
    """Each band figure (``BAND_TERMS``) a measured summary holds, against the band: ``{"figure", "key",
    "measured", "band": [fast, slow], "outside": "above" | "below" | None}`` (an unanswered percentile is
    ``inf``: null in JSON). Taken as they stand: the measurement's own run-to-run noise is not allowed for
    here."""
    found = []
    for name in BAND_TERMS:
        key = figure(name).key
        pair, value = band_pair(band, key), _judged(measured, key)
        if pair is None or value is None:
            continue
        side = outside(value, pair)
        found.append({"figure": name, "key": key, "measured": value, "band": list(pair),
                      "outside": {1: "above", -1: "below"}.get(side)})
    return found


def outside_spans(band_pairs, get, variance=None) -> list[tuple[float, float, float, int]]:
    """Runs of bins where the measured count ``get(row)`` lies outside the band beyond its noise, as
    :func:`sim.analysis.agreement.disagreements` gives them, each bin judged against the band's nearer
    end (inside the band: no difference). ``band_pairs``: (start, end, fast row, slow row, measured row),
    a side None where it has no bin."""
    nearest = []
    for start, end, fast, slow, m in band_pairs:
        values = [float(get(row)) for row in (fast, slow, m) if row is not None]
        if len(values) < 3 or not all(math.isfinite(v) for v in values):
            nearest.append((start, end, None, m))  # a bin the band or the measurement lacks: not judged
            continue
        ends = sorted(((values[0], fast), (values[1], slow)), key=lambda e: e[0])
        value = values[2]
        (low, low_row), (high, high_row) = ends
        # the band's value for this bin: the measurement itself when inside, else the end it passed
        row = high_row if value > high else low_row
        nearest.append((start, end, {**row, _CLIPPED: min(max(value, low), high)}, m))
    return disagreements(nearest, lambda r: r[_CLIPPED] if _CLIPPED in r else get(r), variance)


_CLIPPED = "__band_value"
