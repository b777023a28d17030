"""The clocks the model runs on, and the protocol they share.

A clock has ``now``, ``call(delay, fn, arg)`` that calls ``fn(arg)`` at ``now + delay``,
``timer(fn)``, that call bound to ``fn`` once (the hot paths hold one per callback), and
``run_until(t)``, which runs every event before ``t`` (events at exactly ``t`` wait for the
next slice, as simpy's ``run(until=t)`` leaves them). Ties at one instant are broken by
scheduling order on both, and every time is ``now + delay``, so the same model gives the
same floats on either clock.

* :class:`SimpyClock`: simpy's Environment, the reference engine's clock.
* :class:`HeapClock`: a plain heap of ``(time, seq, fn, arg)``, the fast engine's clock
  for a site with no app tier (nothing to queue at, so nothing for the compiled loop).
"""

from __future__ import annotations

import heapq
import itertools
from operator import attrgetter
from typing import Callable

import simpy
from simpy.events import NORMAL, Event, Timeout

__all__ = ["SimpyClock", "HeapClock", "as_clock"]


class SimpyClock:
    """The clock interface on a simpy Environment: one simpy event per call, no processes."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._adapters: dict = {}

    def run_until(self, t: float) -> None:
        self.env.run(until=t)

    # Read many times per event: a C-level getter instead of simpy's Python property.
    now = property(attrgetter("env._now"))

    def call(self, delay: float, fn: Callable, arg) -> None:
        adapter = self._adapters.get(fn)
        if adapter is None:
            adapter = self._adapters[fn] = lambda ev, fn=fn: fn(ev._value)
        Timeout(self.env, delay, arg).callbacks.append(adapter)

    def timer(self, fn: Callable) -> Callable[[float, object], None]:
        """``call`` bound to ``fn`` once: the hot paths hold one per callback.

        Its events are recycled: once simpy has run an event's callbacks it is done with it, so
        the next call scheduled through this timer takes it again (a fired event is set up as a
        ``Timeout`` would be, and scheduled through ``env.schedule``, so events keep simpy's
        (time, priority, id) order). A quarter of the cost of a simpy event is making it."""
        env, free, schedule_event = self.env, [], self.env.schedule

        def adapter(ev):
            arg, ev._value = ev._value, None  # a spare event must not keep its last request alive
            free.append(ev)
            fn(arg)

        def schedule(delay: float, arg) -> None:
            if free:
                ev = free.pop()
                ev.callbacks = [adapter]
            else:
                ev = Event(env)
                ev._ok = True
                ev.callbacks.append(adapter)
            ev._value = arg
            schedule_event(ev, NORMAL, delay)
        return schedule


def as_clock(clock_or_env):
    """A clock as is; a simpy Environment wrapped in :class:`SimpyClock`."""
    return SimpyClock(clock_or_env) if isinstance(clock_or_env, simpy.Environment) else clock_or_env


class HeapClock:
    """``call(delay, fn, arg)`` runs ``fn(arg)`` at ``now + delay``; ``run_until(t)`` runs events before t."""

    __slots__ = ("now", "_queue", "_seq")

    def __init__(self) -> None:
        self.now = 0.0
        self._queue: list = []
        self._seq = itertools.count()

    def call(self, delay: float, fn, arg) -> None:
        heapq.heappush(self._queue, (self.now + delay, next(self._seq), fn, arg))

    def timer(self, fn):
        """``call`` bound to ``fn`` (the site's hot paths hold one per callback)."""
        queue, seq, push = self._queue, self._seq, heapq.heappush

        def schedule(delay: float, arg) -> None:
            push(queue, (self.now + delay, next(seq), fn, arg))
        return schedule

    def run_until(self, until: float) -> None:
        # Events at exactly ``until`` wait for the next slice, as simpy's run(until=...) leaves them.
        queue, pop = self._queue, heapq.heappop
        while queue and queue[0][0] < until:
            self.now, _, fn, arg = pop(queue)
            fn(arg)
        self.now = until
