"""The waiting room in the compiled loop: ``sim.engine.reference.waiting_room.WaitingRoom`` over arrays.

The same effects in the same order as the reference (see ``sim.engine.compiled.loop``), and
the same draws from the room's own stream: the loop is handed that ``numpy.random.Generator``
itself (numba shares its bit generator's state and transcribes numpy's algorithms, so a
draw here is the draw the reference makes there, in the same sequence).

Tickets are numbered in the order visitors joined the queue; a ring ``room_ring`` (entry
``p % len(room_ring)``) holds ticket ``p``'s visitor (-1 once it left the queue) and its place in
the pool ``room_pool`` (the random method's dense list of waiting tickets), ``room_joined`` the time it
joined. The ring keeps tickets ``head .. tail - 1``, the head always a waiting one (or the
tail), so a ticket below the head has left. A patience event carries its ticket.
``room_laws`` holds the two laws drawn here, a row each: the session (0) and the queue patience (1).
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
           "room_event", "room_session", "room_has_headroom", "room_finish"]

FIFO, RANDOM_PICK, REJECT = 0, 1, 2  # the queueing methods (I_WR_METHOD; -1: no waiting room)
METHODS = {"fifo": FIFO, "random": RANDOM_PICK, "reject": REJECT}
SESSION, PATIENCE = 0, 1  # rows of room_laws
D_CONSTANT, D_EXPONENTIAL, D_LOGNORMAL, D_UNIFORM, D_GAMMA, D_EMPIRICAL = range(6)
_WD = 4  # room_laws' columns before an empirical law's samples: law, two parameters, number of samples


def law_row(dist) -> list[float]:
    """A distribution as a row of room_laws: what ``dist.sample(rng)`` computes before it draws."""
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
def draw(rng, room_laws, k):
    """``float(dist.sample(rng))`` for the law in row ``k`` of room_laws (sim.config.distributions)."""
    law = room_laws[k, 0]
    if law == D_CONSTANT:
        return room_laws[k, 1]
    if law == D_EXPONENTIAL:
        if math.isinf(room_laws[k, 1]):
            return math.inf
        return rng.exponential(room_laws[k, 1])
    if law == D_LOGNORMAL:
        return rng.lognormal(room_laws[k, 1], room_laws[k, 2])
    if law == D_UNIFORM:
        return rng.uniform(room_laws[k, 1], room_laws[k, 2])
    if law == D_GAMMA:
        return rng.gamma(room_laws[k, 1], room_laws[k, 2])
    return room_laws[k, _WD + _integer(rng, int64(room_laws[k, 3]))]


@_inline
def room_has_headroom(ints, room_ring, out_room):
    """HEADROOM free entries in the ring and the level rows (as ``loop.room`` for the other arrays)."""
    return (ints[I_WR_TAIL] - ints[I_WR_HEAD] + HEADROOM <= room_ring.shape[0]
            and ints[I_WR_NOUT] + HEADROOM <= out_room.shape[0])


@_inline
def level(ints, floats, out_room):
    n = ints[I_WR_NOUT]
    out_room[n, 0], out_room[n, 1], out_room[n, 2] = floats[F_NOW], ints[I_WR_ACTIVE], ints[I_WR_WAITING]
    ints[I_WR_NOUT] = n + 1


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
def bin_of(floats, edges, nb, t):
    b = min(int(t / floats[F_BIN]), nb - 1)  # as site.count and sim.stats.series._Bins.index
    if t < edges[b]:
        b -= 1
    elif b < nb - 1 and t >= edges[b + 1]:
        b += 1
    return b


@_jit
def refreshes(floats, counts, totals, edges, joined, left):
    """Recorder.waiting_room_refreshes: reloads at joined + k * refresh_s before ``left``, a bin at a time."""
    r = floats[F_WR_REFRESH]
    if not joined + r < left:
        return
    n = first_reload(joined, r, left, int64(math.ceil((left - joined) / r))) - 1
    nb = counts.shape[1] - 1
    first, last = bin_of(floats, edges, nb, joined + r), bin_of(floats, edges, nb, joined + n * r)
    per_bin = int64(floats[F_BIN] / r)  # a guess at the reloads of a whole bin: the search then takes a step or two
    start = int64(1)
    for b in range(first, last + 1):
        if b == last:
            end = n + 1
        elif b == first:
            end = first_reload(joined, r, edges[b + 1], int64(math.ceil((edges[b + 1] - joined) / r)))
        else:
            end = first_reload(joined, r, edges[b + 1], start + per_bin)
        counts[C_WR_REFRESHES, b] += end - start
        start = end
    counts[C_WR_REFRESHES, nb] = 1
    warm = floats[F_WARMUP]
    total(totals, T_WR_REFRESHES, max(0, n + 1 - first_reload(joined, r, warm, int64(math.ceil((warm - joined) / r)))))


@_jit
def room_finish(ints, floats, counts, totals, edges, room_ring, room_joined, end):
    """WaitingRoom.finish: the reloads of those still waiting, up to ``end``."""
    cap = room_ring.shape[0]
    for p in range(ints[I_WR_HEAD], ints[I_WR_TAIL]):
        if room_ring[p % cap, 0] >= 0:
            refreshes(floats, counts, totals, edges, room_joined[p % cap], end)


@_inline
def out_of_queue(ints, floats, counts, totals, edges, room_ring, room_joined, room_pool, p):
    """WaitingRoom._out_of_queue: ticket ``p`` stops waiting; its reloads are counted."""
    cap = room_ring.shape[0]
    e = p % cap
    room_ring[e, 0] = -1
    ints[I_WR_WAITING] -= 1
    if ints[I_WR_METHOD] == RANDOM_PICK:  # the last of the pool takes its place
        last = room_pool[ints[I_WR_WAITING]]
        if last != p:
            place = room_ring[e, 1]
            room_pool[place] = last
            room_ring[last % cap, 1] = place
    while ints[I_WR_HEAD] < ints[I_WR_TAIL] and room_ring[ints[I_WR_HEAD] % cap, 0] < 0:
        ints[I_WR_HEAD] += 1
    refreshes(floats, counts, totals, edges, room_joined[e], floats[F_NOW])


@_inline
def gate_at(ints, floats, heap_t, heap_i, delay):
    ints[I_WR_GATE] = 1
    push(ints, floats, heap_t, heap_i, delay, EV_WR_QUEUE, -1)


@_jit
def next_in(ints, floats, heap_t, heap_i, counts, totals, edges, room_ring, room_joined, room_pool, rng, gap_over):
    """WaitingRoom._next: the visitor let in now, or -1 (an admission event when the gap keeps them out)."""
    if ints[I_WR_WAITING] == 0 or ints[I_WR_ACTIVE] >= ints[I_WR_LIMIT] or ints[I_WR_GATE]:
        return -1
    now = floats[F_NOW]
    if not gap_over and now < floats[F_WR_OPEN]:
        gate_at(ints, floats, heap_t, heap_i, floats[F_WR_OPEN] - now)
        return -1
    if ints[I_WR_METHOD] == RANDOM_PICK:
        n = ints[I_WR_WAITING]
        p = room_pool[min(int(rng.random() * n), n - 1)]
    else:
        p = ints[I_WR_HEAD]
    v = room_ring[p % room_ring.shape[0], 0]
    out_of_queue(ints, floats, counts, totals, edges, room_ring, room_joined, room_pool, p)
    ints[I_WR_ACTIVE] += 1
    floats[F_WR_OPEN] = now + floats[F_WR_GAP]
    if floats[F_WR_GAP] > 0 and ints[I_WR_WAITING] > 0 and ints[I_WR_ACTIVE] < ints[I_WR_LIMIT]:
        gate_at(ints, floats, heap_t, heap_i, floats[F_WR_OPEN] - now)
    return v


@_inline
def exit_room(ints, floats, vis_i, win_table, counts, totals, edges, v, outcome):
    """Model._admitted for a visitor who gave up in the queue or was turned away: Recorder.visitor_left
    (where = "waiting_room"), then the visitor's slot is freed (as loop.leave does)."""
    now = floats[F_NOW]
    count(floats, counts, edges, C_V_FAILED if outcome == FAILED else C_V_ABANDONED, now, 1)
    lost = vis_i[v, V_INT]  # never acted: they were never let in
    if lost:
        count(floats, counts, edges, C_ACTIONS_LOST, now, 1)
    if vis_i[v, V_MEAS]:
        total(totals, T_V_FAILED if outcome == FAILED else T_V_ABANDONED, 1)
        total(totals, T_LOST, lost)
        total(totals, T_WR_REJECTED if outcome == FAILED else T_WR_ABANDONED, 1)
    win_table[vis_i[v, V_WIN], W_LIVE] -= 1
    vis_i[v, V_NEXT] = ints[I_VFREE]
    ints[I_VFREE] = v
    ints[I_VUSED] -= 1


