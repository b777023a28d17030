"""Stopping on a signal: SIGINT and SIGTERM both become one exception, so one path handles both.

Every long loop in surge (a run's slices, replications, sweep points, a load test) already
stops on ``KeyboardInterrupt`` and keeps what was computed, marked partial. The command
line installs :func:`stop_on_signals`, which makes SIGTERM (what ``kill``, ``timeout``,
CI cancels and container stops send) raise :class:`Stopped`, a ``KeyboardInterrupt``, as
SIGINT does; :func:`reason` says which it was, and :func:`exit_code` gives 130 or 143.
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["Stopped", "stop_on_signals", "deferred_signals", "reason", "exit_code", "INTERRUPTED", "TERMINATED"]

INTERRUPTED, TERMINATED = "interrupted", "terminated"
_EXIT = {INTERRUPTED: 130, TERMINATED: 143}  # 128 + the signal's number, as a shell reports it


class Stopped(KeyboardInterrupt):
    """A stop asked for by a signal (``signum``)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def reason(exc: BaseException) -> str:
    """``terminated`` for SIGTERM, ``interrupted`` for SIGINT or a plain KeyboardInterrupt."""
    return TERMINATED if isinstance(exc, Stopped) and exc.signum == signal.SIGTERM else INTERRUPTED


def exit_code(why: str | None) -> int:
    """130 for an interrupt, 143 for a termination, 1 for any other error, 0 for none."""
    if why is None:
        return 0
    return _EXIT.get(why, 1)


def _raise(signum, _frame) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals():
    """SIGINT and SIGTERM raise :class:`Stopped` in the main thread while inside; restored after.

    Elsewhere than in the main thread (where Python delivers signals) it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred_signals():
    """Inside, SIGINT and SIGTERM wait: results being written are written whole; the stop comes after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if caught:
        raise Stopped(caught[0])
