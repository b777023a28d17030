"""The durable signature queue: a submit's database work moved behind the answer.

With ``[site.signature_queue]`` a form submit holds its app worker only for ``ack_s`` (enqueue
and answer), and the action counts as done when that answer comes. Its signature then
waits in a FIFO queue (durable: unbounded, never lost) for one of ``writers`` background
writers, which spends ``write_s`` on it, then makes the submit's queries through the
database pool (FIFO with the pages' queries, as a page's own), then takes the next.

A writer is not an app worker: it takes no traffic and holds no backlog slot. The
compiled loop transcribes this class (``sim.engine.compiled.sigqueue``).
"""

from __future__ import annotations

from collections import deque

from sim.engine.draws import BlockDraws
from sim.engine.reference.db_pool import DbPool

__all__ = ["Signature", "SignatureQueue"]


class Signature:
    """One acknowledged submit's write: what the database pool reads (``query_s``, ``qi``, ``instance``)."""

    __slots__ = ("ack_s", "query_s", "qi", "instance", "measured")

    def __init__(self, *, ack_s: float, query_s, measured: bool, queue: "SignatureQueue") -> None:
        self.ack_s = ack_s  # when the visitor was answered
        self.query_s = query_s  # its query times, or None
        self.qi = 0  # next query
        self.instance = queue  # the pool hands finished queries back to ``instance.queries_done``
        self.measured = measured  # answered after the warm-up: counts in the totals


class SignatureQueue:
    """A FIFO of signatures and ``writers`` writers drawing ``write_s`` one signature at a time."""

    def __init__(self, clock, *, writers: int, draws: BlockDraws, db: DbPool | None, recorder) -> None:
        self.clock = clock
        self.idle = writers
        self.waiting: deque[Signature] = deque()
        self.draws = draws  # (uniform, write_s) pairs: a write takes one, in the order writes start
        self.db = db
        self.recorder = recorder
        self._at_written = clock.timer(self._written)

    def enqueue(self, now: float, query_s, measured: bool) -> None:
        """A submit was answered at ``now``: its signature to a free writer, or to the back of the queue."""
        sig = Signature(ack_s=now, query_s=query_s, measured=measured, queue=self)
        self.recorder.signature_queued(measured)
        if self.idle:
            self.idle -= 1
            self._write(sig)
        else:
            self.waiting.append(sig)
            self.recorder.signature_levels(now, len(self.waiting))

    def _write(self, sig: Signature) -> None:
        self._at_written(self.draws.take()[1], sig)

    def _written(self, sig: Signature) -> None:
        """``write_s`` is over: the queries, one after another, or done."""
        if sig.query_s is not None:
            self.db.acquire(sig)
        else:
            self._done(sig)

    def queries_done(self, sig: Signature) -> None:
        if sig.qi < len(sig.query_s):
            self.db.acquire(sig)
        else:
            self._done(sig)

    def _done(self, sig: Signature) -> None:
        now = self.clock.now
        self.recorder.signature_written(now - sig.ack_s, sig.measured)
        if self.waiting:
            nxt = self.waiting.popleft()
            self.recorder.signature_levels(now, len(self.waiting))
            self._write(nxt)
        else:
            self.idle += 1
