"""The compiled event loop: ``sim.engine._Model`` and ``sim.site`` transcribed for numba.

Every callback of the model is here, in the same order of effects: the same events
are scheduled in the same order (a heap of ``(time, seq)``, as ``sim.fast.HeapClock``),
every time is ``now + delay``, and the recorder's inputs come out in the order the
model makes them (per-bin counts, totals, waits, completions, level changes). So one
seed gives the reference's results to the last bit (``tests/test_fast_jit.py``).

State lives in arrays owned by ``sim.fast_jit`` (the layout constants below): the loop
runs until a time, or returns early, between two visitors or two events, when an
array needs room (status ``ROOM``) or the next arrival window must be drawn (status
``WINDOW``); the driver then grows, flushes or draws, and calls again. Requests and
visitors live in slots with free lists; a request's slot is reference-counted by the
heap entries and queues that hold it, as Python's would be by its references.
Visitors' step plans live in an arena, a block per arrival window (``W_SBASE``).

Each function takes only the arrays it touches: numba passes an array as several
machine words, and a call carrying every array costs more than the event it serves
(``benchmarks/README.md``). Small helpers are inlined into their callers.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["run_loop", "OK_STATUS", "ROOM", "WINDOW"]

_jit = numba.njit(cache=True, _nrt=False)  # nothing is allocated: no reference counting needed
_inline = numba.njit(cache=True, _nrt=False, inline="always")

OK_STATUS, ROOM, WINDOW = 0, 1, 2
HEADROOM = 64  # free entries every array keeps before an event or a visitor is processed

# Scalars: I (int64) and F (float64).
I_SEQ, I_HN, I_RR, I_TBUSY, I_TWAIT, I_DBBUSY, I_ARMED, I_DLH, I_DLT, I_DBH, I_DBT = range(11)
I_RFREE, I_RUSED, I_VFREE, I_VUSED, I_RETRY_POS, I_BAL_POS, I_NWAIT, I_NDONE, I_NAPP, I_NDB = range(11, 21)
I_PENDING, I_CW, I_CW_I, I_CW_N, I_ARRIVED = range(21, 26)
I_WORKERS, I_QLIM, I_POLICY, I_CONNS, I_DROP, I_RPP, I_RMAX = range(30, 37)
I_SIZE = 40
F_NOW, F_ABWAIT, F_WIN_T0, F_CW_END = range(4)
F_TIMEOUT, F_WARMUP, F_DURATION, F_BIN, F_RETRY_P = range(10, 15)
F_SIZE = 16
# Request slots: int fields, float fields (arrival, service, then the queries).
R_KIND, R_COUNT, R_NQ, R_QI, R_STATE, R_OUT, R_INST, R_MEAS, R_OWNER, R_REFS, R_NEXT = range(11)
R_INTS = 11
RF_ARR, RF_SERV, RF_Q = 0, 1, 2
# Visitor slots.
V_WIN, V_S, V_END, V_RET, V_MEAS, V_INT, V_ACTED, V_NEXT = range(8)
V_INTS = 8
# Arrival windows: the arena block of their steps, and their visitors still on the site.
W_SBASE, W_LIVE, W_STEPS = range(3)  # W_STEPS 0: a free slot
# Step arena: int fields, float fields (think, service, asset service, then the queries).
S_KIND, S_HTML, S_ASSETS, S_NQ = range(4)
SF_THINK, SF_SERV, SF_ASERV, SF_Q = range(4)
# Instance queue rings: head, tail, busy, waiting.
Q_HEAD, Q_TAIL, Q_BUSY, Q_WAIT = range(4)
# Pending work when the loop was left: arrivals of the current window to go on with.
P_NONE, P_ARRIVALS = 0, 2

# Events (the model's callbacks), request kinds, states and outcomes (as sim.site).
EV_ARRIVAL, EV_WINDOW, EV_STEP, EV_FINISH, EV_QUERIES, EV_RELEASED, EV_GAVE_UP, EV_DEADLINE = range(8)
PAGE, SUBMIT, ASSETS = 0, 1, 2
QUEUED, SERVING, FINISHED, GONE = range(4)
NONE, OK, REJECTED, TIMED_OUT, ABANDONED = range(5)
SERVED, FAILED = 1, 2  # a visitor's end (ABANDONED as above)
ROUND_ROBIN, LEAST_CONNECTIONS, RANDOM = range(3)
STEP, RESULT = 0, 1

# Per-bin counters (C: a row per name, the last column says the name was touched) and totals
# (T: row 0 the value, row 1 touched), named as the recorder names them.
COUNTS = ("page_views", "submits", "cdn_hits", "completed", "actions_completed", "origin_requests",
          "rejected", "timed_out", "abandoned", "visitors_failed", "visitors_abandoned", "actions_lost",
          "retries")
(C_PAGE_VIEWS, C_SUBMITS, C_CDN_HITS, C_COMPLETED, C_ACTIONS_COMPLETED, C_ORIGIN, C_REJECTED, C_TIMED_OUT,
 C_ABANDONED, C_V_FAILED, C_V_ABANDONED, C_ACTIONS_LOST, C_RETRIES) = range(len(COUNTS))
TOTALS = ("page_views.attempted", "actions.submits", "requests.cdn_hits", "page_views.completed",
          "actions.completed", "requests.arrived", "requests.started", "requests.completed", "requests.wasted",
          "requests.rejected", "requests.timed_out", "requests.abandoned", "visitors.retries", "visitors.served",
          "visitors.failed", "visitors.abandoned", "actions.lost")
(T_PV_ATTEMPTED, T_SUBMITS, T_CDN_HITS, T_PV_COMPLETED, T_ACT_COMPLETED, T_ARRIVED, T_STARTED, T_COMPLETED,
 T_WASTED, T_REJECTED, T_TIMED_OUT, T_ABANDONED, T_RETRIES, T_SERVED, T_V_FAILED, T_V_ABANDONED,
 T_LOST) = range(len(TOTALS))



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
    if t < edges[b]:  # as sim.metrics._Bins.index
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


# -- the app tier (sim.site.AppTier, Instance) ---------------------------------------------
@_inline
def route(I, Q, bal_u):
    n = Q.shape[0]
    if n == 1:
        return 0
    policy = I[I_POLICY]
    if policy == ROUND_ROBIN:
        I[I_RR] = (I[I_RR] + 1) % n
        return I[I_RR]
    if policy == LEAST_CONNECTIONS:
        best, best_n = 0, Q[0, Q_BUSY] + Q[0, Q_WAIT]
        for i in range(1, n):
            k = Q[i, Q_BUSY] + Q[i, Q_WAIT]
            if k < best_n:
                best, best_n = i, k
        return best
    u = bal_u[I[I_BAL_POS]]
    I[I_BAL_POS] += 1
    return min(int(u * n), n - 1)


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


@_jit
def submit(I, F, Ht, Hi, Ri, Rf, Q, DL, C, T, edges, out_wait, out_app, bal_u, r, patience):
    """AppTier.submit and Instance.arrive; True if refused at once (a 503: the caller tells the visitor)."""
    now = F[F_NOW]
    count(F, C, edges, C_ORIGIN, now, Ri[r, R_COUNT])
    if Ri[r, R_MEAS]:
        total(T, T_ARRIVED, Ri[r, R_COUNT])
    inst = route(I, Q, bal_u)
    Ri[r, R_INST] = inst
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
    else:
        Ri[r, R_STATE], Ri[r, R_OUT] = GONE, REJECTED
        count(F, C, edges, C_REJECTED, now, Ri[r, R_COUNT])
        if Ri[r, R_MEAS]:
            total(T, T_REJECTED, Ri[r, R_COUNT])
        return True
    if Ri[r, R_STATE] == QUEUED and patience != math.inf:
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
def failed(F, Ri, C, T, edges, name, total_name, r):
    count(F, C, edges, name, F[F_NOW], Ri[r, R_COUNT])
    if Ri[r, R_MEAS]:
        total(T, total_name, Ri[r, R_COUNT])


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


# -- the database pool (sim.site.DbPool) -----------------------------------------------------
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
def released(I, F, Ht, Hi, Ri, Rf, Q, DBW, T, out_wait, out_done, out_app, out_db, r):
    """DbPool._released then Instance.queries_done; True if the request finished with news for a visitor."""
    if I[I_DBH] < I[I_DBT]:
        nxt = DBW[I[I_DBH] % DBW.shape[0]]
        I[I_DBH] += 1
        db_level(I, F, out_db, I[I_DBT] - I[I_DBH])
        push_request(I, F, Ht, Hi, Ri, Rf[nxt, RF_Q + Ri[nxt, R_QI]], EV_RELEASED, nxt)
        unref(I, Ri, nxt)
    else:
        I[I_DBBUSY] -= 1
        db_level(I, F, out_db, 0)
    Ri[r, R_QI] += 1
    if Ri[r, R_QI] < Ri[r, R_NQ]:
        acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
        return False
    return finish(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_done, out_app, r)


# -- visitors (sim.engine._Model) ---------------------------------------------------------------
@_jit
def leave(I, F, Vi, Wt, C, T, edges, v, outcome):
    now = F[F_NOW]
    if outcome == FAILED:
        count(F, C, edges, C_V_FAILED, now, 1)
    elif outcome == ABANDONED:
        count(F, C, edges, C_V_ABANDONED, now, 1)
    lost = 1 if Vi[v, V_INT] and not Vi[v, V_ACTED] else 0
    if lost:
        count(F, C, edges, C_ACTIONS_LOST, now, 1)
    if Vi[v, V_MEAS]:
        total(T, T_SERVED if outcome == SERVED else (T_V_FAILED if outcome == FAILED else T_V_ABANDONED), 1)
        total(T, T_LOST, lost)
    Wt[Vi[v, V_WIN], W_LIVE] -= 1
    Vi[v, V_NEXT] = I[I_VFREE]
    I[I_VFREE] = v
    I[I_VUSED] -= 1


@_inline
def visitor_chain(I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, Q, DL, C, T, edges, out_wait, out_app, retry, bal_u,
                  v, act, res):
    """_step / _result of one visitor until it waits for something (each calls the other last)."""
    while True:
        now = F[F_NOW]
        s = Wt[Vi[v, V_WIN], W_SBASE] + Vi[v, V_S]
        kind = Si[s, S_KIND]
        measured_now = now >= F[F_WARMUP]
        if act == STEP:
            count(F, C, edges, C_PAGE_VIEWS if kind == PAGE else C_SUBMITS, now, 1)
            if measured_now:
                total(T, T_PV_ATTEMPTED if kind == PAGE else T_SUBMITS, 1)
            if kind == PAGE:
                hits = I[I_RPP] - 1 - Si[s, S_ASSETS] + Si[s, S_HTML]
                if hits:
                    count(F, C, edges, C_CDN_HITS, now, hits)
                    if measured_now:
                        total(T, T_CDN_HITS, hits)
                if Si[s, S_HTML]:
                    act, res = RESULT, OK
                    continue
            r = new_request(I, F, Ri, Rf, kind, 1, Sf[s, SF_SERV], v)
            nq = Si[s, S_NQ]
            Ri[r, R_NQ] = nq
            for j in range(nq):
                Rf[r, RF_Q + j] = Sf[s, SF_Q + j]
            refused = submit(I, F, Ht, Hi, Ri, Rf, Q, DL, C, T, edges, out_wait, out_app, bal_u, r, Vf[v])
            if Ri[r, R_REFS] == 0:  # a 503: nobody holds it
                Ri[r, R_REFS] = 1
                unref(I, Ri, r)
            if refused:
                act, res = RESULT, REJECTED
                continue
            return
        # RESULT
        if res == OK and kind == PAGE and Si[s, S_ASSETS] > 0:
            b = new_request(I, F, Ri, Rf, ASSETS, Si[s, S_ASSETS], Sf[s, SF_ASERV], -1)
            submit(I, F, Ht, Hi, Ri, Rf, Q, DL, C, T, edges, out_wait, out_app, bal_u, b, math.inf)
            if Ri[b, R_REFS] == 0:
                Ri[b, R_REFS] = 1
                unref(I, Ri, b)
        if res == OK:
            count(F, C, edges, C_COMPLETED if kind == PAGE else C_ACTIONS_COMPLETED, now, 1)
            if measured_now:
                total(T, T_PV_COMPLETED if kind == PAGE else T_ACT_COMPLETED, 1)
            if kind == SUBMIT:
                Vi[v, V_ACTED] = 1
            Vi[v, V_S] += 1
            if Vi[v, V_S] == Vi[v, V_END]:
                leave(I, F, Vi, Wt, C, T, edges, v, SERVED)
                return
            think = Sf[s + 1, SF_THINK]
            if think > 0:
                push(I, F, Ht, Hi, think, EV_STEP, v)
                return
            act = STEP
            continue
        if Vi[v, V_RET] > 0:
            pos = I[I_RETRY_POS]
            I[I_RETRY_POS] = pos + 1
            if retry[pos, 0] < F[F_RETRY_P]:
                Vi[v, V_RET] -= 1
                count(F, C, edges, C_RETRIES, now, 1)
                if measured_now:
                    total(T, T_RETRIES, 1)
                push(I, F, Ht, Hi, retry[pos, 1], EV_STEP, v)
                return
        leave(I, F, Vi, Wt, C, T, edges, v, ABANDONED if res == ABANDONED else FAILED)
        return


@_inline
def room(I, Ht, Ri, Vi, Q, DL, DBW, out_wait, out_done, out_app, out_db, retry, bal_u):
    """Every array has HEADROOM free entries: enough for one event or one visitor's arrival."""
    if not (I[I_HN] + HEADROOM <= Ht.shape[0] and I[I_RUSED] + HEADROOM <= Ri.shape[0]
            and I[I_VUSED] + HEADROOM <= Vi.shape[0]
            and I[I_DLT] - I[I_DLH] + HEADROOM <= DL.shape[0] and I[I_DBT] - I[I_DBH] + HEADROOM <= DBW.shape[0]
            and I[I_NWAIT] + HEADROOM <= out_wait.shape[0] and I[I_NDONE] + HEADROOM <= out_done.shape[0]
            and I[I_NAPP] + HEADROOM <= out_app.shape[0] and I[I_NDB] + HEADROOM <= out_db.shape[0]
            and I[I_RETRY_POS] + HEADROOM <= retry.shape[0] and I[I_BAL_POS] + HEADROOM <= bal_u.shape[0]):
        return False
    qcap = Q.shape[1] - 4
    for k in range(Q.shape[0]):
        if Q[k, Q_TAIL] - Q[k, Q_HEAD] + HEADROOM > qcap:
            return False
    return True


