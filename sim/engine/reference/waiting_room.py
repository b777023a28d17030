"""The waiting room: at most ``active_limit`` visitors on the site, the rest in a FIFO virtual queue."""

from __future__ import annotations

import math

import numpy as np

from sim.config.site import WaitingRoomConfig

__all__ = ["WaitingRoom"]


class WaitingRoom:
    """At most ``active_limit`` visitors on the site; the rest wait in a FIFO virtual queue.

    A visitor's place frees ``session_s`` after their journey ends, as Cloudflare's Waiting
    Room counts a session until it has been inactive that long.
    """

    def __init__(self, clock, config: WaitingRoomConfig, rng: np.random.Generator, recorder) -> None:
        self.clock, self.config, self.rng, self.recorder = clock, config, rng, recorder
        self.active = 0
        self.queue: list = []
        self.head = 0
        self.waiting = 0

    def enter(self, visitor, admitted) -> None:
        """``admitted(visitor, True)`` when let in (maybe at once), ``(visitor, False)`` on giving up."""
        if self.active < self.config.active_limit and self.waiting == 0:
            self.active += 1
            self._changed()
            admitted(visitor, True)
            return
        ticket = [visitor, admitted, True]  # the last item: still waiting
        self.queue.append(ticket)
        self.waiting += 1
        self._changed()
        patience = float(self.config.queue_patience_s.sample(self.rng))
        if not math.isinf(patience):
            self.clock.call(patience, self._give_up, ticket)

    def _give_up(self, ticket) -> None:
        if ticket[2]:
            ticket[2] = False
            self.waiting -= 1
            self._changed()
            ticket[1](ticket[0], False)

    def leave(self) -> None:
        self.clock.call(float(self.config.session_s.sample(self.rng)), self._release, None)

    def _release(self, _arg) -> None:
        self.active -= 1
        let_in = None
        while self.head < len(self.queue):
            ticket = self.queue[self.head]
            self.queue[self.head] = None  # lazy deletion: no O(n) pops
            self.head += 1
            if ticket is not None and ticket[2]:
                ticket[2] = False
                self.waiting -= 1
                self.active += 1
                let_in = ticket
                break
        if self.head > 4096 and self.head * 2 > len(self.queue):
            del self.queue[: self.head]
            self.head = 0
        self._changed()
        if let_in is not None:
            let_in[1](let_in[0], True)

    def _changed(self) -> None:
        self.recorder.waiting_room_levels(self.clock.now, self.active, self.waiting)
