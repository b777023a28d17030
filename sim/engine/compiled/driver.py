"""The fast engine's compiled path: the whole model in a numba loop, fed a window at a time.

``sim.engine.compiled.loop`` runs the events; this driver owns its arrays (laid out as
``sim.engine.compiled.layout`` says) and does what stays in Python: drawing each arrival
window (the same streams, windows and order as ``sim.engine.reference.model.Model``), making
headroom (growing pools and rings, packing the step arena), and handing the loop's output to
the :class:`~sim.engine.recorder.Recorder` through the same buffers and blocks the event
engines fill one call at a time. Memory follows the traffic in flight, never the run's
length in requests: outputs are handed over whenever a buffer fills, pools grow only
to the peak of what is in flight.

It models every scenario with an app tier, but for the parts the fast engine refuses; the waiting
room's tickets, levels and stream are in ``sim.engine.compiled.room``.
"""

from __future__ import annotations

import math

import numpy as np

from sim.config.scenario import Scenario
from sim.engine.compiled import layout as L
from sim.engine.compiled.autoscale import AS_START, IN_FLIGHT, XF_LAST, XF_LEVEL, XF_METRIC, XF_SCHED, fold_areas
from sim.engine.compiled.loop import run_loop
from sim.engine.compiled.room import METHODS, PATIENCE, SESSION, law_row, room_finish
from sim.engine.draws import BlockDraws
from sim.engine.recorder import Recorder
from sim.engine.run import ArrivalWindows, RunResult, Streams, run_in_slices
from sim.traffic.profile import build_profile

__all__ = ["simulate_compiled"]

_POLICIES = {"round_robin": L.ROUND_ROBIN, "least_connections": L.LEAST_CONNECTIONS, "random": L.RANDOM}
_START = 1 << 12  # first size of every pool, ring and buffer (each doubles when short)
_OUT = 1 << 16  # output rows handed to the recorder at a time


def _free_list(next_col: np.ndarray, lo: int, hi: int, head: int) -> int:
    """Chain slots lo..hi-1 in front of ``head``; returns the new head."""
    if hi <= lo:
        return head
    next_col[lo:hi - 1] = np.arange(lo + 1, hi)
    next_col[hi - 1] = head
    return lo


def _ring_grow(ring: np.ndarray, head: int, tail: int) -> np.ndarray:
    """A ring twice the size with the live entries head..tail-1 at 0..n-1."""
    cap = len(ring)
    live = ring[np.arange(head, tail) % cap]
    out = np.zeros(2 * cap, dtype=ring.dtype)
    out[:len(live)] = live
    return out


