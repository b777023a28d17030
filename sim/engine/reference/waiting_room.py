"""The waiting room: at most ``active_limit`` visitors on the site, the rest in a virtual queue.

What Cloudflare's Waiting Room lets a site set, in the model's terms:

* ``active_limit`` (total active users) and ``session_s`` (session duration): a place
  frees ``session_s`` after its visitor's journey ends.
* ``new_users_per_minute``: admissions at least ``60 / new_users_per_minute`` seconds
  apart. A visitor is let in only when a place is free and that gap has passed since
  the last admission; otherwise they wait, and an event at the gap's end lets the next
  one in (scheduled only when someone waits and a place is free; while it is pending,
  nobody else is let in).
* ``queueing_method``: ``fifo`` lets the longest waiting in; ``random`` one waiting visitor
  drawn uniformly with the room's stream (``min(int(u * n), n - 1)`` over the waiting
  visitors held densely, a leaver's slot taken by the last); ``reject`` keeps no queue: who
  cannot enter at once is turned away.
* ``refresh_s``: the waiting page reloads itself every ``refresh_s`` while its visitor
  waits (load on the edge, not the origin), counted when the visitor leaves the queue.

The room's stream gives, in event order, a queued visitor's patience, a leaving
visitor's session and the random method's picks; the compiled loop takes the same
draws in the same order (``sim.engine.compiled.room``).
"""

from __future__ import annotations

import math

import numpy as np

from sim.config.site import WaitingRoomConfig

__all__ = ["WaitingRoom", "LET_IN", "GAVE_UP", "TURNED_AWAY"]

LET_IN, GAVE_UP, TURNED_AWAY = "let_in", "gave_up", "turned_away"  # what ``admitted`` hears
# A ticket: [visitor, admitted, still waiting, time it joined the queue, place among the waiting (random)].
_VISITOR, _ADMITTED, _WAITING, _JOINED, _PLACE = range(5)


class WaitingRoom:
    """At most ``active_limit`` visitors on the site; the rest wait in a virtual queue (or are turned away)."""

    def __init__(self, clock, config: WaitingRoomConfig, rng: np.random.Generator, recorder) -> None:
        self.clock, self.config, self.rng, self.recorder = clock, config, rng, recorder
        self.limit = config.active_limit
        self.gap_s = config.admission_gap_s
        self.method = config.queueing_method
        self.active = 0
        self.waiting = 0
        self.queue: list = []  # fifo: tickets in arrival order, lazily deleted
        self.head = 0
        self.pool: list = []  # random: the waiting tickets, densely
        self.next_open = -math.inf  # the earliest time of the next admission
        self.gate_pending = False  # an event at ``next_open`` will let the next visitor in

    def enter(self, visitor, admitted) -> None:
        """``admitted(visitor, LET_IN)`` when let in (maybe at once), else ``GAVE_UP`` or ``TURNED_AWAY``."""
        now = self.clock.now
        if self.active < self.limit and self.waiting == 0 and not self.gate_pending and now >= self.next_open:
            self.active += 1
            self.next_open = now + self.gap_s
            self._changed()
            admitted(visitor, LET_IN)
            return
        if self.method == "reject":
            admitted(visitor, TURNED_AWAY)
            return
        ticket = [visitor, admitted, True, now, len(self.pool)]
        (self.pool if self.method == "random" else self.queue).append(ticket)
        self.waiting += 1
        self._changed()
        patience = float(self.config.queue_patience_s.sample(self.rng))
        if not math.isinf(patience):
            self.clock.call(patience, self._give_up, ticket)
        self._next(False)  # a free place: the gap's end lets them in

    def _give_up(self, ticket) -> None:
        if ticket[_WAITING]:
            self._out_of_queue(ticket)
            self._changed()
            ticket[_ADMITTED](ticket[_VISITOR], GAVE_UP)

    def leave(self) -> None:
        self.clock.call(float(self.config.session_s.sample(self.rng)), self._release, None)

    def _release(self, _arg) -> None:
        self.active -= 1
        let_in = self._next(False)
        self._changed()
        if let_in is not None:
            let_in[_ADMITTED](let_in[_VISITOR], LET_IN)

    def _gate(self, _arg) -> None:
        """The gap since the last admission has passed: the next visitor in (this event is the gap's end)."""
        self.gate_pending = False
        let_in = self._next(True)
        if let_in is not None:
            self._changed()
            let_in[_ADMITTED](let_in[_VISITOR], LET_IN)

    def _next(self, gap_over: bool):
        """The ticket let in now if someone waits and a place is free, else None (an event at the gap's end
        if that is what keeps them out)."""
        if self.waiting == 0 or self.active >= self.limit or self.gate_pending:
            return None
        now = self.clock.now
        if not gap_over and now < self.next_open:
            self._gate_at(self.next_open - now)
            return None
        if self.method == "random":
            pool = self.pool
            ticket = pool[min(int(self.rng.random() * len(pool)), len(pool) - 1)]
        else:
            queue = self.queue
            while True:
                ticket = queue[self.head]
                queue[self.head] = None  # lazy deletion: no O(n) pops
                self.head += 1
                if ticket is not None and ticket[_WAITING]:
                    break
            if self.head > 4096 and self.head * 2 > len(queue):
                del queue[: self.head]
                self.head = 0
        self._out_of_queue(ticket)
        self.active += 1
        self.next_open = now + self.gap_s
        if self.gap_s > 0 and self.waiting and self.active < self.limit:
            self._gate_at(self.next_open - now)
        return ticket

    def _gate_at(self, delay: float) -> None:
        self.gate_pending = True
        self.clock.call(delay, self._gate, None)

    def _out_of_queue(self, ticket) -> None:
        """The ticket stops waiting (let in or gave up): its waiting page's reloads are counted."""
        ticket[_WAITING] = False
        self.waiting -= 1
        if self.method == "random":
            pool, place = self.pool, ticket[_PLACE]
            last = pool.pop()
            if last is not ticket:
                pool[place] = last
                last[_PLACE] = place
        self.recorder.waiting_room_refreshes(ticket[_JOINED], self.clock.now, self.config.refresh_s)

    def finish(self, end_s: float) -> None:
        """The reloads of those still waiting at the end of the run, up to ``end_s``."""
        for ticket in self.pool if self.method == "random" else self.queue[self.head:]:
            if ticket is not None and ticket[_WAITING]:
                self.recorder.waiting_room_refreshes(ticket[_JOINED], end_s, self.config.refresh_s)

    def _changed(self) -> None:
        self.recorder.waiting_room_levels(self.clock.now, self.active, self.waiting)
