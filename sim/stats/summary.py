"""A run's results as data: ``summary.json``'s figures and ``timeseries.csv``'s rows.

The same columns describe predicted runs (``surge run``) and measured ones
(``surge loadtest``), so they can be laid side by side.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sim.stats.attempts import QUANTILES, attempt_quantiles
from sim.stats.confidence import mean_ci
from sim.stats.figures import REGISTRY, columns

__all__ = ["summarize", "timeseries", "rows_of", "quantile_figures", "TIMESERIES_COLUMNS", "aggregate", "flatten"]

TIMESERIES_COLUMNS = columns()  # the registry's order (sim.stats.figures)
_COUNTS = frozenset(f.column for f in REGISTRY if f.column and f.unit == "count")


def quantile_figures(hist) -> dict:
    """A latency histogram's ``mean``, ``p50``, ``p95``, ``p99`` and ``count`` (nan where it is empty)."""
    empty = hist.count == 0
    return {
        "mean": math.nan if empty else hist.mean,
        "p50": hist.quantile(0.50),
        "p95": hist.quantile(0.95),
        "p99": hist.quantile(0.99),
        "count": hist.count,
    }


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _edge_overflow(result) -> float:
    """CDN hits beyond ``site.cdn.edge_capacity_per_s``, bin by bin (hits are counted, not queued)."""
    cdn = result.scenario.site.cdn
    if cdn is None or math.isinf(cdn.edge_capacity_per_s):
        return 0.0
    series = result.recorder.series
    keep = series.edges_s[:-1] >= result.recorder.warmup_s
    excess = series.counter("cdn_hits") - cdn.edge_capacity_per_s * series.bin_lengths_s
    return float(np.maximum(excess, 0.0)[keep].sum())


def summarize(result) -> dict:
    """The figures of one run (after the warm-up), as nested dicts of numbers."""
    rec = result.recorder
    tot = rec.totals
    warm = rec.warmup_s
    lv = rec.levels
    arrived = tot["visitors.arrived"]
    served, abandoned, failed = tot["visitors.served"], tot["visitors.abandoned"], tot["visitors.failed"]
    req_arrived = tot["requests.arrived"]
    settled = sum(tot[f"requests.{k}"] for k in ("completed", "rejected", "timed_out", "abandoned"))

    def level(name):
        return rec.level_mean(name, warm)

    app_on, db_on = rec.modelled["app"], rec.modelled["db"]
    attempted, completed = tot["actions.attempted"], tot["actions.completed"]
    return {
        "scenario": result.scenario.name or result.scenario.path,
        "partial": result.partial,
        "end_s": result.end_s,
        "warmup_s": warm,
        "visitors": {
            "arrived": arrived, "served": served, "abandoned": abandoned, "failed": failed,
            "in_system": arrived - served - abandoned - failed,
            "lost": abandoned + failed,
            "lost_fraction": _ratio(abandoned + failed, arrived),
            "retries": tot["visitors.retries"],
            "abandoned_in_waiting_room": tot["waiting_room.abandoned"],
        },
        "page_views": {"attempted": tot["page_views.attempted"], "completed": tot["page_views.completed"]},
        "requests": {
            "arrived": req_arrived,
            "completed": tot["requests.completed"],
            "rejected": tot["requests.rejected"],
            "timed_out": tot["requests.timed_out"],
            "abandoned": tot["requests.abandoned"],
            "in_system": req_arrived - settled,
            "wasted": tot["requests.wasted"],
            "error_fraction": _ratio(tot["requests.rejected"] + tot["requests.timed_out"], req_arrived),
            "cdn_hits": tot["requests.cdn_hits"],
            "edge_overflow": _edge_overflow(result),
        },
        "wait_s": quantile_figures(rec.wait),
        "response_s": quantile_figures(rec.response),
        "page_response_s": quantile_figures(rec.page_response),
        "page_attempt_s": attempt_quantiles(
            rec.page_response, attempts=tot["page_views.attempted"] + tot["actions.submits"],
            answered=tot["page_views.completed"] + completed),
        "actions": {
            "attempted": attempted, "completed": completed, "lost": tot["actions.lost"],
            "lost_fraction": _ratio(tot["actions.lost"], attempted),
        },
        "utilization": {
            "app": _ratio(level("app_busy"), level("app_capacity")) if app_on else math.nan,
            "db": _ratio(level("db_busy"), level("db_capacity")) if db_on else math.nan,
        },
        "in_system": {"app": level("app_in_system") if app_on else math.nan,
                      "db": level("db_in_system") if db_on else math.nan},
        "in_queue": {"app": level("app_queue") if app_on else math.nan,
                     "db": level("db_queue") if db_on else math.nan,
                     "waiting_room": level("room_queue") if rec.modelled["waiting_room"] else math.nan},
        "peak_queue": {"app": lv["app_queue"].max_level, "db": lv["db_queue"].max_level,
                       "waiting_room": lv["room_queue"].max_level},
        "instances": {"mean": level("instances") if app_on else math.nan, "max": lv["instances"].max_level},
        "waiting_room": {"abandoned": tot["waiting_room.abandoned"], "rejected": tot["waiting_room.rejected"],
                         "refreshes": tot["waiting_room.refreshes"]},
        "signatures": {
            "queued": tot["signatures.queued"], "written": tot["signatures.written"],
            "pending_at_end": tot["signatures.queued"] - tot["signatures.written"],
            "max_lag_s": rec.signature_max_lag_s,
        },
    }


