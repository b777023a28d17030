"""The compiled event loop: ``sim.engine.reference.model.Model`` and ``sim.engine.reference.app_tier`` transcribed for numba.

Every callback of the model is here, in the same order of effects: the same events
are scheduled in the same order (a heap of ``(time, seq)``, as ``sim.engine.fast.HeapClock``),
every time is ``now + delay``, and the recorder's inputs come out in the order the
model makes them (per-bin counts, totals, waits, completions, level changes). So one
seed gives the reference's results to the last bit (``tests/engine/test_compiled.py``).

State lives in arrays owned by ``sim.engine.compiled.driver``: the loop runs until a time, or
returns early, between two visitors or two events, when an array needs growing (status ``GROW``) or the next
arrival window must be drawn (status ``WINDOW``); the driver then grows, flushes or draws, and calls again. Requests and
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
from sim.engine.compiled.room import room_enter, room_event, room_has_headroom, room_session
from sim.engine.compiled.autoscale import autoscale_event, autoscale_has_headroom
from sim.engine.compiled.site import (acquire, arm, arrive, count, failed, finish, new_request, pop_root, push, released, remove,
                               submit, total, unref)
from sim.engine.compiled.sigqueue import enqueue, landing_hit, released_signature, sq_has_headroom, written

__all__ = ["run_loop"]


# -- visitors (sim.engine.reference.model.Model) ---------------------------------------------------------------
@_jit
def leave(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_laws, rng, v, outcome):
    now = floats[F_NOW]
    if outcome == FAILED:
        count(floats, counts, edges, C_V_FAILED, now, 1)
    elif outcome == ABANDONED:
        count(floats, counts, edges, C_V_ABANDONED, now, 1)
    lost = 1 if vis_i[v, V_INT] and not vis_i[v, V_ACTED] else 0
    if lost:
        count(floats, counts, edges, C_ACTIONS_LOST, now, 1)
    if vis_i[v, V_MEAS]:
        total(totals, T_SERVED if outcome == SERVED else (T_V_FAILED if outcome == FAILED else T_V_ABANDONED), 1)
        total(totals, T_LOST, lost)
    win_table[vis_i[v, V_WIN], W_LIVE] -= 1
    vis_i[v, V_NEXT] = ints[I_VFREE]
    ints[I_VFREE] = v
    ints[I_VUSED] -= 1
    if ints[I_WR_METHOD] >= 0:
        room_session(ints, floats, heap_t, heap_i, room_laws, rng)


@_inline
def visitor_chain(ints, floats, heap_t, heap_i, req_i, req_f, vis_i, vis_patience, win_table, step_i, step_f,
                  asset_arena, queues, instance_table, deadlines, counts, totals, edges, out_wait, out_app, retry,
                  balancer_u, room_laws, rng, sig_ring, sig_write_s, out_sig, v, act, res):
    """_step / _result / _fetch_asset / _asset_done / _next of one visitor until it waits for something."""
    while True:
        now = floats[F_NOW]
        w = vis_i[v, V_WIN]
        s = win_table[w, W_SBASE] + vis_i[v, V_S]
        kind = step_i[s, S_KIND]
        measured_now = now >= floats[F_WARMUP]
        if act == STEP:
            count(floats, counts, edges, C_PAGE_VIEWS if kind == PAGE else C_SUBMITS, now, 1)
            if measured_now:
                total(totals, T_PV_ATTEMPTED if kind == PAGE else T_SUBMITS, 1)
            if kind == PAGE:
                html = step_i[s, S_HTML]
                if html == BY_TTL:
                    html = landing_hit(floats)
                hits = ints[I_RPP] - 1 - step_i[s, S_ASSETS] + html
                if hits:
                    count(floats, counts, edges, C_CDN_HITS, now, hits)
                    if measured_now:
                        total(totals, T_CDN_HITS, hits)
                if html:
                    act, res = RESULT, OK
                    continue
            r = new_request(ints, floats, req_i, req_f, kind, 1, step_f[s, SF_SERV], v)
            nq = step_i[s, S_NQ]
            req_i[r, R_NQ] = nq
            for j in range(nq):
                req_f[r, RF_Q + j] = step_f[s, SF_Q + j]
            refused = submit(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, deadlines, counts,
                             totals, edges, out_wait, out_app, balancer_u, r, vis_patience[v])
            if req_i[r, R_REFS] == 0:  # a 503: nobody holds it
                req_i[r, R_REFS] = 1
                unref(ints, req_i, r)
            if refused:
                act, res = RESULT, REJECTED
                continue
            return
        if act == FETCH:  # Model._fetch_asset
            r = new_request(ints, floats, req_i, req_f, ASSETS, 1, asset_arena[win_table[w, W_ABASE] + vis_i[v, V_A]],
                            v)
            refused = submit(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, deadlines, counts,
                             totals, edges, out_wait, out_app, balancer_u, r, math.inf)
            if req_i[r, R_REFS] == 0:
                req_i[r, R_REFS] = 1
                unref(ints, req_i, r)
            if refused:
                act = ASSET_DONE
                continue
            return
        if act == ASSET_DONE:  # Model._asset_done
            vis_i[v, V_A] += 1
            act = FETCH if vis_i[v, V_A] < vis_i[v, V_AEND] else NEXT
            continue
        if act == NEXT:  # Model._next
            vis_i[v, V_S] += 1
            if vis_i[v, V_S] == vis_i[v, V_END]:
                leave(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_laws, rng, v, SERVED)
                return
            think = step_f[s + 1, SF_THINK]
            if think > 0:
                push(ints, floats, heap_t, heap_i, think, EV_STEP, v)
                return
            act = STEP
            continue
        # RESULT (Model._result)
        if res == OK:
            count(floats, counts, edges, C_COMPLETED if kind == PAGE else C_ACTIONS_COMPLETED, now, 1)
            if measured_now:
                total(totals, T_PV_COMPLETED if kind == PAGE else T_ACT_COMPLETED, 1)
            if kind == SUBMIT:
                vis_i[v, V_ACTED] = 1
                if ints[I_SQ_ON]:  # answered: the signature waits for a writer
                    enqueue(ints, floats, heap_t, heap_i, req_i, req_f, step_f, totals, sig_ring, sig_write_s, out_sig,
                            s)
            if kind == PAGE and step_i[s, S_ASSETS] > 0:
                vis_i[v, V_A] = step_i[s, S_AFIRST]
                vis_i[v, V_AEND] = step_i[s, S_AFIRST] + step_i[s, S_ASSETS]
                act = FETCH
            else:
                act = NEXT
            continue
        if vis_i[v, V_RET] > 0:
            pos = ints[I_RETRY_POS]
            ints[I_RETRY_POS] = pos + 1
            if retry[pos, 0] < floats[F_RETRY_P]:
                vis_i[v, V_RET] -= 1
                count(floats, counts, edges, C_RETRIES, now, 1)
                if measured_now:
                    total(totals, T_RETRIES, 1)
                push(ints, floats, heap_t, heap_i, retry[pos, 1], EV_STEP, v)
                return
        leave(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_laws, rng, v,
              ABANDONED if res == ABANDONED else FAILED)
        return


@_inline
def has_headroom(ints, heap_t, req_i, vis_i, queues, instance_table, deadlines, db_waiting, out_wait, out_done, out_app,
                 out_db, out_cap, retry, balancer_u, as_extra, sig_ring, sig_write_s, out_sig, room_ring, out_room):
    """Every array has HEADROOM free entries: enough for one event or one visitor's arrival (else the
    driver grows them: status GROW)."""
    if not (ints[I_HN] + HEADROOM <= heap_t.shape[0] and ints[I_RUSED] + HEADROOM <= req_i.shape[0]
            and ints[I_VUSED] + HEADROOM <= vis_i.shape[0]
            and ints[I_DLT] - ints[I_DLH] + HEADROOM <= deadlines.shape[0]
            and ints[I_DBT] - ints[I_DBH] + HEADROOM <= db_waiting.shape[0]
            and ints[I_NWAIT] + HEADROOM <= out_wait.shape[0] and ints[I_NDONE] + HEADROOM <= out_done.shape[0]
            and ints[I_NAPP] + HEADROOM <= out_app.shape[0] and ints[I_NDB] + HEADROOM <= out_db.shape[0]
            and ints[I_RETRY_POS] + HEADROOM <= retry.shape[0]
            and ints[I_BAL_POS] + HEADROOM + ints[I_RPP] <= balancer_u.shape[0]  # a pick per asset of a page
            and sq_has_headroom(ints, sig_ring, sig_write_s, out_sig)):
        return False
    if ints[I_AS_MAX] and not autoscale_has_headroom(ints, heap_t, instance_table, queues, out_app, out_cap, as_extra):
        return False
    qcap = queues.shape[1] - 4
    for j in range(ints[I_AS_NR]):  # only routable instances take new requests
        k = instance_table[j, X_RT]
        if queues[k, Q_TAIL] - queues[k, Q_HEAD] + HEADROOM > qcap:
            return False
    return room_has_headroom(ints, room_ring, out_room)


@_jit
def run_loop(until, ints, floats, heap_t, heap_i, req_i, req_f, vis_i, vis_patience, win_table, step_i, step_f,
             asset_arena, queues, instance_table, scaler_f, deadlines, db_waiting, counts, totals, edges, out_wait,
             out_done, out_app, out_db, out_cap, retry, balancer_u, arriving_f, arriving_i, as_extra, room_ring,
             room_joined, room_pool, room_laws, out_room, rng, sig_ring, sig_write_s, out_sig):
    """Run events before ``until``; OK_STATUS when there, GROW or WINDOW when the driver must act.

    ``arriving_f`` and ``arriving_i`` are the arriving window's visitors: (arrival time, patience) and
    (first step, means to act), the latter one row longer (the end of the last visitor's steps).
    ``room_ring`` .. ``rng``: the waiting room's arrays and stream (``sim.engine.compiled.room``).
    ``sig_ring``, ``sig_write_s`` and ``out_sig`` are the signature queue's (``sim.engine.compiled.sigqueue``).
    ``instance_table``, ``scaler_f``, ``out_cap`` and ``as_extra`` are the instances' and the autoscaler's
    (``sim.engine.compiled.autoscale``).
    """
    i = -1  # next visitor of the arriving window to let in (-1: none now)
    if ints[I_PENDING] == P_ARRIVALS:
        ints[I_PENDING] = P_NONE
        i = ints[I_CW_I]
    while True:
        v, act, res, rearm = -1, STEP, OK, False  # the visitor to carry on with, if any
        if i >= 0:  # Model._arrivals: visitors due now, then a timer for the next (or the next window)
            if i < ints[I_CW_N]:
                if not has_headroom(ints, heap_t, req_i, vis_i, queues, instance_table, deadlines, db_waiting, out_wait,
                                    out_done, out_app, out_db, out_cap, retry, balancer_u, as_extra, sig_ring,
                                    sig_write_s, out_sig, room_ring, out_room):
                    ints[I_PENDING], ints[I_CW_I] = P_ARRIVALS, i
                    return GROW
                if arriving_f[i, 0] > floats[F_NOW]:
                    push(ints, floats, heap_t, heap_i, arriving_f[i, 0] - floats[F_NOW], EV_ARRIVAL, i)
                    i = -1
                    continue
                v = ints[I_VFREE]  # a new visitor (as in Model._arrivals)
                ints[I_VFREE] = vis_i[v, V_NEXT]
                ints[I_VUSED] += 1
                w = ints[I_CW]
                vis_i[v, V_WIN], vis_i[v, V_S], vis_i[v, V_END] = w, arriving_i[i, 0], arriving_i[i + 1, 0]
                vis_i[v, V_RET] = ints[I_RMAX]
                vis_i[v, V_MEAS] = 1 if floats[F_NOW] >= floats[F_WARMUP] else 0
                vis_i[v, V_INT], vis_i[v, V_ACTED] = arriving_i[i, 1], 0
                vis_patience[v] = arriving_f[i, 1]
                win_table[w, W_LIVE] += 1
                i += 1
                ints[I_ARRIVED] = i
                if ints[I_WR_METHOD] >= 0 and not room_enter(ints, floats, heap_t, heap_i, vis_i, win_table, counts,
                                                             totals, edges, room_ring, room_joined, room_pool,
                                                             room_laws, out_room, rng, v):
                    v = -1  # waits in the room, or was turned away
            else:  # the window's last visitor is in
                i = -1
                end = floats[F_CW_END]
                if end > floats[F_NOW]:
                    push(ints, floats, heap_t, heap_i, end - floats[F_NOW], EV_WINDOW, 0)
                elif end < floats[F_DURATION]:
                    floats[F_WIN_T0] = end  # _window(end) called at once
                    return WINDOW
                continue
        else:
            if ints[I_HN] == 0 or heap_t[0] >= until:
                break
            if not has_headroom(ints, heap_t, req_i, vis_i, queues, instance_table, deadlines, db_waiting, out_wait,
                                out_done, out_app, out_db, out_cap, retry, balancer_u, as_extra, sig_ring, sig_write_s,
                                out_sig, room_ring, out_room):
                return GROW
            floats[F_NOW] = heap_t[0]
            kind, arg = heap_i[0, 1], heap_i[0, 2]
            pop_root(ints, heap_t, heap_i)
            if kind == EV_ARRIVAL:
                i = arg
                continue
            if kind == EV_WINDOW:
                floats[F_WIN_T0] = floats[F_CW_END]
                if floats[F_WIN_T0] < floats[F_DURATION]:
                    return WINDOW
                continue
            if kind == EV_AS_TICK or kind == EV_AS_READY:
                autoscale_event(ints, floats, heap_t, heap_i, queues, instance_table, scaler_f, out_app, out_cap, kind,
                                arg)
                continue
            if kind == EV_STEP:
                v = arg
            elif kind == EV_WR_SESSION or kind == EV_WR_QUEUE:
                v = room_event(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_ring,
                               room_joined, room_pool, out_room, rng, kind, arg)
            else:
                r = arg
                if kind == EV_FINISH:
                    if finish(ints, floats, heap_t, heap_i, req_i, req_f, queues, totals, out_wait, out_done, out_app,
                              r):
                        v, act = req_i[r, R_OWNER], (ASSET_DONE if req_i[r, R_KIND] == ASSETS else RESULT)
                elif kind == EV_QUERIES:
                    acquire(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, r)
                elif kind == EV_RELEASED:
                    if req_i[r, R_INST] < 0:  # a signature's query: it has no instance
                        released_signature(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, totals,
                                           sig_ring, sig_write_s, out_sig, r)
                    elif released(ints, floats, heap_t, heap_i, req_i, req_f, queues, db_waiting, totals, out_wait,
                                  out_done, out_app, out_db, r):
                        v, act = req_i[r, R_OWNER], RESULT
                elif kind == EV_SQ_WRITTEN:
                    written(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, totals, sig_ring,
                            sig_write_s, out_sig, r)
                elif kind == EV_SYN:  # Instance._syn_timer
                    instance_table[req_i[r, R_INST], X_SYN] -= 1
                    if req_i[r, R_OUT] != NONE:  # the visitor gave up, or a 504 came
                        req_i[r, R_STATE] = GONE
                    elif (req_i[r, R_SYN] > ints[I_SYNS]
                          or instance_table[req_i[r, R_INST], X_ROLE] == X_RETIRED):  # unanswered, or retired
                        req_i[r, R_STATE], req_i[r, R_OUT] = GONE, REJECTED
                        failed(floats, req_i, counts, totals, edges, C_REJECTED, T_REJECTED, r)
                        v, res = req_i[r, R_OWNER], REJECTED
                        act = ASSET_DONE if req_i[r, R_KIND] == ASSETS else RESULT
                    else:  # never refused here: a full backlog drops the SYN again
                        arrive(ints, floats, heap_t, heap_i, req_i, req_f, queues, instance_table, counts, totals,
                               edges, out_wait, out_app, r)
                elif kind == EV_GAVE_UP:  # AppTier._gave_up
                    state = req_i[r, R_STATE]
                    if (state == QUEUED or state == CONNECTING) and req_i[r, R_OUT] == NONE:
                        req_i[r, R_OUT] = ABANDONED
                        failed(floats, req_i, counts, totals, edges, C_ABANDONED, T_ABANDONED, r)
                        if req_i[r, R_MEAS]:
                            floats[F_ABWAIT] += floats[F_NOW] - req_f[r, RF_ARR]
                        if ints[I_DROP]:
                            remove(ints, floats, req_i, queues, out_app, r)
                        v, act, res = req_i[r, R_OWNER], RESULT, ABANDONED
                else:  # EV_DEADLINE (AppTier._deadline): r is the head of the deadlines; re-arm after
                    ints[I_DLH] += 1
                    unref(ints, req_i, r)
                    rearm = True
                    state = req_i[r, R_STATE]
                    if state != FINISHED and state != GONE and req_i[r, R_OUT] == NONE:
                        req_i[r, R_OUT] = TIMED_OUT
                        failed(floats, req_i, counts, totals, edges, C_TIMED_OUT, T_TIMED_OUT, r)
                        if state == QUEUED and ints[I_DROP]:
                            remove(ints, floats, req_i, queues, out_app, r)
                        v, res = req_i[r, R_OWNER], TIMED_OUT
                        act = ASSET_DONE if req_i[r, R_KIND] == ASSETS else RESULT
                unref(ints, req_i, r)  # the heap entry's reference
        if v >= 0:  # the one place a visitor goes on: inlined here
            visitor_chain(ints, floats, heap_t, heap_i, req_i, req_f, vis_i, vis_patience, win_table, step_i, step_f,
                          asset_arena, queues, instance_table, deadlines, counts, totals, edges, out_wait, out_app,
                          retry, balancer_u, room_laws, rng, sig_ring, sig_write_s, out_sig, v, act, res)
        if rearm:
            arm(ints, floats, heap_t, heap_i, req_i, req_f, deadlines)
    floats[F_NOW] = until
    return OK_STATUS
