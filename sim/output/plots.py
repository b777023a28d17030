"""Plot functions: each draws on an ``ax`` it is given; only the CLI makes and saves figures."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sim.output.text import clock
from sim.stats.figures import COMPLETED

__all__ = ["plot_profile", "hours_axis", "clock_axis", "mark_window", "plot_latency", "plot_throughput", "waited",
           "plot_actions_lost", "plot_queue", "plot_instances", "plot_capacity", "loadtest_time_axis",
           "plot_loadtest_arrivals", "plot_loadtest_latency", "plot_loadtest_lag", "plot_profile_compare"]


def hours_axis(ax, duration_s: float) -> None:
    """The x axis over the whole run, in hours:minutes since its start."""
    clock_axis(ax, 0.0, duration_s)


def _clock_tick(h, _pos=None) -> str:
    return clock(h * 3600)


# Tick steps in minutes: the smallest that leaves at most 10 ticks on the axis.
_CLOCK_STEPS_MIN = (1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440, 2880, 10080)


def clock_axis(ax, start_s: float, end_s: float, *, label: bool = True) -> None:
    """The x axis (data in hours) from ``start_s`` to ``end_s``, ticked in hours:minutes since the start."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    span_min = max((end_s - start_s) / 60, 1e-9)
    step = next((m for m in _CLOCK_STEPS_MIN if span_min / m <= 10), _CLOCK_STEPS_MIN[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step / 60))
    ax.xaxis.set_major_formatter(FuncFormatter(_clock_tick))
    ax.set_xlim(start_s / 3600, end_s / 3600)
    if label:
        ax.set_xlabel("time since start (h:mm)")


def mark_window(ax, window, *, label: str = "window shown above") -> None:
    """Shade ``window`` (start_s, end_s) on a whole-run panel."""
    start_s, end_s = window
    ax.axvspan(start_s / 3600, end_s / 3600, color="tab:orange", alpha=0.15, lw=0, label=label)


def _share_label(share, i: int) -> str:
    name = share.name or "share"
    return f"{i + 1}: {name} at {_clock_tick(share.at_s / 3600)}"


_SHARE_COLORS = ("tab:red", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink")


def plot_profile(ax, profile, *, bin_s: float, log: bool = False, window=None, legend: bool = True) -> None:
    """Visitors per second over time (mean per bin), each share's instant a numbered line named in the
    legend (names never overlap: the numbers stand at staggered heights). ``window`` (start_s, end_s):
    the stretch to show, the whole run by default."""
    start_s, end_s = window if window is not None else (0.0, profile.duration_s)
    edges, counts = profile.binned(bin_s)
    rates = counts / np.diff(edges)
    keep = (edges[1:] > start_s) & (edges[:-1] < end_s)
    idx = np.flatnonzero(keep)
    if idx.size:
        lo, hi = idx[0], idx[-1] + 1
        ax.stairs(rates[lo:hi], edges[lo:hi + 1] / 3600, fill=True, alpha=0.35, color="tab:blue",
                  label=f"mean per {bin_s:g} s bin")
    fine = np.linspace(start_s, end_s, 4001)
    ax.plot(fine / 3600, profile.rate_per_s(fine), color="tab:blue", lw=0.8, label="rate_per_s(t)")
    ax.plot(fine / 3600, profile.baseline_rate_per_s(fine), color="0.4", lw=0.8, ls="--", label="baseline")
    k = 0  # shares drawn so far: their numbers stand at staggered heights
    for i, share in enumerate(profile.shares):
        color = _SHARE_COLORS[i % len(_SHARE_COLORS)]
        if not start_s <= share.at_s <= end_s:  # still named, so the whole run's numbers read
            side = "before" if share.at_s < start_s else "after"
            ax.plot([], [], color=color, lw=1, alpha=0.8, label=f"{_share_label(share, i)} ({side} this window)")
            continue
        ax.axvline(share.at_s / 3600, color=color, lw=1, alpha=0.8, label=_share_label(share, i))
        ax.annotate(str(i + 1), (share.at_s / 3600, 0.97 - 0.07 * (k % 4)), xycoords=("data", "axes fraction"),
                    ha="left", va="top", fontsize=8, color=color, fontweight="bold",
                    xytext=(2, 0), textcoords="offset points")
        k += 1
    top = float(np.max(profile.rate_per_s(fine)))
    if log:
        ax.set_yscale("log")
    elif top > 0:
        ax.set_ylim(0, top * (1.6 if legend else 1.1))  # the legend above the peaks, not on them
    ax.set_ylabel("visitors per second" + (" (log scale)" if log else ""))
    clock_axis(ax, start_s, end_s)
    if legend:
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


def _within(rows, columns, window):
    """The rows whose bin overlaps ``window`` (start_s, end_s); all of them without one (axes then scale
    to what is shown, not to the whole run)."""
    if window is None:
        return rows
    start_s, end_s = window
    i, j = columns.index("bin_start_s"), columns.index("bin_end_s")
    return [r for r in rows if float(r[j]) > start_s and float(r[i]) < end_s]


def _time_axis(ax, rows, columns, window) -> None:
    if window is not None:
        clock_axis(ax, *window)
    elif rows:
        clock_axis(ax, float(rows[0][columns.index("bin_start_s")]), float(rows[-1][columns.index("bin_end_s")]))


def _legend(ax, legend: bool, **kw) -> None:
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, **{"loc": "upper right", **kw})


