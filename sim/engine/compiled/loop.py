"""The compiled event loop: ``sim.engine.reference.model.Model`` and ``sim.engine.reference.app_tier`` transcribed for numba.

Every callback of the model is here, in the same order of effects: the same events
are scheduled in the same order (a heap of ``(time, seq)``, as ``sim.engine.fast.HeapClock``),
every time is ``now + delay``, and the recorder's inputs come out in the order the
model makes them (per-bin counts, totals, waits, completions, level changes). So one
seed gives the reference's results to the last bit (``tests/engine/test_compiled.py``).

State lives in arrays owned by ``sim.engine.compiled.driver``: the loop runs until a time, or
returns early, between two visitors or two events, when an array needs room (status ``ROOM``) or the next arrival window must be drawn (status
``WINDOW``); the driver then grows, flushes or draws, and calls again. Requests and
visitors live in slots with free lists; a request's slot is reference-counted by the
heap entries and queues that hold it, as Python's would be by its references.
Visitors' step plans live in an arena, a block per arrival window (``W_SBASE``).

The site's parts are in ``sim.engine.compiled.site`` (the signature queue and the landing
page's edge TTL in ``sim.engine.compiled.sigqueue``), the waiting room in ``sim.engine.compiled.room``, the arrays' layout in
``sim.engine.compiled.layout``; here are the visitors and the loop.
"""

from __future__ import annotations

import math

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import inline as _inline, jit as _jit
from sim.engine.compiled.room import room_enter, room_event, room_has_room, room_session
from sim.engine.compiled.autoscale import autoscale_event, autoscale_room
from sim.engine.compiled.site import (acquire, arm, arrive, count, failed, finish, new_request, pop_root, push, released, remove,
                               submit, total, unref)
from sim.engine.compiled.sigqueue import enqueue, landing_hit, released_signature, sq_room, written

__all__ = ["run_loop"]


# -- visitors (sim.engine.reference.model.Model) ---------------------------------------------------------------
@_jit
def leave(I, F, Ht, Hi, Vi, Wt, C, T, edges, WD, rng, v, outcome):
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
    if I[I_WR_METHOD] >= 0:
        room_session(I, F, Ht, Hi, WD, rng)


@_inline
def visitor_chain(I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, A, Q, X, DL, C, T, edges, out_wait, out_app, retry, bal_u,
                  WD, rng, SQ, sq_d, out_sq, v, act, res):
    """_step / _result / _fetch_asset / _asset_done / _next of one visitor until it waits for something."""
    while True:
        now = F[F_NOW]
        w = Vi[v, V_WIN]
        s = Wt[w, W_SBASE] + Vi[v, V_S]
        kind = Si[s, S_KIND]
        measured_now = now >= F[F_WARMUP]
        if act == STEP:
            count(F, C, edges, C_PAGE_VIEWS if kind == PAGE else C_SUBMITS, now, 1)
            if measured_now:
                total(T, T_PV_ATTEMPTED if kind == PAGE else T_SUBMITS, 1)
            if kind == PAGE:
                html = Si[s, S_HTML]
                if html == BY_TTL:
                    html = landing_hit(F)
                hits = I[I_RPP] - 1 - Si[s, S_ASSETS] + html
                if hits:
                    count(F, C, edges, C_CDN_HITS, now, hits)
                    if measured_now:
                        total(T, T_CDN_HITS, hits)
                if html:
                    act, res = RESULT, OK
                    continue
            r = new_request(I, F, Ri, Rf, kind, 1, Sf[s, SF_SERV], v)
            nq = Si[s, S_NQ]
            Ri[r, R_NQ] = nq
            for j in range(nq):
                Rf[r, RF_Q + j] = Sf[s, SF_Q + j]
            refused = submit(I, F, Ht, Hi, Ri, Rf, Q, X, DL, C, T, edges, out_wait, out_app, bal_u, r, Vf[v])
            if Ri[r, R_REFS] == 0:  # a 503: nobody holds it
                Ri[r, R_REFS] = 1
                unref(I, Ri, r)
            if refused:
                act, res = RESULT, REJECTED
                continue
            return
        if act == FETCH:  # Model._fetch_asset
            r = new_request(I, F, Ri, Rf, ASSETS, 1, A[Wt[w, W_ABASE] + Vi[v, V_A]], v)
            refused = submit(I, F, Ht, Hi, Ri, Rf, Q, X, DL, C, T, edges, out_wait, out_app, bal_u, r, math.inf)
            if Ri[r, R_REFS] == 0:
                Ri[r, R_REFS] = 1
                unref(I, Ri, r)
            if refused:
                act = ASSET_DONE
                continue
            return
        if act == ASSET_DONE:  # Model._asset_done
            Vi[v, V_A] += 1
            act = FETCH if Vi[v, V_A] < Vi[v, V_AEND] else NEXT
            continue
        if act == NEXT:  # Model._next
            Vi[v, V_S] += 1
            if Vi[v, V_S] == Vi[v, V_END]:
                leave(I, F, Ht, Hi, Vi, Wt, C, T, edges, WD, rng, v, SERVED)
                return
            think = Sf[s + 1, SF_THINK]
            if think > 0:
                push(I, F, Ht, Hi, think, EV_STEP, v)
                return
            act = STEP
            continue
        # RESULT (Model._result)
        if res == OK:
            count(F, C, edges, C_COMPLETED if kind == PAGE else C_ACTIONS_COMPLETED, now, 1)
            if measured_now:
                total(T, T_PV_COMPLETED if kind == PAGE else T_ACT_COMPLETED, 1)
            if kind == SUBMIT:
                Vi[v, V_ACTED] = 1
                if I[I_SQ_ON]:  # answered: the signature waits for a writer
                    enqueue(I, F, Ht, Hi, Ri, Rf, Sf, T, SQ, sq_d, out_sq, s)
            if kind == PAGE and Si[s, S_ASSETS] > 0:
                Vi[v, V_A] = Si[s, S_AFIRST]
                Vi[v, V_AEND] = Si[s, S_AFIRST] + Si[s, S_ASSETS]
                act = FETCH
            else:
                act = NEXT
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
        leave(I, F, Ht, Hi, Vi, Wt, C, T, edges, WD, rng, v, ABANDONED if res == ABANDONED else FAILED)
        return


