"""The autoscaler: a periodic controller that adds and retires app instances (a simpy process)."""

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

    def ready(inst):
        nonlocal warming
        warming -= 1
        app.make_routable(inst)

    while True:
        yield env.timeout(cfg.period_s)
        metric = app.take_metric(cfg.metric)
        n = len(app.routable)
        desired = min(max(math.ceil(n * metric / cfg.target - 1e-9), cfg.min), cfg.max)
        if desired > n + warming:
            for _ in range(min(cfg.step, desired - n - warming)):
                inst = app.add_instance(ready=False)
                warming += 1
                env.timeout(cfg.warmup_s).callbacks.append(lambda _ev, i=inst: ready(i))
            last_action = env.now
        elif desired < n and warming == 0 and env.now - last_action >= cfg.cooldown_s:
            for _ in range(min(cfg.step, n - desired)):
                app.retire(min(app.routable, key=lambda i: i.in_flight))
            last_action = env.now
