"""The fast engine's single-FIFO path: one app instance, every visitor one page, nothing else.

When a scenario is an M/G/c queue in the model's terms (one instance with ``workers``
servers, an unbounded FIFO backlog, no balancer timeout, patience, CDN, database,
actions, assets or retries: every request is served, in arrival order), a request's
start is the Kiefer-Wolfowitz recursion ``start = max(arrival, earliest free
worker)``, ``free = start + service``, over the same arrival and service draws as the
event engines (same streams, same windows). The floats are the ones the event
engines compute (an arrival at ``now + (t - now)``, a completion at ``start +
service``), so the starts, waits and completions are identical; the recorder gets
the same values through the same buffers and blocks (``Recorder.*_many``), so the
summary and time series are equal to the reference's unless an arrival and a
completion fall on the very same float instant (then the event engines' order of
two same-time events decides the level recorded in between; probability zero with
continuous service times).

One Python loop of a few float operations and a ``heapreplace`` per visitor; all
recording is vectorised per arrival window.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sim.arrivals import sample_arrivals
from sim.distributions import Constant, Exponential
from sim.engine import _ARRIVAL_WINDOW_S as ARRIVAL_WINDOW_S, RunResult, window_end
from sim.journey import draw_journeys
from sim.profile import build_profile
from sim.recorder import Recorder
from sim.scenario import Scenario

__all__ = ["fifo_applies", "simulate_fifo"]


def _never(dist) -> bool:
    return (isinstance(dist, Constant) and math.isinf(dist.value)) or (
        isinstance(dist, Exponential) and math.isinf(dist.mean_s))


def fifo_applies(scenario: Scenario) -> bool:
    """True if every request of the scenario is one page served FIFO by one instance."""
    site, v = scenario.site, scenario.visitors
    app = site.app
    return (app is not None and app.instances == 1 and math.isinf(app.queue_limit) and math.isinf(app.timeout_s)
            and site.db is None and site.cdn is None and site.autoscale is None and site.waiting_room is None
            and v.pages_per_visit <= 1 and v.action_rate == 0 and v.requests_per_page == 1
            and _never(v.patience_s))


def simulate_fifo(scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
    streams = seed_seq.spawn(5)
    rng_arrivals, rng_visitors = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    profile = build_profile(scenario)
    rec = Recorder(scenario)
    app = scenario.site.app
    c = app.workers
    rec.app_capacity(0.0, c, 1)  # the tier's first report, as AppTier's constructor makes it
    rec.app_levels(0.0, 0, 0)
    duration, warmup = scenario.run.duration_s, scenario.run.warmup_s
    totals = rec.totals
    free = [0.0] * c  # when each worker is next free (a heap)
    replace = heapq.heapreplace
    pend_f = np.empty(0)  # completions after the last window's end: finish, response, measured
    pend_r = np.empty(0)
    pend_m = np.empty(0, dtype=bool)
    in_system = 0
    now = 0.0  # the event engines' clock at the start of each window
    t0 = recorded_to = 0.0
    partial, error = False, None
    try:
        while t0 < duration:
            t1 = window_end(profile, t0, min(t0 + ARRIVAL_WINDOW_S, duration))
            times = sample_arrivals(profile, rng_arrivals, t0_s=t0, t1_s=t1)
            plans = draw_journeys(scenario, rng_visitors, len(times))
            service = plans.service_s
            arrival, start = [], []
            for t, s in zip(times.tolist(), service.tolist()):
                while t > now:
                    now = now + (t - now)  # the arrival timer, as the clock computes it
                m = free[0]
                st = now if m <= now else m
                replace(free, st + s)
                arrival.append(now)
                start.append(st)
            if t1 > now:
                now = now + (t1 - now)  # the next window's timer
            a = np.asarray(arrival)
            st = np.asarray(start)
            f = st + service
            measured = a >= warmup
            recorded_to = t1  # what is recorded from here on happens before t1
            # arrivals: a page view and an origin request each
            rec.visitors_arrived(times, plans.intends_action)
            rec.count_many("page_views", a)
            rec.count_many("origin_requests", a)
            n_meas = int(measured.sum())
            if n_meas:
                totals["page_views.attempted"] += n_meas
                totals["requests.arrived"] += n_meas
            # starts (FIFO: in arrival order), before the run's end
            began = st < duration
            mw = measured & began
            rec.waits_many((st - a)[mw])
            if mw.any():
                totals["requests.started"] += int(mw.sum())
            # completions up to this window's end, in time order
            all_f = np.concatenate((pend_f, f))
            all_r = np.concatenate((pend_r, f - a))
            all_m = np.concatenate((pend_m, measured))
            horizon = t1 if t1 < duration else duration
            done = all_f < horizon
            order = np.argsort(all_f[done], kind="stable")
            cf, cr, cm = all_f[done][order], all_r[done][order], all_m[done][order]
            pend_f, pend_r, pend_m = all_f[~done], all_r[~done], all_m[~done]
            rec.completed_many(cf, cr, cm)
            rec.count_many("completed", cf)
            k = int(cm.sum())
            if k:
                totals["requests.completed"] += k
                totals["visitors.served"] += k
                totals["actions.lost"] += 0
            k = int((cf >= warmup).sum())
            if k:
                totals["page_views.completed"] += k
            # levels: one change per arrival and per completion, in time order
            ev_t = np.concatenate((a, cf))
            step = np.concatenate((np.ones(len(a), dtype=np.int64), -np.ones(len(cf), dtype=np.int64)))
            order = np.argsort(ev_t, kind="stable")
            n = in_system + np.cumsum(step[order])
            if len(n):
                in_system = int(n[-1])
                busy = np.minimum(n, c)
                rec.app_levels_many(ev_t[order], busy, n - busy)
            t0 = t1
    except KeyboardInterrupt:
        partial, error = True, "interrupted"
    except Exception as exc:  # keep what was computed, as the event engines do
        partial, error = True, f"{type(exc).__name__}: {exc}"
    end = duration if not partial else recorded_to  # an interrupted run stops at a window's end
    rec.finish(end)
    return RunResult(scenario=scenario, recorder=rec, end_s=end, partial=partial, error=error, engine="fast")
