"""A load test's figures: drawn on a given ax from the time series' rows, saved by the CLI as PNGs."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.cli.loadtest_figures import write_loadtest_figures
from sim.files import write_csv, write_json
from sim.loadtest.stats import LAG_THRESHOLD_S, LOADTEST_COLUMNS, LoadRecorder
from sim.output.plots import plot_loadtest_arrivals, plot_loadtest_lag, plot_loadtest_latency

EDGES_S = np.arange(0.0, 1201.0, 60.0)  # 20 minutes of simulated time
TIME_SCALE = 20.0  # played in 60 wall seconds


def recorded(*, late: bool = False, seed: int = 1) -> tuple[list[list], dict]:
    """A load test's time series and summary, as the locust side records them (no locust needed)."""
    rng = np.random.default_rng(seed)
    rec = LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE)
    for t in np.sort(rng.uniform(0, 60, 3000)):
        rec.count("arrivals", t)
        lag = rng.exponential(0.05 if late and t > 30 else 0.001)
        status = "503" if rng.random() < 0.03 else "200"
        rec.request(t, response_s=rng.lognormal(np.log(0.05), 0.6) + lag, status=status, document=True, lag_s=lag)
    for t in rng.uniform(40, 50, 30):
        rec.count("dropped", t)
    target = np.full(len(EDGES_S) - 1, 150.0)
    summary = rec.summary(target_visitors=float(target.sum()), plan={"time_scale": TIME_SCALE, "scale": 0.01})
    summary["scenario"] = "steady"
    return rec.timeseries(target), summary


def write_folder(folder, *, late: bool = False, locust: bool = True):
    """A load-test folder as ``surge loadtest --out`` writes it, figures included."""
    rows, summary = recorded(late=late)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "summary.json", summary)
    write_csv(folder / "timeseries.csv", LOADTEST_COLUMNS,
              ([("" if isinstance(x, float) and math.isnan(x) else x) for x in row] for row in rows))
    if locust:
        (folder / "locust.html").write_text("<!DOCTYPE html><title>locust</title>")
    with open(folder / "timeseries.csv", newline="") as f:  # read back as text, as the report's reader sees it
        header, *text_rows = list(csv.reader(f))
    assert write_loadtest_figures(folder, text_rows, header, summary) == ["arrivals.png", "latency.png", "lag.png"]
    return folder, summary


@pytest.fixture
def ax():
    return Figure().add_subplot()  # no pyplot, no backend: the plot functions only get an ax


def test_arrivals_show_target_sent_and_dropped_per_wall_second(ax):
    rows, _ = recorded()
    plot_loadtest_arrivals(ax, rows, LOADTEST_COLUMNS, time_scale=TIME_SCALE)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["visitors arrived, sent by the generator (3,000)", "target: the plan's expected arrivals (3,000.0)",
                      "dropped by the generator (30)"]
    assert ax.get_xlim() == (0.0, 60.0) and "wall-clock" in ax.get_xlabel()
    target = ax.patches[1] if len(ax.patches) > 1 else None
    assert target is not None and np.allclose(target.get_data().values, 150 / 3.0)  # 150 per 3 wall s bin
    top = [c for c in ax.child_axes if "simulated time" in c.get_xlabel()]
    assert len(top) == 1 and "min" in top[0].get_xlabel() and "20\u00d7 faster" in top[0].get_xlabel()


def test_latency_is_labelled_in_ms_and_log_only_when_it_spans_decades(ax):
    rows, _ = recorded()
    plot_loadtest_latency(ax, rows, LOADTEST_COLUMNS, time_scale=TIME_SCALE)
    assert [line.get_label() for line in ax.get_lines()] == ["p50", "p95", "p99"]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    ax.figure.draw_without_rendering()
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and all(t == "0" or t.endswith(" ms") for t in ticks), ticks
    slow = [list(r) for r in rows]
    p99 = LOADTEST_COLUMNS.index("p99_s")
    slow[-1][p99] = 30.0  # one bin where pages waited 30 s
    ax.clear()
    plot_loadtest_latency(ax, slow, LOADTEST_COLUMNS, time_scale=TIME_SCALE, slo_s=2.0)
    assert ax.get_yscale() == "log" and "SLO 2 s" in ax.get_legend_handles_labels()[1]


def test_lag_shows_p99_max_and_the_threshold(ax):
    rows, _ = recorded(late=True)
    plot_loadtest_lag(ax, rows, LOADTEST_COLUMNS, time_scale=TIME_SCALE, threshold_s=LAG_THRESHOLD_S)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["p99", "max", "kept up while p99 \u2264 10 ms"]
    low, high = ax.get_ylim()
    assert low >= LAG_THRESHOLD_S / 10 / 1.5 - 1e-12 and high > LAG_THRESHOLD_S  # near-zero lags do not stretch it
    assert ax.get_yscale() == "log"  # 50 ms mean lag, seconds at the max, against 10 ms


def test_empty_series_say_so_rather_than_draw_empty_axes(ax):
    rows, _ = recorded()
    blank = [list(r) for r in rows]
    for r in blank:
        for name in ("p50_s", "p95_s", "p99_s"):
            r[LOADTEST_COLUMNS.index(name)] = math.nan
    plot_loadtest_latency(ax, blank, LOADTEST_COLUMNS, time_scale=TIME_SCALE)
    assert any("no page was served" in t.get_text() for t in ax.texts)


def test_write_loadtest_figures_saves_pngs_from_csv_text(tmp_path):
    folder, _ = write_folder(tmp_path / "lt")
    for name in ("arrivals.png", "latency.png", "lag.png"):
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 20_000, name


def test_figures_a_series_cannot_hold_are_left_out(tmp_path):
    rows, summary = recorded()
    old = [c for c in LOADTEST_COLUMNS if c not in ("lag_p99_s", "lag_max_s")]  # a folder from before the lag
    keep = [LOADTEST_COLUMNS.index(c) for c in old]
    assert write_loadtest_figures(tmp_path, [[r[i] for i in keep] for r in rows], old, summary) == \
        ["arrivals.png", "latency.png"]
    assert write_loadtest_figures(tmp_path / "none", [], LOADTEST_COLUMNS, summary) == []
