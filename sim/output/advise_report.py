"""The report's parts for a verdict and for ``surge advise``: a banner, the ranked table, HTML only."""

from __future__ import annotations

import math
from html import escape

from sim.output.text import CLOCK_BASIS, COST_UNIT, price_text

__all__ = ["verdict_banner", "advise_section", "probability_text"]


def verdict_banner(summary: dict) -> str:
    """"holds" or "does not hold: ..." at the top of a run's report (nothing for a summary without a verdict)."""
    v = summary.get("verdict")
    if not isinstance(v, dict) or not isinstance(v.get("text"), str):
        return ""
    cls = "good" if v.get("holds") else "warn" if v["text"].startswith("not measured") else "bad"
    slo = v.get("slo")
    times = f"; times {CLOCK_BASIS}" if v.get("window_s") else ""
    out = [f'<p class="banner {cls}">{escape(v["text"])}'
           + (f' <span class="meta">(SLO <code>{escape(str(slo))}</code>{escape(times)})</span>' if slo else "")
           + "</p>"]
    peak = v.get("peak_demand_x")
    if isinstance(peak, (int, float)) and peak == peak:
        out.append(f'<p class="meta">At its busiest 10 s the surge offers {peak:.2g}× the work the site\'s workers '
                   "can do (the utilization below is the run's mean).</p>")
    quick = v.get("quick_advice")
    if isinstance(quick, dict) and quick.get("cheapest"):
        out.append(f'<p class="meta">Cheapest fix in a quick advice (each mitigation alone): '
                   f'<strong>{escape(str(quick["cheapest"]))}</strong>; <code>surge advise</code> compares them all.</p>')
    for w in v.get("warnings") or ():
        out.append(f'<p class="banner warn">⚠ {escape(str(w))}</p>')
    return "".join(out)


def _pct(x) -> str:
    return "–" if not isinstance(x, (int, float)) or x != x else f"{100 * x:.2f} %" if x < 0.1 else f"{100 * x:.1f} %"


def _p95(row: dict) -> str:
    x = row.get("p95_s")
    if row.get("p95_unanswered"):
        return "failed (> 5 % unanswered)"
    if not isinstance(x, (int, float)) or x != x or math.isinf(x):
        return "–"
    return f"{x:.2f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def probability_text(r: dict, *, missing: str = "–") -> str:
    """How often a row of ``surge advise --confidence`` holds over the plausible surges, with its 95 % interval."""
    p, ci = r.get("probability_holds"), r.get("probability_holds_ci")
    bound = r.get("probability_holds_bound")
    if r.get("assessed") == "ruled out" and isinstance(bound, (int, float)):
        return f"at most {100 * bound:.0f} % (ruled out)"
    if not isinstance(p, (int, float)) or not ci:
        return missing
    return f"{100 * p:.0f} % [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def advise_section(doc: dict) -> str:
    rows = doc.get("rows") or []
    slo = escape(str(doc.get("slo", "")))
    head = []
    if doc.get("partial"):
        head.append('<p class="banner warn">⚠ Partial advice: it stopped before every variant was run.</p>')
    if isinstance(doc.get("as_is"), str):
        base = next((r for r in rows if not r.get("keys")), {})
        times = f' <span class="meta">(times {CLOCK_BASIS})</span>' if base.get("loss_window_s") else ""
        head.append(f'<p class="banner {"good" if doc["as_is"].startswith("holds") else "bad"}">As it is: '
                    f'{escape(doc["as_is"])}{times}</p>')
    if doc.get("cheapest"):
        head.append(f'<p class="banner good">Cheapest that meets <code>{slo}</code>: {escape(str(doc["cheapest"]))}'
                    "</p>")
    elif rows:
        head.append(f'<p class="banner bad">No variant tried meets <code>{slo}</code>.</p>')
    confidence = doc.get("confidence")
    if confidence is not None:
        share = f"{100 * confidence:g} %"
        if doc.get("cheapest_at_confidence"):
            head.append(f'<p class="banner good">Cheapest that meets <code>{slo}</code> in {share} of the plausible '
                        f'surges: {escape(str(doc["cheapest_at_confidence"]))}</p>')
        elif rows:
            head.append(f'<p class="banner bad">No variant tried meets <code>{slo}</code> in {share} of the '
                        "plausible surges.</p>")
    price = doc.get("price_per_instance_hour")
    cost = f"cost at {price_text(price)} {COST_UNIT}" if isinstance(price, (int, float)) else "cost"
    header = ["#", "mitigation", "meets SLO", "lost visitors", "lost actions", "p95 (every attempt)", "errors",
              "instance-hours added", cost, "bottleneck", "scenario file"]
    shift = 0
    if confidence is not None:
        header[2:3] = ["meets SLO (central case)", "holds in (95 % interval)", f"in {100 * confidence:g} %"]
        shift = 2
    body = []
    for i, r in enumerate(rows):
        meets = bool(r.get("meets_slo"))
        cells = [str(i + 1), escape(str(r.get("mitigation", ""))),
                 f'<span class="{"met" if meets else "broken"}">{"yes" if meets else "no"}</span>',
                 _pct(r.get("lost_visitors_fraction")), _pct(r.get("lost_actions_fraction")), _p95(r),
                 _pct(r.get("error_fraction")), f"{float(r.get('instance_hours_added') or 0):,.0f}",
                 f"{float(r.get('cost') or 0):,.2f}", "" if meets else escape(str(r.get("bottleneck", ""))),
                 f"<code>{escape(str(r.get('scenario', '')).rsplit('/', 1)[-1])}</code>"]
        if confidence is not None:  # how often it holds over the plausible surges, after the central case's verdict
            cells[3:3] = [probability_text(r), {True: "yes", False: "no"}.get(r.get("meets_confidence"), "–")]
        body.append("<tr>" + "".join(f'<td class="n">{c}</td>' if 3 <= j - shift <= 8 else f"<td>{c}</td>"
                                     for j, c in enumerate(cells)) + "</tr>")
    table = ("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>"
             + "".join(body) + "</tbody></table>")
    note = (f'<p class="meta">Every variant meets the same visitors (the scenario\'s seed). Cost: instance-hours '
            f"added × {price_text(price)} an instance-hour, in the price's currency; caches, the waiting room and the "
            "queue are counted as free here.</p>"
            if price is not None else "")
    return f"<section><h2>What to add (surge advise)</h2>{''.join(head)}{note}{table}</section>"
