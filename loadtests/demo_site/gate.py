"""The demo site's queue discipline: c worker slots taken in FIFO order, at most K requests inside.

This is what makes the site an M/M/c/K queue while waitress does the HTTP: every
request (but ``/healthz``) passes this gate on a waitress thread. ``enter()``
answers at once with ``FULL`` when K requests are already inside (being served
or waiting), so the caller answers 503 at once; otherwise it returns a free slot
number, or waits for one. Waiting is FIFO: ``leave()`` hands the slot it frees
straight to the oldest waiter (one event each, so a freed slot wakes exactly one
thread, and no later arrival can overtake a waiter). The slot number names the
worker, so each slot keeps its own random stream and its own SQLite connection.
``close()`` (at stop) releases every waiter with ``CLOSED`` and refuses newcomers.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["FifoGate", "FULL", "CLOSED"]

FULL = -1     # K requests inside: answer 503 at once
CLOSED = -2   # the site is stopping: answer 503


class _Ticket:
    __slots__ = ("event", "slot")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.slot = CLOSED


class FifoGate:
    """``slots`` servers and at most ``capacity`` requests inside (``capacity >= slots``)."""

    def __init__(self, slots: int, capacity: int) -> None:
        if not 1 <= slots <= capacity:
            raise ValueError(f"slots: must be within [1, capacity={capacity}], got {slots}")
        self._lock = threading.Lock()
        self._free = list(range(slots - 1, -1, -1))  # a stack: slot 0 is used first
        self._waiting: deque[_Ticket] = deque()
        self._inside = 0
        self._capacity = capacity
        self._closed = False

    def enter(self) -> int:
        """A slot number (hold it until ``leave``), or ``FULL``, or ``CLOSED``."""
        with self._lock:
            if self._closed:
                return CLOSED
            if self._inside >= self._capacity:
                return FULL
            self._inside += 1
            if self._free and not self._waiting:
                return self._free.pop()
            ticket = _Ticket()
            self._waiting.append(ticket)
        ticket.event.wait()  # set by leave() (with a slot) or close() (with CLOSED)
        return ticket.slot

    def leave(self, slot: int) -> None:
        """Give ``slot`` back: to the oldest waiter if there is one."""
        with self._lock:
            self._inside -= 1
            if self._waiting:
                ticket = self._waiting.popleft()
                ticket.slot = slot
                ticket.event.set()
            else:
                self._free.append(slot)

    def close(self) -> None:
        """Refuse newcomers and release every waiter with ``CLOSED``; slots in use are left to finish."""
        with self._lock:
            self._closed = True
            waiters = list(self._waiting)
            self._waiting.clear()
            self._inside -= len(waiters)
        for ticket in waiters:
            ticket.event.set()

    def inside(self) -> int:
        """Requests inside now (served plus waiting)."""
        with self._lock:
            return self._inside
