"""A run's figures: the surge's window, merged sparse bins, one unit per axis, limits and legends."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.config.scenario import load_scenario
from sim.output.plots import clock_axis, plot_actions_lost, plot_latency, plot_profile, plot_queue, plot_throughput
from sim.stats.coarse import merged_quantiles, merged_ratio
from sim.stats.series import BinnedSeries
from sim.stats.summary import TIMESERIES_COLUMNS
from sim.traffic.profile import build_profile

BIN_S = 60.0


def rows_of(**columns) -> list[list]:
    """Timeseries rows of one-minute bins with the given columns (others 0)."""
    n = len(next(iter(columns.values())))
    rows = []
    for b in range(n):
        row = {c: 0.0 for c in TIMESERIES_COLUMNS}
        row.update(bin_start_s=b * BIN_S, bin_end_s=(b + 1) * BIN_S, **{k: v[b] for k, v in columns.items()})
        rows.append([row[c] for c in TIMESERIES_COLUMNS])
    return rows


@pytest.fixture
def fig():
    return Figure()


def _ticks(ax) -> list[str]:
    lo, hi = ax.get_xlim()
    fmt = ax.xaxis.get_major_formatter()
    return [fmt(x) for x in ax.xaxis.get_majorticklocs() if lo - 1e-9 <= x <= hi + 1e-9]


def test_clock_axis_ticks_hours_and_minutes(fig):
    ax = fig.add_subplot()
    ax.plot([0, 48], [0, 1])
    clock_axis(ax, 0.0, 48 * 3600)  # 2880 min: the first step of at most 10 ticks is 360 min
    assert _ticks(ax) == ["0:00", "6:00", "12:00", "18:00", "24:00", "30:00", "36:00", "42:00", "48:00"]
    clock_axis(ax, 0.7 * 3600, 4.3 * 3600)  # 216 min: 30 min steps
    assert _ticks(ax) == ["1:00", "1:30", "2:00", "2:30", "3:00", "3:30", "4:00"]
    assert ax.get_xlabel() == "time since start (h:mm)"


def test_sparse_bins_are_merged_and_a_short_group_is_faint(fig):
    rng = np.random.default_rng(3)
    sizes = [30] * 8 + [2000, 2000] + [4] * 6  # a night, two surge minutes, a dead stretch
    series = BinnedSeries(len(sizes) * BIN_S, BIN_S)
    for b, n in enumerate(sizes):
        series.observe_many("response_s", b * BIN_S, rng.lognormal(np.log(0.1), 0.7, n))
    merged = merged_quantiles(series, min_count=100, max_bins=6)
    assert merged.counts.tolist() == [120, 120, 2000, 2000, 24]  # 4 x 30, 4 x 30, the surge, 6 x 4 at the widest
    ax, rate = fig.subplots(2, 1)
    rows = rows_of(arrivals=[float(n) for n in sizes])
    plot_latency(ax, rate, rows, TIMESERIES_COLUMNS, merged=merged,
                 slo_lines=[(2.0, "SLO p95<2s (every attempt)"), (3.0, "SLO completed_p99<3s (completed pages)")])
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["p50 (bins merged to \u2265 100 responses)", "p95 (bins merged to \u2265 100 responses)",
                      "p99 (bins merged to \u2265 100 responses)",
                      "faint: fewer than 100 responses (not a true percentile)", "SLO p95<2s (every attempt)",
                      "SLO completed_p99<3s (completed pages)"]
    assert sorted(line.get_ydata()[0] for line in ax.lines if line.get_label().startswith("SLO")) == [2.0, 3.0]
    solid = [p for p in ax.patches if p.get_label().startswith("p99")][0]
    values = solid.get_data().values
    assert np.isnan(values[-1]) and values[:4].tolist() == merged.values[0.99][:4].tolist()
    assert solid.get_data().edges.tolist() == (merged.edges_s / 3600).tolist()
    faint = [p for p in ax.patches if p.get_alpha() == 0.3]
    assert len(faint) == 3 and all(np.isfinite(p.get_data().values[-1]) for p in faint)


def test_a_window_shows_only_its_bins(fig):
    ax, rate = fig.subplots(2, 1)
    rows = rows_of(arrivals=[60.0] * 10 + [6000.0] * 5 + [60.0] * 45, p50_s=[0.05] * 60, p95_s=[0.2] * 60,
                   p99_s=[0.4] * 60)
    plot_latency(ax, rate, rows, TIMESERIES_COLUMNS, window=(9 * BIN_S, 20 * BIN_S))
    assert ax.get_xlim() == pytest.approx((9 / 60, 20 / 60))
    (bars,) = rate.patches
    assert len(bars.get_data().values) == 11 and bars.get_data().values.max() == 100.0  # 6000 per minute
    assert rate.get_ylim()[1] < 120  # scaled to what is shown


def test_page_views_and_origin_requests_have_their_own_axes(fig):
    pages, origin = fig.subplots(2, 1)
    rows = rows_of(page_views=[600.0, 1200.0], completed=[600.0, 300.0], rejected=[0.0, 3000.0])
    plot_throughput(pages, rows, TIMESERIES_COLUMNS, ax_origin=origin)
    assert [p.get_label() for p in pages.patches] == ["page views asked, retries included (1,800)",
                                                      "page views served (900)"]
    asked, served = pages.patches
    assert asked.get_data().values.tolist() == [10.0, 20.0] and served.get_data().values.tolist() == [10.0, 5.0]
    assert asked.get_linewidth() > served.get_linewidth() and served.zorder >= asked.zorder  # asked shows around it
    assert [p.get_label() for p in origin.patches] == ["rejected (503) (3,000)"]
    assert origin.patches[0].get_data().values.tolist() == [0.0, 50.0]
    assert pages.get_ylabel() == "page views per s" and origin.get_ylabel() == "origin requests lost per s"


def test_queue_draws_the_backlog_limit_and_the_room_apart(fig):
    app, room = fig.subplots(2, 1)
    rows = rows_of(in_queue_app=[0.0, 150.0, 199.0], instances=[2.0, 2.0, 3.0], in_queue_waiting_room=[0.0, 4e4, 9e4])
    plot_queue(app, rows, TIMESERIES_COLUMNS, ax_room=room, queue_limit=100)
    labels = app.get_legend_handles_labels()[1]
    assert labels == ["app backlog (requests waiting for a worker)",
                      "backlog limit: queue_limit 100 \u00d7 instances (3)"]
    limit = app.patches[1].get_data().values.tolist()
    assert limit == [200.0, 200.0, 300.0]
    assert room.get_legend_handles_labels()[1] == ["visitors in the waiting room"]
    assert app.get_ylabel() == "app requests waiting" and room.get_ylabel() == "visitors waiting"
    assert app.get_ylim()[1] == pytest.approx(1.08 * 300)


def test_profile_names_each_share_in_the_legend(fig):
    scenario = load_scenario("scenarios/anca-2020.toml")
    profile = build_profile(scenario)
    ax = fig.add_subplot()
    plot_profile(ax, profile, bin_s=60.0, window=(0.7 * 3600, 4.3 * 3600))
    labels = ax.get_legend_handles_labels()[1]
    assert labels[-2:] == ["1: main post (Instagram) at 1:00", "2: second platform (Twitter) at 1:30"]
    marks = [t for t in ax.texts if t.get_text() in ("1", "2")]
    assert sorted(t.get_text() for t in marks) == ["1", "2"]
    assert len({t.xy[1] for t in marks}) == 2  # staggered heights: never on one another


def test_actions_lost_in_percent_with_the_slo_and_faint_short_groups(fig):
    ax = fig.add_subplot()
    edges = np.arange(0.0, 5 * 60.0, 60.0)  # 4 bins
    merged = merged_ratio(edges, [50, 5, 0, 1], [100, 100, 3, 3], min_count=100, max_bins=2)
    assert merged.ratio.tolist() == [0.5, 0.05, 1 / 6] and merged.enough.tolist() == [True, True, False]
    plot_actions_lost(ax, merged, slo_lines=[(0.01, "SLO lost_actions<1%")])
    assert ax.get_legend_handles_labels()[1] == ["actions lost (bins merged to \u2265 100 actions ended)",
                                                 "faint: fewer than 100 actions", "SLO lost_actions<1%"]
    solid, faint = ax.patches
    assert solid.get_data().values[:2].tolist() == [50.0, 5.0] and np.isnan(solid.get_data().values[2])
    assert faint.get_data().values[2] == pytest.approx(100 / 6)
    (limit,) = ax.get_lines()
    assert limit.get_ydata()[0] == 1.0 and ax.get_ylabel() == "actions lost (%)"