@_jit
def room_enter(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_ring, room_joined, room_pool,
               room_laws, out_room, rng, v):
    """WaitingRoom.enter: True if ``v`` is let in at once (the loop carries on with them)."""
    now = floats[F_NOW]
    if (ints[I_WR_ACTIVE] < ints[I_WR_LIMIT] and ints[I_WR_WAITING] == 0 and ints[I_WR_GATE] == 0
            and now >= floats[F_WR_OPEN]):
        ints[I_WR_ACTIVE] += 1
        floats[F_WR_OPEN] = now + floats[F_WR_GAP]
        level(ints, floats, out_room)
        return True
    if ints[I_WR_METHOD] == REJECT:
        exit_room(ints, floats, vis_i, win_table, counts, totals, edges, v, FAILED)
        return False
    p = ints[I_WR_TAIL]
    ints[I_WR_TAIL] = p + 1
    e = p % room_ring.shape[0]
    room_ring[e, 0], room_ring[e, 1], room_joined[e] = v, ints[I_WR_WAITING], now
    if ints[I_WR_METHOD] == RANDOM_PICK:
        room_pool[ints[I_WR_WAITING]] = p
    ints[I_WR_WAITING] += 1
    level(ints, floats, out_room)
    patience = draw(rng, room_laws, PATIENCE)
    if not math.isinf(patience):
        push(ints, floats, heap_t, heap_i, patience, EV_WR_QUEUE, p)
    next_in(ints, floats, heap_t, heap_i, counts, totals, edges, room_ring, room_joined, room_pool, rng, False)  # never lets anyone in here: a gap event at most
    return False


