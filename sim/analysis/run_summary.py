"""The summary of a run, built in one place: ``surge run``'s ``summary.json`` and an advice variant's row.

:func:`summarize_runs` turns the replications a run simulated into a :class:`RunSummary`: the
figures (:func:`sim.stats.summary.summarize`, averaged over the complete replications), the
time series, how it was run, and the verdict on its SLO. ``surge run`` prints and writes it,
``surge advise`` and the quick advice read a variant's row from it; the CLI adds nothing.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.analysis.slo import Objective
from sim.analysis.verdict import Verdict, peak_demand, verdict
from sim.config.scenario import Scenario
from sim.stats.summary import TIMESERIES_COLUMNS, aggregate, summarize, timeseries

__all__ = ["RunSummary", "Settings", "NOT_RUN", "summarize_runs", "complete_or_last", "with_quick", "with_band", "mean_rows",
           "figures_and_rows"]


class _NotRun:
    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN = _NotRun()


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How a run was made, as ``summary.json`` records it."""

    replications_requested: int
    seed: int
    engine: str
    time_scale: float = 1.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.replications_requested < 1:
            raise ValueError(f"replications_requested must be >= 1, got {self.replications_requested}")
        if not (self.time_scale > 0 and self.scale > 0):
            raise ValueError(f"time_scale and scale must be > 0, got {self.time_scale}, {self.scale}")


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """One run (its complete replications, or a lone partial one) judged against its SLO."""

    figures: dict  # summarize()'s nested figures; with replications, their means and ``_ci`` half-widths
    rows: list  # timeseries.csv's rows (TIMESERIES_COLUMNS), the mean over the replications used
    settings: Settings
    replications_complete: int
    objectives: tuple[Objective, ...]
    verdict: Verdict
    scenario: Scenario
    partial: bool
    # surge run's quick advice and quick look over the [uncertain] ranges: NOT_RUN writes no key, while
    # one that ran and had nothing to say (None) writes null
    quick_advice: dict | None | _NotRun = NOT_RUN
    quick_risk: dict | None | _NotRun = NOT_RUN
    # the model at the ends of [site.calibration]'s capacity interval (sim.analysis.band); None: no calibration
    prediction_band: dict | None = None

    @cached_property
    def peak_demand_x(self) -> float:
        """:func:`sim.analysis.verdict.peak_demand` (on demand: an advice variant's row does not need it)."""
        return peak_demand(self.scenario)

    @property
    def slo_text(self) -> str:
        return ",".join(o.text for o in self.objectives)

    def to_dict(self) -> dict:
        """``summary.json``: its keys are added to, never renamed (docs/outputs.md)."""
        s = self.settings
        out = {**self.figures, "partial": self.partial, "replications_requested": s.replications_requested,
               "replications_complete": self.replications_complete, "seed": s.seed, "engine": s.engine,
               "time_scale": s.time_scale, "scale": s.scale,
               # as surge loadtest writes it: each objective with the figure it was judged on
               "slo": [{"objective": t, "value": v, "met": m} for t, v, m in self.verdict.terms],
               "verdict": {**self.verdict.to_dict(), "slo": self.slo_text, "peak_demand_x": self.peak_demand_x}}
        if self.quick_advice is not NOT_RUN:
            out["verdict"]["quick_advice"] = self.quick_advice
        if self.quick_risk is not NOT_RUN:
            out["verdict"]["quick_risk"] = self.quick_risk
        if self.prediction_band is not None:
            out["prediction_band"] = self.prediction_band
        return out


def mean_rows(runs_rows: list[list[list]]) -> list[list]:
    """Each cell's mean over the replications' time series (all-nan cells stay nan)."""
    if len(runs_rows) == 1:
        return runs_rows[0]
    stacked = np.array(runs_rows, dtype=float)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stacked, axis=0).tolist()


def complete_or_last(results: list) -> list:
    """The replications a summary averages: the complete ones, else the last (partial) alone."""
    return [r for r in results if not r.partial] or [results[-1]]


def figures_and_rows(results: list) -> tuple[dict, list]:
    """The figures (means over the replications :func:`complete_or_last` keeps, with ``_ci`` half-widths)
    and the mean time series of ``results``."""
    used = complete_or_last(results)
    summaries = [summarize(r) for r in used]
    figures = aggregate(summaries) if len(summaries) > 1 else {**summaries[0], "replications": 1}
    return figures, mean_rows([timeseries(r) for r in used])


def summarize_runs(scenario, results: list, *, objectives: tuple[Objective, ...], settings: Settings) -> RunSummary:
    """The replications ``results`` of ``scenario`` as one summary. Replications stopped midway are left
    out of the means (:func:`complete_or_last`)."""
    last = results[-1]
    figures, rows = figures_and_rows(results)
    judged = verdict(scenario, figures, rows, TIMESERIES_COLUMNS, objectives)
    return RunSummary(figures=figures, rows=rows, settings=settings,
                      replications_complete=sum(not r.partial for r in results), objectives=objectives,
                      verdict=judged, scenario=scenario, partial=last.partial)


def with_band(summary: RunSummary, band: dict | None) -> RunSummary:
    """The summary with its ``prediction_band`` (:func:`sim.analysis.band.prediction_band`)."""
    return dataclasses.replace(summary, prediction_band=band)


def with_quick(summary: RunSummary, **ran: dict | None) -> RunSummary:
    """The summary with what surge run's quick looks that ran gave: ``advice=``, ``risk=``."""
    unknown = set(ran) - {"advice", "risk"}
    if unknown:
        raise TypeError(f"with_quick takes advice and risk, not {', '.join(sorted(unknown))}")
    return dataclasses.replace(summary, **{f"quick_{name}": got for name, got in ran.items()})
