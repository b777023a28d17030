"""Plot functions: each draws on an ``ax`` it is given; only the CLI makes and saves figures."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_profile", "hours_axis"]


def hours_axis(ax, duration_s: float) -> None:
    """Label the x axis in hours, as campaign engineers think of a surge day."""
    ax.set_xlabel("time since start (h)")
    ax.set_xlim(0, duration_s / 3600)


def plot_profile(ax, profile, *, bin_s: float, log: bool = False) -> None:
    """Visitors per second over time (mean per bin), share times marked."""
    edges, counts = profile.binned(bin_s)
    rates = counts / np.diff(edges)
    hours = edges / 3600
    ax.stairs(rates, hours, fill=True, alpha=0.35, color="tab:blue", label=f"mean per {bin_s:g} s bin")
    fine = np.linspace(0, profile.duration_s, 4001)
    ax.plot(fine / 3600, profile.rate_per_s(fine), color="tab:blue", lw=0.8, label="rate_per_s(t)")
    ax.plot(fine / 3600, profile.baseline_rate_per_s(fine), color="0.4", lw=0.8, ls="--", label="baseline")
    for share in profile.shares:
        ax.axvline(share.at_s / 3600, color="tab:red", lw=0.8, alpha=0.7)
        label = share.name or f"share at {share.at_s / 3600:g} h"
        ax.annotate(label, (share.at_s / 3600, 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=8, color="tab:red")
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("visitors per second")
    hours_axis(ax, profile.duration_s)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, alpha=0.3)
