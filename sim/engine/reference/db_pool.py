"""The database pool: a submit's queries wait for a pooled connection (FIFO) while holding their worker."""

from __future__ import annotations

from collections import deque
from typing import Callable

from sim.config.site import DbConfig

__all__ = ["DbPool"]


class DbPool:
    """A pool of connections; an app worker waits for one (FIFO) while holding its worker."""

    def __init__(self, clock, config: DbConfig, levels: Callable[[float, int, int], None]) -> None:
        self.clock = clock
        self.connections = config.connections
        self.busy = 0
        self.waiters: deque = deque()
        self.levels = levels  # levels(now, busy, waiting) after every change
        self._at_released = clock.timer(self._released)

    def acquire(self, req) -> None:
        """Query ``req.qi`` of ``req`` starts now or when a connection frees; ``_released`` follows."""
        if self.busy < self.connections:
            self.busy += 1
            self.levels(self.clock.now, self.busy, len(self.waiters))
            self._at_released(req.query_s[req.qi], req)
        else:
            self.waiters.append(req)
            self.levels(self.clock.now, self.busy, len(self.waiters))

    def _released(self, req) -> None:
        waiters = self.waiters
        if waiters:  # hand the connection over: busy stays the same
            nxt = waiters.popleft()
            self.levels(self.clock.now, self.busy, len(waiters))
            self._at_released(nxt.query_s[nxt.qi], nxt)
        else:
            self.busy -= 1
            self.levels(self.clock.now, self.busy, 0)
        req.qi += 1
        req.instance.queries_done(req)

    @property
    def waiting(self) -> int:
        return len(self.waiters)
