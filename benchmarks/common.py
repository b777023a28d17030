"""Shared pieces of the benchmarks: the idiomatic simpy baseline and scenario builders.

The baseline is what the issue measures against: one simpy process per customer
queueing on a ``simpy.Resource``, written the way the simpy docs teach it.
"""

from __future__ import annotations

import random
import time

import simpy

from sim.config.scenario import parse_scenario

__all__ = ["idiomatic_mmc", "mmc_scenario", "timed"]


def idiomatic_mmc(*, servers: int, rho: float, customers: int, seed: int = 1) -> float:
    """Customers per second of wall time for an idiomatic simpy M/M/c (mean service 1 s)."""
    rng = random.Random(seed)
    env = simpy.Environment()
    res = simpy.Resource(env, capacity=servers)
    lam = servers * rho
    waits = []

    def customer():
        arrived = env.now
        with res.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(1.0))

    def source():
        for _ in range(customers):
            env.process(customer())
            yield env.timeout(rng.expovariate(lam))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    return customers / (time.perf_counter() - t0)


def mmc_scenario(*, servers: int, rho: float, customers: int, seed: int = 1, warmup_s: float = 0.0,
                 patience_mean_s: float | None = None):
    """The project's model of an M/M/c: one request per visitor, mean service 1 s; no abandonment,
    or with ``patience_mean_s`` an M/M/c+M (Erlang A: exponential patience, give-ups dropped)."""
    lam = servers * rho
    visitors = {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0}
    if patience_mean_s is not None:
        visitors["patience_s"] = {"dist": "exponential", "mean": patience_mean_s}
    return parse_scenario({
        "name": f"M/M/{servers} rho={rho}",
        "run": {"duration_s": customers / lam, "warmup_s": warmup_s, "seed": seed, "bin_s": 60},
        "traffic": {"constant_per_s": lam},
        "visitors": visitors,
        "site": {"app": {"instances": 1, "workers": servers, "queue_limit": float("inf"), "drop_abandoned": True,
                         "page_s": {"dist": "exponential", "mean": 1.0}}},
    })


def timed(fn, *args, **kwargs):
    """(result, wall seconds)."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0
