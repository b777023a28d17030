"""The site in the compiled loop: the event heap, recording, request slots, app tier, DB pool.

``sim.engine.reference.app_tier``'s ``AppTier``, ``Instance`` and ``DbPool`` transcribed over the arrays of
``sim.engine.compiled.layout``, with the same effects in the same order (see
``sim.engine.compiled.loop``). Each function takes only the arrays it touches: numba passes an
array as several machine words, and a call carrying every array costs more than the
event it serves (``benchmarks/README.md``, "the event path compiled").
"""

from __future__ import annotations

import math

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import inline as _inline, jit as _jit

# -- the heap of (time, seq) ----------------------------------------------------------
@_inline
def push(ints, floats, heap_t, heap_i, delay, kind, arg):
    n = ints[I_HN]
    t = floats[F_NOW] + delay
    seq = ints[I_SEQ]
    ints[I_SEQ] = seq + 1
    i = n
    while i > 0:  # sift up
        p = (i - 1) >> 1
        if heap_t[p] < t or (heap_t[p] == t and heap_i[p, 0] < seq):
            break
        heap_t[i] = heap_t[p]
        heap_i[i, 0], heap_i[i, 1], heap_i[i, 2] = heap_i[p, 0], heap_i[p, 1], heap_i[p, 2]
        i = p
    heap_t[i] = t
    heap_i[i, 0], heap_i[i, 1], heap_i[i, 2] = seq, kind, arg
    ints[I_HN] = n + 1


@_inline
def pop_root(ints, heap_t, heap_i):
    n = ints[I_HN] - 1
    ints[I_HN] = n
    t, seq, kind, arg = heap_t[n], heap_i[n, 0], heap_i[n, 1], heap_i[n, 2]
    i = 0
    while True:  # sift the last entry down from the root
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (heap_t[c + 1] < heap_t[c]
                          or (heap_t[c + 1] == heap_t[c] and heap_i[c + 1, 0] < heap_i[c, 0])):
            c += 1
        if t < heap_t[c] or (t == heap_t[c] and seq < heap_i[c, 0]):
            break
        heap_t[i] = heap_t[c]
        heap_i[i, 0], heap_i[i, 1], heap_i[i, 2] = heap_i[c, 0], heap_i[c, 1], heap_i[c, 2]
        i = c
    heap_t[i] = t
    heap_i[i, 0], heap_i[i, 1], heap_i[i, 2] = seq, kind, arg


# -- recording ------------------------------------------------------------------------
@_inline
def count(floats, counts, edges, name, t, k):
    nb = counts.shape[1] - 1
    b = min(int(t / floats[F_BIN]), nb - 1)
    if t < edges[b]:  # as sim.stats.series._Bins.index
        b -= 1
    elif b < nb - 1 and t >= edges[b + 1]:
        b += 1
    counts[name, b] += k
    counts[name, nb] = 1


@_inline
def total(totals, name, k):
    totals[0, name] += k
    totals[1, name] = 1


@_inline
def app_level(ints, floats, out_app):
    n = ints[I_NAPP]
    out_app[n, 0], out_app[n, 1], out_app[n, 2] = floats[F_NOW], ints[I_TBUSY], ints[I_TWAIT]
    ints[I_NAPP] = n + 1


@_inline
def db_level(ints, floats, out_db, waiting):
    n = ints[I_NDB]
    out_db[n, 0], out_db[n, 1], out_db[n, 2] = floats[F_NOW], ints[I_DBBUSY], waiting
    ints[I_NDB] = n + 1


# -- request slots -----------------------------------------------------------------------
@_inline
def new_request(ints, floats, req_i, req_f, kind, cnt, service, owner):
    r = ints[I_RFREE]
    ints[I_RFREE] = req_i[r, R_NEXT]
    ints[I_RUSED] += 1
    req_i[r, R_KIND], req_i[r, R_COUNT], req_i[r, R_NQ], req_i[r, R_QI] = kind, cnt, 0, 0
    req_i[r, R_STATE], req_i[r, R_OUT], req_i[r, R_INST] = QUEUED, NONE, -1
    req_i[r, R_OWNER], req_i[r, R_REFS] = owner, 0
    req_i[r, R_MEAS] = 1 if floats[F_NOW] >= floats[F_WARMUP] else 0
    req_i[r, R_SYN] = 0
    req_f[r, RF_ARR], req_f[r, RF_SERV] = floats[F_NOW], service
    return r


@_inline
def unref(ints, req_i, r):
    """One holder (a heap entry, a queue, the deadlines) lets go; the last frees the slot."""
    refs = req_i[r, R_REFS] - 1
    req_i[r, R_REFS] = refs
    if refs == 0:
        req_i[r, R_NEXT] = ints[I_RFREE]
        ints[I_RFREE] = r
        ints[I_RUSED] -= 1


