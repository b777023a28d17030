"""The waiting room in the compiled loop: ``sim.engine.reference.waiting_room.WaitingRoom`` over arrays.

The same effects in the same order as the reference (see ``sim.engine.compiled.loop``), and
the same draws from the room's own stream: the loop is handed that ``numpy.random.Generator``
itself (numba shares its bit generator's state and transcribes numpy's algorithms, so a
draw here is the draw the reference makes there, in the same sequence).

Tickets are numbered in the order visitors joined the queue; a ring ``WQ`` (entry
``p % len(WQ)``) holds ticket ``p``'s visitor (-1 once it left the queue) and its place in
the pool ``WP`` (the random method's dense list of waiting tickets), ``WQf`` the time it
joined. The ring keeps tickets ``head .. tail - 1``, the head always a waiting one (or the
tail), so a ticket below the head has left. A patience event carries its ticket.
``WD`` holds the two laws drawn here, a row each: the session (0) and the queue patience (1).
"""

from __future__ import annotations

import math

from numba import int64, uint64
from numba.np.random.generator_core import next_uint32
from numba.np.random.random_methods import bounded_lemire_uint64, buffered_bounded_lemire_uint32

from sim.config.distributions import Constant, Empirical, Exponential, Gamma, Lognormal, Uniform
from sim.engine.compiled.layout import *  # noqa: F403 (the layout's names are this module's vocabulary)
from sim.engine.compiled.layout import inline as _inline, jit as _jit
from sim.engine.compiled.site import count, push, total

__all__ = ["FIFO", "RANDOM_PICK", "REJECT", "METHODS", "SESSION", "PATIENCE", "law_row", "room_enter",
           "room_event", "room_session", "room_has_room", "room_finish"]

FIFO, RANDOM_PICK, REJECT = 0, 1, 2  # the queueing methods (I_WR_METHOD; -1: no waiting room)
METHODS = {"fifo": FIFO, "random": RANDOM_PICK, "reject": REJECT}
SESSION, PATIENCE = 0, 1  # rows of WD
D_CONSTANT, D_EXPONENTIAL, D_LOGNORMAL, D_UNIFORM, D_GAMMA, D_EMPIRICAL = range(6)
_WD = 4  # WD's columns before an empirical law's samples: law, two parameters, number of samples


def law_row(dist) -> list[float]:
    """A distribution as a row of WD: what ``dist.sample(rng)`` computes before it draws."""
    if isinstance(dist, Constant):
        return [D_CONSTANT, float(dist.value), 0.0, 0.0]
    if isinstance(dist, Exponential):
        return [D_EXPONENTIAL, float(dist.mean_s), 0.0, 0.0]
    if isinstance(dist, Lognormal):
        return [D_LOGNORMAL, math.log(dist.median), float(dist.sigma), 0.0]
    if isinstance(dist, Uniform):
        return [D_UNIFORM, float(dist.low), float(dist.high), 0.0]
    if isinstance(dist, Gamma):
        return [D_GAMMA, float(dist.shape), float(dist.scale), 0.0]
    if isinstance(dist, Empirical):
        return [D_EMPIRICAL, 0.0, 0.0, float(len(dist.samples)), *map(float, dist.samples)]
    raise TypeError(f"no compiled draw for {dist!r}")  # pragma: no cover - every law is listed above


@_inline
def _integer(rng, n):
    """``rng.integers(0, n)`` for one int64, as numpy draws it (Lemire's method on the same bit generator)."""
    r = uint64(n - 1)
    if r == 0:
        return int64(0)
    if r <= 0xFFFFFFFF:
        if r == 0xFFFFFFFF:
            return int64(next_uint32(rng.bit_generator))
        return int64(buffered_bounded_lemire_uint32(rng.bit_generator, r))
    return int64(bounded_lemire_uint64(rng.bit_generator, r))


@_inline
def draw(rng, WD, k):
    """``float(dist.sample(rng))`` for the law in row ``k`` of WD (sim.config.distributions)."""
    law = WD[k, 0]
    if law == D_CONSTANT:
        return WD[k, 1]
    if law == D_EXPONENTIAL:
        if math.isinf(WD[k, 1]):
            return math.inf
        return rng.exponential(WD[k, 1])
    if law == D_LOGNORMAL:
        return rng.lognormal(WD[k, 1], WD[k, 2])
    if law == D_UNIFORM:
        return rng.uniform(WD[k, 1], WD[k, 2])
    if law == D_GAMMA:
        return rng.gamma(WD[k, 1], WD[k, 2])
    return WD[k, _WD + _integer(rng, int64(WD[k, 3]))]


