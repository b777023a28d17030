"""``surge risk``'s figures, drawn on an ``ax`` they are given: the risk curve and the sensitivities."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_risk_curve", "plot_sensitivity"]


def plot_risk_curve(ax, fractions, *, slo_limit: float | None = None, what: str = "actions",
                    probability_holds: float | None = None, interval: tuple[float, float] | None = None) -> None:
    """P(lost fraction > x) against x (in %), over the drawn surges; the SLO's limit as a vertical line."""
    x = np.sort(np.asarray([f for f in fractions if f == f], dtype=float))
    if not x.size:
        ax.text(0.5, 0.5, "no draw has a figure", ha="center", va="center", transform=ax.transAxes)
        return
    exceed = 1.0 - np.arange(1, x.size + 1) / x.size  # share of draws above each value
    ax.step(100 * x, 100 * exceed, where="post", color="tab:red", lw=1.8, label=f"P(lost {what} > x)")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"x: {what} lost over the whole run (%)")
    ax.set_ylabel("surges losing more than x (%)")
    if slo_limit is not None:
        ax.axvline(100 * slo_limit, color="k", ls="--", lw=1, label=f"SLO limit {100 * slo_limit:g} %")
    if probability_holds is not None and probability_holds == probability_holds:
        ci = f"\n(95 % interval {100 * interval[0]:.0f}-{100 * interval[1]:.0f} %)" if interval else ""
        ax.text(0.98, 0.95, f"SLO holds in {100 * probability_holds:.0f} % of the surges{ci}", ha="right", va="top",
                transform=ax.transAxes, fontsize=10, bbox={"fc": "white", "ec": "0.7"})
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)


def plot_sensitivity(ax, sensitivities) -> None:
    """Each input's partial rank correlation with the lost actions, largest first (red: more losses as it grows)."""
    items = [s for s in sensitivities if s.get("prcc") == s.get("prcc")]
    if not items:
        ax.text(0.5, 0.5, "too few draws for a sensitivity", ha="center", va="center", transform=ax.transAxes)
        return
    items = items[::-1]  # largest at the top
    values = [s["prcc"] for s in items]
    ax.barh(range(len(items)), values, color=["tab:red" if v > 0 else "tab:blue" for v in values])
    ax.set_yticks(range(len(items)), [s["key"] for s in items], fontsize=9)
    ax.set_xlim(-1, 1)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("partial rank correlation with the actions lost (PRCC)")
    ax.grid(axis="x", alpha=0.3)
