"""What a run records: per-bin counters, latency histograms and time-weighted levels.

Everything streams into fixed-size accumulators (bins over the simulated time and
log-bucket histograms), so memory follows the simulated duration, never the number
of requests. Totals for the summary cover what happens after ``run.warmup_s``;
the time series shows every bin.

Two ways in, one result. The event engines report one event at a time: the frequent
reports only append to a *journal* of flat Python lists (a page view's time, a
completion's time, arrival, count and kind, a level change's time and levels), and
:meth:`Recorder.flush` hands it, every few thousand page views, to the bulk methods
(``count_many``, ``waits_many``, ``completions_many``, the level fold) that the fast
engine's paths call with arrays. Per-bin counts are integers (any order gives the same
sums); latencies reach their histograms in event order and in blocks of ``_BLOCK``
whichever way they came, so the engines' results agree to the last bit. Rare reports
(retries, errors, give-ups) count into per-bin lists at once. :meth:`Recorder.finish`
hands everything over to the ``BinnedSeries`` and histograms that the results read.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from sim.stats.series import BinnedSeries, TimeWeighted
from sim.stats.histogram import LogHistogram
from sim.config.scenario import Scenario
from sim.vocabulary import ABANDONED, ASSETS, ENDS, LEVELS, OK, OUTCOMES, PAGE, REJECTED, SERVED, TIMED_OUT

__all__ = ["Recorder"]

_BLOCK = 4096  # latencies buffered before a vectorised histogram add
_LEVEL_BLOCK = 16384  # level changes buffered before a vectorised fold into the levels
_JOURNAL = 16384  # page views journaled before the journal is handed to the bulk methods

# A visitor's end (sim.vocabulary) -> its counter and its total.
_END_COUNTER = {end: f"visitors_{name}" for end, name in ENDS.items()}
_END_TOTAL = {end: f"visitors.{name}" for end, name in ENDS.items()}


def _first_reload(joined_s: float, refresh_s: float, x: float) -> int:
    """The least k >= 1 with ``joined_s + k * refresh_s >= x`` (the reload times rise with k, rounded or not)."""
    k = max(1, math.ceil((x - joined_s) / refresh_s))
    while joined_s + k * refresh_s < x:
        k += 1
    while k > 1 and joined_s + (k - 1) * refresh_s >= x:
        k -= 1
    return k


def _first_reloads(joined_s: float, refresh_s: float, x: np.ndarray) -> np.ndarray:
    """:func:`_first_reload` for each of ``x``."""
    k = np.maximum(np.ceil((x - joined_s) / refresh_s), 1.0).astype(np.int64)
    while (low := joined_s + k * refresh_s < x).any():
        k[low] += 1
    while (high := (k > 1) & (joined_s + (k - 1) * refresh_s >= x)).any():
        k[high] -= 1
    return k


class Recorder:
    def __init__(self, scenario: Scenario) -> None:
        run = scenario.run
        self.warmup_s = run.warmup_s
        self.duration_s = run.duration_s
        self.series = BinnedSeries(duration_s=run.duration_s, bin_s=run.bin_s)
        self.levels = {name: TimeWeighted(duration_s=run.duration_s, bin_s=run.bin_s) for name in LEVELS}
        self.wait = LogHistogram()  # arrival at the app tier -> start of service
        self.response = LogHistogram()  # every completed origin request
        self.page_response = LogHistogram()  # completed page views and submits: what visitors wait for
        # Totals as a defaultdict: ``+=`` on a Counter costs twice a plain dict's, and the hot path does
        # several per visitor.
        self.totals: defaultdict[str, int] = defaultdict(int)
        self.abandoned_wait_s = 0.0  # total time abandoned requests waited (for Little's law)
        self.signature_max_lag_s = float("nan")  # the longest answer-to-write of a measured signature
        self._capacity = -1
        bins = self.bins = self.series.bins  # the series' own bin edges, so counts land where it would put them
        self._counts: dict[str, list] = {}
        self._arrivals = np.zeros(bins.n, dtype=np.int64)
        self._refreshes = np.zeros(bins.n, dtype=np.int64)  # the waiting page's reloads per bin
        self._refreshed = False
        self._b, self._b_lo, self._b_hi = 0, bins.edges[0], bins.edges[1]
        self._obs_b = 0
        self._obs_arrays: list = []  # the bulk path's page response times of the current bin
        self._chunks: dict[str, list] = {}  # the bulk path's buffers (see _blocks)
        # Level changes, flat (t, busy, queue) triples, folded into the levels a block at a time.
        self._app_buf: list = []
        self._db_buf: list = []
        self._room_buf: list = []
        self._sig_buf: list = []  # flat (t, waiting) pairs of the signature queue
        # The event engines' journal (see flush): flat lists, one per report, in event order.
        self._j_page: list[float] = []  # times of page views
        self._j_submit: list[float] = []  # times of submits
        self._j_page_ok: list[float] = []  # times page views were answered
        self._j_submit_ok: list[float] = []
        self._j_cdn: list = []  # (t, hits) pairs
        self._j_origin: list = []  # (arrival, count) pairs
        self._j_wait: list[float] = []  # waits of measured requests, in the order they started
        self._j_started = 0  # measured requests started
        self._j_served = 0  # measured visitors served who did not lose an action
        self._j_done: list = []  # (t, arrival, count, kind) of completions
        site = scenario.site
        self.modelled = {"app": site.app is not None, "db": site.db is not None,
                         "autoscale": site.autoscale is not None, "waiting_room": site.waiting_room is not None,
                         "cdn": site.cdn is not None, "signature_queue": site.signature_queue is not None}
        if site.app is not None:
            self.app_levels(0.0, 0, 0)
            self.app_capacity(0.0, site.app.instances * site.app.workers, site.app.instances)
        if site.db is not None:
            self.db_levels(0.0, 0, 0)
            self.levels["db_capacity"].update(0.0, site.db.connections)

    # -- per-bin counts ----------------------------------------------------------------
    def _bin(self, t: float) -> int:
        if self._b_lo <= t < self._b_hi:
            return self._b
        b = self.bins.index(t)
        e = self.bins.edges
        self._b, self._b_lo = b, e[b]
        self._b_hi = e[b + 1] if b + 1 < self.bins.n else float("inf")
        return b

    def _counter(self, name: str) -> list:
        """The per-bin counts of ``name``, made on first use (only names touched become series)."""
        arr = self._counts.get(name)
        if arr is None:
            arr = self._counts[name] = [0] * self.bins.n
        return arr

    def _count(self, name: str, t: float, k: float = 1) -> None:
        self._counter(name)[self._bin(t)] += k

    # -- visitors ---------------------------------------------------------------------
    def visitors_arrived(self, times, intends_action) -> None:
        """Visitors arriving at ``times`` (an array, counted per bin at once), who mean to act or not."""
        bins = self.bins
        idx = np.searchsorted(bins.edges_array, times, side="right") - 1  # as _Bins.index places them
        np.clip(idx, 0, bins.n - 1, out=idx)
        self._arrivals += np.bincount(idx, minlength=bins.n)
        measured = times >= self.warmup_s
        self.totals["visitors.arrived"] += int(measured.sum())
        self.totals["actions.attempted"] += int((measured & intends_action).sum())

    def visitor_left(self, t: float, measured: bool, intends_action: bool, outcome: int, acted: bool,
                     where: str = "site") -> None:
        """A visitor's journey ended ``outcome`` (sim.vocabulary: SERVED, FAILED or ABANDONED)."""
        if outcome == SERVED and not (intends_action and not acted):  # the common case, kept lean
            if measured:
                self._j_served += 1
            return
        if outcome != SERVED:
            self._count(_END_COUNTER[outcome], t)
        lost = intends_action and not acted
        if lost:
            self._count("actions_lost", t)
        if measured:
            self.totals[_END_TOTAL[outcome]] += 1
            self.totals["actions.lost"] += lost
            if where == "waiting_room":
                self.totals["waiting_room.abandoned" if outcome == ABANDONED else "waiting_room.rejected"] += 1

    def retry(self, t: float) -> None:
        self._count("retries", t)
        if t >= self.warmup_s:
            self.totals["visitors.retries"] += 1

    # -- page views -------------------------------------------------------------------
    def page_view(self, t: float, kind: int) -> None:
        if kind == PAGE:
            buf = self._j_page
            buf.append(t)
            if len(buf) >= _JOURNAL:
                self.flush()
        else:
            self._j_submit.append(t)

    def cdn_hits(self, t: float, hits: int) -> None:
        if hits:
            buf = self._j_cdn
            buf.append(t)
            buf.append(hits)

    def origin_unmodelled(self, t: float, kind: int) -> None:
        if t >= self.warmup_s:
            self.totals["requests.unmodelled"] += 1

    def page_result(self, t: float, kind: int, result: int) -> None:
        if result == OK:
            (self._j_page_ok if kind == PAGE else self._j_submit_ok).append(t)

    # -- origin requests -----------------------------------------------------------------
    def request_arrived(self, req) -> None:
        buf = self._j_origin
        buf.append(req.arrival_s)
        buf.append(req.count)

    def request_started(self, req) -> None:
        if req.measured:
            self._j_wait.append(req.start_s - req.arrival_s)
            self._j_started += req.count

    def request_completed(self, req, now: float) -> None:
        buf = self._j_done
        buf.append(now)
        buf.append(req.arrival_s)
        buf.append(req.count)
        buf.append(req.kind)

    def _flush_obs(self) -> None:
        if self._obs_arrays:
            self.series.observe_many("response_s", self.bins.edges[self._obs_b], np.concatenate(self._obs_arrays))
            self._obs_arrays.clear()

    def request_wasted(self, req) -> None:
        """Served after its visitor had gone (gave up or got a 504): a worker's time for nothing."""
        if req.measured:
            self.totals["requests.wasted"] += req.count

    def request_rejected(self, req, now: float) -> None:
        self._failed(OUTCOMES[REJECTED], req, now)

    def request_timed_out(self, req, now: float) -> None:
        self._failed(OUTCOMES[TIMED_OUT], req, now)

    def request_abandoned(self, req, now: float) -> None:
        self._failed(OUTCOMES[ABANDONED], req, now)
        if req.measured:
            self.abandoned_wait_s += now - req.arrival_s

    def _failed(self, what: str, req, now: float) -> None:
        self._count(what, now, req.count)
        if req.measured:
            self.totals[f"requests.{what}"] += req.count

    # -- levels ---------------------------------------------------------------------------
    def app_levels(self, t: float, busy: int, waiting: int) -> None:
        """Busy workers and waiting requests of the app tier changed (many times per request)."""
        buf = self._app_buf  # flat (t, busy, queue) triples: no tuple per change, nothing for the GC to count
        buf.append(t)
        buf.append(busy)
        buf.append(waiting)  # folded by flush(), with the journal

    def app_capacity(self, t: float, capacity: int, instances: int) -> None:
        """Workers and instances in service, reported when instances come or go (rare)."""
        if capacity != self._capacity:
            lv = self.levels
            self._capacity = capacity
            lv["app_capacity"].update(t, capacity)
            lv["instances"].update(t, instances)

    def db_levels(self, t: float, busy: int, waiting: int) -> None:
        """Connections in use and queries waiting changed (the pool's size is fixed)."""
        buf = self._db_buf
        buf.append(t)
        buf.append(busy)
        buf.append(waiting)
        if len(buf) >= 3 * _LEVEL_BLOCK:
            self._fold(buf, "db_busy", "db_queue")

    def _fold(self, buf: list, busy: str, queue: str) -> None:
        """Buffered ``(t, busy, queue)`` changes into the two levels, one vectorised update each."""
        if len(buf):
            a = np.array(buf, dtype=np.float64).reshape(-1, 3)
            if isinstance(buf, list):
                buf.clear()
            self.levels[busy].update_many(a[:, 0], a[:, 1])
            self.levels[queue].update_many(a[:, 0], a[:, 2])

    # -- bulk entry points (the journal, sim.engine.compiled.driver): same blocks and bins as one by one ----
    def _blocks(self, key: str, arr: np.ndarray, block: int, flush) -> None:
        """Rows of ``arr`` after those given before under ``key``, handed to ``flush`` ``block`` at a time.

        Latencies go to their histograms in blocks of ``block`` rows in the order they happened,
        however they were batched on the way (``self._chunks[key]`` holds the rest of a block),
        so every engine's sums come out of the same additions.
        """
        chunks = self._chunks.setdefault(key, [])
        chunks.append(np.asarray(arr, dtype=np.float64))
        total = sum(len(x) for x in chunks)
        if total >= block:
            rows = np.concatenate(chunks)
            full = total // block * block
            for i in range(0, full, block):
                flush(rows[i:i + block])
            chunks[:] = [rows[full:]] if full < total else []

    def _drain(self, key: str, flush) -> None:
        chunks = self._chunks.pop(key, None)
        if chunks:
            rows = np.concatenate(chunks)
            if len(rows):
                flush(rows)

    def count_many(self, name: str, times: np.ndarray, k: int = 1, *, weights: np.ndarray | None = None) -> None:
        """``_count(name, t, k)`` for every t of ``times`` (with ``weights``, each t's own k)."""
        if len(times) == 0:
            return
        bins = self.bins
        idx = np.searchsorted(bins.edges_array, times, side="right") - 1
        np.clip(idx, 0, bins.n - 1, out=idx)
        per_bin = np.bincount(idx, weights=weights, minlength=bins.n)
        if weights is not None:
            per_bin = per_bin.astype(np.int64)  # whole counts, exact in float64 below 2**53
        arr = self._counter(name)
        nz = np.flatnonzero(per_bin)
        for b, c in zip(nz.tolist(), per_bin[nz].tolist()):
            arr[b] += c * k

    def flush(self) -> None:
        """Hand the event engines' journal to the bulk methods: the counts, latencies and blocks
        reporting each event at once would have given (integers add in any order; latencies keep
        their order and their blocks of ``_BLOCK``)."""
        w, tot = self.warmup_s, self.totals
        for buf, name, total in ((self._j_page, "page_views", "page_views.attempted"),
                                 (self._j_submit, "submits", "actions.submits"),
                                 (self._j_page_ok, "completed", "page_views.completed"),
                                 (self._j_submit_ok, "actions_completed", "actions.completed")):
            if buf:
                t = np.array(buf, dtype=np.float64)
                buf.clear()
                self.count_many(name, t)
                tot[total] += int(np.count_nonzero(t >= w))
        for buf, name, total in ((self._j_cdn, "cdn_hits", "requests.cdn_hits"),
                                 (self._j_origin, "origin_requests", "requests.arrived")):
            if buf:
                a = np.array(buf, dtype=np.float64).reshape(-1, 2)
                buf.clear()
                self.count_many(name, a[:, 0], weights=a[:, 1])
                tot[total] += int(a[a[:, 0] >= w, 1].sum())
        if self._j_wait:
            self.waits_many(np.array(self._j_wait, dtype=np.float64))
            self._j_wait.clear()
        if self._j_started:
            tot["requests.started"] += self._j_started
            self._j_started = 0
        if self._j_served:
            tot["visitors.served"] += self._j_served
            self._j_served = 0
        # Level changes fold change by change, so where the buffer is cut changes nothing.
        self._fold(self._app_buf, "app_busy", "app_queue")
        if self._j_done:
            a = np.array(self._j_done, dtype=np.float64).reshape(-1, 4)
            self._j_done.clear()
            t, arrival = a[:, 0], a[:, 1]
            measured = arrival >= w  # as each request's ``measured``: it arrived after the warm-up
            self.completions_many(t, t - arrival, measured, a[:, 3] != ASSETS)
            tot["requests.completed"] += int(a[measured, 2].sum())

    def app_levels_many(self, t: np.ndarray, busy: np.ndarray, waiting: np.ndarray) -> None:
        """``app_levels`` for each change, the capacity unchanged (folded at once: the fold is
        change by change, so batching does not change a bit)."""
        self._fold(self._app_buf, "app_busy", "app_queue")
        self.levels["app_busy"].update_many(t, busy)
        self.levels["app_queue"].update_many(t, waiting)

    def waits_many(self, waits: np.ndarray) -> None:
        """Waits of measured requests, in the order they started."""
        self._blocks("wait", waits, _BLOCK, self.wait.add_many)

    def completions_many(self, t: np.ndarray, response: np.ndarray, measured: np.ndarray,
                         is_page: np.ndarray) -> None:
        """``request_completed`` of requests finishing at ``t`` (sorted), in that order; ``is_page``:
        a page or a submit (what a visitor waits for), else an asset miss."""
        if len(t) == 0:
            return
        pt, pr = t[is_page], response[is_page]
        if len(pt):
            bins = self.bins
            idx = np.searchsorted(bins.edges_array, pt, side="right") - 1
            np.clip(idx, 0, bins.n - 1, out=idx)
            cuts = np.flatnonzero(np.diff(idx)) + 1
            for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(pt)]):
                b = int(idx[lo])
                if b != self._obs_b:
                    self._flush_obs()
                    self._obs_b = b
                self._obs_arrays.append(pr[lo:hi])
        self._blocks("response", response[measured], _BLOCK, self.response.add_many)
        self._blocks("page", response[measured & is_page], _BLOCK, self.page_response.add_many)

    def db_levels_many(self, t: np.ndarray, busy: np.ndarray, waiting: np.ndarray) -> None:
        """``db_levels`` for each change."""
        self._fold(self._db_buf, "db_busy", "db_queue")
        self.levels["db_busy"].update_many(t, busy)
        self.levels["db_queue"].update_many(t, waiting)

    def add_counts(self, name: str, per_bin: np.ndarray) -> None:
        """Counts per bin of ``name``, added as ``_count`` would have added them one by one."""
        arr = self._counts.get(name)
        if arr is None:
            arr = self._counts[name] = [0] * self.bins.n
        for b, k in enumerate(np.asarray(per_bin).tolist()):
            if k:
                arr[b] += k

    def add_total(self, name: str, k: int) -> None:
        """``k`` more of total ``name`` (measured after the warm-up), as the event reports count them."""
        self.totals[name] += k

    def level_mean(self, name: str, from_s: float) -> float:
        """Time average of a level after ``from_s``; ``*_in_system`` is busy plus queue."""
        if name.endswith("_in_system"):
            tier = name[: -len("_in_system")]
            return self.levels[f"{tier}_busy"].mean(from_s) + self.levels[f"{tier}_queue"].mean(from_s)
        return self.levels[name].mean(from_s)

    def level_per_bin(self, name: str):
        if name.endswith("_in_system"):
            tier = name[: -len("_in_system")]
            return self.levels[f"{tier}_busy"].mean_per_bin() + self.levels[f"{tier}_queue"].mean_per_bin()
        return self.levels[name].mean_per_bin()

    def waiting_room_levels(self, t: float, active: int, waiting: int) -> None:
        """Visitors let in and visitors waiting in the room changed (once or twice per visitor)."""
        buf = self._room_buf
        buf.append(t)
        buf.append(active)
        buf.append(waiting)
        if len(buf) >= 3 * _LEVEL_BLOCK:
            self._fold(buf, "room_active", "room_queue")

    def waiting_room_levels_many(self, t: np.ndarray, active: np.ndarray, waiting: np.ndarray) -> None:
        """``waiting_room_levels`` for each change."""
        self._fold(self._room_buf, "room_active", "room_queue")
        self.levels["room_active"].update_many(t, active)
        self.levels["room_queue"].update_many(t, waiting)

    def waiting_room_refreshes(self, joined_s: float, left_s: float, refresh_s: float) -> None:
        """A queued visitor's waiting page reloaded itself at ``joined_s + k * refresh_s`` (k = 1, 2, ...)
        while before ``left_s``: load on the edge, counted at the reloads' own times, a bin at a time
        (a long wait holds thousands of reloads: each bin's are the k between two edges' first reloads)."""
        if not joined_s + refresh_s < left_s:  # no reload (an inf refresh_s included)
            return
        n = _first_reload(joined_s, refresh_s, left_s) - 1  # reloads 1..n
        bins = self.bins
        first, last = bins.index(joined_s + refresh_s), bins.index(joined_s + n * refresh_s)
        arr = self._refreshes  # a numpy row: a long wait adds to hundreds of bins at once
        if first == last:
            arr[first] += n
        else:
            starts = _first_reloads(joined_s, refresh_s, bins.edges_array[first + 1:last + 1])
            arr[first:last + 1] += np.diff(np.concatenate(([1], starts, [n + 1])))
        self._refreshed = True
        self.totals["waiting_room.refreshes"] += max(0, n + 1 - _first_reload(joined_s, refresh_s, self.warmup_s))

    # -- the signature queue (sim.engine.reference.signature_queue) ------------------------------
    def signature_queued(self, measured: bool) -> None:
        """A submit was answered and its signature queued (measured: answered after the warm-up)."""
        if measured:
            self.totals["signatures.queued"] += 1

    def signature_written(self, lag_s: float, measured: bool) -> None:
        """A writer finished a signature ``lag_s`` after its answer."""
        if measured:
            self.totals["signatures.written"] += 1
            if not lag_s <= self.signature_max_lag_s:  # the first (nan) or a longer one
                self.signature_max_lag_s = lag_s

    def signature_levels(self, t: float, waiting: int) -> None:
        """Signatures waiting for a writer changed."""
        buf = self._sig_buf
        buf.append(t)
        buf.append(waiting)
        if len(buf) >= 2 * _LEVEL_BLOCK:
            self._fold_signatures()

    def signature_levels_many(self, t: np.ndarray, waiting: np.ndarray) -> None:
        """``signature_levels`` for each change."""
        self._fold_signatures()
        self.levels["signature_queue"].update_many(t, waiting)

    def _fold_signatures(self) -> None:
        if self._sig_buf:
            a = np.array(self._sig_buf, dtype=np.float64).reshape(-1, 2)
            self._sig_buf.clear()
            self.levels["signature_queue"].update_many(a[:, 0], a[:, 1])

    def finish(self, end_s: float) -> None:
        """Close the levels at ``end_s`` and hand buffered counts and latencies over."""
        self.flush()  # folds the app levels too
        self._drain("wait", self.wait.add_many)
        self._drain("response", self.response.add_many)
        self._drain("page", self.page_response.add_many)
        self._fold(self._db_buf, "db_busy", "db_queue")
        self._fold(self._room_buf, "room_active", "room_queue")
        self._fold_signatures()
        for level in self.levels.values():
            level.finish(end_s)
        self._flush_obs()
        edges = self.bins.edges
        self._counts["arrivals"] = self._arrivals.tolist()
        if self._refreshed:
            self.add_counts("waiting_room_refreshes", self._refreshes)
            self._refreshes[:] = 0
            self._refreshed = False
        self._arrivals[:] = 0
        for name, arr in self._counts.items():
            self.series.count(name, edges[0], 0)  # the counter exists even if it stayed at 0
            for b, k in enumerate(arr):
                if k:
                    self.series.count(name, edges[b], k)
        self._counts = {}
