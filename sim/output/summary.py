"""The one summary formatter: a run's or a load test's ``summary.json`` as rows a person reads.

``surge run``, ``surge loadtest`` and ``surge report`` all show a summary through
:func:`summary_rows`; a figure the summary does not hold is left out, a figure with a
confidence half-width (``<key>_ci``, from replications) shows it.
"""

from __future__ import annotations

import math
import re

from sim.analysis.band import BAND_TERMS
from sim.analysis.slo import METRICS, evaluate, parse_slo
from sim.stats.attempts import QUANTILES as _QUANTILES
from sim.stats.figures import Figure
from sim.stats.figures import figure as registered
from sim.output.text import fmt

__all__ = ["summary_rows", "slo_rows", "term_basis", "verdicts", "metric_text", "count_text", "time_text", "pct_text", "figure", "get", "number",
           "with_ci", "band_rows"]


def number(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        return None
    return x


def get(d, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def count_text(x) -> str:
    return "-" if number(x) is None else fmt(x)


def time_text(x) -> str:
    """``799 ms``, ``1.45 s``; an attempt percentile the failures reach (inf) is ``unanswered``."""
    x = number(x)
    if x is None:
        return "-"
    if math.isinf(x):
        return "unanswered"
    return f"{x * 1000:.0f} ms" if abs(x) < 1 else f"{x:,.2f} s"


def pct_text(x) -> str:
    x = number(x)
    return "-" if x is None else f"{100 * x:.1f} %"


def with_ci(value, ci, f=count_text) -> str | None:
    """A figure with its ± 95 % half-width when there is one; None when the figure is missing."""
    if number(value) is None:
        return None
    return f(value) + (f" ± {f(ci)}" if number(ci) else "")  # a zero half-width: all replications agreed


def figure(d: dict, key: str, f=count_text) -> str | None:
    """``with_ci`` of a figure in a nested summary, by dotted key (``visitors.lost``)."""
    return with_ci(get(d, key), get(d, f"{key}_ci"), f)


def _term_figure(objective: str) -> Figure | None:
    """The registry's figure of an objective's term (``p95<2s`` -> p95), None for a term it does not know."""
    m = re.match(r"\s*([a-z_0-9]+)", objective or "")
    return registered(m.group(1)) if m and m.group(1) in METRICS else None


def metric_text(objective: str, value) -> str:
    f = _term_figure(objective)
    if number(value) is None:
        return "not measured"
    unit = f.unit if f else None
    return time_text(value) if unit == "s" else pct_text(value) if unit == "fraction" else fmt(value)


def _joined(parts: list[tuple[str | None, str]], sep: str = ", ") -> str | None:
    present = [f"{value} {label}".strip() for value, label in parts if value is not None]
    return sep.join(present) or None


def _with_share(d: dict, key: str, share_key: str) -> str | None:
    """``1,234 (5.6 %)``: a count and the fraction it makes; ``(5.6 %; band 0.0 % to 8.5 %)`` with a
    prediction band."""
    text = figure(d, key)
    if text is None:
        return None
    ends = _band_ends(d, share_key, pct_text)
    return f"{text} ({pct_text(get(d, share_key))}{'' if ends is None else f'; band {ends}'})"


def _of_each(d: dict, keys: tuple[str, ...], sep: str = " / ", f=count_text) -> str | None:
    """Figures side by side (``p50 / p95 / p99``), ``-`` for missing ones; None when all are missing."""
    texts = [figure(d, k, f) for k in keys]
    return sep.join(t or "-" for t in texts) if any(texts) else None


def _band_ends(s: dict, key: str, f, *, unanswered: bool = False) -> str | None:
    """``198 ms to 301 ms``: a figure at the fast and the slow end of the calibration's capacity interval
    (summary.json's ``prediction_band``); None without one. ``unanswered``: a missing end is a percentile
    the failures reach (an attempt percentile), not a missing figure."""
    pair = get(s.get("prediction_band"), key)
    if not isinstance(pair, list) or len(pair) != 2 or (not unanswered and all(number(v) is None for v in pair)):
        return None
    fast, slow = (_shown(v, f, unanswered) for v in pair)
    return f"{fast} to {slow}"


def _shown(value, f, unanswered: bool) -> str:
    """``f(value)``; a missing attempt percentile (``unanswered``) is one the failures reach."""
    return f(math.inf) if unanswered and number(value) is None else f(value)


def _percentile_band(s: dict, key: str, *, unanswered: bool = False) -> str:
    """``; band p95 198 ms to 301 ms, p99 ...``: the band of a latency row's p95 and p99."""
    parts = [f"{q} {ends}" for q in ("p95", "p99")
             if (ends := _band_ends(s, f"{key}.{q}", time_text, unanswered=unanswered)) is not None]
    return f"; band {', '.join(parts)}" if parts else ""


def _band_row(s: dict) -> list[tuple[str, str | None]]:
    """The prediction band's own row: the capacities its two ends were run at."""
    band = s.get("prediction_band")
    if not isinstance(band, dict) or number(band.get("capacity_low_per_s")) is None:
        return []
    partial = "; PARTIAL: stopped early" if band.get("partial") else ""
    return [("prediction band (fast to slow)",
             f"the model at {fmt(band['capacity_high_per_s'])} and {fmt(band['capacity_low_per_s'])} pages/s, "
             f"the calibration's 95 % interval of {fmt(band['capacity_per_s'])}/s{partial}")]


def band_rows(s: dict) -> list[tuple[str, str, str, str]]:
    """The prediction band as (figure, fast end, point, slow end) texts, one row per figure it holds
    (:data:`sim.analysis.band.BAND_TERMS`, labelled from the figure registry); empty without a band."""
    rows = []
    for name in BAND_TERMS:
        f = registered(name)
        attempt = f.path[0] == "page_attempt_s"
        text = time_text if f.unit == "s" else pct_text
        pair = get(s.get("prediction_band"), f.key)
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        fast, point, slow = (_shown(v, text, attempt) for v in (pair[0], get(s, f.key), pair[1]))
        rows.append((f.described, fast, point, slow))
    return rows


def _visitor_rows(s: dict) -> list[tuple[str, str | None]]:
    lost = _with_share(s, "visitors.lost", "visitors.lost_fraction")
    why = _joined([(figure(s, "visitors.abandoned"), "gave up"), (figure(s, "visitors.failed"), "got errors"),
                   (figure(s, "visitors.dropped"), "dropped by the load generator")])
    return [("visitors targeted", figure(s, "visitors.target")),
            ("visitors arrived", figure(s, "visitors.arrived")),
            ("visitors served (saw every page)", figure(s, "visitors.served")),
            (registered("lost_visitors").label, f"{lost}: {why}" if lost and why else lost),
            ("retries (refresh storm)", figure(s, "visitors.retries"))]


def _action_rows(s: dict) -> list[tuple[str, str | None]]:
    done = figure(s, "actions.completed")
    if done is not None and number(get(s, "actions.attempted")) is not None:
        done += f" of {count_text(get(s, 'actions.attempted'))} attempted"
    # A load test measures the page response twice: from the planned send (what a visitor lives
    # through, the generator's delay included) and from the actual send (the site alone).
    from_send = _of_each(s, tuple(f"page_response_from_send_s.{q}" for q in _QUANTILES), f=time_text)
    planned = " (from the planned send)" if from_send is not None else ""
    completed = registered("page_response").label
    pages = _of_each(s, tuple(f"page_response_s.{q}" for q in _QUANTILES), f=time_text)
    if pages is not None:
        pages += _percentile_band(s, "page_response_s")
    return [("actions completed", done), (registered("lost_actions").label, _with_share(s, "actions.lost", "actions.lost_fraction")),
            (f"{completed}{planned}", pages),
            (f"{completed} (from the actual send)", from_send),
            (registered("page_attempt").label, _attempts(s)),
            ("signatures written (queued after the answer)", _signatures(s))]


def _attempts(s: dict) -> str | None:
    """``69 ms / unanswered / unanswered (89.1 % answered)``: the SLO's percentiles, over every attempt.

    A percentile the failures reach is null in summary.json: unanswered, when there were attempts."""
    answered = number(get(s, "page_attempt_s.answered_fraction"))
    if answered is None:
        return None
    texts = [figure(s, f"page_attempt_s.{q}", time_text) or "unanswered" for q in _QUANTILES]
    return (" / ".join(texts) + f" ({pct_text(answered)} answered)"
            + _percentile_band(s, "page_attempt_s", unanswered=True))


def _signatures(s: dict) -> str | None:
    """``1,180 of 1,200 queued, 20 pending at the end; longest lag 95.3 s``; None without a queue."""
    if not number(get(s, "signatures.queued")):
        return None
    return (f"{figure(s, 'signatures.written')} of {figure(s, 'signatures.queued')} queued, "
            f"{figure(s, 'signatures.pending_at_end')} pending at the end; "
            f"longest lag {figure(s, 'signatures.max_lag_s', time_text) or '-'}")


def _request_rows(s: dict) -> list[tuple[str, str | None]]:
    errors = _joined([(figure(s, "requests.rejected"), "rejected (503)"),
                      (figure(s, "requests.timed_out"), "timed out (504)"),
                      (figure(s, "requests.abandoned"), "abandoned while queued"),
                      (figure(s, "requests.errors_other"), "other errors")])
    if errors is not None and number(get(s, "requests.error_fraction")) is not None:
        errors += f"; {pct_text(get(s, 'requests.error_fraction'))} of origin requests"
        ends = _band_ends(s, "requests.error_fraction", pct_text)
        errors += "" if ends is None else f" (band {ends})"
    status = get(s, "requests.by_status")
    return [("origin requests", figure(s, "requests.arrived")),
            ("served by the CDN", figure(s, "requests.cdn_hits")),
            ("errors", errors),
            ("responses by status", ", ".join(f"{k}: {count_text(v)}" for k, v in status.items())
             if isinstance(status, dict) and status else None),
            ("utilization app / db (run mean)", _of_each(s, ("utilization.app", "utilization.db"), f=pct_text)),
            ("peak app backlog", figure(s, "peak_queue.app")),
            ("app instances mean / max", _of_each(s, ("instances.mean", "instances.max")))]


def summary_rows(s: dict) -> list[tuple[str, str]]:
    """The summary figures a campaign engineer reads first, as (label, text); missing ones are left out."""
    rows = _band_row(s) + _visitor_rows(s) + _action_rows(s) + _request_rows(s)
    return [(label, text) for label, text in rows if text is not None]


def term_basis(objective: str) -> str:
    """`` (every attempt)`` for a latency term, naming over what it is taken; empty for others."""
    f = _term_figure(objective)
    return f" ({f.basis})" if f is not None and f.basis else ""


def slo_rows(verdicts) -> list[tuple[str, str]]:
    """``(objective, measured text, met)`` verdicts as rows: ``SLO p95<2s  met (1.2 s)``."""
    return [(f"SLO {objective}" + term_basis(objective), f"met ({value})" if met else
             f"BROKEN ({value})" if value in ("not measured", "unanswered") else f"BROKEN (measured {value})")
            for objective, value, met in verdicts]


def verdicts(summary: dict, slo: str | None = None) -> list[tuple[str, str, bool]]:
    """``(objective, measured text, met)`` for ``slo`` judged on ``summary``, else for the summary's own ``slo`` list."""
    if slo:
        return [(o.text, _measured(summary, o.text, v), ok) for o, v, ok in evaluate(parse_slo(slo), summary)]
    given = summary.get("slo") if isinstance(summary.get("slo"), list) else []
    return [(str(v.get("objective", "?")), _measured(summary, str(v.get("objective", "")), v.get("value")),
             v.get("met") is True) for v in given if isinstance(v, dict)]


def _measured(summary: dict, objective: str, value) -> str:
    """:func:`metric_text`; an attempt percentile that summary.json holds as null while there were
    attempts is one the failures reach: ``unanswered``, not "not measured"."""
    f = _term_figure(objective)
    if number(value) is None and f is not None and f.path[0] == "page_attempt_s" \
            and (number(get(summary, "page_attempt_s.attempts")) or 0) > 0:
        return time_text(math.inf)
    return metric_text(objective, value)