@_inline
def room_session(ints, floats, heap_t, heap_i, room_laws, rng):
    """WaitingRoom.leave: the visitor's place frees a session after their journey ends."""
    push(ints, floats, heap_t, heap_i, draw(rng, room_laws, SESSION), EV_WR_SESSION, 0)


@_jit
def room_event(ints, floats, heap_t, heap_i, vis_i, win_table, counts, totals, edges, room_ring, room_joined, room_pool,
               out_room, rng, kind, arg):
    """A session ends (WaitingRoom._release), the gap passes (_gate) or a ticket's patience ends
    (_give_up); returns the visitor let in (the loop carries on with them) or -1."""
    if kind == EV_WR_SESSION:
        ints[I_WR_ACTIVE] -= 1
        v = next_in(ints, floats, heap_t, heap_i, counts, totals, edges, room_ring, room_joined, room_pool, rng, False)
        level(ints, floats, out_room)
        return v
    if arg < 0:
        ints[I_WR_GATE] = 0
        v = next_in(ints, floats, heap_t, heap_i, counts, totals, edges, room_ring, room_joined, room_pool, rng, True)
        if v >= 0:
            level(ints, floats, out_room)
        return v
    if arg >= ints[I_WR_HEAD] and room_ring[arg % room_ring.shape[0], 0] >= 0:  # still waiting: gives up
        v = room_ring[arg % room_ring.shape[0], 0]
        out_of_queue(ints, floats, counts, totals, edges, room_ring, room_joined, room_pool, arg)
        level(ints, floats, out_room)
        exit_room(ints, floats, vis_i, win_table, counts, totals, edges, v, ABANDONED)
    return -1
