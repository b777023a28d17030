"""The autoscaler in the compiled loop: ``sim.engine.reference.autoscaler`` and the app tier's part in it.

Transcribes the autoscaler process and ``AppTier.add_instance / make_routable / retire /
take_metric`` over the loop's arrays, with the same effects in the same order: the same
events pushed in the same order (the process's start, the scheduled entries, each
evaluation, each instance's warm-up), the same level rows, the same capacity changes.

The areas under the levels that the metric averages (busy, in flight, capacity,
instances) are folded from the loop's app level rows (``out_app``) row by row, with the
arithmetic of ``AppTier._levels_tracking_areas``, just before the instances in service
change, before the driver hands the rows over, and when the metric is read; so the hot
path does nothing for them.

Instances live in rows of ``Q`` and of the instance table ``X`` (``layout.X_*``). A retired
row is taken again only once it holds no request (served, queued, or with a dropped SYN due),
so no request meets another instance in its row. ``XF`` holds the float state and the
schedule; ``out_cap`` the capacity changes (time, workers, instances) for the recorder.
"""

from __future__ import annotations

import math

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import jit as _jit
from sim.engine.compiled.site import app_level, push

__all__ = ["autoscale_event", "autoscale_room", "fold_areas", "AS_START", "AS_PERIODIC",
           "XF_LAST", "XF_T", "XF_AREA", "XF_LEVEL", "XF_METRIC", "XF_SCHED", "IN_FLIGHT"]

AS_START, AS_PERIODIC = -2, -1  # EV_AS_TICK's arg: the process starts, an evaluation; else a schedule entry
# XF: the last action's time, the levels' last change, the four areas, the four levels, the metric,
# then (at_s, min) for each schedule entry.
XF_LAST, XF_T, XF_AREA, XF_LEVEL, XF_METRIC, XF_SCHED = 0, 1, 2, 6, 10, 11
IN_FLIGHT = 1.0  # XF_METRIC (0.0: utilization)


@_jit
def fold_areas(I, XF, out_app):
    """AppTier._levels_tracking_areas for the level rows not folded yet (instances in service: I_AS_NR)."""
    n = I[I_AS_NR]
    cap = float(n * I[I_WORKERS])
    for j in range(I[I_AS_FOLDED], I[I_NAPP]):
        t = out_app[j, 0]
        if t > XF[XF_T]:
            dt = t - XF[XF_T]
            for k in range(4):
                XF[XF_AREA + k] += dt * XF[XF_LEVEL + k]
            XF[XF_T] = t
        busy, waiting = out_app[j, 1], out_app[j, 2]
        XF[XF_LEVEL], XF[XF_LEVEL + 1], XF[XF_LEVEL + 2], XF[XF_LEVEL + 3] = busy, busy + waiting, cap, float(n)
    I[I_AS_FOLDED] = I[I_NAPP]


@_jit
def autoscale_room(I, Ht, X, Q, out_app, out_cap, extra):
    """Room for one autoscaler event: ``extra`` heap entries and output rows, and ``I_AS_MAX`` free rows
    (retired rows that hold no request are freed here first)."""
    if not (I[I_HN] + HEADROOM + extra <= Ht.shape[0] and I[I_NAPP] + HEADROOM + extra <= out_app.shape[0]
            and I[I_AS_NCAP] + HEADROOM + extra <= out_cap.shape[0]):
        return False
    if I[I_AS_FREE] < I[I_AS_MAX]:
        for k in range(X.shape[0]):
            if (X[k, X_ROLE] == X_RETIRED and Q[k, Q_BUSY] == 0 and Q[k, Q_WAIT] == 0 and X[k, X_SYN] == 0):
                X[k, X_ROLE] = X_FREE  # its queue may still hold gone requests: skipped as ever when it serves
                I[I_AS_FREE] += 1
    return I[I_AS_FREE] >= I[I_AS_MAX]


@_jit
def _capacity_changed(I, F, out_cap, out_app):
    """AppTier._capacity_changed then changed(): a capacity row and a level row."""
    n = I[I_AS_NCAP]
    out_cap[n, 0], out_cap[n, 1], out_cap[n, 2] = F[F_NOW], I[I_AS_NR] * I[I_WORKERS], I[I_AS_NR]
    I[I_AS_NCAP] = n + 1
    app_level(I, F, out_app)


@_jit
def _add(I, F, Ht, Hi, X, k):
    """k instances asked for (AppTier.add_instance(ready=False)), each routable after the warm-up."""
    row = 0
    for _ in range(k):
        while X[row, X_ROLE] != X_FREE:
            row += 1
        X[row, X_ROLE] = X_WARMING
        I[I_AS_FREE] -= 1
        I[I_AS_WARMING] += 1
        push(I, F, Ht, Hi, F[F_AS_WARMUP], EV_AS_READY, row)


