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
def push(I, F, Ht, Hi, delay, kind, arg):
    n = I[I_HN]
    t = F[F_NOW] + delay
    seq = I[I_SEQ]
    I[I_SEQ] = seq + 1
    i = n
    while i > 0:  # sift up
        p = (i - 1) >> 1
        if Ht[p] < t or (Ht[p] == t and Hi[p, 0] < seq):
            break
        Ht[i] = Ht[p]
        Hi[i, 0], Hi[i, 1], Hi[i, 2] = Hi[p, 0], Hi[p, 1], Hi[p, 2]
        i = p
    Ht[i] = t
    Hi[i, 0], Hi[i, 1], Hi[i, 2] = seq, kind, arg
    I[I_HN] = n + 1


@_inline
def pop_root(I, Ht, Hi):
    n = I[I_HN] - 1
    I[I_HN] = n
    t, seq, kind, arg = Ht[n], Hi[n, 0], Hi[n, 1], Hi[n, 2]
    i = 0
    while True:  # sift the last entry down from the root
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (Ht[c + 1] < Ht[c] or (Ht[c + 1] == Ht[c] and Hi[c + 1, 0] < Hi[c, 0])):
            c += 1
        if t < Ht[c] or (t == Ht[c] and seq < Hi[c, 0]):
            break
        Ht[i] = Ht[c]
        Hi[i, 0], Hi[i, 1], Hi[i, 2] = Hi[c, 0], Hi[c, 1], Hi[c, 2]
        i = c
    Ht[i] = t
    Hi[i, 0], Hi[i, 1], Hi[i, 2] = seq, kind, arg


# -- recording ------------------------------------------------------------------------
@_inline
def count(F, C, edges, name, t, k):
    nb = C.shape[1] - 1
    b = min(int(t / F[F_BIN]), nb - 1)
    if t < edges[b]:  # as sim.stats.series._Bins.index
        b -= 1
    elif b < nb - 1 and t >= edges[b + 1]:
        b += 1
    C[name, b] += k
    C[name, nb] = 1


@_inline
def total(T, name, k):
    T[0, name] += k
    T[1, name] = 1


@_inline
def app_level(I, F, out_app):
    n = I[I_NAPP]
    out_app[n, 0], out_app[n, 1], out_app[n, 2] = F[F_NOW], I[I_TBUSY], I[I_TWAIT]
    I[I_NAPP] = n + 1


@_inline
def db_level(I, F, out_db, waiting):
    n = I[I_NDB]
    out_db[n, 0], out_db[n, 1], out_db[n, 2] = F[F_NOW], I[I_DBBUSY], waiting
    I[I_NDB] = n + 1


# -- request slots -----------------------------------------------------------------------
@_inline
def new_request(I, F, Ri, Rf, kind, cnt, service, owner):
    r = I[I_RFREE]
    I[I_RFREE] = Ri[r, R_NEXT]
    I[I_RUSED] += 1
    Ri[r, R_KIND], Ri[r, R_COUNT], Ri[r, R_NQ], Ri[r, R_QI] = kind, cnt, 0, 0
    Ri[r, R_STATE], Ri[r, R_OUT], Ri[r, R_INST], Ri[r, R_OWNER], Ri[r, R_REFS] = QUEUED, NONE, -1, owner, 0
    Ri[r, R_MEAS] = 1 if F[F_NOW] >= F[F_WARMUP] else 0
    Ri[r, R_SYN] = 0
    Rf[r, RF_ARR], Rf[r, RF_SERV] = F[F_NOW], service
    return r


@_inline
def unref(I, Ri, r):
    """One holder (a heap entry, a queue, the deadlines) lets go; the last frees the slot."""
    refs = Ri[r, R_REFS] - 1
    Ri[r, R_REFS] = refs
    if refs == 0:
        Ri[r, R_NEXT] = I[I_RFREE]
        I[I_RFREE] = r
        I[I_RUSED] -= 1


@_inline
def push_request(I, F, Ht, Hi, Ri, delay, kind, r):
    Ri[r, R_REFS] += 1
    push(I, F, Ht, Hi, delay, kind, r)


