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

Instances live in rows of ``queues`` and of the instance table ``instance_table`` (``layout.X_*``). A retired
row is taken again only once it holds no request (served, queued, or with a dropped SYN due),
so no request meets another instance in its row. ``scaler_f`` holds the float state and the
schedule; ``out_cap`` the capacity changes (time, workers, instances) for the recorder.
"""

from __future__ import annotations

import math

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import jit as _jit
from sim.engine.compiled.site import app_level, push

__all__ = ["autoscale_event", "autoscale_has_headroom", "fold_areas", "AS_START", "AS_PERIODIC",
           "XF_LAST", "XF_T", "XF_AREA", "XF_LEVEL", "XF_METRIC", "XF_SCHED", "IN_FLIGHT"]

AS_START, AS_PERIODIC = -2, -1  # EV_AS_TICK's arg: the process starts, an evaluation; else a schedule entry
# scaler_f: the last action's time, the levels' last change, the four areas, the four levels, the metric,
# then (at_s, min) for each schedule entry.
XF_LAST, XF_T, XF_AREA, XF_LEVEL, XF_METRIC, XF_SCHED = 0, 1, 2, 6, 10, 11
IN_FLIGHT = 1.0  # XF_METRIC (0.0: utilization)


@_jit
def fold_areas(ints, scaler_f, out_app):
    """AppTier._levels_tracking_areas for the level rows not folded yet (instances in service: I_AS_NR)."""
    n = ints[I_AS_NR]
    cap = float(n * ints[I_WORKERS])
    for j in range(ints[I_AS_FOLDED], ints[I_NAPP]):
        t = out_app[j, 0]
        if t > scaler_f[XF_T]:
            dt = t - scaler_f[XF_T]
            for k in range(4):
                scaler_f[XF_AREA + k] += dt * scaler_f[XF_LEVEL + k]
            scaler_f[XF_T] = t
        busy, waiting = out_app[j, 1], out_app[j, 2]
        scaler_f[XF_LEVEL], scaler_f[XF_LEVEL + 1] = busy, busy + waiting
        scaler_f[XF_LEVEL + 2], scaler_f[XF_LEVEL + 3] = cap, float(n)
    ints[I_AS_FOLDED] = ints[I_NAPP]


@_jit
def autoscale_has_headroom(ints, heap_t, instance_table, queues, out_app, out_cap, extra):
    """Headroom for one autoscaler event: ``extra`` heap entries and output rows, and ``I_AS_MAX`` free rows
    (retired rows that hold no request are freed here first)."""
    if not (ints[I_HN] + HEADROOM + extra <= heap_t.shape[0] and ints[I_NAPP] + HEADROOM + extra <= out_app.shape[0]
            and ints[I_AS_NCAP] + HEADROOM + extra <= out_cap.shape[0]):
        return False
    if ints[I_AS_FREE] < ints[I_AS_MAX]:
        for k in range(instance_table.shape[0]):
            if (instance_table[k, X_ROLE] == X_RETIRED and queues[k, Q_BUSY] == 0 and queues[k, Q_WAIT] == 0
                    and instance_table[k, X_SYN] == 0):
                instance_table[k, X_ROLE] = X_FREE  # its queue may still hold gone requests: skipped as ever when it serves
                ints[I_AS_FREE] += 1
    return ints[I_AS_FREE] >= ints[I_AS_MAX]


@_jit
def _capacity_changed(ints, floats, out_cap, out_app):
    """AppTier._capacity_changed then changed(): a capacity row and a level row."""
    n = ints[I_AS_NCAP]
    out_cap[n, 0], out_cap[n, 1], out_cap[n, 2] = floats[F_NOW], ints[I_AS_NR] * ints[I_WORKERS], ints[I_AS_NR]
    ints[I_AS_NCAP] = n + 1
    app_level(ints, floats, out_app)


@_jit
def _add(ints, floats, heap_t, heap_i, instance_table, k):
    """k instances asked for (AppTier.add_instance(ready=False)), each routable after the warm-up."""
    row = 0
    for _ in range(k):
        while instance_table[row, X_ROLE] != X_FREE:
            row += 1
        instance_table[row, X_ROLE] = X_WARMING
        ints[I_AS_FREE] -= 1
        ints[I_AS_WARMING] += 1
        push(ints, floats, heap_t, heap_i, floats[F_AS_WARMUP], EV_AS_READY, row)


@_jit
def _ready(ints, floats, instance_table, scaler_f, out_app, out_cap, row):
    """ready(inst): AppTier.make_routable."""
    ints[I_AS_WARMING] -= 1
    fold_areas(ints, scaler_f, out_app)  # the rows so far saw the instances in service before this one
    instance_table[ints[I_AS_NR], X_RT] = row
    ints[I_AS_NR] += 1
    instance_table[row, X_ROLE] = X_ROUTABLE
    _capacity_changed(ints, floats, out_cap, out_app)


@_jit
def _retire(ints, floats, queues, instance_table, scaler_f, out_app, out_cap):
    """AppTier.retire of the routable instance with fewest in flight (the first such)."""
    n = ints[I_AS_NR]
    best, best_n = 0, queues[instance_table[0, X_RT], Q_BUSY] + queues[instance_table[0, X_RT], Q_WAIT]
    for j in range(1, n):
        k = queues[instance_table[j, X_RT], Q_BUSY] + queues[instance_table[j, X_RT], Q_WAIT]
        if k < best_n:
            best, best_n = j, k
    fold_areas(ints, scaler_f, out_app)
    instance_table[instance_table[best, X_RT], X_ROLE] = X_RETIRED
    for j in range(best, n - 1):  # routable.remove(inst): the others keep their order
        instance_table[j, X_RT] = instance_table[j + 1, X_RT]
    ints[I_AS_NR] = n - 1
    _capacity_changed(ints, floats, out_cap, out_app)


@_jit
def _evaluate(ints, floats, heap_t, heap_i, queues, instance_table, scaler_f, out_app, out_cap):
    """One period of the autoscaler process: take_metric, then scale out, in, or not."""
    now = floats[F_NOW]
    app_level(ints, floats, out_app)  # take_metric's changed(): the areas up to now
    fold_areas(ints, scaler_f, out_app)
    busy, in_flight = scaler_f[XF_AREA], scaler_f[XF_AREA + 1]
    capacity, instances = scaler_f[XF_AREA + 2], scaler_f[XF_AREA + 3]
    for k in range(4):
        scaler_f[XF_AREA + k] = 0.0
    if scaler_f[XF_METRIC] == IN_FLIGHT:
        metric = in_flight / instances if instances > 0 else 0.0
    else:
        metric = busy / capacity if capacity > 0 else 0.0
    n = ints[I_AS_NR]
    x = n * metric / floats[F_AS_TARGET] - 1e-9
    # min(max(ceil(x), low), max), without a float beyond int64 (x >= max gives max either way)
    desired = ints[I_AS_MAX] if x >= ints[I_AS_MAX] else max(int(math.ceil(x)), ints[I_AS_MIN])
    warming = ints[I_AS_WARMING]
    if desired > n + warming:
        _add(ints, floats, heap_t, heap_i, instance_table, min(ints[I_AS_STEP], desired - n - warming))
        scaler_f[XF_LAST] = now
    elif desired < n and warming == 0 and now - scaler_f[XF_LAST] >= floats[F_AS_COOLDOWN]:
        for _ in range(min(ints[I_AS_STEP], n - desired)):
            _retire(ints, floats, queues, instance_table, scaler_f, out_app, out_cap)
        scaler_f[XF_LAST] = now
    push(ints, floats, heap_t, heap_i, floats[F_AS_PERIOD], EV_AS_TICK, AS_PERIODIC)


@_jit
def autoscale_event(ints, floats, heap_t, heap_i, queues, instance_table, scaler_f, out_app, out_cap, kind, arg):
    """EV_AS_TICK (the process starts, an evaluation, a schedule entry) or EV_AS_READY (an instance warmed up)."""
    if kind == EV_AS_READY:
        _ready(ints, floats, instance_table, scaler_f, out_app, out_cap, arg)
    elif arg == AS_PERIODIC:
        _evaluate(ints, floats, heap_t, heap_i, queues, instance_table, scaler_f, out_app, out_cap)
    elif arg == AS_START:  # the schedule's timers, then the first evaluation's (as the process makes them)
        m = (scaler_f.shape[0] - XF_SCHED) // 2
        for j in range(m):
            push(ints, floats, heap_t, heap_i, scaler_f[XF_SCHED + 2 * j] - floats[F_NOW], EV_AS_TICK, j)
        push(ints, floats, heap_t, heap_i, floats[F_AS_PERIOD], EV_AS_TICK, AS_PERIODIC)
    else:  # schedule entry ``arg``: the new lower bound, and the instances missing at once
        low = int(scaler_f[XF_SCHED + 2 * arg + 1])
        ints[I_AS_MIN] = low
        missing = low - ints[I_AS_NR] - ints[I_AS_WARMING]
        if missing > 0:
            _add(ints, floats, heap_t, heap_i, instance_table, missing)
            scaler_f[XF_LAST] = floats[F_NOW]
