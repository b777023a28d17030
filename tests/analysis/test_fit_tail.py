"""surge fit says no more than its data: counted apart from extrapolated, bursts judged by the evidence.

The traces are real (windows of numenta/NAB series, scenarios/traces/README.md). A fit of fixed counts
is deterministic (L-BFGS-B from fixed starts), so the tolerances below come from the fit's own
intervals or from the data, each derived beside it.
"""

import math
import tomllib

import numpy as np
import pytest

from sim.analysis.fit import fit_trace
from sim.analysis.fit_tail import HORIZON_WATCHED, NOISE_LEVEL, half_within_s, reach
from sim.config.kernels import ExponentialKernel, PowerLawKernel
from sim.config.trace import read_trace
from sim.output.fitted import Z90, fitted_scenario_text
from tests.conftest import ROOT

TRACES = ROOT / "scenarios" / "traces"
WIDTH_S = 300.0


def _fit(name: str):
    trace = read_trace(TRACES / name)
    # one share: each window holds one event, and the search for a second costs as much again
    return trace, fit_trace(trace, start_hour=trace.start.hour + trace.start.minute / 60, max_shares=1)


@pytest.fixture(scope="module")
def burst():
    return _fit("nab-amzn-2015-04-06-burst.csv")


def test_the_rule_counts_what_the_trace_saw_and_extrapolates_at_most_as_long_again():
    # An exponential whose half-life is the time the trace watched it: half counted, a quarter in the
    # next as-long-again, a quarter beyond; with an undetermined tail, nothing beyond the trace.
    k = ExponentialKernel(half_life_s=3600.0)
    r = reach(1000.0, k, at_s=1000.0, end_s=4600.0, tail_determined=True)
    assert HORIZON_WATCHED == 1.0 and r.horizon_s == 7200.0
    assert (r.counted, r.extrapolated, r.beyond) == pytest.approx((500.0, 250.0, 250.0), rel=1e-12)
    r = reach(1000.0, k, at_s=1000.0, end_s=4600.0, tail_determined=False)
    assert (r.counted, r.extrapolated, r.beyond) == pytest.approx((500.0, 0.0, 500.0), rel=1e-12)
    # The shape the old fit took for a burst: a power law of exponent 0.01 puts half its visitors ten
    # billion days on. Bounded by the horizon, half of what is counted comes within the trace.
    flat = PowerLawKernel(flat_s=100.0, theta=0.01)
    r = reach(8536.0, flat, at_s=0.0, end_s=142_000.0, tail_determined=False)
    assert half_within_s(flat, r.horizon_s) <= r.watched_s and r.counted < 0.2 * 8536


def test_a_one_bin_burst_is_a_small_share_with_no_hidden_tail(burst):
    trace, r = burst
    y = trace.counts
    assert len(r.shares) == 1 and r.noise == ()
    s = r.shares[0]
    assert s.burst is not None and not s.burst.noise and s.kernel.kind == "exponential"
    # onset in the interval of 08:12:53 (486) or at its edge with 08:17:53 (605): t = 29,400 to 30,000 s
    assert 29_400 - WIDTH_S <= s.at_s.low and s.at_s.high <= 30_000 and s.at_s.low <= s.at_s.value <= s.at_s.high
    # Its visitors are the two intervals' excess over the window's median count (independent of the fit),
    # and the fit's own 95 % interval holds it: 486 + 605 - 2 x 42 = 1,007.
    excess = float(y[98] + y[99] - 2 * np.median(y))
    assert (y[98], y[99]) == (486, 605) and s.visitors.low <= excess <= s.visitors.high
    # No tail: everything within the trace, nothing extrapolated, nothing further on.
    assert s.reach.counted == pytest.approx(s.visitors.value, rel=1e-9)
    assert s.reach.extrapolated + s.reach.beyond < 1.0
    # The negative binomial puts 605 against ~50 expected at ~1e-12 intervals of this trace; 1e-4 x the
    # threshold leaves 4 orders of magnitude for a changed noise estimate before the verdict would flip.
    assert s.burst.peak == 605 and s.burst.by_chance < 1e-4 * NOISE_LEVEL
    # docs/fit.md's figures, to their printed precision
    assert (round(s.visitors.value), round(s.visitors.low), round(s.visitors.high)) == (1015, 856, 1205)
    assert excess == 1007
    assert f"{s.burst.by_chance:.0e}" == "2e-12"