class _Loop:
    """The loop's arrays (layout in ``sim.engine.compiled.layout``) and the Python side of its protocol."""

    def __init__(self, scenario: Scenario, rec: Recorder, retry: BlockDraws | None, picks: BlockDraws | None,
                 room_rng: np.random.Generator, writes: BlockDraws | None) -> None:
        site, v, run = scenario.site, scenario.visitors, scenario.run
        app, db = site.app, site.db
        self.rec, self.retry_source, self.picks, self.writes = rec, retry, picks, writes
        self.width = int(max(db.queries_per_page, db.queries_per_submit)) if db else 0
        ints = self.ints = np.zeros(L.I_SIZE, dtype=np.int64)
        floats = self.floats = np.zeros(L.F_SIZE)
        ints[L.I_WORKERS] = app.workers
        ints[L.I_QLIM] = 1 << 62 if math.isinf(app.queue_limit) else int(app.queue_limit)
        ints[L.I_POLICY] = _POLICIES[app.balancer]
        ints[L.I_CONNS] = db.connections if db else 0
        ints[L.I_DROP] = int(app.drop_abandoned)
        ints[L.I_RPP] = v.requests_per_page
        ints[L.I_RMAX] = v.retry.max if v.retry else 0
        ints[L.I_SYNS] = app.syn_retries if app.overflow == "drop" else -1
        floats[L.F_SYN_RTO] = app.syn_rto_s
        floats[L.F_TIMEOUT], floats[L.F_WARMUP], floats[L.F_DURATION] = app.timeout_s, run.warmup_s, run.duration_s
        floats[L.F_RETRY_P] = v.retry.probability if v.retry else 0.0
        self.landing_by_ttl = site.cdn is not None and site.cdn.landing_ttl_s > 0
        floats[L.F_SQ_LANDING_TTL] = site.cdn.landing_ttl_s if site.cdn else 0.0
        floats[L.F_SQ_LANDING_EXPIRES], floats[L.F_SQ_MAXLAG] = -math.inf, math.nan
        sq = site.signature_queue
        ints[L.I_SQ_ON] = int(sq is not None)
        ints[L.I_SQ_IDLE] = sq.writers if sq else 0
        ints[L.I_SQ_NQ] = db.queries_per_submit if sq and db else 0
        self.edges = rec.bins.edges_array
        floats[L.F_BIN] = rec.bins.bin_s
        n = _START
        self.heap_t, self.heap_i = np.zeros(n), np.zeros((n, 3), dtype=np.int64)
        self.req_i, self.req_f = np.zeros((n, L.R_INTS), dtype=np.int64), np.zeros((n, L.RF_Q + self.width))
        self.vis_i, self.vis_patience = np.zeros((n, L.V_INTS), dtype=np.int64), np.zeros(n)
        ints[L.I_RFREE] = _free_list(self.req_i[:, L.R_NEXT], 0, n, -1)
        ints[L.I_VFREE] = _free_list(self.vis_i[:, L.V_NEXT], 0, n, -1)
        self.win_table = np.zeros((64, L.W_INTS), dtype=np.int64)
        self.step_i, self.step_f = np.zeros((n, L.S_INTS), dtype=np.int64), np.zeros((n, L.SF_Q + self.width))
        self.asset_arena = np.zeros(n)  # asset arena: the asset service times of each window's steps
        self.top = self.atop = 0  # arena rows in use (windows are packed below them)
        self._instances(site)
        self.queues = np.zeros((len(self.instance_table), 4 + n), dtype=np.int64)
        self.deadlines, self.db_waiting = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.counts = np.zeros((len(L.COUNTS), len(self.edges)), dtype=np.int64)  # + a touched column
        self.totals = np.zeros((2, len(L.TOTALS)), dtype=np.int64)  # values, touched
        self.out_wait, self.out_done = np.zeros(_OUT), np.zeros((_OUT, 3))
        # an autoscaler event writes up to as_extra level rows at once
        self.out_app, self.out_db = np.zeros((max(_OUT, 2 * (L.HEADROOM + self.as_extra)), 3)), np.zeros((_OUT, 3))
        # The signature queue's ring, its write_s draws and its level changes (HEADROOM rows when there is none).
        self.sig_ring = np.zeros(n if sq else L.HEADROOM, dtype=np.int64)
        self.sig_write_s = self._draws(writes)[:, 1].copy()
        self.out_sig = np.zeros((_OUT if sq else L.HEADROOM, 2))
        self.retry = self._draws(retry)
        # never read without picks, but the headroom check wants a pick per asset of a page beyond HEADROOM
        self.balancer_u = self._draws(picks)[:, 0].copy() if picks is not None else np.zeros(L.HEADROOM + v.requests_per_page)
        ints[L.I_CW] = -1
        self._waiting_room(site.waiting_room, room_rng)
        self.arriving_times, self.arriving_f = np.empty(0), np.zeros((0, 2))
        self.arriving_i = np.zeros((1, 2), dtype=np.int64)

    def _waiting_room(self, room, rng: np.random.Generator) -> None:
        """The waiting room's arrays (sim.engine.compiled.room); the smallest the loop's checks accept without one."""
        ints, floats = self.ints, self.floats
        n = _START if room is not None else 2 * L.HEADROOM
        self.room_ring, self.room_joined = np.zeros((n, 2), dtype=np.int64), np.zeros(n)
        self.room_pool = np.zeros(n, dtype=np.int64)
        self.out_room = np.zeros((_OUT if room is not None else 2 * L.HEADROOM, 3))
        self.room_rng = rng
        ints[L.I_WR_METHOD] = -1
        self.room_laws = np.zeros((2, 4))
        if room is None:
            return
        ints[L.I_WR_METHOD], ints[L.I_WR_LIMIT] = METHODS[room.queueing_method], room.active_limit
        floats[L.F_WR_GAP], floats[L.F_WR_OPEN] = room.admission_gap_s, -math.inf
        floats[L.F_WR_REFRESH] = room.refresh_s
        rows = {SESSION: law_row(room.session_s), PATIENCE: law_row(room.queue_patience_s)}
        self.room_laws = np.zeros((2, max(len(r) for r in rows.values())))
        for k, row in rows.items():
            self.room_laws[k, :len(row)] = row

    def _instances(self, site) -> None:
        """The instance table and the autoscaler's state: rows for the instances and, with an autoscaler,
        ``max`` more free (kept free before each event, see ``autoscale_has_headroom``)."""
        ints, floats, app, cfg = self.ints, self.floats, site.app, site.autoscale
        rows = app.instances + (cfg.max if cfg else 0)
        self.instance_table = np.zeros((rows, L.X_INTS), dtype=np.int64)
        self.instance_table[:app.instances, L.X_RT] = np.arange(app.instances)
        self.instance_table[:app.instances, L.X_ROLE] = L.X_ROUTABLE
        ints[L.I_AS_NR] = app.instances
        # heap entries, level and capacity rows one autoscaler event may add (0: no autoscaler)
        self.as_extra = cfg.max + len(cfg.schedule) + 2 if cfg else 0
        self.out_cap = np.zeros((2 * (L.HEADROOM + self.as_extra), 3))
        self.scaler_f = np.zeros(XF_SCHED + 2 * len(cfg.schedule) if cfg else XF_SCHED)
        if cfg is None:
            return
        ints[L.I_AS_MAX], ints[L.I_AS_MIN], ints[L.I_AS_STEP], ints[L.I_AS_FREE] = cfg.max, cfg.min, cfg.step, cfg.max
        floats[L.F_AS_TARGET], floats[L.F_AS_PERIOD], floats[L.F_AS_WARMUP] = cfg.target, cfg.period_s, cfg.warmup_s
        floats[L.F_AS_COOLDOWN] = cfg.cooldown_s
        scaler_f = self.scaler_f
        scaler_f[XF_LAST] = -math.inf
        scaler_f[XF_LEVEL + 2], scaler_f[XF_LEVEL + 3] = app.instances * app.workers, app.instances  # as AppTier's constructor
        scaler_f[XF_METRIC] = IN_FLIGHT if cfg.metric == "in_flight" else 0.0
        for j, entry in enumerate(cfg.schedule):
            scaler_f[XF_SCHED + 2 * j], scaler_f[XF_SCHED + 2 * j + 1] = entry.at_s, entry.min
        # The process starts (simpy's Initialize, urgent: before any event at 0): the first entry on the heap.
        self.heap_t[0], self.heap_i[0] = 0.0, (0, L.EV_AS_TICK, AS_START)
        ints[L.I_HN], ints[L.I_SEQ] = 1, 1

    @staticmethod
    def _draws(source: BlockDraws | None) -> np.ndarray:
        """The next block of (uniform, paired draw) rows."""
        if source is None:  # never read: the loop's headroom check still wants HEADROOM rows
            return np.zeros((L.HEADROOM, 2))
        return np.column_stack(source.block())

    def run_until(self, until: float, next_window) -> None:
        while True:
            status = run_loop(until, self.ints, self.floats, self.heap_t, self.heap_i, self.req_i, self.req_f,
                              self.vis_i, self.vis_patience, self.win_table, self.step_i, self.step_f, self.asset_arena,
                              self.queues, self.instance_table, self.scaler_f, self.deadlines, self.db_waiting,
                              self.counts, self.totals, self.edges, self.out_wait, self.out_done, self.out_app,
                              self.out_db, self.out_cap, self.retry, self.balancer_u, self.arriving_f, self.arriving_i,
                              self.as_extra, self.room_ring, self.room_joined, self.room_pool, self.room_laws,
                              self.out_room, self.room_rng, self.sig_ring, self.sig_write_s, self.out_sig)
            if status == L.OK_STATUS:
                return
            if status == L.GROW:
                self.make_headroom()
            else:
                next_window(float(self.floats[L.F_WIN_T0]))

    # -- headroom ------------------------------------------------------------------------
    def make_headroom(self) -> None:
        ints, need = self.ints, L.HEADROOM
        self.hand_over()
        if ints[L.I_HN] + need + self.as_extra > len(self.heap_t):
            self.heap_t = np.concatenate((self.heap_t, np.zeros(len(self.heap_t))))
            self.heap_i = np.concatenate((self.heap_i, np.zeros_like(self.heap_i)))
        if ints[L.I_RUSED] + need > len(self.req_i):
            n = len(self.req_i)
            self.req_i = np.concatenate((self.req_i, np.zeros_like(self.req_i)))
            self.req_f = np.concatenate((self.req_f, np.zeros_like(self.req_f)))
            ints[L.I_RFREE] = _free_list(self.req_i[:, L.R_NEXT], n, 2 * n, ints[L.I_RFREE])
        if ints[L.I_VUSED] + need > len(self.vis_i):
            n = len(self.vis_i)
            self.vis_i = np.concatenate((self.vis_i, np.zeros_like(self.vis_i)))
            self.vis_patience = np.concatenate((self.vis_patience, np.zeros_like(self.vis_patience)))
            ints[L.I_VFREE] = _free_list(self.vis_i[:, L.V_NEXT], n, 2 * n, ints[L.I_VFREE])
        for ring, h, t in (("deadlines", L.I_DLH, L.I_DLT), ("db_waiting", L.I_DBH, L.I_DBT),
                            ("sig_ring", L.I_SQ_H, L.I_SQ_T)):
            if ints[t] - ints[h] + need > len(getattr(self, ring)):
                setattr(self, ring, _ring_grow(getattr(self, ring), ints[h], ints[t]))
                ints[t], ints[h] = ints[t] - ints[h], 0
        if ints[L.I_WR_TAIL] - ints[L.I_WR_HEAD] + need > len(self.room_ring):
            self._grow_tickets()
        if ints[L.I_AS_MAX] and ints[L.I_AS_FREE] < ints[L.I_AS_MAX]:  # retired instances still draining: more rows
            more = len(self.instance_table)
            self.instance_table = np.concatenate((self.instance_table, np.zeros_like(self.instance_table)))
            self.queues = np.concatenate((self.queues, np.zeros_like(self.queues)))
            ints[L.I_AS_FREE] += more
        queues = self.queues
        qcap = queues.shape[1] - 4
        if (queues[:, L.Q_TAIL] - queues[:, L.Q_HEAD] + need > qcap).any():
            grown = np.zeros((queues.shape[0], 4 + 2 * qcap), dtype=np.int64)
            for k in range(queues.shape[0]):
                head, tail = queues[k, L.Q_HEAD], queues[k, L.Q_TAIL]
                grown[k, 4:4 + tail - head] = _ring_grow(queues[k, 4:], head, tail)[:tail - head]
                grown[k, :4] = queues[k, :4]
                grown[k, L.Q_HEAD], grown[k, L.Q_TAIL] = 0, tail - head
            self.queues = grown
        if self.retry_source is not None and ints[L.I_RETRY_POS] + need > len(self.retry):
            self.retry = np.concatenate((self.retry[ints[L.I_RETRY_POS]:], self._draws(self.retry_source)))
            ints[L.I_RETRY_POS] = 0
        if self.writes is not None and ints[L.I_SQ_POS] + need > len(self.sig_write_s):
            self.sig_write_s = np.concatenate((self.sig_write_s[ints[L.I_SQ_POS]:], self._draws(self.writes)[:, 1]))
            ints[L.I_SQ_POS] = 0
        if self.picks is not None and ints[L.I_BAL_POS] + need + ints[L.I_RPP] > len(self.balancer_u):
            self.balancer_u = self.balancer_u[ints[L.I_BAL_POS]:]
            ints[L.I_BAL_POS] = 0
            while need + ints[L.I_RPP] > len(self.balancer_u):  # a pick per asset of a page, in one event
                self.balancer_u = np.concatenate((self.balancer_u, self._draws(self.picks)[:, 0]))

    def _grow_tickets(self) -> None:
        """The tickets' ring twice the size; each ticket p stays at p % len (its number is in pending events)."""
        ints, cap = self.ints, len(self.room_ring)
        live = np.arange(ints[L.I_WR_HEAD], ints[L.I_WR_TAIL])
        room_ring, room_joined = np.zeros((2 * cap, 2), dtype=np.int64), np.zeros(2 * cap)
        room_ring[live % (2 * cap)] = self.room_ring[live % cap]
        room_joined[live % (2 * cap)] = self.room_joined[live % cap]
        room_pool = np.zeros(2 * cap, dtype=np.int64)
        room_pool[:cap] = self.room_pool
        self.room_ring, self.room_joined, self.room_pool = room_ring, room_joined, room_pool

    def room_finish(self, end_s: float) -> None:
        """WaitingRoom.finish: the reloads of those still waiting, up to ``end_s`` (before the totals go over)."""
        if self.ints[L.I_WR_METHOD] >= 0:
            room_finish(self.ints, self.floats, self.counts, self.totals, self.edges, self.room_ring, self.room_joined,
                        end_s)

    def hand_over(self) -> None:
        """The loop's output rows, in order, to the recorder's buffers and blocks."""
        ints, rec = self.ints, self.rec
        n = ints[L.I_NWAIT]
        if n:
            rec.waits_many(self.out_wait[:n].copy())
        n = ints[L.I_NDONE]
        if n:
            done = self.out_done[:n]
            flag = done[:, 2].astype(np.int64)
            rec.completions_many(done[:, 0].copy(), done[:, 1].copy(), (flag & 1) > 0, (flag & 2) > 0)
        n = ints[L.I_NAPP]
        if ints[L.I_AS_MAX]:
            fold_areas(ints, self.scaler_f, self.out_app)  # the autoscaler's areas, before the rows go
            ints[L.I_AS_FOLDED] = 0
            for t, capacity, instances in self.out_cap[:ints[L.I_AS_NCAP]].tolist():
                rec.app_capacity(t, int(capacity), int(instances))
            ints[L.I_AS_NCAP] = 0
        if n:
            a = self.out_app[:n]
            rec.app_levels_many(a[:, 0], a[:, 1], a[:, 2])
        n = ints[L.I_NDB]
        if n:
            a = self.out_db[:n]
            rec.db_levels_many(a[:, 0], a[:, 1], a[:, 2])
        n = ints[L.I_WR_NOUT]
        if n:
            a = self.out_room[:n]
            rec.waiting_room_levels_many(a[:, 0], a[:, 1], a[:, 2])
        n = ints[L.I_SQ_NOUT]
        if n:
            a = self.out_sig[:n]
            rec.signature_levels_many(a[:, 0], a[:, 1])
        ints[L.I_NWAIT] = ints[L.I_NDONE] = ints[L.I_NAPP] = ints[L.I_NDB] = ints[L.I_WR_NOUT] = ints[L.I_SQ_NOUT] = 0

    # -- windows ---------------------------------------------------------------------------------
    def count_arrivals(self) -> None:
        """The current window's visitors that arrived, to the recorder (as ``Model._count_arrivals``)."""
        k = int(self.ints[L.I_ARRIVED])
        if k:
            self.rec.visitors_arrived(self.arriving_times[:k], self.arriving_i[:k, 1].astype(bool))
        self.ints[L.I_ARRIVED] = 0

    def install(self, times: np.ndarray, plans, end_s: float) -> None:
        """A new arrival window: its steps into the arena, its visitors ready to arrive."""
        self.count_arrivals()
        steps, n_assets = len(plans.kind), len(plans.asset_s)
        slot = self._window_slot()
        base, abase = self._arena_rows(steps, n_assets)
        step_i, step_f = self.step_i, self.step_f
        rows = slice(base, base + steps)
        step_i[rows, L.S_KIND], step_i[rows, L.S_HTML] = plans.kind, plans.html_hit
        if self.landing_by_ttl:
            step_i[base + plans.first_step[:-1], L.S_HTML] = L.BY_TTL  # every journey's first step: its landing page
        step_i[rows, L.S_ASSETS], step_i[rows, L.S_NQ] = plans.assets, plans.queries
        step_i[rows, L.S_AFIRST] = plans.asset_first
        step_f[rows, L.SF_THINK], step_f[rows, L.SF_SERV] = plans.think_s, plans.service_s
        if self.width:
            step_f[rows, L.SF_Q:] = plans.query_s[:, :self.width]
        self.asset_arena[abase:abase + n_assets] = plans.asset_s
        self.top, self.atop = base + steps, abase + n_assets
        self.win_table[slot] = (base, 0, steps, abase, n_assets)
        ints, floats = self.ints, self.floats
        ints[L.I_CW], ints[L.I_CW_I], ints[L.I_CW_N], ints[L.I_ARRIVED] = slot, 0, len(times), 0
        ints[L.I_PENDING] = L.P_ARRIVALS
        floats[L.F_CW_END] = end_s
        self.arriving_times = times
        self.arriving_f = np.column_stack((times, np.asarray(plans.patience_s, dtype=float)))
        self.arriving_i = np.zeros((len(times) + 1, 2), dtype=np.int64)
        self.arriving_i[:, 0] = plans.first_step
        self.arriving_i[:-1, 1] = plans.intends_action

    def _in_use(self) -> np.ndarray:
        """Windows whose steps are still needed: visitors on the site, or still arriving."""
        used = (self.win_table[:, L.W_STEPS] > 0) & (self.win_table[:, L.W_LIVE] > 0)
        if self.ints[L.I_CW] >= 0:
            used[self.ints[L.I_CW]] = True
        return used

    def _window_slot(self) -> int:
        used = self._in_use()
        self.win_table[~used] = 0
        free = np.flatnonzero(~used)
        if len(free):
            return int(free[0])
        n = len(self.win_table)
        self.win_table = np.concatenate((self.win_table, np.zeros_like(self.win_table)))
        return n

    def _arena_rows(self, steps: int, n_assets: int) -> tuple[int, int]:
        """First free rows of the step arena and of the asset arena; packs the windows in use, or grows, when short."""
        if self.top + steps <= len(self.step_i) and self.atop + n_assets <= len(self.asset_arena):
            return self.top, self.atop
        used = np.flatnonzero(self.win_table[:, L.W_STEPS] > 0)
        self.step_i, self.step_f = self._pack(used, L.W_SBASE, L.W_STEPS, steps, self.step_i, self.step_f)
        self.asset_arena, = self._pack(used, L.W_ABASE, L.W_ASSETS, n_assets, self.asset_arena)
        self.top = int(self.win_table[used, L.W_STEPS].sum())
        self.atop = int(self.win_table[used, L.W_ASSETS].sum())
        return self.top, self.atop

    def _pack(self, used: np.ndarray, base_col: int, size_col: int, more: int, *arenas: np.ndarray) -> tuple:
        """The blocks of windows ``used`` packed from row 0 in arenas at most half full with ``more`` rows added."""
        used = used[np.argsort(self.win_table[used, base_col], kind="stable")]
        need = int(self.win_table[used, size_col].sum()) + more
        cap = len(arenas[0])
        while cap < 2 * need:  # keep the arena at most half full after packing, so packing stays rare
            cap *= 2
        packed = tuple(np.zeros((cap,) + a.shape[1:], dtype=a.dtype) for a in arenas)
        top = 0
        for w in used.tolist():
            base, n = int(self.win_table[w, base_col]), int(self.win_table[w, size_col])
            for new, old in zip(packed, arenas):
                new[top:top + n] = old[base:base + n]
            self.win_table[w, base_col] = top
            top += n
        return packed


