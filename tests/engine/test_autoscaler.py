"""The autoscaler process in a tiny world: exact (event, time) sequences of the instances in service."""

import math

import numpy as np
import simpy

from sim.config.distributions import Constant
from sim.config.site import AppConfig, AutoscaleConfig, ScheduledMin
from sim.engine.reference.app_tier import AppTier
from sim.engine.reference.autoscaler import autoscaler

class Log:
    """A recorder that writes down the instances in service, and when."""

    def __init__(self, env):
        self.env, self.events = env, []

    def app_capacity(self, t, capacity, instances):
        self.events.append(("in service", instances, t))

    def app_levels(self, *_):
        pass

def _run(cfg: AutoscaleConfig, *, instances: int, until: float):
    env = simpy.Environment()
    log = Log(env)
    app = AppTier(env, AppConfig(instances=instances, workers=1, page_s=Constant(value=1.0)), db_config=None,
                  recorder=log, rng=np.random.default_rng(0), track_areas=True)
    log.events.clear()  # the constructor's instances
    env.process(autoscaler(env, app, cfg))
    env.run(until=until)
    return log.events

def test_a_schedule_raises_the_floor_at_once_then_lowers_it():
    """No traffic: the metric stays 0, so only the lower bound in force moves the instances.

    10 s: min 2 = the instances: nothing; and the evaluation at that instant sees min 2 (it
    would retire one under min 1). 20 s: min 4: both missing asked for at once (step 1 does
    not limit it), in service at 23 s. 35 s: min 1; scale-in one at a time from the
    evaluation at 40 s (20 s after the raise >= cooldown_s), then every 20 s (cooldown 15 s
    and a period of 10 s)."""
    cfg = AutoscaleConfig(target=0.5, min=1, max=5, period_s=10, warmup_s=3, cooldown_s=15, step=1,
                          schedule=(ScheduledMin(at_s=10, min=2), ScheduledMin(at_s=20, min=4),
                                    ScheduledMin(at_s=35, min=1)))
    assert _run(cfg, instances=2, until=85) == [
        ("in service", 3, 23), ("in service", 4, 23), ("in service", 3, 40), ("in service", 2, 60),
        ("in service", 1, 80)]

def test_without_a_schedule_the_evaluation_at_10_s_scales_in():
    cfg = AutoscaleConfig(target=0.5, min=1, max=5, period_s=10, warmup_s=3, cooldown_s=15, step=1)
    assert _run(cfg, instances=2, until=85) == [("in service", 1, 10)]

def test_a_raise_at_0_s_and_one_not_needed():
    """At 0 s: min 3 asks for both missing, in service at warmup_s. At 50 s, min 2 asks for nothing, and
    the evaluation at that same instant (after the entry: it sees min 2) retires one."""
    cfg = AutoscaleConfig(target=0.5, min=1, max=5, period_s=10, warmup_s=4.5, cooldown_s=0, step=5,
                          schedule=(ScheduledMin(at_s=0, min=3), ScheduledMin(at_s=50, min=2)))
    assert _run(cfg, instances=1, until=75) == [
        ("in service", 2, 4.5), ("in service", 3, 4.5), ("in service", 2, 50)]
