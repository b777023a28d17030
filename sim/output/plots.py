"""Plot functions: each draws on an ``ax`` it is given; only the CLI makes and saves figures."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_profile", "hours_axis", "plot_latency", "plot_throughput", "plot_queue", "plot_instances",
           "plot_capacity", "loadtest_time_axis", "plot_loadtest_arrivals", "plot_loadtest_latency", "plot_loadtest_lag",
           "plot_profile_compare"]


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


def _interval_name(widths_s) -> str:
    """What one interval is, for an axis label: "hour", "15 min", "day"; "interval" when they differ."""
    widths = np.asarray(widths_s, dtype=float)
    w = float(np.median(widths))
    if not np.allclose(widths, w, rtol=1e-6, atol=1e-6):
        return "interval (the trace's own)"
    for unit, per in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if math.isclose(w, per, rel_tol=1e-6):
            return unit
    for unit, per in (("days", 86_400), ("h", 3600), ("min", 60)):
        if w >= per and math.isclose(w / per, round(w / per), rel_tol=1e-6):
            return f"{round(w / per)} {unit}"
    return f"{w:g} s"


def _count_tick(y, _pos=None) -> str:
    return f"{y:,.0f}" if y >= 1 or y == 0 else f"{y:.2g}"


def plot_profile_compare(ax, *, edges_s, observed, expected, log: bool = False,
                         title: str = "observed vs expected visitors", observed_label: str = "observed (trace)",
                         expected_label: str = "expected (scenario)"):
    """Observed visitors per interval (filled steps) against the scenario's expected visitors in the same
    intervals (a line through their midpoints), x in hours (days beyond 4 days) since the trace's start.

    On a log scale an interval of 0 visitors sits on the axis floor (half the smallest count above 0) and a
    0 expected breaks the line: neither breaks the scale."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    edges = np.asarray(edges_s, dtype=float)
    obs = np.asarray(observed, dtype=float)
    exp = np.asarray(expected, dtype=float)
    span_s = edges[-1] - edges[0]
    unit, per = ("days", 86_400.0) if span_s > 4 * 86_400 else ("h", 3600.0)
    x = (edges - edges[0]) / per
    mid = (x[:-1] + x[1:]) / 2
    zeros = int(np.sum(obs == 0))
    obs_text = f"{observed_label}: {np.sum(obs):,.0f} visitors"
    exp_text = f"{expected_label}: {np.sum(exp):,.0f}"
    positive = np.concatenate([obs[obs > 0], exp[exp > 0]])
    if log:
        floor = positive.min() / 2 if positive.size else 0.5
        if zeros:
            obs_text += f" ({zeros} interval{'s' if zeros > 1 else ''} with 0 visitors: no bar)"
        ax.stairs(np.maximum(obs, floor), x, baseline=floor, fill=True, alpha=0.3, color="tab:blue",
                  label=obs_text)
        ax.stairs(np.maximum(obs, floor), x, baseline=None, color="tab:blue", lw=0.8)
        ax.plot(mid, np.where(exp > 0, exp, np.nan), color="black", lw=1.3, marker="o", ms=2.5, label=exp_text)
        ax.set_yscale("log")
        top = positive.max() * 2 if positive.size else 10.0
        ax.set_ylim(floor, top)
        decades = math.log10(top / floor)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.stairs(obs, x, baseline=0, fill=True, alpha=0.3, color="tab:blue", label=obs_text)
        ax.stairs(obs, x, baseline=None, color="tab:blue", lw=0.8)
        ax.plot(mid, exp, color="black", lw=1.3, marker="o", ms=2.5, label=exp_text)
        ax.set_ylim(0, 1.08 * positive.max() if positive.size else 1.0)
    ax.yaxis.set_major_formatter(FuncFormatter(_count_tick))
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(f"time since the trace's start ({unit})")
    ax.set_ylabel(f"visitors per {_interval_name(np.diff(edges))}" + (" (log scale)" if log else ""))
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, alpha=0.3)
    return ax


def _column(rows, columns, name):
    i = columns.index(name)
    return np.array([np.nan if r[i] is None else r[i] for r in rows], dtype=float)


def _hours_of(rows, columns):
    return _column(rows, columns, "bin_start_s") / 3600, _column(rows, columns, "bin_end_s") / 3600


def plot_latency(ax_latency, ax_rate, rows, columns, *, slo_s: float | None = None) -> None:
    """Response-time percentiles over time (top) above the arrival rate (bottom)."""
    start, end = _hours_of(rows, columns)
    mid = (start + end) / 2
    for name, style in (("p50_s", "-"), ("p95_s", "--"), ("p99_s", ":")):
        ax_latency.plot(mid, _column(rows, columns, name), style, lw=1, label=name.replace("_s", ""))
    if slo_s is not None:
        ax_latency.axhline(slo_s, color="tab:red", lw=0.8, label=f"SLO {slo_s:g} s")
    ax_latency.set_yscale("log")
    ax_latency.set_ylabel("page response time (s)")
    ax_latency.legend(loc="upper right", fontsize=8)
    ax_latency.grid(True, alpha=0.3)
    width_s = (end - start) * 3600
    ax_rate.stairs(_column(rows, columns, "arrivals") / width_s, np.append(start, end[-1]), fill=True, alpha=0.4)
    ax_rate.set_ylabel("visitors arriving per s")
    ax_rate.grid(True, alpha=0.3)
    ax_rate.set_xlabel("time since start (h)")