@_inline
def room_has_room(I, WQ, out_room):
    """HEADROOM free entries in the ring and the level rows (as ``loop.room`` for the other arrays)."""
    return I[I_WR_TAIL] - I[I_WR_HEAD] + HEADROOM <= WQ.shape[0] and I[I_WR_NOUT] + HEADROOM <= out_room.shape[0]


@_inline
def level(I, F, out_room):
    n = I[I_WR_NOUT]
    out_room[n, 0], out_room[n, 1], out_room[n, 2] = F[F_NOW], I[I_WR_ACTIVE], I[I_WR_WAITING]
    I[I_WR_NOUT] = n + 1


@_inline
def first_reload(joined, r, x, guess):
    """The least k >= 1 with joined + k * r >= x (sim.engine.recorder._first_reload), searched from ``guess``:
    exact from any guess, as the reload times rise with k."""
    k = max(int64(1), guess)
    while joined + k * r < x:
        k += 1
    while k > 1 and joined + (k - 1) * r >= x:
        k -= 1
    return k


@_inline
def bin_of(F, edges, nb, t):
    b = min(int(t / F[F_BIN]), nb - 1)  # as site.count and sim.stats.series._Bins.index
    if t < edges[b]:
        b -= 1
    elif b < nb - 1 and t >= edges[b + 1]:
        b += 1
    return b


@_jit
def refreshes(F, C, T, edges, joined, left):
    """Recorder.waiting_room_refreshes: reloads at joined + k * refresh_s before ``left``, a bin at a time."""
    r = F[F_WR_REFRESH]
    if not joined + r < left:
        return
    n = first_reload(joined, r, left, int64(math.ceil((left - joined) / r))) - 1
    nb = C.shape[1] - 1
    first, last = bin_of(F, edges, nb, joined + r), bin_of(F, edges, nb, joined + n * r)
    per_bin = int64(F[F_BIN] / r)  # a guess at the reloads of a whole bin: the search then takes a step or two
    start = int64(1)
    for b in range(first, last + 1):
        if b == last:
            end = n + 1
        elif b == first:
            end = first_reload(joined, r, edges[b + 1], int64(math.ceil((edges[b + 1] - joined) / r)))
        else:
            end = first_reload(joined, r, edges[b + 1], start + per_bin)
        C[C_WR_REFRESHES, b] += end - start
        start = end
    C[C_WR_REFRESHES, nb] = 1
    warm = F[F_WARMUP]
    total(T, T_WR_REFRESHES, max(0, n + 1 - first_reload(joined, r, warm, int64(math.ceil((warm - joined) / r)))))


@_jit
def room_finish(I, F, C, T, edges, WQ, WQf, end):
    """WaitingRoom.finish: the reloads of those still waiting, up to ``end``."""
    cap = WQ.shape[0]
    for p in range(I[I_WR_HEAD], I[I_WR_TAIL]):
        if WQ[p % cap, 0] >= 0:
            refreshes(F, C, T, edges, WQf[p % cap], end)


@_inline
def out_of_queue(I, F, C, T, edges, WQ, WQf, WP, p):
    """WaitingRoom._out_of_queue: ticket ``p`` stops waiting; its reloads are counted."""
    cap = WQ.shape[0]
    e = p % cap
    WQ[e, 0] = -1
    I[I_WR_WAITING] -= 1
    if I[I_WR_METHOD] == RANDOM_PICK:  # the last of the pool takes its place
        last = WP[I[I_WR_WAITING]]
        if last != p:
            place = WQ[e, 1]
            WP[place] = last
            WQ[last % cap, 1] = place
    while I[I_WR_HEAD] < I[I_WR_TAIL] and WQ[I[I_WR_HEAD] % cap, 0] < 0:
        I[I_WR_HEAD] += 1
    refreshes(F, C, T, edges, WQf[e], F[F_NOW])


@_inline
def gate_at(I, F, Ht, Hi, delay):
    I[I_WR_GATE] = 1
    push(I, F, Ht, Hi, delay, EV_WR_QUEUE, -1)


@_jit
def next_in(I, F, Ht, Hi, C, T, edges, WQ, WQf, WP, rng, gap_over):
    """WaitingRoom._next: the visitor let in now, or -1 (an admission event when the gap keeps them out)."""
    if I[I_WR_WAITING] == 0 or I[I_WR_ACTIVE] >= I[I_WR_LIMIT] or I[I_WR_GATE]:
        return -1
    now = F[F_NOW]
    if not gap_over and now < F[F_WR_OPEN]:
        gate_at(I, F, Ht, Hi, F[F_WR_OPEN] - now)
        return -1
    if I[I_WR_METHOD] == RANDOM_PICK:
        n = I[I_WR_WAITING]
        p = WP[min(int(rng.random() * n), n - 1)]
    else:
        p = I[I_WR_HEAD]
    v = WQ[p % WQ.shape[0], 0]
    out_of_queue(I, F, C, T, edges, WQ, WQf, WP, p)
    I[I_WR_ACTIVE] += 1
    F[F_WR_OPEN] = now + F[F_WR_GAP]
    if F[F_WR_GAP] > 0 and I[I_WR_WAITING] > 0 and I[I_WR_ACTIVE] < I[I_WR_LIMIT]:
        gate_at(I, F, Ht, Hi, F[F_WR_OPEN] - now)
    return v


