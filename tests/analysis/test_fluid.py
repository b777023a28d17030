"""The fluid model with abandonment against an independent small-step Euler integration,
against Erlang A in its many-server limit, against the simulation, and conservation of fluid."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.fluid import FluidResult, fluid_abandonment
from sim.analysis.theory import erlang_a
from tests.analysis.fluid_spread import anca, fluid_abandoned, simulated_abandoned

FAST = settings(max_examples=60, deadline=None)
FLUID = dict(bin_s=1.0, servers=2.0, service_rate_per_s=1.0, patience_mean_s=1.0)


# --- fluid model ---------------------------------------------------------------------


def euler_fluid(rate, bin_s, s, mu, patience, dt):
    """Independent small-step integration of the same fluid ODE (Euler, fill free servers)."""
    x = q = 0.0
    steps = round(bin_s / dt)
    served, abandoned, mean_q, mean_x = (np.zeros(len(rate)) for _ in range(4))
    for i, lam in enumerate(rate):
        for _ in range(steps):
            done, gone = mu * x * dt, q / patience * dt
            x, q = x - done, q - gone + lam * dt
            move = min(s - x, q)
            x, q = x + move, q - move
            served[i] += done
            abandoned[i] += gone
            mean_q[i] += q / steps
            mean_x[i] += x / steps
    return served, abandoned, mean_q, mean_x


def conservation_error(res: FluidResult) -> float:
    held = res.end_queue + res.end_in_service
    change = np.diff(np.concatenate(([0.0], held)))
    return float(np.max(np.abs(res.arrivals - res.served - res.abandoned - change)))


def test_fluid_underload_has_no_abandonment_and_fills_to_lambda_over_mu():
    res = fluid_abandonment(np.full(60, 5.0), bin_s=1.0, servers=10, service_rate_per_s=1.0, patience_mean_s=2.0)
    assert np.all(res.abandoned == 0) and np.all(res.mean_queue == 0) and res.p_abandon == 0
    assert res.mean_in_service[-1] == pytest.approx(5.0, rel=1e-12)  # lambda / mu
    # x(t) = 5 (1 - e^-t): its mean over [i, i + 1] is 5 - 5 (e^-i - e^-(i+1))
    i = np.arange(60)
    assert np.allclose(res.mean_in_service, 5 - 5 * (np.exp(-i) - np.exp(-i - 1)), rtol=1e-12, atol=1e-12)
    assert conservation_error(res) < 1e-10


def test_fluid_overload_sheds_the_excess():
    lam, s, mu, patience = 20.0, 10.0, 1.0, 2.0
    res = fluid_abandonment(np.full(200, lam), bin_s=0.5, servers=s, service_rate_per_s=mu, patience_mean_s=patience)
    assert res.abandoned[-1] / 0.5 == pytest.approx(lam - s * mu, rel=1e-9)  # abandonment rate
    assert res.mean_queue[-1] == pytest.approx((lam - s * mu) * patience, rel=1e-9)
    assert res.served[-1] / 0.5 == pytest.approx(s * mu, rel=1e-12)
    assert res.mean_in_service[-1] == s
    assert conservation_error(res) < 1e-9
    # the many-server limit of Erlang A is this fluid: (lambda - c mu) / lambda abandon
    ea = erlang_a(1000, arrival_rate_per_s=2000.0, service_rate_per_s=1.0, abandon_rate_per_s=0.5)
    assert ea.p_abandon == pytest.approx(res.abandoned[-1] / res.arrivals[-1], rel=1e-3)


def test_fluid_surge_matches_small_step_integration():
    t = np.arange(160.0)
    rate = 3.0 + 40.0 * np.exp(-np.maximum(t - 20, 0) / 15) * (t >= 20) * (t < 90)  # a share at t = 20 s
    kw = dict(bin_s=1.0, servers=12.0, service_rate_per_s=0.5, patience_mean_s=4.0)
    res = fluid_abandonment(rate, **kw)
    served, abandoned, mean_q, mean_x = euler_fluid(rate, 1.0, 12.0, 0.5, 4.0, dt=1 / 400)
    scale = rate.max()
    assert np.max(np.abs(res.served - served)) < 1e-2 * scale
    assert np.max(np.abs(res.abandoned - abandoned)) < 1e-2 * scale
    assert np.max(np.abs(res.mean_queue - mean_q)) < 1e-2 * scale
    assert np.max(np.abs(res.mean_in_service - mean_x)) < 1e-2 * scale
    assert res.total_abandoned > 100 and res.total_abandoned == pytest.approx(abandoned.sum(), rel=1e-2)
    # after the surge it drains: the queue empties and service returns to lambda / mu
    assert res.end_queue[-1] == 0 and res.mean_in_service[-1] == pytest.approx(3.0 / 0.5, rel=1e-9)
    assert conservation_error(res) < 1e-9
    total_held = res.end_queue[-1] + res.end_in_service[-1]
    assert res.total_arrivals == pytest.approx(res.total_served + res.total_abandoned + total_held, rel=1e-12)


@FAST
@given(rates=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=30), s=st.floats(0.0, 50.0),
       mu=st.floats(0.05, 5.0), patience=st.floats(0.05, 100.0), bin_s=st.floats(0.1, 100.0))
def test_fluid_conserves_and_stays_in_bounds(rates, s, mu, patience, bin_s):
    res = fluid_abandonment(np.array(rates), bin_s=bin_s, servers=s, service_rate_per_s=mu, patience_mean_s=patience)
    scale = max(res.arrivals.max(), 1.0)
    assert conservation_error(res) <= 1e-9 * scale
    for arr in (res.served, res.abandoned, res.mean_queue, res.end_queue):
        assert np.all(arr >= 0)
    assert np.all(res.mean_in_service <= s * (1 + 1e-12)) and np.all(res.end_in_service <= s)
    assert np.all((res.end_queue == 0) | (res.end_in_service == s))  # a queue only when full
    assert 0 <= res.p_abandon <= 1


# surge plan's visitors who give up (the fluid model) against the simulation's, for anca-2020. Measured
# (`python tests/analysis/fluid_spread.py 10`, replications 0-9): the simulation's abandoned visitors have
# mean 5,360 and sd 71 (1.33 % a replication); the fluid model's 5,283 is 1.43 % below that mean, a bias
# known to 1.33 % / sqrt(10). The test takes the mean of R = 2 replications (sd 1.33 % / sqrt(2)); so
# fluid / mean - 1 lies within the bias plus 4 sd of both: 1.43 % + 4 sqrt(0.0133^2 / 10 + 0.0133^2 / 2)
# = 5.6 %, unless the model has moved (a 4-sd excursion happens once in 16,000).
FLUID_BIAS, SIM_SD, BIAS_RUNS, TEST_RUNS = -0.0143, 0.0133, 10, 2


@pytest.mark.slow
def test_fluid_abandoned_visitors_within_their_measured_bias_of_the_simulation():
    scenario = anca()
    runs = list(simulated_abandoned(scenario, TEST_RUNS))
    mean = sum(runs) / len(runs)
    assert mean > 1000
    bound = abs(FLUID_BIAS) + 4 * math.sqrt(SIM_SD ** 2 / BIAS_RUNS + SIM_SD ** 2 / TEST_RUNS)
    assert abs(fluid_abandoned(scenario) / mean - 1) <= bound, (runs, bound)


def test_fluid_result_is_read_only():
    res = fluid_abandonment([1.0, 2.0], bin_s=1.0, servers=1.0, service_rate_per_s=1.0, patience_mean_s=1.0)
    with pytest.raises(ValueError):
        res.served[0] = 5.0
    with pytest.raises(AttributeError):
        res.bin_s = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("call, name", [
    (lambda: fluid_abandonment(np.array([1.0, -1.0]), **FLUID), "rate_per_s"),
    (lambda: fluid_abandonment(np.array([1.0, math.inf]), **FLUID), "rate_per_s"),
    (lambda: fluid_abandonment(np.ones((2, 2)), **FLUID), "rate_per_s"),
    (lambda: fluid_abandonment(np.array([]), **FLUID), "rate_per_s"),
    (lambda: fluid_abandonment(np.ones(3), **{**FLUID, "bin_s": 0.0}), "bin_s"),
    (lambda: fluid_abandonment(np.ones(3), **{**FLUID, "servers": -1.0}), "servers"),
    (lambda: fluid_abandonment(np.ones(3), **{**FLUID, "service_rate_per_s": 0.0}), "service_rate_per_s"),
    (lambda: fluid_abandonment(np.ones(3), **{**FLUID, "patience_mean_s": 0.0}), "patience_mean_s"),
])
def test_bad_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=f'"{name}"'):
        call()