def test_the_fitted_intervals_are_written_as_uncertain_inputs(burst):
    trace, r = burst
    s = r.shares[0]
    text = fitted_scenario_text(r, trace_name="burst.csv", name="burst", ranges=True)
    table = tomllib.loads(text)
    ranges = table["uncertain"]
    assert set(ranges) == {"traffic.shares.0.at_s", "traffic.shares.0.visitors"}
    # every key names a number of the written scenario, as `surge sweep --vary` names it
    for key in ranges:
        node = table
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert isinstance(node, (int, float)), key
    at = ranges["traffic.shares.0.at_s"]
    assert at["dist"] == "uniform" and (at["low"], at["high"]) == pytest.approx((s.at_s.low, s.at_s.high), rel=1e-5)
    v = ranges["traffic.shares.0.visitors"]
    assert v["dist"] == "lognormal" and v["source"] == "surge fit of burst.csv: 90 % interval"
    # The 95 % interval is symmetric on the log scale: the 90 % range has the same centre, Z90/Z95 its width
    # (rel 1e-5: the file's 6 significant digits).
    assert math.sqrt(v["p05"] * v["p95"]) == pytest.approx(s.visitors.value, rel=1e-5)
    assert math.log(v["p95"] / v["p05"]) == pytest.approx(
        Z90 / 1.959964 * math.log(s.visitors.high / s.visitors.low), rel=1e-5)
    # the half-life within one interval is not determined: no range for it, said in the file
    assert "no range for half_life_s: not determined by the data" in text
    assert "[uncertain" not in fitted_scenario_text(r, trace_name="burst.csv", name="burst")


def test_an_unfinished_tail_is_counted_not_extrapolated():
    trace, r = _fit("nab-amzn-2015-03-11-unfinished.csv")
    y = trace.counts
    assert len(r.shares) == 1
    s = r.shares[0]
    assert s.burst is None and y[107] == 1673  # 20:57:53, the surge's first interval
    assert s.at_s.low <= 107 * WIDTH_S + WIDTH_S / 2 <= s.at_s.high + WIDTH_S
    # 40 minutes of tail do not determine its exponent: nothing is extrapolated, the kernel's rest is said apart
    assert not s.reach.tail_determined and s.reach.extrapolated == 0.0 and s.reach.horizon_s == s.reach.watched_s
    assert s.reach.beyond > 0 and s.reach.counted + s.reach.beyond == pytest.approx(s.visitors.value, rel=1e-9)
    # What is counted is the excess over the fitted baseline since the onset's interval. Tolerance: the
    # baseline's 95 % interval moves that excess by (high - low) per interval x the intervals counted.
    base = r.baseline_per_day
    bins = len(y) - 107
    excess = float(y[107:].sum()) - base.value * WIDTH_S / 86_400 * bins
    tolerance = (base.high - base.low) * WIDTH_S / 86_400 * bins
    assert abs(s.reach.counted - excess) < tolerance, (s.reach.counted, excess, tolerance)
    assert half_within_s(s.kernel, s.reach.horizon_s) <= s.reach.watched_s
    assert (round(s.reach.counted), round(s.reach.beyond)) == (2282, 859)  # docs/fit.md's figures


def test_isolated_spikes_of_a_noisy_baseline_are_noise_not_shares():
    trace, r = _fit("nab-elb-2014-04-21-noise.csv")
    assert r.shares == () and len(r.noise) == 1
    b = r.noise[0]
    # the largest spike, 656 at 2014-04-22 19:34, t = 1 d 19:30 from the first row (00:04)
    assert b.noise and b.peak == 656 == trace.counts.max() and b.at_s == 156_600
    # Its tail probability under the fitted negative binomial, times the 576 intervals: at least the threshold
    assert b.by_chance >= NOISE_LEVEL and f"{b.by_chance:.2f}" == "0.27"  # docs/fit.md's figure