@_inline
def exit_room(I, F, Vi, Wt, C, T, edges, v, outcome):
    """Model._admitted for a visitor who gave up in the queue or was turned away: Recorder.visitor_left
    (where = "waiting_room"), then the visitor's slot is freed (as loop.leave does)."""
    now = F[F_NOW]
    count(F, C, edges, C_V_FAILED if outcome == FAILED else C_V_ABANDONED, now, 1)
    lost = Vi[v, V_INT]  # never acted: they were never let in
    if lost:
        count(F, C, edges, C_ACTIONS_LOST, now, 1)
    if Vi[v, V_MEAS]:
        total(T, T_V_FAILED if outcome == FAILED else T_V_ABANDONED, 1)
        total(T, T_LOST, lost)
        total(T, T_WR_REJECTED if outcome == FAILED else T_WR_ABANDONED, 1)
    Wt[Vi[v, V_WIN], W_LIVE] -= 1
    Vi[v, V_NEXT] = I[I_VFREE]
    I[I_VFREE] = v
    I[I_VUSED] -= 1


@_jit
def room_enter(I, F, Ht, Hi, Vi, Wt, C, T, edges, WQ, WQf, WP, WD, out_room, rng, v):
    """WaitingRoom.enter: True if ``v`` is let in at once (the loop carries on with them)."""
    now = F[F_NOW]
    if I[I_WR_ACTIVE] < I[I_WR_LIMIT] and I[I_WR_WAITING] == 0 and I[I_WR_GATE] == 0 and now >= F[F_WR_OPEN]:
        I[I_WR_ACTIVE] += 1
        F[F_WR_OPEN] = now + F[F_WR_GAP]
        level(I, F, out_room)
        return True
    if I[I_WR_METHOD] == REJECT:
        exit_room(I, F, Vi, Wt, C, T, edges, v, FAILED)
        return False
    p = I[I_WR_TAIL]
    I[I_WR_TAIL] = p + 1
    e = p % WQ.shape[0]
    WQ[e, 0], WQ[e, 1], WQf[e] = v, I[I_WR_WAITING], now
    if I[I_WR_METHOD] == RANDOM_PICK:
        WP[I[I_WR_WAITING]] = p
    I[I_WR_WAITING] += 1
    level(I, F, out_room)
    patience = draw(rng, WD, PATIENCE)
    if not math.isinf(patience):
        push(I, F, Ht, Hi, patience, EV_WR_QUEUE, p)
    next_in(I, F, Ht, Hi, C, T, edges, WQ, WQf, WP, rng, False)  # never lets anyone in here: a gap event at most
    return False


@_inline
def room_session(I, F, Ht, Hi, WD, rng):
    """WaitingRoom.leave: the visitor's place frees a session after their journey ends."""
    push(I, F, Ht, Hi, draw(rng, WD, SESSION), EV_WR_SESSION, 0)


@_jit
def room_event(I, F, Ht, Hi, Vi, Wt, C, T, edges, WQ, WQf, WP, out_room, rng, kind, arg):
    """A session ends (WaitingRoom._release), the gap passes (_gate) or a ticket's patience ends
    (_give_up); returns the visitor let in (the loop carries on with them) or -1."""
    if kind == EV_WR_SESSION:
        I[I_WR_ACTIVE] -= 1
        v = next_in(I, F, Ht, Hi, C, T, edges, WQ, WQf, WP, rng, False)
        level(I, F, out_room)
        return v
    if arg < 0:
        I[I_WR_GATE] = 0
        v = next_in(I, F, Ht, Hi, C, T, edges, WQ, WQf, WP, rng, True)
        if v >= 0:
            level(I, F, out_room)
        return v
    if arg >= I[I_WR_HEAD] and WQ[arg % WQ.shape[0], 0] >= 0:  # still waiting: gives up
        v = WQ[arg % WQ.shape[0], 0]
        out_of_queue(I, F, C, T, edges, WQ, WQf, WP, arg)
        level(I, F, out_room)
        exit_room(I, F, Vi, Wt, C, T, edges, v, ABANDONED)
    return -1
