"""The autoscaler: a periodic controller that adds and retires app instances (a simpy process).

Every ``period_s`` it reads the metric averaged since it last looked and asks for the
instances it wants, within ``[min, max]``. The scheduled entries (``schedule``) move the
lower bound at their ``at_s``, and a raise asks at once for the instances missing, as a
scheduled action on an AWS group's minimum does. Its timers are made when the process
starts, before the first evaluation's, so an entry due at the instant of an evaluation
runs first and the evaluation sees its bound.
"""

from __future__ import annotations

import math

import simpy

from sim.config.site import AutoscaleConfig
from sim.engine.reference.app_tier import AppTier

__all__ = ["autoscaler"]


def autoscaler(env: simpy.Environment, app: AppTier, cfg: AutoscaleConfig):
    """Every ``period_s``: read the metric, add or remove instances (a simpy process)."""
    last_action = -math.inf
    warming = 0
    low = cfg.min  # the lower bound in force

    def ready(inst):
        nonlocal warming
        warming -= 1
        app.make_routable(inst)

    def add(k):
        nonlocal warming
        for _ in range(k):
            inst = app.add_instance(ready=False)
            warming += 1
            env.timeout(cfg.warmup_s).callbacks.append(lambda _ev, i=inst: ready(i))

    def scheduled(new_min):
        nonlocal low, last_action
        low = new_min
        missing = new_min - len(app.routable) - warming
        if missing > 0:
            add(missing)
            last_action = env.now

    for entry in cfg.schedule:
        env.timeout(entry.at_s).callbacks.append(lambda _ev, m=entry.min: scheduled(m))
    while True:
        yield env.timeout(cfg.period_s)
        metric = app.take_metric(cfg.metric)
        n = len(app.routable)
        desired = min(max(math.ceil(n * metric / cfg.target - 1e-9), low), cfg.max)
        if desired > n + warming:
            add(min(cfg.step, desired - n - warming))
            last_action = env.now
        elif desired < n and warming == 0 and env.now - last_action >= cfg.cooldown_s:
            for _ in range(min(cfg.step, n - desired)):
                app.retire(min(app.routable, key=lambda i: i.in_flight))
            last_action = env.now