@_inline
def room(I, Ht, Ri, Vi, Q, X, DL, DBW, out_wait, out_done, out_app, out_db, out_cap, retry, bal_u, as_extra,
         SQ, sq_d, out_sq):
    """Every array has HEADROOM free entries: enough for one event or one visitor's arrival."""
    if not (I[I_HN] + HEADROOM <= Ht.shape[0] and I[I_RUSED] + HEADROOM <= Ri.shape[0]
            and I[I_VUSED] + HEADROOM <= Vi.shape[0]
            and I[I_DLT] - I[I_DLH] + HEADROOM <= DL.shape[0] and I[I_DBT] - I[I_DBH] + HEADROOM <= DBW.shape[0]
            and I[I_NWAIT] + HEADROOM <= out_wait.shape[0] and I[I_NDONE] + HEADROOM <= out_done.shape[0]
            and I[I_NAPP] + HEADROOM <= out_app.shape[0] and I[I_NDB] + HEADROOM <= out_db.shape[0]
            and I[I_RETRY_POS] + HEADROOM <= retry.shape[0]
            and I[I_BAL_POS] + HEADROOM + I[I_RPP] <= bal_u.shape[0]  # a pick per asset of a page
            and sq_room(I, SQ, sq_d, out_sq)):
        return False
    if I[I_AS_MAX] and not autoscale_room(I, Ht, X, Q, out_app, out_cap, as_extra):
        return False
    qcap = Q.shape[1] - 4
    for j in range(I[I_AS_NR]):  # only routable instances take new requests
        k = X[j, X_RT]
        if Q[k, Q_TAIL] - Q[k, Q_HEAD] + HEADROOM > qcap:
            return False
    return True