def _column_values(result) -> dict[str, np.ndarray]:
    """Each column of :data:`TIMESERIES_COLUMNS`, per bin, from the recorder's counters, histograms and levels."""
    rec = result.recorder
    s = rec.series
    edges = s.edges_s
    values = {"bin_start_s": edges[:-1], "bin_end_s": edges[1:]}
    for name in ("arrivals", "page_views", "completed", "rejected", "timed_out", "abandoned", "retries",
                 "actions_completed", "actions_lost", "waiting_room_refreshes"):
        values[name] = s.counter(name)
    for q in ("p50", "p95", "p99"):
        values[f"{q}_s"] = s.quantile_series("response_s", QUANTILES[q])
    per_bin = {name: rec.level_per_bin(name) for name in (*rec.levels, "app_in_system", "db_in_system")}
    for column, level in (("in_system_app", "app_in_system"), ("in_queue_app", "app_queue"),
                          ("in_system_db", "db_in_system"), ("in_queue_db", "db_queue"),
                          ("in_queue_waiting_room", "room_queue"), ("instances", "instances"),
                          ("signature_queue", "signature_queue")):
        values[column] = per_bin[level]
    with np.errstate(invalid="ignore", divide="ignore"):
        values["utilization_app"] = per_bin["app_busy"] / per_bin["app_capacity"]
        values["utilization_db"] = per_bin["db_busy"] / per_bin["db_capacity"]
    return values


def rows_of(values: dict, n: int, cols: Sequence[str]) -> list[list]:
    """``n`` rows of ``cols`` from per-bin ``values`` by column name; counts as integers, a column
    ``values`` lacks as nan (a load test has no queue to measure)."""
    nan_column = [math.nan] * n
    by_col = [(values.get(c, nan_column), c in values and c in _COUNTS) for c in cols]
    return [[int(v[i]) if count else v[i] for v, count in by_col] for i in range(n)]


def timeseries(result) -> list[list]:
    """One row per ``run.bin_s`` with the columns of :data:`TIMESERIES_COLUMNS`."""
    return rows_of(_column_values(result), result.recorder.series.n_bins, TIMESERIES_COLUMNS)


def flatten(summary: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def aggregate(summaries: Sequence[dict]) -> dict:
    """Mean of each figure over replications, with its 95 % confidence half-width as ``<key>_ci``."""
    first = summaries[0]

    def merge(parts: list[dict]) -> dict:
        out = {}
        for key, value in parts[0].items():
            if isinstance(value, dict):
                out[key] = merge([p[key] for p in parts])
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                out[key] = value if key != "partial" else any(p[key] for p in parts)
            else:
                values = np.asarray([p[key] for p in parts], dtype=float)
                finite = values[~np.isnan(values)]
                if len(finite) == 0:
                    out[key], out[f"{key}_ci"] = math.nan, math.nan
                elif np.isinf(finite).any():  # a percentile some replication never reached: no mean
                    out[key], out[f"{key}_ci"] = float(finite[np.isinf(finite)][0]), math.nan
                else:
                    mean, half = mean_ci(finite, 0.95)
                    out[key], out[f"{key}_ci"] = float(mean), float(half)
        return out

    merged = merge(list(summaries))
    merged["replications"] = len(summaries)
    merged["scenario"] = first["scenario"]
    return merged
