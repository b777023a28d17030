"""The fast engine's single-FIFO path: one app instance, every visitor one page, nothing else.

When a scenario is an M/G/c/K(+G) queue in the model's terms (one instance with
``workers`` servers and a FIFO backlog, bounded or not, no balancer timeout, CDN,
database, actions or assets, and no retries where visitors have patience or can be
refused: every request is started in arrival order), a request's start is the
Kiefer-Wolfowitz recursion ``start = max(arrival, earliest free worker)``, ``free =
start + service``, over the same arrival, service and patience draws as the event
engines (same streams, same windows). A visitor gives up only while queued (Palm), at
``arrival + patience``, so a request whose start would come later is abandoned then:
with ``drop_abandoned`` it never takes a worker (the recursion skips it), else it is
served anyway, wasted. With a bounded backlog, an arrival that finds every worker busy
and ``queue_limit`` requests waiting (earlier admitted ones that have not started or
been dropped yet, a heap of the times they leave the queue) gets a 503. The floats are
the ones the event engines compute (an arrival at ``now + (t - now)``, a completion at
``start + service``), so the starts, waits and completions are identical; the recorder
gets the same values through the same buffers and blocks (``Recorder.*_many``), so the
summary and time series are equal to the reference's unless an arrival and a
completion fall on the very same float instant (then the event engines' order of two
same-time events decides the level recorded in between; probability zero with
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
    """True if every request of the scenario is one page served FIFO by one instance.

    Patience and a bounded backlog are allowed (M/G/c/K+G): a visitor gives up only while
    queued (Palm), and is refused only on arrival, so a request's fate is known when it
    arrives, from the workers' free times; without retries nobody comes back."""
    site, v = scenario.site, scenario.visitors
    app = site.app
    return (app is not None and app.instances == 1 and math.isinf(app.timeout_s)
            and site.db is None and site.cdn is None and site.autoscale is None and site.waiting_room is None
            and v.pages_per_visit <= 1 and v.action_rate == 0 and v.requests_per_page == 1
            and ((_never(v.patience_s) and math.isinf(app.queue_limit)) or v.retry is None))


def _due(later: list, new: tuple, horizon: float) -> tuple[list, list]:
    """Events carried over and this window's (columns, the first the time): those before
    ``horizon`` in time order, and those left for a later window."""
    merged = [np.concatenate((x, y)) for x, y in zip(later, new)]
    due = merged[0] < horizon
    order = np.argsort(merged[0][due], kind="stable")
    return [m[due][order] for m in merged], [m[~due] for m in merged]


def _lost(rec: Recorder, what: str, outcome: str, times: np.ndarray, measured: np.ndarray) -> int:
    """Requests that failed at ``times`` (``what``: rejected or abandoned), each a visitor lost
    with ``outcome``, counted as the event engines count them; returns how many were measured."""
    if len(times) == 0:
        return 0
    rec.count_many(what, times)
    rec.count_many(f"visitors_{outcome}", times)
    k = int(measured.sum())
    if k:
        totals = rec.totals
        totals[f"requests.{what}"] += k
        totals[f"visitors.{outcome}"] += k
        totals["actions.lost"] += 0  # the key exists, as the event engines' += False makes it
    return k


def simulate_fifo(scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
    streams = seed_seq.spawn(5)
    rng_arrivals, rng_visitors = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    profile = build_profile(scenario)
    rec = Recorder(scenario)
    app = scenario.site.app
    c = app.workers
    rec.app_levels(0.0, 0, 0)  # the tier's first report, as AppTier's constructor makes it
    duration, warmup = scenario.run.duration_s, scenario.run.warmup_s
    totals = rec.totals
    free = [0.0] * c  # when each worker is next free (a heap)
    replace = heapq.heapreplace
    drop = app.drop_abandoned
    limit = app.queue_limit  # most requests waiting; another one then gets a 503
    bounded = not math.isinf(limit)
    queued: list = []  # bounded only: when each admitted request leaves the queue (starts, or is dropped)
    push, pop = heapq.heappush, heapq.heappop
    no_t, no_flag = np.empty(0), np.empty(0, dtype=bool)
    later_done = [no_t, no_t, no_flag, no_flag]  # completions after the window: finish, response, measured, wasted
    later_gone = [no_t, no_t, no_flag]  # give-ups after the window: when, waited, measured
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
            arrival, start, gave_up, rejected = [], [], [], []
            for t, s, p in zip(times.tolist(), service.tolist(), np.asarray(plans.patience_s, dtype=float).tolist()):
                while t > now:
                    now = now + (t - now)  # the arrival timer, as the clock computes it
                arrival.append(now)
                m = free[0]
                if bounded and m > now:  # every worker busy: is there room to wait?
                    while queued and queued[0] <= now:
                        pop(queued)
                    if len(queued) >= limit:
                        start.append(math.nan)
                        gave_up.append(math.nan)
                        rejected.append(True)
                        continue
                rejected.append(False)
                st = now if m <= now else m
                g = now + p  # the patience timer, armed only for a queued request
                if st > g:  # still queued when patience ends: gives up at g
                    gave_up.append(g)
                    if drop:  # the server drops it: it never takes a worker
                        start.append(math.nan)
                        if bounded:
                            push(queued, g)
                        continue
                else:
                    gave_up.append(math.nan)
                replace(free, st + s)
                start.append(st)
                if bounded and st > now:
                    push(queued, st)
            if t1 > now:
                now = now + (t1 - now)  # the next window's timer
            a = np.asarray(arrival)
            st = np.asarray(start)
            g = np.asarray(gave_up)
            rj = np.asarray(rejected, dtype=bool)
            ab = ~np.isnan(g)
            f = st + service  # nan for a dropped give-up: it never finishes
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
            _lost(rec, "rejected", "failed", a[rj], measured[rj])  # 503s at arrival; no retries here
            # starts (FIFO: in arrival order), before the run's end
            began = st < duration
            mw = measured & began
            rec.waits_many((st - a)[mw])
            if mw.any():
                totals["requests.started"] += int(mw.sum())
            horizon = t1 if t1 < duration else duration
            # give-ups up to this window's end, in time order (their timers fire at g)
            (gt, gw, gm), later_gone = _due(later_gone, (g[ab], (g - a)[ab], measured[ab]), horizon)
            if _lost(rec, "abandoned", "abandoned", gt, gm):
                for w in gw[gm].tolist():  # one by one, in time order: the event engines' float sum
                    rec.abandoned_wait_s += w
            # completions up to this window's end, in time order; a give-up's is wasted
            began_w = ~np.isnan(f)
            (df, dr, dm, dw), later_done = _due(
                later_done, (f[began_w], (f - a)[began_w], measured[began_w], ab[began_w]), horizon)
            k = int((dw & dm).sum())
            if k:
                totals["requests.wasted"] += k
            ok = ~dw
            cf, cr, cm = df[ok], dr[ok], dm[ok]
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
            # levels: one change per arrival, per completion (wasted ones too) and per dropped give-up,
            # in time order; a queue implies every worker busy, so busy = min(n, c) throughout
            gone = gt if drop else np.empty(0)
            came = a[~rj]  # a 503 changes no level
            ev_t = np.concatenate((came, df, gone))
            step = np.concatenate((np.ones(len(came), dtype=np.int64),
                                   -np.ones(len(df) + len(gone), dtype=np.int64)))
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