def simulate_compiled(scenario: Scenario, seed_seq: np.random.SeedSequence) -> RunResult:
    """One run on the compiled loop: the reference's results, to the last bit."""
    streams = Streams.spawn(seed_seq)
    v, app = scenario.visitors, scenario.site.app
    rec = Recorder(scenario)
    for k in range(1, app.instances + 1):  # what AppTier's constructor reports, instance by instance
        rec.app_capacity(0.0, k * app.workers, k)
        rec.app_levels(0.0, 0, 0)
    retry = BlockDraws(streams.retry, v.retry.delay_s) if v.retry else None
    most = max(app.instances, scenario.site.autoscale.max) if scenario.site.autoscale else app.instances
    picks = BlockDraws(streams.balancer) if app.balancer == "random" and most > 1 else None
    sq = scenario.site.signature_queue
    writes = BlockDraws(streams.signatures, sq.write_dist(app)) if sq else None
    loop = _Loop(scenario, rec, retry, picks, streams.room, writes)
    windows = ArrivalWindows(scenario, build_profile(scenario), streams)

    def next_window(t0: float) -> None:
        loop.install(*windows.draw(t0))

    started = False

    def advance(t: float) -> None:
        nonlocal started
        if not started:
            started = True
            next_window(0.0)
        loop.run_until(t, next_window)

    error = run_in_slices(scenario.run, advance)
    end = float(loop.floats[L.F_NOW])
    loop.hand_over()
    loop.room_finish(end)
    loop.count_arrivals()
    _totals_to(rec, loop)
    rec.finish(end)
    return RunResult(scenario=scenario, recorder=rec, end_s=end, partial=error is not None, error=error,
                     engine="fast")


def _totals_to(rec: Recorder, loop: _Loop) -> None:
    """Per-bin counts and totals, for the names the model touched (as the recorder's dicts would hold)."""
    for k, name in enumerate(L.COUNTS):
        if loop.counts[k, -1]:
            rec.add_counts(name, loop.counts[k, :-1])
    for k, name in enumerate(L.TOTALS):
        if loop.totals[1, k]:
            rec.add_total(name, int(loop.totals[0, k]))
    rec.abandoned_wait_s += float(loop.floats[L.F_ABWAIT])
    rec.signature_max_lag_s = float(loop.floats[L.F_SQ_MAXLAG])