@_jit
def run_loop(until, I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, A, Q, X, XF, DL, DBW, C, T, edges,
             out_wait, out_done, out_app, out_db, out_cap, retry, bal_u, cw_f, cw_i, as_extra,
             WQ, WQf, WP, WD, out_room, rng, SQ, sq_d, out_sq):
    """Run events before ``until``; OK_STATUS when there, ROOM or WINDOW when the driver must act.

    ``cw_f`` and ``cw_i`` are the arriving window's visitors: (arrival time, patience) and
    (first step, means to act), the latter one row longer (the end of the last visitor's steps).
    ``WQ`` .. ``rng``: the waiting room's arrays and stream (``sim.engine.compiled.room``).
    ``SQ``, ``sq_d`` and ``out_sq`` are the signature queue's (``sim.engine.compiled.sigqueue``).
    ``X``, ``XF``, ``out_cap`` and ``as_extra`` are the instances' and the autoscaler's (``sim.engine.compiled.autoscale``).
    """
    i = -1  # next visitor of the arriving window to let in (-1: none now)
    if I[I_PENDING] == P_ARRIVALS:
        I[I_PENDING] = P_NONE
        i = I[I_CW_I]
    while True:
        v, act, res, rearm = -1, STEP, OK, False  # the visitor to carry on with, if any
        if i >= 0:  # Model._arrivals: visitors due now, then a timer for the next (or the next window)
            if i < I[I_CW_N]:
                if not (room(I, Ht, Ri, Vi, Q, X, DL, DBW, out_wait, out_done, out_app, out_db, out_cap, retry, bal_u,
                             as_extra, SQ, sq_d, out_sq) and room_has_room(I, WQ, out_room)):
                    I[I_PENDING], I[I_CW_I] = P_ARRIVALS, i
                    return ROOM
                if cw_f[i, 0] > F[F_NOW]:
                    push(I, F, Ht, Hi, cw_f[i, 0] - F[F_NOW], EV_ARRIVAL, i)
                    i = -1
                    continue
                v = I[I_VFREE]  # a new visitor (as in Model._arrivals)
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
                if I[I_WR_METHOD] >= 0 and not room_enter(I, F, Ht, Hi, Vi, Wt, C, T, edges, WQ, WQf, WP, WD,
                                                          out_room, rng, v):
                    v = -1  # waits in the room, or was turned away
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
            if not (room(I, Ht, Ri, Vi, Q, X, DL, DBW, out_wait, out_done, out_app, out_db, out_cap, retry, bal_u,
                         as_extra, SQ, sq_d, out_sq) and room_has_room(I, WQ, out_room)):
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
            if kind == EV_AS_TICK or kind == EV_AS_READY:
                autoscale_event(I, F, Ht, Hi, Q, X, XF, out_app, out_cap, kind, arg)
                continue
            if kind == EV_STEP:
                v = arg
            elif kind == EV_WR_SESSION or kind == EV_WR_QUEUE:
                v = room_event(I, F, Ht, Hi, Vi, Wt, C, T, edges, WQ, WQf, WP, out_room, rng, kind, arg)
            else:
                r = arg
                if kind == EV_FINISH:
                    if finish(I, F, Ht, Hi, Ri, Rf, Q, T, out_wait, out_done, out_app, r):
                        v, act = Ri[r, R_OWNER], (ASSET_DONE if Ri[r, R_KIND] == ASSETS else RESULT)
                elif kind == EV_QUERIES:
                    acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
                elif kind == EV_RELEASED:
                    if Ri[r, R_INST] < 0:  # a signature's query: it has no instance
                        released_signature(I, F, Ht, Hi, Ri, Rf, DBW, out_db, T, SQ, sq_d, out_sq, r)
                    elif released(I, F, Ht, Hi, Ri, Rf, Q, DBW, T, out_wait, out_done, out_app, out_db, r):
                        v, act = Ri[r, R_OWNER], RESULT
                elif kind == EV_SQ_WRITTEN:
                    written(I, F, Ht, Hi, Ri, Rf, DBW, out_db, T, SQ, sq_d, out_sq, r)
                elif kind == EV_SYN:  # Instance._syn_timer
                    X[Ri[r, R_INST], X_SYN] -= 1
                    if Ri[r, R_OUT] != NONE:  # the visitor gave up, or a 504 came
                        Ri[r, R_STATE] = GONE
                    elif Ri[r, R_SYN] > I[I_SYNS] or X[Ri[r, R_INST], X_ROLE] == X_RETIRED:  # unanswered, or retired
                        Ri[r, R_STATE], Ri[r, R_OUT] = GONE, REJECTED
                        failed(F, Ri, C, T, edges, C_REJECTED, T_REJECTED, r)
                        v, res = Ri[r, R_OWNER], REJECTED
                        act = ASSET_DONE if Ri[r, R_KIND] == ASSETS else RESULT
                    else:  # never refused here: a full backlog drops the SYN again
                        arrive(I, F, Ht, Hi, Ri, Rf, Q, X, C, T, edges, out_wait, out_app, r)
                elif kind == EV_GAVE_UP:  # AppTier._gave_up
                    state = Ri[r, R_STATE]
                    if (state == QUEUED or state == CONNECTING) and Ri[r, R_OUT] == NONE:
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
                        v, res = Ri[r, R_OWNER], TIMED_OUT
                        act = ASSET_DONE if Ri[r, R_KIND] == ASSETS else RESULT
                unref(I, Ri, r)  # the heap entry's reference
        if v >= 0:  # the one place a visitor goes on: inlined here
            visitor_chain(I, F, Ht, Hi, Ri, Rf, Vi, Vf, Wt, Si, Sf, A, Q, X, DL, C, T, edges, out_wait, out_app, retry,
                          bal_u, WD, rng, SQ, sq_d, out_sq, v, act, res)
        if rearm:
            arm(I, F, Ht, Hi, Ri, Rf, DL)
    F[F_NOW] = until
    return OK_STATUS