def plot_throughput(ax, rows, columns) -> None:
    """Page views asked for, served, and lost (rejected, timed out, abandoned), per second."""
    start, end = _hours_of(rows, columns)
    edges = np.append(start, end[-1])
    width_s = (end - start) * 3600
    ax.stairs(_column(rows, columns, "page_views") / width_s, edges, label="page views asked", lw=1.2)
    ax.stairs(_column(rows, columns, "completed") / width_s, edges, label="page views served", lw=1.2)
    lost = sum(_column(rows, columns, k) for k in ("rejected", "timed_out", "abandoned"))
    ax.stairs(lost / width_s, edges, label="requests lost (503, 504, gave up)", lw=1.2, color="tab:red")
    ax.set_ylabel("per second")
    ax.set_xlabel("time since start (h)")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, alpha=0.3)


def plot_queue(ax, rows, columns) -> None:
    """Time-average number waiting at each tier."""
    start, end = _hours_of(rows, columns)
    edges = np.append(start, end[-1])
    for name, label in (("in_queue_app", "app backlog"), ("in_queue_db", "waiting for a DB connection"),
                        ("in_queue_waiting_room", "waiting room")):
        values = _column(rows, columns, name)
        if np.nanmax(values, initial=0) > 0:
            ax.stairs(values, edges, label=label, lw=1.2)
    ax.set_ylabel("requests waiting (time average)")
    ax.set_xlabel("time since start (h)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "nothing ever waited", transform=ax.transAxes, ha="center")
    ax.grid(True, alpha=0.3)


def plot_instances(ax, rows, columns) -> None:
    """App instances in service, and their utilization."""
    start, end = _hours_of(rows, columns)
    edges = np.append(start, end[-1])
    ax.stairs(_column(rows, columns, "instances"), edges, label="instances in service", lw=1.2, baseline=None)
    ax.set_ylabel("instances")
    ax.set_xlabel("time since start (h)")
    twin = ax.twinx()
    twin.plot((start + end) / 2, _column(rows, columns, "utilization_app"), color="tab:orange", lw=0.8,
              label="utilization")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("app utilization")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)


def plot_capacity(ax, rows, *, capacity_key: str, surge_keys, figure: str, ylabel: str, slo_limit=None,
                  least=None, scale: float = 1.0) -> None:
    """A figure against capacity, one line per surge size, with its confidence band and the SLO."""
    groups: dict = {}
    for row in rows:
        groups.setdefault(tuple(row["values"][k] for k in surge_keys), []).append(row)
    for i, (surge, members) in enumerate(sorted(groups.items())):
        members = sorted(members, key=lambda r: r["values"][capacity_key])
        x = np.array([r["values"][capacity_key] for r in members], dtype=float)
        y = np.array([np.nan if r["figures"].get(figure) is None else r["figures"][figure] for r in members],
                     dtype=float) * scale
        ci = np.array([r["figures"].get(f"{figure}_ci", np.nan) for r in members], dtype=float) * scale
        label = ", ".join(f"{k.split('.')[-1]}={v:g}" for k, v in zip(surge_keys, surge)) or "scenario"
        (line,) = ax.plot(x, y, marker="o", ms=3, lw=1.2, label=label)
        if np.any(np.isfinite(ci)):
            ax.fill_between(x, y - ci, y + ci, color=line.get_color(), alpha=0.2, lw=0)
        if least is not None:
            mark = least.get(surge)
            if mark is not None:
                j = int(np.argmin(np.abs(x - mark)))
                ax.plot([x[j]], [y[j]], marker="*", ms=14, color=line.get_color(), mec="black", zorder=5)
    if slo_limit is not None:
        ax.axhline(slo_limit * scale, color="tab:red", lw=1, ls="--", label="SLO")
    ax.set_xlabel(capacity_key)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


# -- load tests: bins are of simulated time, the x axis is the test's wall clock -------------
def _wall_edges(rows, columns, time_scale: float) -> np.ndarray:
    """Bin edges in wall-clock seconds since the test started (simulated seconds / time_scale)."""
    start, end = _column(rows, columns, "bin_start_s"), _column(rows, columns, "bin_end_s")
    return np.append(start, end[-1]) / time_scale


def loadtest_time_axis(ax, rows, columns, *, time_scale: float) -> None:
    """The x axis in wall-clock seconds of the test, with the simulated time it plays on top."""
    edges = _wall_edges(rows, columns, time_scale)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("wall-clock time since the test started (s)")
    if time_scale == 1:
        return
    sim_end = edges[-1] * time_scale
    unit, per = ("h", 3600) if sim_end >= 3 * 3600 else ("min", 60) if sim_end >= 180 else ("s", 1)
    top = ax.secondary_xaxis("top", functions=(lambda x: x * time_scale / per, lambda y: y * per / time_scale))
    top.set_xlabel(f"simulated time it plays ({unit}; {time_scale:g}\u00d7 faster)", fontsize=9)
    top.tick_params(labelsize=8)