# -- the app tier (sim.engine.reference.app_tier.AppTier, Instance) ---------------------------------------------
@_inline
def route(I, Q, X, bal_u):
    """AppTier.route over the routable instances (X_RT: their rows, in the pool's order)."""
    n = I[I_AS_NR]
    if n == 1:
        return X[0, X_RT]
    policy = I[I_POLICY]
    if policy == ROUND_ROBIN:
        I[I_RR] = (I[I_RR] + 1) % n
        return X[I[I_RR], X_RT]
    if policy == LEAST_CONNECTIONS:
        best = X[0, X_RT]
        best_n = Q[best, Q_BUSY] + Q[best, Q_WAIT]
        for j in range(1, n):
            i = X[j, X_RT]
            k = Q[i, Q_BUSY] + Q[i, Q_WAIT]
            if k < best_n:
                best, best_n = i, k
        return best
    u = bal_u[I[I_BAL_POS]]
    I[I_BAL_POS] += 1
    return X[min(int(u * n), n - 1), X_RT]


@_inline
def start(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_app, r, changed):
    inst = Ri[r, R_INST]
    Q[inst, Q_BUSY] += 1
    I[I_TBUSY] += 1
    Ri[r, R_STATE] = SERVING
    if Ri[r, R_MEAS]:
        n = I[I_NWAIT]
        out_wait[n] = F[F_NOW] - Rf[r, RF_ARR]
        I[I_NWAIT] = n + 1
        total(T, T_STARTED, Ri[r, R_COUNT])
    if changed:
        app_level(I, F, out_app)
    push_request(I, F, Ht, Hi, Ri, Rf[r, RF_SERV], EV_FINISH if Ri[r, R_NQ] == 0 else EV_QUERIES, r)


@_jit
def arm(I, F, Ht, Hi, Ri, Rf, DL):
    """Hold a timer for the earliest deadline of a request still unsettled (AppTier._arm)."""
    cap = DL.shape[0]
    while I[I_DLH] < I[I_DLT] and Ri[DL[I[I_DLH] % cap], R_OUT] != NONE:
        r = DL[I[I_DLH] % cap]
        I[I_DLH] += 1
        unref(I, Ri, r)
    if I[I_DLH] < I[I_DLT]:
        I[I_ARMED] = 1
        r = DL[I[I_DLH] % cap]
        push_request(I, F, Ht, Hi, Ri, max(Rf[r, RF_ARR] + F[F_TIMEOUT] - F[F_NOW], 0.0), EV_DEADLINE, r)
    else:
        I[I_ARMED] = 0


@_inline
def failed(F, Ri, C, T, edges, name, total_name, r):
    count(F, C, edges, name, F[F_NOW], Ri[r, R_COUNT])
    if Ri[r, R_MEAS]:
        total(T, total_name, Ri[r, R_COUNT])


@_inline
def arrive(I, F, Ht, Hi, Ri, Rf, Q, X, C, T, edges, out_wait, out_app, r):
    """Instance.arrive at the request's instance; True if refused (a 503)."""
    inst = Ri[r, R_INST]
    if Q[inst, Q_BUSY] < I[I_WORKERS]:
        start(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_app, r, True)
    elif Q[inst, Q_WAIT] < I[I_QLIM]:
        tail = Q[inst, Q_TAIL]
        Q[inst, 4 + tail % (Q.shape[1] - 4)] = r
        Q[inst, Q_TAIL] = tail + 1
        Ri[r, R_REFS] += 1
        Q[inst, Q_WAIT] += 1
        I[I_TWAIT] += 1
        app_level(I, F, out_app)
    elif I[I_SYNS] >= 0:  # the SYN is dropped: sent again after the back-off
        Ri[r, R_STATE] = CONNECTING
        push_request(I, F, Ht, Hi, Ri, F[F_SYN_RTO] * 2.0 ** Ri[r, R_SYN], EV_SYN, r)
        X[inst, X_SYN] += 1
        Ri[r, R_SYN] += 1
    else:
        Ri[r, R_STATE], Ri[r, R_OUT] = GONE, REJECTED
        failed(F, Ri, C, T, edges, C_REJECTED, T_REJECTED, r)
        return True
    return False


