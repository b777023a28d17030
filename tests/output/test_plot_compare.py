"""plot_profile_compare: observed counts per interval against the scenario's expected, on the ax it is given."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.output.plots import plot_profile_compare

EDGES = np.arange(0.0, 48 * 3600 + 1, 3600)
EXPECTED = 1200 + 250_000 * np.exp(-np.arange(48) / 4.0) * (np.arange(48) >= 1)


@pytest.fixture
def ax():
    return Figure().add_subplot()  # no pyplot: the function only gets an ax


def _counts(seed=1):
    return np.random.default_rng(seed).poisson(EXPECTED).astype(float)


def test_linear_panel_labels_units_legend_and_title(ax):
    observed = _counts()
    assert plot_profile_compare(ax, edges_s=EDGES, observed=observed, expected=EXPECTED, title="t") is ax
    assert ax.get_ylabel() == "visitors per hour" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "time since the trace's start (h)" and ax.get_xlim() == (0.0, 48.0)
    assert ax.get_title() == "t"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == [f"observed (trace): {observed.sum():,.0f} visitors", f"expected (scenario): {EXPECTED.sum():,.0f}"]
    observed_patch = ax.patches[0]
    assert np.array_equal(observed_patch.get_data().values, observed)  # counts per interval, not rates
    (line,) = ax.get_lines()
    assert np.allclose(line.get_xdata(), np.arange(48) + 0.5) and np.allclose(line.get_ydata(), EXPECTED)
    assert ax.get_ylim()[0] == 0 and ax.get_ylim()[1] >= observed.max()
    ax.figure.draw_without_rendering()


def test_log_panel_survives_zero_counts(ax):
    observed = _counts()
    observed[[0, 20, 21]] = 0
    expected = EXPECTED.copy()
    expected[30] = 0
    plot_profile_compare(ax, edges_s=EDGES, observed=observed, expected=expected, log=True)
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert 0 < lo <= min(observed[observed > 0].min(), expected[expected > 0].min()) and hi > observed.max()
    values = ax.patches[0].get_data().values
    assert np.all(np.isfinite(values)) and np.all(values >= lo)
    assert "3 intervals with 0 visitors" in ax.get_legend_handles_labels()[1][0]
    assert math.isnan(ax.get_lines()[0].get_ydata()[30])  # a 0 expected breaks the line, not the scale
    assert "visitors per hour" in ax.get_ylabel()
    ax.figure.draw_without_rendering()  # the scale draws: no warning, no error (warnings are errors here)


def test_all_zero_counts_still_draw(ax):
    plot_profile_compare(ax, edges_s=EDGES[:4], observed=np.zeros(3), expected=np.zeros(3), log=True)
    ax.figure.draw_without_rendering()


@pytest.mark.parametrize("step_s, days, name", [
    (900, 1, "visitors per 15 min"), (86_400, 30, "visitors per day"), (6 * 3600, 10, "visitors per 6 h"),
    (60, 1, "visitors per minute"), (90, 1, "visitors per 90 s"),
])
def test_the_interval_is_named_and_long_spans_are_in_days(ax, step_s, days, name):
    edges = np.arange(0.0, days * 86_400 + 1, step_s)
    n = len(edges) - 1
    plot_profile_compare(ax, edges_s=edges, observed=np.ones(n), expected=np.ones(n))
    assert ax.get_ylabel() == name
    unit = "days" if days > 4 else "h"
    assert ax.get_xlabel().endswith(f"({unit})")
    assert ax.get_xlim()[1] == pytest.approx(days if unit == "days" else days * 24)


def test_irregular_intervals_are_called_the_trace_s_own(ax):
    edges = np.array([0.0, 3600.0, 10800.0, 14400.0])
    plot_profile_compare(ax, edges_s=edges, observed=[1, 2, 3], expected=[1, 2, 3])
    assert ax.get_ylabel() == "visitors per interval (the trace's own)"