_SLO_STYLES = ("-", "-.", (0, (5, 1)))  # several objectives' limits told apart
_PERCENTILES = (("p50", 0.5, "-", "tab:blue"), ("p95", 0.95, "--", "tab:orange"), ("p99", 0.99, ":", "tab:green"))


def plot_latency(ax_latency, ax_rate, rows, columns, *, slo_lines: Sequence[tuple[float, str]] = (), merged=None,
                 window=None, legend: bool = True) -> None:
    """Response-time percentiles of the completed pages over time (``ax_latency``) above the arrival rate
    (``ax_rate``, may be None). ``slo_lines``: (limit in s, label) of each objective to draw
    (:func:`sim.stats.figures.slo_lines`).

    ``merged`` (a :class:`~sim.stats.coarse.MergedQuantiles`): the percentiles of neighbouring bins merged
    until each holds ``min_count`` responses, drawn as steps; a group still short of it (at its widest) is
    drawn faint. Without it, each bin's own percentiles. ``window`` (start_s, end_s): the stretch shown."""
    rows = _within(rows, columns, window)
    drawn = []
    if merged is not None:
        edges = np.asarray(merged.edges_s, dtype=float)
        keep = np.ones(len(edges) - 1, dtype=bool) if window is None else \
            (edges[1:] > window[0]) & (edges[:-1] < window[1])
        idx = np.flatnonzero(keep)
        lo, hi = (idx[0], idx[-1] + 1) if idx.size else (0, 0)
        x = edges[lo:hi + 1] / 3600
        enough = np.asarray(merged.enough[lo:hi], dtype=bool)
        for name, q, style, color in _PERCENTILES:
            values = np.asarray(merged.values[q][lo:hi], dtype=float)
            if not len(values):
                continue
            ax_latency.stairs(np.where(enough, values, np.nan), x, baseline=None, ls=style, color=color, lw=1.4,
                              label=f"{name} (bins merged to \u2265 {merged.min_count} responses)")
            if not enough.all():
                ax_latency.stairs(np.where(enough, np.nan, values), x, baseline=None, ls=style, color=color,
                                  lw=1, alpha=0.3)
            drawn.append(values)
        if len(enough) and not enough.all():
            ax_latency.plot([], [], color="0.5", alpha=0.3, lw=1,
                            label=f"faint: fewer than {merged.min_count} responses (not a true percentile)")
    else:
        start, end = _hours_of(rows, columns)
        mid = (start + end) / 2
        for name, _q, style, color in _PERCENTILES:
            values = _column(rows, columns, f"{name}_s")
            ax_latency.plot(mid, values, style, color=color, lw=1, label=f"{name} (each bin)")
            drawn.append(values)
    lines = list(slo_lines)
    for (limit, label), style in zip(lines, _SLO_STYLES * len(lines)):
        ax_latency.axhline(limit, color="tab:red", lw=1, ls=style, label=label)
    if not any(np.any(np.isfinite(v)) for v in drawn):
        _nothing(ax_latency, "no page was served: no response time to show")
    _time_yaxis(ax_latency, [v for vals in drawn for v in np.ravel(vals)], also=tuple(limit for limit, _ in lines),
                legend_room=legend)
    ax_latency.set_ylabel(f"page response time\n({COMPLETED})")
    _legend(ax_latency, legend, loc="upper right")
    ax_latency.grid(True, alpha=0.3)
    _time_axis(ax_latency, rows, columns, window)
    if ax_rate is None:
        return
    if rows:
        start, end = _hours_of(rows, columns)
        width_s = _column(rows, columns, "bin_end_s") - _column(rows, columns, "bin_start_s")
        ax_rate.stairs(_column(rows, columns, "arrivals") / width_s, np.append(start, end[-1]), fill=True, alpha=0.4,
                       label="visitors arriving per s (each bin)")
    ax_rate.set_ylim(bottom=0)
    ax_rate.set_ylabel("visitors per s")
    ax_rate.grid(True, alpha=0.3)
    _legend(ax_rate, legend, loc="upper right")
    _time_axis(ax_rate, rows, columns, window)


