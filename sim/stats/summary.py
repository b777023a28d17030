"""A run's results as data: ``summary.json``'s figures and ``timeseries.csv``'s rows.

The same columns describe predicted runs (``surge run``) and measured ones
(``surge loadtest``), so they can be laid side by side.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sim.stats.attempts import attempt_quantiles
from sim.stats.confidence import mean_ci

__all__ = ["summarize", "timeseries", "TIMESERIES_COLUMNS", "aggregate", "flatten"]

TIMESERIES_COLUMNS = [
    "bin_start_s", "bin_end_s", "arrivals", "page_views", "completed", "rejected", "timed_out", "abandoned",
    "retries", "actions_completed", "actions_lost", "p50_s", "p95_s", "p99_s",
    "in_system_app", "in_queue_app", "in_system_db", "in_queue_db", "in_queue_waiting_room",
    "utilization_app", "utilization_db", "instances", "waiting_room_refreshes", "signature_queue",
]


def _quantiles(hist) -> dict:
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
        "wait_s": _quantiles(rec.wait),
        "response_s": _quantiles(rec.response),
        "page_response_s": _quantiles(rec.page_response),
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


def timeseries(result) -> list[list]:
    """One row per ``run.bin_s`` with the columns of :data:`TIMESERIES_COLUMNS`."""
    rec = result.recorder
    s, lv = rec.series, rec.levels
    edges = s.edges_s
    n = len(edges) - 1
    counts = {name: s.counter(name) for name in (
        "arrivals", "page_views", "completed", "rejected", "timed_out", "abandoned", "retries",
        "actions_completed", "actions_lost")}
    refreshes = s.counter("waiting_room_refreshes")
    q = {p: s.quantile_series("response_s", p) for p in (0.5, 0.95, 0.99)}
    per_bin = {name: rec.level_per_bin(name) for name in (*lv, "app_in_system", "db_in_system")}
    with np.errstate(invalid="ignore", divide="ignore"):
        util_app = per_bin["app_busy"] / per_bin["app_capacity"]
        util_db = per_bin["db_busy"] / per_bin["db_capacity"]
    rows = []
    for i in range(n):
        rows.append([
            edges[i], edges[i + 1], *(int(counts[k][i]) for k in counts),
            q[0.5][i], q[0.95][i], q[0.99][i],
            per_bin["app_in_system"][i], per_bin["app_queue"][i], per_bin["db_in_system"][i],
            per_bin["db_queue"][i], per_bin["room_queue"][i], util_app[i], util_db[i], per_bin["instances"][i],
            int(refreshes[i]),
            per_bin["signature_queue"][i],
        ])
    return rows


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