@_inline
def push_request(ints, floats, heap_t, heap_i, req_i, delay, kind, r):
    req_i[r, R_REFS] += 1
    push(ints, floats, heap_t, heap_i, delay, kind, r)


# -- the app tier (sim.engine.reference.app_tier.AppTier, Instance) ---------------------------------------------
@_inline
def route(ints, queues, instance_table, balancer_u):
    """AppTier.route over the routable instances (X_RT: their rows, in the pool's order)."""
    n = ints[I_AS_NR]
    if n == 1:
        return instance_table[0, X_RT]
    policy = ints[I_POLICY]
    if policy == ROUND_ROBIN:
        ints[I_RR] = (ints[I_RR] + 1) % n
        return instance_table[ints[I_RR], X_RT]
    if policy == LEAST_CONNECTIONS:
        best = instance_table[0, X_RT]
        best_n = queues[best, Q_BUSY] + queues[best, Q_WAIT]
        for j in range(1, n):
            i = instance_table[j, X_RT]
            k = queues[i, Q_BUSY] + queues[i, Q_WAIT]
            if k < best_n:
                best, best_n = i, k
        return best
    u = balancer_u[ints[I_BAL_POS]]
    ints[I_BAL_POS] += 1
    return instance_table[min(int(u * n), n - 1), X_RT]


@_inline
def start(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_app, r, changed):
    inst = req_i[r, R_INST]
    queues[inst, Q_BUSY] += 1
    ints[I_TBUSY] += 1
    req_i[r, R_STATE] = SERVING
    if req_i[r, R_MEAS]:
        n = ints[I_NWAIT]
        out_wait[n] = floats[F_NOW] - req_f[r, RF_ARR]
        ints[I_NWAIT] = n + 1
        total(totals, T_STARTED, req_i[r, R_COUNT])
    if changed:
        app_level(ints, floats, out_app)
    push_request(ints, floats, heap_t, heap_i, req_i, req_f[r, RF_SERV],
                 EV_FINISH if req_i[r, R_NQ] == 0 else EV_QUERIES, r)


@_jit
def arm(ints, floats, heap_t, heap_i, req_i, req_f, deadlines):
    """Hold a timer for the earliest deadline of a request still unsettled (AppTier._arm)."""
    cap = deadlines.shape[0]
    while ints[I_DLH] < ints[I_DLT] and req_i[deadlines[ints[I_DLH] % cap], R_OUT] != NONE:
        r = deadlines[ints[I_DLH] % cap]
        ints[I_DLH] += 1
        unref(ints, req_i, r)
    if ints[I_DLH] < ints[I_DLT]:
        ints[I_ARMED] = 1
        r = deadlines[ints[I_DLH] % cap]
        push_request(ints, floats, heap_t, heap_i, req_i,
                     max(req_f[r, RF_ARR] + floats[F_TIMEOUT] - floats[F_NOW], 0.0), EV_DEADLINE, r)
    else:
        ints[I_ARMED] = 0


@_inline
def failed(floats, req_i, counts, totals, edges, name, total_name, r):
    count(floats, counts, edges, name, floats[F_NOW], req_i[r, R_COUNT])
    if req_i[r, R_MEAS]:
        total(totals, total_name, req_i[r, R_COUNT])


@_inline
def arrive(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, counts, totals, edges, out_wait, out_app,
           r):
    """Instance.arrive at the request's instance; True if refused (a 503)."""
    inst = req_i[r, R_INST]
    if queues[inst, Q_BUSY] < ints[I_WORKERS]:
        start(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_app, r, True)
    elif queues[inst, Q_WAIT] < ints[I_QLIM]:
        tail = queues[inst, Q_TAIL]
        queues[inst, 4 + tail % (queues.shape[1] - 4)] = r
        queues[inst, Q_TAIL] = tail + 1
        req_i[r, R_REFS] += 1
        queues[inst, Q_WAIT] += 1
        ints[I_TWAIT] += 1
        app_level(ints, floats, out_app)
    elif ints[I_SYNS] >= 0:  # the SYN is dropped: sent again after the back-off
        req_i[r, R_STATE] = CONNECTING
        push_request(ints, floats, heap_t, heap_i, req_i, floats[F_SYN_RTO] * 2.0 ** req_i[r, R_SYN], EV_SYN, r)
        instance_table[inst, X_SYN] += 1
        req_i[r, R_SYN] += 1
    else:
        req_i[r, R_STATE], req_i[r, R_OUT] = GONE, REJECTED
        failed(floats, req_i, counts, totals, edges, C_REJECTED, T_REJECTED, r)
        return True
    return False


