"""The verdict of a run against its SLO: does the site hold, when did it lose, and what is the bottleneck.

A pure function of the scenario, the run's summary and its timeseries rows, so that
``surge run``, ``surge advise`` and the report say the same thing: "holds", or "does not
hold: 13 % of actions lost between 1:00 and 1:26; bottleneck: form submits at the app tier".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.analysis.slo import Objective, evaluate
from sim.config.scenario import Scenario
from sim.traffic.journey import origin_work

__all__ = ["default_slo", "DEFAULT_SLO", "Verdict", "verdict", "bottleneck", "work_by_kind", "peak_demand", "clock", "COVERAGE_WARNING"]

DEFAULT_SLO = "lost_actions<1%"


def default_slo(scenario: Scenario) -> str:
    """``lost_actions<1%``; for a scenario whose visitors take no action, ``lost_visitors<1%``."""
    return DEFAULT_SLO if scenario.visitors.action_rate > 0 else "lost_visitors<1%"


# A completed-response percentile over less than this share of the attempts is shown with a warning.
COVERAGE_WARNING = 0.99
# The loss window spans the bins that hold the middle 95 % of the losses: a stray loss at night
# does not stretch it over the whole run.
_WINDOW_SHARE = 0.95
SATURATED = 0.9  # a tier busier than this over the loss window is saturated


@dataclass(frozen=True, kw_only=True)
class Verdict:
    holds: bool
    text: str  # "holds" or "does not hold: ..."
    terms: tuple  # (Objective.text, value, met) for each term
    lost_what: str  # "actions" or "page views": what the window counts
    window_s: tuple[float, float] | None  # when the losses happened (None: none)
    bottleneck: dict  # {"tier", "kind", "utilization", "text"}
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"holds": self.holds, "text": self.text,
                "terms": [{"term": t, "value": v, "met": m} for t, v, m in self.terms],
                "window_s": list(self.window_s) if self.window_s else None,
                "lost": self.lost_what, "bottleneck": self.bottleneck, "warnings": list(self.warnings)}


def clock(t_s: float) -> str:
    """Time from the start as h:mm (hours may pass 24), for the verdict's text: the text is kept in summary.json,
    below the output layer, and reads as ``sim.output.text.clock`` prints every other time (a test holds them
    equal)."""
    minutes = int(round(t_s / 60))
    return f"{minutes // 60}:{minutes % 60:02d}"


def work_by_kind(scenario: Scenario) -> dict[str, float]:
    """Seconds of app worker time each request kind takes per visitor (a query's time included, as a
    worker holds it), and database connection time per kind under ``db.<kind>``."""
    if scenario.site.app is None:
        return {}
    w = origin_work(scenario)
    work = {"pages": w.pages.work_s, "form submits": w.submits.work_s, "asset requests": w.assets.work_s}
    if scenario.site.db is not None:
        work["db.pages"] = w.db_s(w.pages)
        work["db.form submits"] = w.db_s(w.submits)  # made by a writer when signatures are queued
    return work


def peak_demand(scenario: Scenario) -> float:
    """The busiest 10 s of the profile's offered work over the site's workers at the start (1 = just
    enough on average; above 1 the site cannot keep up whatever its queues), nan without an app tier."""
    from sim.analysis.sizing import workload

    app = scenario.site.app
    if app is None:
        return math.nan
    load = workload(scenario)
    busy = float(load.visitors_per_s.max(initial=0.0)) * load.requests_per_visitor * load.work_s  # no bin: 0
    return busy / (app.instances * app.workers)


def _col(rows, columns, name) -> np.ndarray:
    if name not in columns or not rows:
        return np.zeros(len(rows))
    i = columns.index(name)
    return np.array([np.nan if r[i] in ("", None) else float(r[i]) for r in rows], dtype=float)


def _window(start, lost) -> tuple[float, float] | None:
    total = float(np.nansum(lost))
    if not total > 0:
        return None
    cum = np.nancumsum(lost) / total
    tail = (1 - _WINDOW_SHARE) / 2
    first = int(np.searchsorted(cum, tail, side="right"))
    last = int(np.searchsorted(cum, 1 - tail, side="left"))
    last = min(max(last, first), len(start) - 1)
    return float(start[first]), float(start[last])


def bottleneck(scenario: Scenario, rows: list, columns: list, window_s: tuple[float, float] | None) -> dict:
    """The tier most saturated over the window (or the whole run), and the request kind taking most of it."""
    start = _col(rows, columns, "bin_start_s")
    sel = np.ones(len(rows), dtype=bool) if window_s is None else (start >= window_s[0]) & (start <= window_s[1])
    site = scenario.site
    if site.app is None:
        return {"tier": "none", "kind": "", "utilization": math.nan, "text": "no app tier modelled", "short": "none"}

    def busy(name):
        u = _col(rows, columns, name)[sel]
        u = u[~np.isnan(u)]
        return float(u.mean()) if len(u) else math.nan

    tiers = {"app tier": busy("utilization_app")}
    if site.db is not None:
        tiers["database pool"] = busy("utilization_db")
    tier = max(tiers, key=lambda k: -1.0 if math.isnan(tiers[k]) else tiers[k])
    util = tiers[tier]
    work = work_by_kind(scenario)
    if tier == "database pool":
        kinds = {k[3:]: w for k, w in work.items() if k.startswith("db.")}
    else:
        kinds = {k: w for k, w in work.items() if not k.startswith("db.")}
    kind = max(kinds, key=kinds.get) if kinds and max(kinds.values()) > 0 else ""
    room = _col(rows, columns, "in_queue_waiting_room")[sel]
    if site.waiting_room is not None and np.nanmax(room, initial=0) > 0 and not util >= SATURATED:
        return {"tier": "waiting room", "kind": "admissions", "utilization": util,
                "text": "the waiting room's admissions (its queue, not the site, holds visitors)",
                "short": "waiting room admissions"}
    share = kinds.get(kind, 0) / sum(kinds.values()) if kinds and sum(kinds.values()) > 0 else math.nan
    text = f"{kind} at the {tier}" if kind else f"the {tier}"
    short = text
    total = sum(kinds.values()) if kinds else 0.0
    if total > 0 and len(kinds) > 1:
        short = text
        text += " (" + ", ".join(f"{k} {100 * w / total:.0f} %" for k, w in sorted(kinds.items(), key=lambda kv: -kv[1])
                                 if w / total >= 0.05) + " of its work)"
    if not util >= SATURATED:
        text += f" (busiest tier, {util:.0%} busy: losses come from patience and retries more than capacity)" \
            if not math.isnan(util) else ""
    return {"tier": tier, "kind": kind, "utilization": util, "work_share": share, "text": text, "short": short}


def verdict(scenario: Scenario, summary: dict, rows: list, columns: list, objectives: tuple[Objective, ...]) -> Verdict:
    terms = tuple((o.text, v, met) for o, v, met in evaluate(objectives, summary))
    holds = all(met for _, _, met in terms)
    start = _col(rows, columns, "bin_start_s")
    acts_lost = _col(rows, columns, "actions_lost")
    acted = float(np.nansum(acts_lost) + np.nansum(_col(rows, columns, "actions_completed")))
    if acted > 0:
        lost_what, lost = "actions", acts_lost
        fraction = summary.get("actions", {}).get("lost_fraction", math.nan)
    else:
        lost_what = "page views"
        lost = sum(_col(rows, columns, c) for c in ("rejected", "timed_out", "abandoned"))
        pv = summary.get("page_views", {})
        att = pv.get("attempted", 0) or 0
        fraction = (att - pv.get("completed", 0)) / att if att else math.nan
    window = _window(start, lost) if len(rows) else None
    neck = bottleneck(scenario, rows, columns, window)
    warnings = []
    cover = summary.get("page_attempt_s", {}).get("answered_fraction", math.nan)
    if cover == cover and cover < COVERAGE_WARNING:
        warnings.append(f"only {100 * cover:.1f} % of page views and submits were answered: the completed "
                        f"pages' percentiles (page_response_s) leave out the {100 * (1 - cover):.1f} % that failed")
    if holds:
        text = "holds"
        if window is not None and fraction == fraction and fraction > 0:
            text += (f" ({_pct(fraction)} of {lost_what} lost, between {clock(window[0])} and "
                     f"{clock(window[1] + _bin(rows, columns))})")
    elif all(v != v for _, v, met in terms if not met):  # every broken term has no figure at all
        text = (f"not measured: {', '.join(t for t, _, met in terms if not met)} had nothing to count "
                "(no visitor, or none who acted)")
    else:
        broken = [t for t, _, met in terms if not met]
        if window is not None and fraction == fraction and fraction > 0:
            text = (f"does not hold: {_pct(fraction)} of {lost_what} lost between {clock(window[0])} and "
                    f"{clock(window[1] + _bin(rows, columns))}")
        else:
            text = "does not hold"
        text += f" (broken: {', '.join(broken)}); bottleneck: {neck['text']}"
    return Verdict(holds=holds, text=text, terms=terms, lost_what=lost_what, window_s=window,
                   bottleneck=neck, warnings=tuple(warnings))


def _bin(rows, columns) -> float:
    if not rows:
        return 0.0
    i, j = columns.index("bin_start_s"), columns.index("bin_end_s")
    return float(rows[0][j]) - float(rows[0][i])


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %" if x >= 0.1 else f"{x * 100:.2g} %"  # two figures: 0.97 % is not 1.0 %
