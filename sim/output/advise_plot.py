"""The advice as a figure: lost actions and the page p95 of each variant, on axes it is given."""

from __future__ import annotations

import math

from sim.analysis.advise import lost_fraction

__all__ = ["plot_advice"]

_MEETS, _FAILS = "#2da44e", "#cf222e"


def _label(row: dict) -> str:
    cost = row.get("cost", 0.0)
    price = f"  +{row['instance_hours_added']:.0f} inst-h" if row.get("instance_hours_added", 0) >= 0.5 else ""
    p, bound = row.get("probability_holds"), row.get("probability_holds_bound")
    # with surge advise --confidence: how often it holds over the plausible surges (at most, where ruled out)
    odds = f"  holds in {100 * p:.0f} %" if p is not None else f"  holds in ≤ {100 * bound:.0f} %" if bound is not None \
        else ""
    return f"{row['name']}{price}{odds}" if cost == cost else f"{row['name']}{odds}"


def plot_advice(ax_lost, ax_p95, rows: list[dict], *, lost_limit: float | None = None,
                p95_limit_s: float | None = None, title: str = "") -> None:
    """Horizontal bars, one row per variant in the advice's order (best on top): lost actions (or
    visitors, where nothing was attempted) on ``ax_lost``, the p95 over every attempt on ``ax_p95``
    (a p95 that failures reach is drawn as a hatched bar at the axis' end, labelled "failed")."""
    names = [_label(r) for r in rows]
    y = list(range(len(rows)))[::-1]
    colours = [_MEETS if r["meets_slo"] else _FAILS for r in rows]
    lost = [100 * x if x == x else 0.0 for x in map(lost_fraction, rows)]
    ax_lost.barh(y, lost, color=colours, height=0.6)
    ax_lost.set_yticks(y, names)
    ax_lost.set_xlabel("actions lost (%)")
    ax_lost.set_xlim(0, max(max(lost, default=1.0) * 1.15, 1.5 * 100 * (lost_limit or 0.01)))
    line = 100 * (lost_limit or 0.0)
    for yi, v in zip(y, lost):  # right of the bar, and of the SLO line where the bar stops short of it
        ax_lost.annotate(f"{v:.2g} %", (max(v, line), yi), xytext=(3, 0), textcoords="offset points", va="center",
                         fontsize=8)
    if lost_limit is not None:
        ax_lost.axvline(100 * lost_limit, color="k", ls="--", lw=1, label=f"SLO: < {100 * lost_limit:g} %")
    finite = [r["p95_s"] for r in rows if r["p95_s"] is not None and math.isfinite(r["p95_s"])]
    top = max(finite + [p95_limit_s or 0.0], default=1.0) * 1.25 or 1.0
    for yi, r, c in zip(y, rows, colours):
        p = r["p95_s"]
        if p is None or not math.isfinite(p) or p != p:
            ax_p95.barh(yi, top, color="none", edgecolor=c, hatch="//", height=0.6)
            ax_p95.annotate("failed (> 5 % unanswered)", (top * 0.02, yi), va="center", ha="left", fontsize=8)
        else:
            ax_p95.barh(yi, p, color=c, height=0.6)
    ax_p95.set_xlim(0, top)
    ax_p95.set_xlabel("page p95 over every attempt (s)")
    ax_p95.tick_params(labelleft=False)
    if p95_limit_s is not None:
        ax_p95.axvline(p95_limit_s, color="k", ls="--", lw=1, label=f"SLO: < {p95_limit_s:g} s")
    from matplotlib.patches import Patch

    central = " (central case)" if any("probability_holds" in r for r in rows) else ""
    handles = [Patch(color=_MEETS, label=f"meets the SLO{central}"), Patch(color=_FAILS, label="does not")]
    for ax, extra in ((ax_lost, handles), (ax_p95, [])):
        h, _ = ax.get_legend_handles_labels()
        if extra + h:  # below the axes: the bars fill every row
            ax.legend(handles=extra + h, loc="upper left", bbox_to_anchor=(0.0, -0.09), ncol=3, fontsize=8,
                      frameon=False)
        ax.grid(axis="x", alpha=0.3)
    if title:
        ax_lost.set_title(title, loc="left")