@_jit
def _ready(I, F, X, XF, out_app, out_cap, row):
    """ready(inst): AppTier.make_routable."""
    I[I_AS_WARMING] -= 1
    fold_areas(I, XF, out_app)  # the rows so far saw the instances in service before this one
    X[I[I_AS_NR], X_RT] = row
    I[I_AS_NR] += 1
    X[row, X_ROLE] = X_ROUTABLE
    _capacity_changed(I, F, out_cap, out_app)


@_jit
def _retire(I, F, Q, X, XF, out_app, out_cap):
    """AppTier.retire of the routable instance with fewest in flight (the first such)."""
    n = I[I_AS_NR]
    best, best_n = 0, Q[X[0, X_RT], Q_BUSY] + Q[X[0, X_RT], Q_WAIT]
    for j in range(1, n):
        k = Q[X[j, X_RT], Q_BUSY] + Q[X[j, X_RT], Q_WAIT]
        if k < best_n:
            best, best_n = j, k
    fold_areas(I, XF, out_app)
    X[X[best, X_RT], X_ROLE] = X_RETIRED
    for j in range(best, n - 1):  # routable.remove(inst): the others keep their order
        X[j, X_RT] = X[j + 1, X_RT]
    I[I_AS_NR] = n - 1
    _capacity_changed(I, F, out_cap, out_app)


@_jit
def _evaluate(I, F, Ht, Hi, Q, X, XF, out_app, out_cap):
    """One period of the autoscaler process: take_metric, then scale out, in, or not."""
    now = F[F_NOW]
    app_level(I, F, out_app)  # take_metric's changed(): the areas up to now
    fold_areas(I, XF, out_app)
    busy, in_flight, capacity, instances = XF[XF_AREA], XF[XF_AREA + 1], XF[XF_AREA + 2], XF[XF_AREA + 3]
    for k in range(4):
        XF[XF_AREA + k] = 0.0
    if XF[XF_METRIC] == IN_FLIGHT:
        metric = in_flight / instances if instances > 0 else 0.0
    else:
        metric = busy / capacity if capacity > 0 else 0.0
    n = I[I_AS_NR]
    x = n * metric / F[F_AS_TARGET] - 1e-9
    # min(max(ceil(x), low), max), without a float beyond int64 (x >= max gives max either way)
    desired = I[I_AS_MAX] if x >= I[I_AS_MAX] else max(int(math.ceil(x)), I[I_AS_MIN])
    warming = I[I_AS_WARMING]
    if desired > n + warming:
        _add(I, F, Ht, Hi, X, min(I[I_AS_STEP], desired - n - warming))
        XF[XF_LAST] = now
    elif desired < n and warming == 0 and now - XF[XF_LAST] >= F[F_AS_COOLDOWN]:
        for _ in range(min(I[I_AS_STEP], n - desired)):
            _retire(I, F, Q, X, XF, out_app, out_cap)
        XF[XF_LAST] = now
    push(I, F, Ht, Hi, F[F_AS_PERIOD], EV_AS_TICK, AS_PERIODIC)


@_jit
def autoscale_event(I, F, Ht, Hi, Q, X, XF, out_app, out_cap, kind, arg):
    """EV_AS_TICK (the process starts, an evaluation, a schedule entry) or EV_AS_READY (an instance warmed up)."""
    if kind == EV_AS_READY:
        _ready(I, F, X, XF, out_app, out_cap, arg)
    elif arg == AS_PERIODIC:
        _evaluate(I, F, Ht, Hi, Q, X, XF, out_app, out_cap)
    elif arg == AS_START:  # the schedule's timers, then the first evaluation's (as the process makes them)
        m = (XF.shape[0] - XF_SCHED) // 2
        for j in range(m):
            push(I, F, Ht, Hi, XF[XF_SCHED + 2 * j] - F[F_NOW], EV_AS_TICK, j)
        push(I, F, Ht, Hi, F[F_AS_PERIOD], EV_AS_TICK, AS_PERIODIC)
    else:  # schedule entry ``arg``: the new lower bound, and the instances missing at once
        low = int(XF[XF_SCHED + 2 * arg + 1])
        I[I_AS_MIN] = low
        missing = low - I[I_AS_NR] - I[I_AS_WARMING]
        if missing > 0:
            _add(I, F, Ht, Hi, X, missing)
            XF[XF_LAST] = F[F_NOW]
