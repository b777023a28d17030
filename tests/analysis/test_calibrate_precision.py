"""The capacity's batch-means interval and the held saturated steps, on synthetic answers."""

import math
import tomllib

import numpy as np
import pytest

from sim.analysis.calibrate import StepResult, fit_site, saturated
from sim.analysis.calibrate_precision import capacity_interval, hold_saturated
from sim.analysis.site_file import site_toml
from sim.config.scenario import load_scenario
from tests.analysis.test_calibrate import _simulated_steps

STEP_S = 10.0


def _saturated_step(rng, *, rate_per_s=200.0, spell_s=0.0, low_per_s=150.0, high_per_s=250.0) -> StepResult:
    """A saturated step (offered 300/s, the rest 503s) whose answers complete as a Poisson stream at
    ``rate_per_s``; with ``spell_s``, in spells of that length at ``low_per_s`` or ``high_per_s`` (drawn
    evenly, so 200/s on average), as a site sharing its cores answers in slow and fast spells."""
    if spell_s:
        edges = np.arange(-rng.uniform(0, spell_s), STEP_S + spell_s, spell_s)  # a random phase
        rates = rng.choice([low_per_s, high_per_s], len(edges) - 1)
        done = np.concatenate([a + np.sort(rng.uniform(0, spell_s, rng.poisson(r * spell_s)))
                               for a, r in zip(edges[:-1], rates)])
    else:
        done = np.sort(rng.uniform(0, STEP_S, rng.poisson(rate_per_s * STEP_S)))
    done = done[(done >= 0) & (done <= STEP_S)]
    n = len(done)
    return StepResult(kind="page", rate_per_s=300.0, duration_s=STEP_S, response_s=np.full(n, 0.1), done_s=done,
                      statuses={200: n, 503: int(300 * STEP_S) - n})


def _poisson_half_per_s(steps) -> float:
    """The interval the answers would have as independent Poisson counts: 1.96 sqrt(N) / T."""
    return 1.96 * math.sqrt(sum(s.answered_in_window for s in steps)) / sum(s.window_s for s in steps)


def test_answers_in_spells_widen_the_interval_to_hold_the_truth_where_poisson_counts_do_not():
    """Four 10 s saturated steps answering in 1 s spells of 150/s or 250/s (200/s on average): 30 spells
    in the windows, so the mean rate's sd is 50 / sqrt(30) = 9.1/s (4.6 %), where Poisson counts of the
    6,000 answers claim sqrt(6000) / 30 = 2.6/s. Over 20 seeds the batch-means 95 % interval holds 200/s
    in at least 17 (19 expected; 16 or fewer: binomial chance 1.6 %); the Poisson one would hold it with
    a chance of P(|Z| < 2.6 / 9.1 x 1.96) = 0.43, so in at most 13 (14 or more: chance below 2 %).
    The batch means' half-width over Poisson's: 4.05 on average, sd 1.07 (measured over 200 seeds), so
    the mean of 20 is 4.05 +- 0.24; at least 3 is 4 sd below."""
    held = held_poisson = 0
    ratios = []
    for seed in range(20):
        rng = np.random.default_rng(300 + seed)
        steps = [_saturated_step(rng, spell_s=1.0) for _ in range(4)]
        c = capacity_interval(steps)
        half = _poisson_half_per_s(steps)
        held += c.low_per_s <= 200 <= c.high_per_s
        held_poisson += abs(c.capacity_per_s - 200) <= half
        ratios.append((c.high_per_s - c.low_per_s) / 2 / half)
        assert c.batches >= 10 and c.capacity_per_s == pytest.approx(
            sum(s.answered_in_window for s in steps) / sum(s.window_s for s in steps))
    assert np.mean(ratios) >= 3, ratios
    assert held >= 17 and held_poisson <= 13, (held, held_poisson)


def test_independent_answers_get_about_the_poisson_interval():
    """Answers as a Poisson stream: the batch means agree with Poisson counts. Their half-width over
    Poisson's, measured over 200 seeds (two 10 s steps at 200/s, about 150 batches): 1.01 on average, sd
    0.10 (the sample sd's own spread, 1 / sqrt(2 x 150) = 6 %, and now and then a lag-1 estimate above
    0.1 halving the batches); the mean of 20 is then 1.01 +- 0.022: within 10 % of 1 is 4 sd."""
    ratios = []
    for seed in range(20):
        rng = np.random.default_rng(400 + seed)
        steps = [_saturated_step(rng) for _ in range(2)]
        c = capacity_interval(steps)
        assert c.batches >= 10
        ratios.append((c.high_per_s - c.low_per_s) / 2 / _poisson_half_per_s(steps))
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.1), ratios


