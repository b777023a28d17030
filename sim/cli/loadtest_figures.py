"""A load test's figures: target against achieved arrivals, page latency over time, the generator's lag.

``surge loadtest`` calls :func:`write_loadtest_figures` once the test has written its
``summary.json`` and ``timeseries.csv``; ``surge report`` then shows the PNGs. The x axis
is the test's wall clock (simulated seconds / the plan's ``time_scale``), with the
simulated time it plays on a second axis on top.
"""

from __future__ import annotations

import math
from pathlib import Path

from sim.cli.figures import save_figure
from sim.loadtest.stats import LAG_THRESHOLD_S
from sim.output.plots import plot_loadtest_arrivals, plot_loadtest_lag, plot_loadtest_latency

__all__ = ["write_loadtest_figures"]

_NEEDED = {"arrivals.png": ("bin_start_s", "bin_end_s", "arrivals", "target_arrivals", "dropped"),
           "latency.png": ("bin_start_s", "bin_end_s", "p50_s", "p95_s", "p99_s"),
           "lag.png": ("bin_start_s", "bin_end_s", "lag_p99_s", "lag_max_s")}


def _number(x) -> float:
    """A cell as a float: numbers as they are, CSV text parsed, empty or missing cells NaN."""
    if x is None or isinstance(x, bool):
        return math.nan
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(str(x).strip() or "nan")
    except ValueError:
        return math.nan


def _positive(x, default: float) -> float:
    x = _number(x)
    return x if 0 < x < math.inf else default


def write_loadtest_figures(out: Path, rows, columns, summary: dict) -> list[str]:
    """Save ``arrivals.png``, ``latency.png`` and ``lag.png`` in ``out``; return the names saved.

    ``rows`` are the time series' rows in ``columns`` (``LOADTEST_COLUMNS``), as the recorder
    returns them or as read back from ``timeseries.csv`` (text, empty cells for NaN). A figure
    whose columns the series lacks (a folder from before they existed) is left out."""
    out = Path(out)
    columns = list(columns)
    rows = [[_number(x) for x in row] for row in rows]
    if not rows:
        return []
    plan = summary.get("plan") if isinstance(summary.get("plan"), dict) else {}
    time_scale = _positive(plan.get("time_scale"), 1.0)
    generator = summary.get("generator") if isinstance(summary.get("generator"), dict) else {}
    threshold_s = _positive(generator.get("threshold_s"), LAG_THRESHOLD_S)
    name = str(summary.get("scenario") or "load test")
    played = f"played {time_scale:g}\u00d7 faster" + (f" at {_number(plan['scale']):g} of its size"
                                                     if math.isfinite(_number(plan.get("scale"))) else "")

    def arrivals(fig):
        ax = fig.add_subplot()
        plot_loadtest_arrivals(ax, rows, columns, time_scale=time_scale)
        ax.set_title(f"{name}: visitors the plan asked for and the load generator sent ({played})", fontsize=11)

    def latency(fig):
        ax = fig.add_subplot()
        plot_loadtest_latency(ax, rows, columns, time_scale=time_scale)
        ax.set_title(f"{name}: response time of the pages served under the load test", fontsize=11)

    def lag(fig):
        ax = fig.add_subplot()
        plot_loadtest_lag(ax, rows, columns, time_scale=time_scale, threshold_s=threshold_s)
        verdict = generator.get("kept_up")
        said = "" if not isinstance(verdict, bool) else (" (it kept up)" if verdict else " (it fell behind)")
        ax.set_title(f"{name}: how late the load generator sent its requests{said}", fontsize=11)

    saved = []
    for file, draw in (("arrivals.png", arrivals), ("latency.png", latency), ("lag.png", lag)):
        if all(c in columns for c in _NEEDED[file]):
            save_figure(out / file, draw, figsize=(10, 4.5))
            saved.append(file)
    return saved