@_jit
def run_loop(until, I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, Q, DL, DBW, C, T, edges,
             out_wait, out_done, out_app, out_db, retry, bal_u, cw_f, cw_i):
    """Run events before ``until``; OK_STATUS when there, ROOM or WINDOW when the driver must act.

    ``cw_f`` and ``cw_i`` are the arriving window's visitors: (arrival time, patience) and
    (first step, means to act), the latter one row longer (the end of the last visitor's steps).
    """
    i = -1  # next visitor of the arriving window to let in (-1: none now)
    if I[I_PENDING] == P_ARRIVALS:
        I[I_PENDING] = P_NONE
        i = I[I_CW_I]
    while True:
        v, act, res, rearm = -1, STEP, OK, False  # the visitor to carry on with, if any
        if i >= 0:  # _Model._arrivals: visitors due now, then a timer for the next (or the next window)
            if i < I[I_CW_N]:
                if not room(I, Ht, Ri, Vi, Q, DL, DBW, out_wait, out_done, out_app, out_db, retry, bal_u):
                    I[I_PENDING], I[I_CW_I] = P_ARRIVALS, i
                    return ROOM
                if cw_f[i, 0] > F[F_NOW]:
                    push(I, F, Ht, Hi, cw_f[i, 0] - F[F_NOW], EV_ARRIVAL, i)
                    i = -1
                    continue
                v = I[I_VFREE]  # a new visitor (_Model._visitor)
                I[I_VFREE] = Vi[v, V_NEXT]
                I[I_VUSED] += 1
                w = I[I_CW]
                Vi[v, V_WIN], Vi[v, V_S], Vi[v, V_END] = w, cw_i[i, 0], cw_i[i + 1, 0]
                Vi[v, V_RET] = I[I_RMAX]
                Vi[v, V_MEAS] = 1 if F[F_NOW] >= F[F_WARMUP] else 0
                Vi[v, V_INT], Vi[v, V_ACTED] = cw_i[i, 1], 0
                Vf[v] = cw_f[i, 1]
                Wt[w, W_LIVE] += 1
                i += 1
                I[I_ARRIVED] = i
            else:  # the window's last visitor is in
                i = -1
                end = F[F_CW_END]
                if end > F[F_NOW]:
                    push(I, F, Ht, Hi, end - F[F_NOW], EV_WINDOW, 0)
                elif end < F[F_DURATION]:
                    F[F_WIN_T0] = end  # _window(end) called at once
                    return WINDOW
                continue
        else:
            if I[I_HN] == 0 or Ht[0] >= until:
                break
            if not room(I, Ht, Ri, Vi, Q, DL, DBW, out_wait, out_done, out_app, out_db, retry, bal_u):
                return ROOM
            F[F_NOW] = Ht[0]
            kind, arg = Hi[0, 1], Hi[0, 2]
            pop_root(I, Ht, Hi)
            if kind == EV_ARRIVAL:
                i = arg
                continue
            if kind == EV_WINDOW:
                F[F_WIN_T0] = F[F_CW_END]
                if F[F_WIN_T0] < F[F_DURATION]:
                    return WINDOW
                continue
            if kind == EV_STEP:
                v = arg
            else:
                r = arg
                if kind == EV_FINISH:
                    if finish(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_done, out_app, r):
                        v, act = Ri[r, R_OWNER], RESULT
                elif kind == EV_QUERIES:
                    acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
                elif kind == EV_RELEASED:
                    if released(I, F, Ht, Hi, Ri, Rf, Q, DBW, T, out_wait, out_done, out_app, out_db, r):
                        v, act = Ri[r, R_OWNER], RESULT
                elif kind == EV_GAVE_UP:  # AppTier._gave_up
                    if Ri[r, R_STATE] == QUEUED and Ri[r, R_OUT] == NONE:
                        Ri[r, R_OUT] = ABANDONED
                        failed(F, Ri, C, T, edges, C_ABANDONED, T_ABANDONED, r)
                        if Ri[r, R_MEAS]:
                            F[F_ABWAIT] += F[F_NOW] - Rf[r, RF_ARR]
                        if I[I_DROP]:
                            remove(I, F, Ri, Q, out_app, r)
                        v, act, res = Ri[r, R_OWNER], RESULT, ABANDONED
                else:  # EV_DEADLINE (AppTier._deadline): r is the head of the deadlines; re-arm after
                    I[I_DLH] += 1
                    unref(I, Ri, r)
                    rearm = True
                    state = Ri[r, R_STATE]
                    if state != FINISHED and state != GONE and Ri[r, R_OUT] == NONE:
                        Ri[r, R_OUT] = TIMED_OUT
                        failed(F, Ri, C, T, edges, C_TIMED_OUT, T_TIMED_OUT, r)
                        if state == QUEUED and I[I_DROP]:
                            remove(I, F, Ri, Q, out_app, r)
                        if Ri[r, R_OWNER] >= 0:
                            v, act, res = Ri[r, R_OWNER], RESULT, TIMED_OUT
                unref(I, Ri, r)  # the heap entry's reference
        if v >= 0:  # the one place a visitor goes on: inlined here
            visitor_chain(I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, Q, DL, C, T, edges, out_wait, out_app, retry,
                          bal_u, v, act, res)
        if rearm:
            arm(I, F, Ht, Hi, Ri, Rf, DL)
    F[F_NOW] = until
    return OK_STATUS