def test_saturated_steps_are_held_until_the_precision_is_reached_and_no_longer():
    """Poisson answers at 200/s: a 10 s step's window holds 1,500, +-5.1 % (95 %); +-3 % needs about
    (1.96 / 0.03)^2 = 4,300 answers, three steps. The loop stops at the first step that reaches it."""
    rng = np.random.default_rng(7)
    steps = [_saturated_step(rng)]
    calls = []

    def measure():
        calls.append(1)
        return _saturated_step(rng)

    c = hold_saturated(steps, measure, saturated=saturated, precision=0.03, step_s=STEP_S, left_s=600.0)
    assert c.precision <= 0.03 < capacity_interval(steps[:-1]).precision
    assert len(steps) == 1 + len(calls) and 2 <= len(calls) <= 4 and c.steps == len(steps)
    # the cap: one more step fits in 15 s, and the precision is then said not reached
    steps = [_saturated_step(rng)]
    c = hold_saturated(steps, lambda: _saturated_step(rng), saturated=saturated, precision=0.03, step_s=STEP_S,
                       left_s=15.0)
    assert len(steps) == 2 and c.precision > 0.03
    # already precise: nothing more sent; never saturated: nothing to hold
    steps = [_saturated_step(rng) for _ in range(4)]
    assert hold_saturated(steps, lambda: pytest.fail("sent"), saturated=saturated, precision=0.05, step_s=STEP_S,
                          left_s=600.0).precision <= 0.05 and len(steps) == 4
    light = [StepResult(kind="page", rate_per_s=50, duration_s=STEP_S, response_s=np.full(500, 0.02),
                        done_s=np.linspace(0, STEP_S, 500), statuses={200: 500})]
    assert hold_saturated(light, lambda: pytest.fail("sent"), saturated=saturated, precision=0.03, step_s=STEP_S,
                          left_s=600.0) is None


def test_the_capacity_interval_is_written_as_site_calibration_and_read_back(tmp_path):
    rng = np.random.default_rng(21)
    light, *steps = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=STEP_S,
                                     rates_per_s=[40, 100, 250, 300])
    fit = fit_site({"page": light}, steps, round_trip_s=0.001, precision_target=0.01)
    lo, hi = fit.throughput_interval_per_s
    assert (lo, hi) == (fit.capacity.low_per_s, fit.capacity.high_per_s) and fit.precision > 0.01
    assert any(w.startswith("capacity: ") and "wider than --precision 1.0%" in w for w in fit.warnings)
    # the page mean's interval follows from the capacity's: workers / capacity at each end
    assert fit.services["page"].mean_interval_s == pytest.approx((fit.workers / hi, fit.workers / lo))
    text = site_toml(fit, host="http://127.0.0.1:1", when="now")
    assert "target +-1.0% NOT reached; batch means of" in text
    (tmp_path / "site.toml").write_text(text)
    (tmp_path / "s.toml").write_text('include = "site.toml"\n[traffic]\nconstant_per_s = 1\n')
    cal = load_scenario(tmp_path / "s.toml").site.calibration
    assert cal.capacity_per_s == pytest.approx(fit.saturated_throughput_per_s, rel=1e-5)
    assert (cal.capacity_low_per_s, cal.capacity_high_per_s) == pytest.approx((lo, hi), rel=1e-5)
    assert cal.precision == pytest.approx(fit.precision, rel=1e-3) and cal.precision_target == 0.01
    assert cal.round_trip_s == pytest.approx(0.001)
    app = tomllib.loads(text)["site"]["app"]  # the contract: page service = workers / capacity
    assert app["page_s"]["mean"] == pytest.approx(app["workers"] / cal.capacity_per_s, rel=1e-4)
    # never saturated: no capacity to make a band of, and the file says why
    light, *steps = _simulated_steps(rng, workers=4, mean_s=0.02, queue_limit=32, step_s=STEP_S,
                                     rates_per_s=[40, 100])
    text = site_toml(fit_site({"page": light}, steps, round_trip_s=0.001), host="http://127.0.0.1:1", when="now")
    assert "calibration" not in tomllib.loads(text)["site"] and "# No [site.calibration]: the site never saturated" in text
