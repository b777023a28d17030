"""The report's section for ``surge risk``: the probability that the SLO holds, the losses over the draws,
what matters most and the ranges drawn from, HTML only."""

from __future__ import annotations

from html import escape

__all__ = ["risk_section"]


def _pct(x) -> str:
    return "–" if not isinstance(x, (int, float)) or x != x else f"{100 * x:.2f} %" if x < 0.1 else f"{100 * x:.1f} %"


def _range(item: dict) -> str:
    if item.get("dist") == "lognormal":
        return f"lognormal, 90 % within {item.get('p05'):g}–{item.get('p95'):g}"
    mode = f", mode {item['mode']:g}" if item.get("mode") is not None else ""
    return f"{item.get('dist')} {item.get('low'):g}–{item.get('high'):g}{mode}"


def risk_section(risk: dict) -> str:
    """The probability banner, the loss percentiles, the sensitivities and the inputs' ranges."""
    p = risk.get("probability_holds")
    ci = risk.get("probability_holds_ci") or [None, None]
    out = ["<section><h2>Will it hold? Over the plausible surges</h2>"]
    if isinstance(p, (int, float)) and p == p:
        cls = "good" if p >= 0.9 else "warn" if p >= 0.5 else "bad"
        out.append(f'<p class="banner {cls}">The SLO <code>{escape(str(risk.get("slo")))}</code> holds in '
                   f"<strong>{100 * p:.0f} %</strong> of the plausible surges (95 % interval "
                   f"{100 * ci[0]:.0f}–{100 * ci[1]:.0f} %)</p>")
    if risk.get("partial"):
        out.append(f'<p class="banner warn">PARTIAL ({escape(str(risk.get("stopped")))}): '
                   f'{risk.get("draws_count")} of {risk.get("draws_planned")} surges judged</p>')
    out.append(f'<p class="meta">{risk.get("draws_count")} surges drawn (Latin hypercube, seed {risk.get("seed")}): '
               f'{risk.get("simulated")} simulated near the SLO\'s boundary, {risk.get("screened")} screened by the '
               "fluid model. The interval is Wilson's over the draws.</p>")
    rows = []
    for what in ("actions", "visitors"):
        q = risk.get(f"lost_{what}_fraction") or {}
        rows.append(f"<tr><td>lost {what}</td><td class=\"n\">{_pct(q.get('p50'))}</td>"
                    f"<td class=\"n\">{_pct(q.get('p90'))}</td><td class=\"n\">{_pct(q.get('p99'))}</td></tr>")
    out.append("<table><tr><th></th><th>median</th><th>90th percentile</th><th>99th percentile</th></tr>"
               + "".join(rows) + "</table>")
    sens = [s for s in risk.get("sensitivities") or () if isinstance(s.get("prcc"), (int, float)) and s["prcc"] == s["prcc"]]
    if sens:
        out.append("<h3>What matters most</h3><p class=\"meta\">Partial rank correlation (PRCC) of each input with "
                   "the actions lost over the draws: +1, the losses always grow with it once the others' effects are "
                   "taken out; 0, no monotone effect.</p>")
        out.append("<table><tr><th>input</th><th>PRCC</th></tr>" + "".join(
            f"<tr><td><code>{escape(s['key'])}</code></td><td class=\"n\">{s['prcc']:+.2f}</td></tr>" for s in sens)
            + "</table>")
    inputs = risk.get("uncertain") or ()
    if inputs:
        out.append("<h3>The ranges drawn from</h3><table><tr><th>input</th><th>range</th><th>source</th></tr>" + "".join(
            f"<tr><td><code>{escape(str(i.get('key')))}</code></td><td>{escape(_range(i))}</td>"
            f"<td>{escape(str(i.get('source')))}</td></tr>" for i in inputs) + "</table>")
    out.append("</section>")
    return "".join(out)