def waited(rows, columns, name: str) -> bool:
    """Whether level ``name`` (``in_queue_db``, ...) was ever above 0: a panel for it shows something."""
    return bool(rows) and bool(np.nanmax(_column(rows, columns, name), initial=0) > 0)


def plot_throughput(ax, rows, columns, *, ax_origin=None, window=None, legend: bool = True,
                    lost: bool = True) -> None:
    """Page views asked for (a wide pale line) and served (a thin line over it: where they part, the gap
    shows) on ``ax``, per second; origin requests lost (503, 504, given up), per second, on ``ax_origin``
    (a second axis on ``ax`` without one: one unit per axis; none with ``lost`` False)."""
    rows = _within(rows, columns, window)
    within = "" if window is None else " in this window"
    if rows:
        start, end = _hours_of(rows, columns)
        edges = np.append(start, end[-1])
        width_s = _column(rows, columns, "bin_end_s") - _column(rows, columns, "bin_start_s")
        asked, served = _column(rows, columns, "page_views"), _column(rows, columns, "completed")
        ax.stairs(asked / width_s, edges, baseline=None, lw=3.2, color="tab:blue", alpha=0.35,
                  label=f"page views asked, retries included ({np.nansum(asked):,.0f}{within})")
        ax.stairs(served / width_s, edges, baseline=None, lw=1, color="tab:green",
                  label=f"page views served ({np.nansum(served):,.0f}{within})")
        top = np.nanmax(asked / width_s, initial=0)
        if top > 0:
            ax.set_ylim(0, 1.45 * top)  # room for the legend above a flat rate
    ax.set_ylim(bottom=0)
    ax.set_ylabel("page views per s")
    ax.grid(True, alpha=0.3)
    _legend(ax, legend, loc="upper right")
    _time_axis(ax, rows, columns, window)
    if not lost:
        return
    other = ax_origin if ax_origin is not None else ax.twinx()
    if rows:
        for name, label, color in (("rejected", "rejected (503)", "tab:red"),
                                   ("timed_out", "timed out (504)", "tab:purple"),
                                   ("abandoned", "given up while queued", "tab:brown")):
            count = _column(rows, columns, name)
            if np.nansum(count) > 0:
                other.stairs(count / width_s, edges, baseline=None, lw=1.1, color=color,
                             label=f"{label} ({np.nansum(count):,.0f}{within})")
    other.set_ylim(bottom=0)
    other.set_ylabel("origin requests lost per s")
    if ax_origin is not None:
        other.grid(True, alpha=0.3)
        if not other.get_legend_handles_labels()[0]:
            _nothing(other, "no origin request was lost")
        _legend(other, legend, loc="upper right")
        _time_axis(other, rows, columns, window)
    elif other.get_legend_handles_labels()[0]:
        _legend(other, legend, loc="center right")


