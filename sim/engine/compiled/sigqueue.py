"""The signature queue and the landing page's edge TTL in the compiled loop.

``sim.engine.reference.signature_queue.SignatureQueue`` and ``Model._landing_hit`` transcribed over
the arrays of ``sim.engine.compiled.layout`` (slots ``I_SQ_*`` and ``F_SQ_*``, event ``EV_SQ_WRITTEN``),
with the same effects in the same order.

A signature's write is a request slot with no instance (``R_INST`` -1) and no visitor
(``R_OWNER`` -1): ``RF_ARR`` is when its submit was answered, its queries sit at ``RF_Q``
as a page's do, and the database pool serves them as it serves a page's (the loop tells
the two apart at ``EV_RELEASED`` by the instance). ``sig_ring`` is the ring of signatures waiting
for a writer (each referenced by it, as an instance's queue references its requests),
``sig_write_s`` the writers' ``write_s`` draws in the order writes start, ``out_sig`` the queue's
level changes ``(t, waiting)`` for the recorder.
"""

from __future__ import annotations

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import inline as _inline, jit as _jit
from sim.engine.compiled.site import acquire, hand_over, new_request, push_request, total, unref

__all__ = ["landing_hit", "enqueue", "written", "released_signature", "sq_has_headroom"]


@_inline
def landing_hit(floats):
    """Model._landing_hit: 1 while the edge's copy is fresh, else 0 and the copy renewed from now."""
    if floats[F_NOW] < floats[F_SQ_LANDING_EXPIRES]:
        return 1
    floats[F_SQ_LANDING_EXPIRES] = floats[F_NOW] + floats[F_SQ_LANDING_TTL]
    return 0


@_inline
def _level(ints, floats, out_sig):
    n = ints[I_SQ_NOUT]
    out_sig[n, 0], out_sig[n, 1] = floats[F_NOW], ints[I_SQ_T] - ints[I_SQ_H]
    ints[I_SQ_NOUT] = n + 1


@_inline
def _write(ints, floats, heap_t, heap_i, req_i, sig_write_s, r):
    """A writer takes signature ``r``: its write_s, the next draw."""
    pos = ints[I_SQ_POS]
    ints[I_SQ_POS] = pos + 1
    push_request(ints, floats, heap_t, heap_i, req_i, sig_write_s[pos], EV_SQ_WRITTEN, r)


@_jit
def enqueue(ints, floats, heap_t, heap_i, req_i, req_f, step_f, totals, sig_ring, sig_write_s, out_sig, s):
    """SignatureQueue.enqueue: the submit of step ``s`` was answered now."""
    r = new_request(ints, floats, req_i, req_f, SUBMIT, 1, 0.0, -1)
    nq = ints[I_SQ_NQ]
    req_i[r, R_NQ] = nq
    for j in range(nq):
        req_f[r, RF_Q + j] = step_f[s, SF_Q + j]
    if req_i[r, R_MEAS]:
        total(totals, T_SQ_QUEUED, 1)
    if ints[I_SQ_IDLE] > 0:
        ints[I_SQ_IDLE] -= 1
        _write(ints, floats, heap_t, heap_i, req_i, sig_write_s, r)
    else:
        sig_ring[ints[I_SQ_T] % sig_ring.shape[0]] = r
        ints[I_SQ_T] += 1
        req_i[r, R_REFS] += 1
        _level(ints, floats, out_sig)


@_jit
def _done(ints, floats, heap_t, heap_i, req_i, req_f, totals, sig_ring, sig_write_s, out_sig, r):
    """SignatureQueue._done: signature ``r`` is written; its writer takes the next."""
    if req_i[r, R_MEAS]:
        total(totals, T_SQ_WRITTEN, 1)
        lag = floats[F_NOW] - req_f[r, RF_ARR]
        if not lag <= floats[F_SQ_MAXLAG]:  # the first (nan) or a longer one
            floats[F_SQ_MAXLAG] = lag
    if ints[I_SQ_H] < ints[I_SQ_T]:
        nxt = sig_ring[ints[I_SQ_H] % sig_ring.shape[0]]
        ints[I_SQ_H] += 1
        _level(ints, floats, out_sig)
        _write(ints, floats, heap_t, heap_i, req_i, sig_write_s, nxt)
        unref(ints, req_i, nxt)  # the ring's reference
    else:
        ints[I_SQ_IDLE] += 1


@_jit
def written(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, totals, sig_ring, sig_write_s, out_sig, r):
    """EV_SQ_WRITTEN (SignatureQueue._written): the queries, one after another, or done."""
    if req_i[r, R_NQ] > 0:
        acquire(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, r)
    else:
        _done(ints, floats, heap_t, heap_i, req_i, req_f, totals, sig_ring, sig_write_s, out_sig, r)


@_jit
def released_signature(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, totals, sig_ring, sig_write_s,
                       out_sig, r):
    """EV_RELEASED of a signature's query: DbPool._released, then SignatureQueue.queries_done."""
    hand_over(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db)
    req_i[r, R_QI] += 1
    if req_i[r, R_QI] < req_i[r, R_NQ]:
        acquire(ints, floats, heap_t, heap_i, req_i, req_f, db_waiting, out_db, r)
    else:
        _done(ints, floats, heap_t, heap_i, req_i, req_f, totals, sig_ring, sig_write_s, out_sig, r)


@_inline
def sq_has_headroom(ints, sig_ring, sig_write_s, out_sig):
    """HEADROOM free entries in the ring, the draws and the output rows (part of loop.has_headroom)."""
    return (ints[I_SQ_T] - ints[I_SQ_H] + HEADROOM <= sig_ring.shape[0]
            and ints[I_SQ_POS] + HEADROOM <= sig_write_s.shape[0]
            and ints[I_SQ_NOUT] + HEADROOM <= out_sig.shape[0])