@_jit
def submit(I, F, Ht, Hi, Ri, Rf, Q, X, DL, C, T, edges, out_wait, out_app, bal_u, r, patience):
    """AppTier.submit and Instance.arrive; True if refused at once (a 503: the caller tells the visitor)."""
    now = F[F_NOW]
    count(F, C, edges, C_ORIGIN, now, Ri[r, R_COUNT])
    if Ri[r, R_MEAS]:
        total(T, T_ARRIVED, Ri[r, R_COUNT])
    Ri[r, R_INST] = route(I, Q, X, bal_u)
    if arrive(I, F, Ht, Hi, Ri, Rf, Q, X, C, T, edges, out_wait, out_app, r):
        return True
    if (Ri[r, R_STATE] == QUEUED or Ri[r, R_STATE] == CONNECTING) and patience != math.inf:
        push_request(I, F, Ht, Hi, Ri, patience, EV_GAVE_UP, r)
    if F[F_TIMEOUT] != math.inf:
        DL[I[I_DLT] % DL.shape[0]] = r
        I[I_DLT] += 1
        Ri[r, R_REFS] += 1
        if I[I_ARMED] == 0:
            arm(I, F, Ht, Hi, Ri, Rf, DL)
    return False


@_inline
def remove(I, F, Ri, Q, out_app, r):
    """The server drops a queued request whose visitor left."""
    if Ri[r, R_STATE] == QUEUED:
        Ri[r, R_STATE] = GONE
        Q[Ri[r, R_INST], Q_WAIT] -= 1
        I[I_TWAIT] -= 1
        app_level(I, F, out_app)


@_inline
def finish(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_done, out_app, r):
    """Instance._finish; True if the request's visitor is to hear OK."""
    inst = Ri[r, R_INST]
    Q[inst, Q_BUSY] -= 1
    I[I_TBUSY] -= 1
    Ri[r, R_STATE] = FINISHED
    settled = Ri[r, R_OUT] == NONE
    if settled:
        Ri[r, R_OUT] = OK
        n = I[I_NDONE]
        out_done[n, 0], out_done[n, 1] = F[F_NOW], F[F_NOW] - Rf[r, RF_ARR]
        out_done[n, 2] = Ri[r, R_MEAS] + (2 if Ri[r, R_KIND] != ASSETS else 0)
        I[I_NDONE] = n + 1
        if Ri[r, R_MEAS]:
            total(T, T_COMPLETED, Ri[r, R_COUNT])
    elif Ri[r, R_MEAS]:
        total(T, T_WASTED, Ri[r, R_COUNT])
    qcap = Q.shape[1] - 4
    while Q[inst, Q_HEAD] < Q[inst, Q_TAIL]:
        nxt = Q[inst, 4 + Q[inst, Q_HEAD] % qcap]
        Q[inst, Q_HEAD] += 1
        if Ri[nxt, R_STATE] == QUEUED:
            Q[inst, Q_WAIT] -= 1
            I[I_TWAIT] -= 1
            start(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_app, nxt, False)
            unref(I, Ri, nxt)
            break
        unref(I, Ri, nxt)
    app_level(I, F, out_app)
    return settled and Ri[r, R_OWNER] >= 0


# -- the database pool (sim.engine.reference.db_pool.DbPool) -----------------------------------------------------
@_inline
def acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r):
    if I[I_DBBUSY] < I[I_CONNS]:
        I[I_DBBUSY] += 1
        db_level(I, F, out_db, I[I_DBT] - I[I_DBH])
        push_request(I, F, Ht, Hi, Ri, Rf[r, RF_Q + Ri[r, R_QI]], EV_RELEASED, r)
    else:
        DBW[I[I_DBT] % DBW.shape[0]] = r
        I[I_DBT] += 1
        Ri[r, R_REFS] += 1
        db_level(I, F, out_db, I[I_DBT] - I[I_DBH])


@_inline
def hand_over(I, F, Ht, Hi, Ri, Rf, DBW, out_db):
    """DbPool._released's first half: the connection to the next waiter, or back to the pool."""
    if I[I_DBH] < I[I_DBT]:
        nxt = DBW[I[I_DBH] % DBW.shape[0]]
        I[I_DBH] += 1
        db_level(I, F, out_db, I[I_DBT] - I[I_DBH])
        push_request(I, F, Ht, Hi, Ri, Rf[nxt, RF_Q + Ri[nxt, R_QI]], EV_RELEASED, nxt)
        unref(I, Ri, nxt)
    else:
        I[I_DBBUSY] -= 1
        db_level(I, F, out_db, 0)


@_inline
def released(I, F, Ht, Hi, Ri, Rf, Q, DBW, T, out_wait, out_done, out_app, out_db, r):
    """DbPool._released then Instance.queries_done; True if the request finished with news for a visitor."""
    hand_over(I, F, Ht, Hi, Ri, Rf, DBW, out_db)
    Ri[r, R_QI] += 1
    if Ri[r, R_QI] < Ri[r, R_NQ]:
        acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
        return False
    return finish(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_done, out_app, r)
