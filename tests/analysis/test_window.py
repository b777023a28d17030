"""The surge's window: from just before the first share until the rate is back near the baseline."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from sim.analysis.window import surge_window
from sim.config.scenario import load_scenario
from sim.traffic.profile import build_profile


class Decay:
    """A baseline of ``base`` visitors/s and one share at ``at_s`` adding ``height * exp(-(t - at_s) / tau_s)``."""

    def __init__(self, *, base: float, height: float, at_s: float = 3600.0, tau_s: float = 600.0,
                 duration_s: float = 14_400.0) -> None:
        self.base, self.height, self.at_s, self.tau_s = base, height, at_s, tau_s
        self.duration_s = duration_s
        self.shares = (SimpleNamespace(at_s=at_s),)

    def baseline_rate_per_s(self, t):
        return np.full_like(np.asarray(t, dtype=float), self.base)

    def rate_per_s(self, t):
        t = np.asarray(t, dtype=float)
        return self.base + np.where(t >= self.at_s, self.height * np.exp(-(t - self.at_s) / self.tau_s), 0.0)


def test_a_tall_surge_ends_at_a_tenth_of_its_peak_height():
    # base 1, peak excess 99: near is 0.1 * max(1, 99) = 9.9 above the baseline, i.e. exp(-x/600) <= 0.1:
    # x >= 600 ln 10 = 1381.55 s. On the 1 s grid the last instant above is 3600 + 1381 = 4981 s, so the
    # surge is back at 4982 s; the margin is 10 % of 4982 - 3600 = 1382 s: 138.2 s on each side.
    w = surge_window(Decay(base=1.0, height=99.0))
    assert w.start_s == pytest.approx(3600 - 138.2, abs=1e-9)
    assert w.end_s == pytest.approx(4982 + 138.2, abs=1e-9)
    assert not w.whole_run and "10% of its peak height" in w.why


def test_a_small_surge_ends_within_ten_percent_of_the_baseline():
    # base 10, peak excess 5: near is 0.1 * max(10, 5) = 1 above the baseline: exp(-x/600) <= 0.2, x >= 600 ln 5
    # = 965.66 s; back at 3600 + 966 = 4566 s, margin 96.6 s.
    w = surge_window(Decay(base=10.0, height=5.0))
    assert 600 * math.log(5) == pytest.approx(965.66, abs=0.01)
    assert (w.start_s, w.end_s) == pytest.approx((3600 - 96.6, 4566 + 96.6), abs=1e-9)
    assert "within 10% of the baseline" in w.why


def test_the_margin_is_clipped_to_the_run():
    w = surge_window(Decay(base=1.0, height=99.0, at_s=60.0))  # 10 % of 1382 s is more than the 60 s before
    assert w.start_s == 0.0 and w.end_s == pytest.approx(60 + 1382 + 138.2, abs=1e-9)


def test_no_share_or_a_surge_lasting_the_run_is_the_whole_run():
    steady = build_profile(load_scenario("scenarios/steady.toml"))
    assert surge_window(steady) == surge_window(steady).__class__(start_s=0.0, end_s=3600.0, duration_s=3600.0)
    assert surge_window(steady).whole_run
    slow = surge_window(Decay(base=1.0, height=99.0, tau_s=20_000.0))  # still 30 % up at the end of the run
    # never back within the run: from 3600 - 0.1 * (14400 - 3600) = 2520 s to the end, 82.5 % of the run
    assert (slow.start_s, slow.end_s, slow.whole_run) == (2520.0, 14_400.0, False)
    assert slow.why.startswith("to the end of the run")
    wide = surge_window(Decay(base=1.0, height=99.0, at_s=100.0, tau_s=20_000.0))
    assert wide.whole_run  # 0 to the end: nothing to zoom to


def test_anca_window_holds_the_rule_on_the_real_profile():
    profile = build_profile(load_scenario("scenarios/anca-2020.toml"))
    w = surge_window(profile)
    first = min(s.at_s for s in profile.shares)
    back = (w.end_s + 0.1 * first) / 1.1  # end = back + 0.1 (back - first)
    assert w.start_s == pytest.approx(first - 0.1 * (back - first))
    t = np.arange(0.0, profile.duration_s, 1.0)
    excess = profile.rate_per_s(t) - profile.baseline_rate_per_s(t)
    after = t >= back
    assert excess[after].max() <= 0.1 * excess.max()  # near from then on
    assert excess[(t >= back - 1) & ~after].max() > 0.1 * excess.max()  # and not a second before
    assert 3 * 3600 < w.end_s < 6 * 3600  # the hours the site struggled, not the 48 h run


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="near"):
        surge_window(Decay(base=1.0, height=1.0), near=0)
    with pytest.raises(ValueError, match="margin"):
        surge_window(Decay(base=1.0, height=1.0), margin=-1)