def plot_actions_lost(ax, merged, *, slo_lines: Sequence[tuple[float, str]] = (), window=None,
                      legend: bool = True) -> None:
    """The share of actions lost (%) over time, from a :class:`~sim.stats.coarse.MergedRatio` of actions lost
    to actions ended (completed + lost) over groups of neighbouring bins; a group short of ``min_count``
    actions is drawn faint; each objective's limit (``slo_lines``: (fraction, label)) as a line."""
    edges = np.asarray(merged.edges_s, dtype=float)
    keep = np.ones(len(edges) - 1, dtype=bool) if window is None else \
        (edges[1:] > window[0]) & (edges[:-1] < window[1])
    idx = np.flatnonzero(keep)
    if idx.size:
        lo, hi = idx[0], idx[-1] + 1
        x, pct, enough = edges[lo:hi + 1] / 3600, 100 * merged.ratio[lo:hi], merged.enough[lo:hi]
        ax.stairs(np.where(enough, pct, np.nan), x, baseline=None, lw=1.3, color="tab:red",
                  label=f"actions lost (bins merged to \u2265 {merged.min_count} actions ended)")
        if not enough.all():
            ax.stairs(np.where(enough, np.nan, pct), x, baseline=None, lw=1, color="tab:red", alpha=0.3,
                      label=f"faint: fewer than {merged.min_count} actions")
    for limit, label in slo_lines:
        ax.axhline(100 * limit, color="black", lw=1, ls="--", label=label)
    ax.set_ylim(0, 105)
    ax.set_ylabel("actions lost (%)")
    ax.grid(True, alpha=0.3)
    _legend(ax, legend, loc="upper right")
    if window is not None:
        clock_axis(ax, *window)
    elif len(edges):
        clock_axis(ax, edges[0], edges[-1])


def plot_queue(ax, rows, columns, *, ax_db=None, ax_room=None, queue_limit: float | None = None,
               db_connections: int | None = None, window=None, legend: bool = True, app_only: bool = False,
               empty: str = "no request waited for an app worker") -> None:
    """Time-average requests waiting in the app backlog (``ax``), with the backlog limit (``queue_limit`` per
    instance times the instances in service) as a dashed line; queries waiting for a DB connection on
    ``ax_db`` and visitors in the waiting room on ``ax_room`` (their own axes: other units, other scales).
    Without ``ax_db`` the DB wait shares ``ax`` (both are requests); without ``ax_room``, a second axis;
    ``app_only``: the app backlog alone (a whole-run overview); ``empty``: what an empty app panel says."""
    rows = _within(rows, columns, window)
    edges = None
    if rows:
        start, end = _hours_of(rows, columns)
        edges = np.append(start, end[-1])

    def level(target, name, label, color, empty):
        values = _column(rows, columns, name) if rows else np.array([])
        if values.size and np.nanmax(values, initial=0) > 0:
            target.stairs(values, edges, baseline=None, lw=1.2, color=color, label=label)
            target.set_ylim(bottom=0)
        elif target is not ax:
            _nothing(target, empty)

    level(ax, "in_queue_app", "app backlog (requests waiting for a worker)", "tab:blue", "")
    most = np.nanmax(_column(rows, columns, "instances"), initial=0) if rows else 0  # nan after a stopped run's end
    if queue_limit is not None and math.isfinite(queue_limit) and most > 0:
        instances = _column(rows, columns, "instances")
        label = f"backlog limit: queue_limit {queue_limit:g} \u00d7 instances ({most:g})"
        ax.stairs(queue_limit * instances, edges, baseline=None, lw=1, ls="--", color="tab:red", label=label)
        ax.set_ylim(0, 1.08 * queue_limit * most)
        peak = np.nanmax(_column(rows, columns, "in_queue_app"), initial=0)
        if peak < 0.1 * queue_limit * most:  # a backlog far below its limit: linear up to 1, log beyond, both seen
            from matplotlib.ticker import FuncFormatter

            ax.set_yscale("symlog", linthresh=1.0)
            ax.set_ylim(0, 3 * queue_limit * most)
            ax.yaxis.set_major_formatter(FuncFormatter(_count_tick))
            ax.plot([], [], " ", label="(log scale above 1 request: the backlog stayed far below its limit)")
    elif queue_limit is not None and not math.isfinite(queue_limit):
        ax.plot([], [], " ", label="backlog unbounded (queue_limit = inf)")
    ax.set_ylabel("app requests waiting")
    if not any(line.get_label().startswith("app backlog") for line in ax.patches):
        _nothing(ax, empty)
    if app_only:
        ax.grid(True, alpha=0.3)
        _time_axis(ax, rows, columns, window)
        return
    db_target = ax_db if ax_db is not None else ax
    if ax_db is None and db_connections and not waited(rows, columns, "in_queue_db"):
        ax.plot([], [], " ", label=f"no query waited for a DB connection (pool of {db_connections})")
    level(db_target, "in_queue_db", "queries waiting for a DB connection" +
          (f" (pool of {db_connections})" if db_connections else ""), "tab:purple", "no query waited for a connection")
    room = ax_room
    if room is None and rows and np.nanmax(_column(rows, columns, "in_queue_waiting_room"), initial=0) > 0:
        room = ax.twinx()
    if room is not None:
        level(room, "in_queue_waiting_room", "visitors in the waiting room", "tab:brown",
              "no visitor waited in the room")
        room.set_ylabel("visitors waiting")
    if ax_db is not None:
        ax_db.set_ylabel("DB queries waiting")
    for a in [ax] + [x for x in (ax_db, ax_room) if x is not None and x is not ax]:
        a.grid(True, alpha=0.3)
        _legend(a, legend, loc="center right" if a.get_yscale() == "symlog" else "upper right")  # off the limit
        _time_axis(a, rows, columns, window)
    if room is not None and ax_room is None:
        _legend(room, legend, loc="center right")


