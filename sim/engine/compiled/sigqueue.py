"""The signature queue and the landing page's edge TTL in the compiled loop.

``sim.engine.reference.signature_queue.SignatureQueue`` and ``Model._landing_hit`` transcribed over
the arrays of ``sim.engine.compiled.layout`` (slots ``I_SQ_*`` and ``F_SQ_*``, event ``EV_SQ_WRITTEN``),
with the same effects in the same order.

A signature's write is a request slot with no instance (``R_INST`` -1) and no visitor
(``R_OWNER`` -1): ``RF_ARR`` is when its submit was answered, its queries sit at ``RF_Q``
as a page's do, and the database pool serves them as it serves a page's (the loop tells
the two apart at ``EV_RELEASED`` by the instance). ``SQ`` is the ring of signatures waiting
for a writer (each referenced by it, as an instance's queue references its requests),
``sq_d`` the writers' ``write_s`` draws in the order writes start, ``out_sq`` the queue's
level changes ``(t, waiting)`` for the recorder.
"""

from __future__ import annotations

from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import inline as _inline, jit as _jit
from sim.engine.compiled.site import acquire, hand_over, new_request, push_request, total, unref

__all__ = ["landing_hit", "enqueue", "written", "released_signature", "sq_room"]


@_inline
def landing_hit(F):
    """Model._landing_hit: 1 while the edge's copy is fresh, else 0 and the copy renewed from now."""
    if F[F_NOW] < F[F_SQ_LANDING_EXPIRES]:
        return 1
    F[F_SQ_LANDING_EXPIRES] = F[F_NOW] + F[F_SQ_LANDING_TTL]
    return 0


@_inline
def _level(I, F, out_sq):
    n = I[I_SQ_NOUT]
    out_sq[n, 0], out_sq[n, 1] = F[F_NOW], I[I_SQ_T] - I[I_SQ_H]
    I[I_SQ_NOUT] = n + 1


@_inline
def _write(I, F, Ht, Hi, Ri, sq_d, r):
    """A writer takes signature ``r``: its write_s, the next draw."""
    pos = I[I_SQ_POS]
    I[I_SQ_POS] = pos + 1
    push_request(I, F, Ht, Hi, Ri, sq_d[pos], EV_SQ_WRITTEN, r)


@_jit
def enqueue(I, F, Ht, Hi, Ri, Rf, Sf, T, SQ, sq_d, out_sq, s):
    """SignatureQueue.enqueue: the submit of step ``s`` was answered now."""
    r = new_request(I, F, Ri, Rf, SUBMIT, 1, 0.0, -1)
    nq = I[I_SQ_NQ]
    Ri[r, R_NQ] = nq
    for j in range(nq):
        Rf[r, RF_Q + j] = Sf[s, SF_Q + j]
    if Ri[r, R_MEAS]:
        total(T, T_SQ_QUEUED, 1)
    if I[I_SQ_IDLE] > 0:
        I[I_SQ_IDLE] -= 1
        _write(I, F, Ht, Hi, Ri, sq_d, r)
    else:
        SQ[I[I_SQ_T] % SQ.shape[0]] = r
        I[I_SQ_T] += 1
        Ri[r, R_REFS] += 1
        _level(I, F, out_sq)


@_jit
def _done(I, F, Ht, Hi, Ri, Rf, T, SQ, sq_d, out_sq, r):
    """SignatureQueue._done: signature ``r`` is written; its writer takes the next."""
    if Ri[r, R_MEAS]:
        total(T, T_SQ_WRITTEN, 1)
        lag = F[F_NOW] - Rf[r, RF_ARR]
        if not lag <= F[F_SQ_MAXLAG]:  # the first (nan) or a longer one
            F[F_SQ_MAXLAG] = lag
    if I[I_SQ_H] < I[I_SQ_T]:
        nxt = SQ[I[I_SQ_H] % SQ.shape[0]]
        I[I_SQ_H] += 1
        _level(I, F, out_sq)
        _write(I, F, Ht, Hi, Ri, sq_d, nxt)
        unref(I, Ri, nxt)  # the ring's reference
    else:
        I[I_SQ_IDLE] += 1


@_jit
def written(I, F, Ht, Hi, Ri, Rf, DBW, out_db, T, SQ, sq_d, out_sq, r):
    """EV_SQ_WRITTEN (SignatureQueue._written): the queries, one after another, or done."""
    if Ri[r, R_NQ] > 0:
        acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
    else:
        _done(I, F, Ht, Hi, Ri, Rf, T, SQ, sq_d, out_sq, r)


@_jit
def released_signature(I, F, Ht, Hi, Ri, Rf, DBW, out_db, T, SQ, sq_d, out_sq, r):
    """EV_RELEASED of a signature's query: DbPool._released, then SignatureQueue.queries_done."""
    hand_over(I, F, Ht, Hi, Ri, Rf, DBW, out_db)
    Ri[r, R_QI] += 1
    if Ri[r, R_QI] < Ri[r, R_NQ]:
        acquire(I, F, Ht, Hi, Ri, Rf, DBW, out_db, r)
    else:
        _done(I, F, Ht, Hi, Ri, Rf, T, SQ, sq_d, out_sq, r)


@_inline
def sq_room(I, SQ, sq_d, out_sq):
    """HEADROOM free entries in the ring, the draws and the output rows (part of loop.room)."""
    return (I[I_SQ_T] - I[I_SQ_H] + HEADROOM <= SQ.shape[0] and I[I_SQ_POS] + HEADROOM <= sq_d.shape[0]
            and I[I_SQ_NOUT] + HEADROOM <= out_sq.shape[0])