@_jit
def submit(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, deadlines, counts, totals, edges,
           out_wait, out_app, balancer_u, r, patience):
    """AppTier.submit and Instance.arrive; True if refused at once (a 503: the caller tells the visitor)."""
    now = floats[F_NOW]
    count(floats, counts, edges, C_ORIGIN, now, req_i[r, R_COUNT])
    if req_i[r, R_MEAS]:
        total(totals, T_ARRIVED, req_i[r, R_COUNT])
    req_i[r, R_INST] = route(ints, queues, instance_table, balancer_u)
    if arrive(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, counts, totals, edges, out_wait,
              out_app, r):
        return True
    if (req_i[r, R_STATE] == QUEUED or req_i[r, R_STATE] == CONNECTING) and patience != math.inf:
        push_request(ints, floats, heap_t, heap_i, req_i, patience, EV_GAVE_UP, r)
    if floats[F_TIMEOUT] != math.inf:
        deadlines[ints[I_DLT] % deadlines.shape[0]] = r
        ints[I_DLT] += 1
        req_i[r, R_REFS] += 1
        if ints[I_ARMED] == 0:
            arm(ints, floats, heap_t, heap_i, req_i, req_f, deadlines)
    return False


@_inline
def remove(ints, floats, req_i, queues, out_app, r):
    """The server drops a queued request whose visitor left."""
    if req_i[r, R_STATE] == QUEUED:
        req_i[r, R_STATE] = GONE
        queues[req_i[r, R_INST], Q_WAIT] -= 1
        ints[I_TWAIT] -= 1
        app_level(ints, floats, out_app)


@_inline
def finish(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_done, out_app, r):
    """Instance._finish; True if the request's visitor is to hear OK."""
    inst = req_i[r, R_INST]
    queues[inst, Q_BUSY] -= 1
    ints[I_TBUSY] -= 1
    req_i[r, R_STATE] = FINISHED
    settled = req_i[r, R_OUT] == NONE
    if settled:
        req_i[r, R_OUT] = OK
        n = ints[I_NDONE]
        out_done[n, 0], out_done[n, 1] = floats[F_NOW], floats[F_NOW] - req_f[r, RF_ARR]
        out_done[n, 2] = req_i[r, R_MEAS] + (2 if req_i[r, R_KIND] != ASSETS else 0)
        ints[I_NDONE] = n + 1
        if req_i[r, R_MEAS]:
            total(totals, T_COMPLETED, req_i[r, R_COUNT])
    elif req_i[r, R_MEAS]:
        total(totals, T_WASTED, req_i[r, R_COUNT])
    qcap = queues.shape[1] - 4
    while queues[inst, Q_HEAD] < queues[inst, Q_TAIL]:
        nxt = queues[inst, 4 + queues[inst, Q_HEAD] % qcap]
        queues[inst, Q_HEAD] += 1
        if req_i[nxt, R_STATE] == QUEUED:
            queues[inst, Q_WAIT] -= 1
            ints[I_TWAIT] -= 1
            start(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_app, nxt, False)
            unref(ints, req_i, nxt)
            break
        unref(ints, req_i, nxt)
    app_level(ints, floats, out_app)
    return settled and req_i[r, R_OWNER] >= 0


# -- the database pool (sim.engine.reference.db_pool.DbPool) -----------------------------------------------------
@_inline
def acquire(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, r):
    if ints[I_DBBUSY] < ints[I_CONNS]:
        ints[I_DBBUSY] += 1
        db_level(ints, floats, out_db, ints[I_DBT] - ints[I_DBH])
        push_request(ints, floats, heap_t, heap_i, req_i, req_f[r, RF_Q + req_i[r, R_QI]], EV_RELEASED, r)
    else:
        db_waiting[ints[I_DBT] % db_waiting.shape[0]] = r
        ints[I_DBT] += 1
        req_i[r, R_REFS] += 1
        db_level(ints, floats, out_db, ints[I_DBT] - ints[I_DBH])


@_inline
def hand_over(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db):
    """DbPool._released's first half: the connection to the next waiter, or back to the pool."""
    if ints[I_DBH] < ints[I_DBT]:
        nxt = db_waiting[ints[I_DBH] % db_waiting.shape[0]]
        ints[I_DBH] += 1
        db_level(ints, floats, out_db, ints[I_DBT] - ints[I_DBH])
        push_request(ints, floats, heap_t, heap_i, req_i, req_f[nxt, RF_Q + req_i[nxt, R_QI]], EV_RELEASED, nxt)
        unref(ints, req_i, nxt)
    else:
        ints[I_DBBUSY] -= 1
        db_level(ints, floats, out_db, 0)


@_inline
def released(ints, floats, heap_t, heap_i, req_i, req_f, queues, db_waiting, totals, out_wait, out_done, out_app,
             out_db, r):
    """DbPool._released then Instance.queries_done; True if the request finished with news for a visitor."""
    hand_over(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db)
    req_i[r, R_QI] += 1
    if req_i[r, R_QI] < req_i[r, R_NQ]:
        acquire(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, r)
        return False
    return finish(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_done, out_app, r)