def plot_instances(ax, rows, columns, *, window=None, legend: bool = True) -> None:
    """App instances in service, and their utilization (a second axis)."""
    rows = _within(rows, columns, window)
    twin = ax.twinx()
    if rows:
        start, end = _hours_of(rows, columns)
        edges = np.append(start, end[-1])
        ax.stairs(_column(rows, columns, "instances"), edges, label="instances in service", lw=1.2, baseline=None)
        twin.plot((start + end) / 2, _column(rows, columns, "utilization_app"), color="tab:orange", lw=0.8,
                  label="app utilization (right axis)")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("instances")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("app utilization")
    if legend:
        handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        if handles:
            ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    _time_axis(ax, rows, columns, window)


def plot_capacity(ax, rows, *, capacity_key: str, surge_keys, figure: str, ylabel: str,
                  slo_lines: Sequence[tuple[float, str]] = (), least=None, scale: float = 1.0) -> None:
    """A figure against capacity, one line per surge size, with its confidence band and the limits of
    the SLO's terms on it (``slo_lines``: (limit, label), :func:`sim.stats.figures.slo_lines`)."""
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
    for (limit, label), style in zip(slo_lines, _SLO_STYLES * len(slo_lines)):
        ax.axhline(limit * scale, color="tab:red", lw=1, ls=style, label=label)
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


def _time_yaxis(ax, values, *, also=(), floor: float | None = None, legend_room: bool = False) -> None:
    """Seconds on the y axis, ticks labelled in ms or s: linear from 0, or log-scaled when the values span
    over 30\u00d7 (down to ``floor``, by default a thousandth of the largest: a near-zero outlier does not
    stretch the scale over decades no one reads). ``legend_room``: space above the data for a legend."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    finite = np.asarray([v for v in (*np.ravel(values), *also) if np.isfinite(v) and v > 0])
    if not finite.size:
        ax.set_ylim(0, 1)
    else:
        hi = finite.max()
        lo = max(finite.min(), hi / 1000 if floor is None else floor)
        if hi / lo > 30:
            ax.set_yscale("log")
            ax.set_ylim(lo / 1.5, hi * (5 if legend_room else 1.5))
            subs = (1.0, 2.0, 5.0) if hi / lo < 2000 else (1.0,)
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_ylim(0, (1.5 if legend_room else 1.15) * hi)
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
    ax.set_ylabel(f"page response time\n({COMPLETED}, from the planned send)")
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