def _seconds_tick(x, _pos=None) -> str:
    if x == 0:
        return "0"
    return f"{x * 1000:.4g} ms" if abs(x) < 1 else f"{x:.4g} s"


def _time_yaxis(ax, values, *, also=(), floor: float | None = None) -> None:
    """Seconds on the y axis, ticks labelled in ms or s: linear from 0, or log-scaled when the values span
    over 30\u00d7 (down to ``floor``, by default a thousandth of the largest: a near-zero outlier does not
    stretch the scale over decades no one reads)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    finite = np.asarray([v for v in (*np.ravel(values), *also) if np.isfinite(v) and v > 0])
    if not finite.size:
        ax.set_ylim(0, 1)
    else:
        hi = finite.max()
        lo = max(finite.min(), hi / 1000 if floor is None else floor)
        if hi / lo > 30:
            ax.set_yscale("log")
            ax.set_ylim(lo / 1.5, hi * 1.5)
            subs = (1.0, 2.0, 5.0) if hi / lo < 2000 else (1.0,)
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(0, 1.15 * hi)
    ax.yaxis.set_major_formatter(FuncFormatter(_seconds_tick))


def _nothing(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def plot_loadtest_arrivals(ax, rows, columns, *, time_scale: float) -> None:
    """Visitors per wall second: the plan's target, those that arrived, and those the generator dropped."""
    edges = _wall_edges(rows, columns, time_scale)
    width = np.diff(edges)
    target = _column(rows, columns, "target_arrivals")
    arrived = _column(rows, columns, "arrivals")
    dropped = _column(rows, columns, "dropped")
    ax.stairs(arrived / width, edges, fill=True, alpha=0.35, color="tab:blue",
              label=f"visitors arrived, sent by the generator ({np.nansum(arrived):,.0f})")
    ax.stairs(target / width, edges, color="black", lw=1.2, ls="--", baseline=None,
              label=f"target: the plan's expected arrivals ({np.nansum(target):,.1f})")
    if np.nansum(dropped) > 0:
        ax.stairs(dropped / width, edges, color="tab:red", lw=1.4, baseline=None,
                  label=f"dropped by the generator ({np.nansum(dropped):,.0f})")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("visitors per second (wall clock)")
    loadtest_time_axis(ax, rows, columns, time_scale=time_scale)
    ax.legend(loc="best", fontsize=8)
    ax.grid(True, alpha=0.3)


def plot_loadtest_latency(ax, rows, columns, *, time_scale: float, slo_s: float | None = None) -> None:
    """Page response time p50 / p95 / p99 per bin, from each request's planned send."""
    edges = _wall_edges(rows, columns, time_scale)
    mid = (edges[:-1] + edges[1:]) / 2
    series = [_column(rows, columns, name) for name in ("p50_s", "p95_s", "p99_s")]
    for values, name, style in zip(series, ("p50", "p95", "p99"), ("-", "--", ":")):
        ax.plot(mid, values, style, marker="o", ms=3, lw=1.2, label=name)
    if slo_s is not None:
        ax.axhline(slo_s, color="tab:red", lw=0.8, label=f"SLO {_seconds_tick(slo_s)}")
    if not np.any(np.isfinite(series)):
        _nothing(ax, "no page was served: no response time to show")
    _time_yaxis(ax, series, also=() if slo_s is None else (slo_s,))
    ax.set_ylabel("page response time\n(from the planned send)")
    loadtest_time_axis(ax, rows, columns, time_scale=time_scale)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    ax.grid(True, alpha=0.3)


def plot_loadtest_lag(ax, rows, columns, *, time_scale: float, threshold_s: float | None = None) -> None:
    """How late the generator sent its requests (actual minus planned send): p99 and max per bin, and the
    threshold under which it kept up."""
    edges = _wall_edges(rows, columns, time_scale)
    p99, worst = _column(rows, columns, "lag_p99_s"), _column(rows, columns, "lag_max_s")
    ax.stairs(p99, edges, color="tab:blue", lw=2, label="p99", baseline=None)
    ax.stairs(worst, edges, color="black", lw=0.9, ls=":", label="max", baseline=None)  # on top: p99 may equal it
    if threshold_s is not None:
        ax.axhline(threshold_s, color="tab:red", lw=1, ls="--",
                   label=f"kept up while p99 \u2264 {_seconds_tick(threshold_s)}")
    if not np.any(np.isfinite(p99)):
        _nothing(ax, "no request was sent: no lag to show")
    _time_yaxis(ax, [p99, worst], also=() if threshold_s is None else (threshold_s,),
                floor=None if threshold_s is None else threshold_s / 10)
    ax.set_ylabel("send lag\n(actual \u2212 planned send)")
    loadtest_time_axis(ax, rows, columns, time_scale=time_scale)
    ax.legend(loc="best", fontsize=8)
    ax.grid(True, alpha=0.3)
