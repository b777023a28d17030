"""The compiled loop's memory layout: what each slot of its arrays holds, and its codes.

``sim.engine.compiled.driver`` allocates the arrays, ``sim.engine.compiled.site`` and ``sim.engine.compiled.loop``
read and write them by these names. Request kinds, states and outcomes, a visitor's end, the counters' and totals' names are the model's
vocabulary (``sim.vocabulary``), shared with the reference engine and the recorder; the codes here are
the loop's own (events, what a visitor does next, slots, the balancer policies).
"""

from __future__ import annotations

import numba

from sim.vocabulary import (ABANDONED, ASSETS, BY_TTL, CONNECTING, COUNTS, FAILED, FINISHED, GONE, NONE, OK, PAGE,
                            QUEUED, REJECTED, SERVED, SERVING, SUBMIT, TIMED_OUT, TOTALS)

jit = numba.njit(cache=True, _nrt=False)  # nothing is allocated in the loop: no reference counting
inline = numba.njit(cache=True, _nrt=False, inline="always")  # small helpers, inlined into callers

OK_STATUS, GROW, WINDOW = 0, 1, 2  # ran to the end time; an array needs growing; a window to draw
HEADROOM = 64  # free entries every array keeps before an event or a visitor is processed

# Scalars: ``ints`` (int64) and ``floats`` (float64), indexed by I_* and F_*.
I_SEQ, I_HN, I_RR, I_TBUSY, I_TWAIT, I_DBBUSY, I_ARMED, I_DLH, I_DLT, I_DBH, I_DBT = range(11)
I_RFREE, I_RUSED, I_VFREE, I_VUSED, I_RETRY_POS, I_BAL_POS, I_NWAIT, I_NDONE, I_NAPP, I_NDB = range(11, 21)
I_PENDING, I_CW, I_CW_I, I_CW_N, I_ARRIVED = range(21, 26)
I_WORKERS, I_QLIM, I_POLICY, I_CONNS, I_DROP, I_RPP, I_RMAX, I_SYNS = range(30, 38)  # I_SYNS -1: 503s
I_AS_NR, I_AS_MAX, I_AS_MIN, I_AS_STEP, I_AS_WARMING, I_AS_FREE, I_AS_NCAP, I_AS_FOLDED = range(40, 48)  # I_AS_MAX 0: off
# The waiting room (sim.engine.compiled.room): its queueing method (-1: no room), places, visitors let in and
# waiting, the tickets' ring (head, tail: tickets are numbered in the order they joined), an admission
# event pending, room level rows to hand over.
I_WR_METHOD, I_WR_LIMIT, I_WR_ACTIVE, I_WR_WAITING, I_WR_HEAD, I_WR_TAIL, I_WR_GATE, I_WR_NOUT = range(48, 56)
# The signature queue (sim.engine.compiled.sigqueue): on, idle writers, its ring's head and tail, queries
# per signature, the next write_s draw, output rows.
I_SQ_ON, I_SQ_IDLE, I_SQ_H, I_SQ_T, I_SQ_NQ, I_SQ_POS, I_SQ_NOUT = range(56, 63)
I_SIZE = 64
F_NOW, F_ABWAIT, F_WIN_T0, F_CW_END = range(4)
F_TIMEOUT, F_WARMUP, F_DURATION, F_BIN, F_RETRY_P, F_SYN_RTO = range(10, 16)
F_AS_TARGET, F_AS_PERIOD, F_AS_WARMUP, F_AS_COOLDOWN = range(16, 20)
# The waiting room: least time between admissions, earliest next admission, the waiting page's refresh.
F_WR_GAP, F_WR_OPEN, F_WR_REFRESH = range(20, 23)
# The landing page's edge TTL and when its copy expires; the longest signature lag (nan: none yet).
F_SQ_LANDING_TTL, F_SQ_LANDING_EXPIRES, F_SQ_MAXLAG = range(24, 27)
F_SIZE = 32
# Request slots: int fields, float fields (arrival, service, then the queries).
R_KIND, R_COUNT, R_NQ, R_QI, R_STATE, R_OUT, R_INST, R_MEAS, R_OWNER, R_REFS, R_NEXT, R_SYN = range(12)
R_INTS = 12
RF_ARR, RF_SERV, RF_Q = 0, 1, 2
# Visitor slots.
# V_A, V_AEND: the asset being fetched and the end of the page's assets, in the window's asset block.
V_WIN, V_S, V_END, V_RET, V_MEAS, V_INT, V_ACTED, V_NEXT, V_A, V_AEND = range(10)
V_INTS = 10
# Arrival windows: the arena blocks of their steps and of their asset service times, and their
# visitors still on the site.
W_SBASE, W_LIVE, W_STEPS, W_ABASE, W_ASSETS = range(5)  # W_STEPS 0: a free slot
W_INTS = 5
# Step arena: int fields (S_AFIRST: the step's first asset in the window's asset block; S_HTML: 1 an
# edge hit, 0 a miss, BY_TTL decided when requested), float fields (think, service, then the queries).
S_KIND, S_HTML, S_ASSETS, S_NQ, S_AFIRST = range(5)
S_INTS = 5
SF_THINK, SF_SERV, SF_Q = range(3)
# Instance queue rings: head, tail, busy, waiting.
Q_HEAD, Q_TAIL, Q_BUSY, Q_WAIT = range(4)
# The instance table (``instance_table``), a row per row of ``queues``: X_RT is the routable list by position (the balancer's pool,
# I_AS_NR long, in the order instances became routable), X_ROLE and X_SYN (dropped SYNs whose
# retransmission is due at the instance) belong to the instance of the row.
X_RT, X_ROLE, X_SYN = range(3)
X_INTS = 3
X_FREE, X_WARMING, X_ROUTABLE, X_RETIRED = range(4)
# Pending work when the loop was left: arrivals of the current window to go on with.
P_NONE, P_ARRIVALS = 0, 2

# Events (the model's callbacks).
EV_ARRIVAL, EV_WINDOW, EV_STEP, EV_FINISH, EV_QUERIES, EV_RELEASED, EV_GAVE_UP, EV_DEADLINE, EV_SYN = range(9)
EV_AS_TICK, EV_AS_READY = 9, 10  # the autoscaler (sim.engine.compiled.autoscale)
# The waiting room: a session ends (a place frees); a ticket's patience ends (arg: the ticket), or, arg -1,
# the gap since the last admission has passed.
EV_WR_SESSION, EV_WR_QUEUE = 11, 12
EV_SQ_WRITTEN = 13  # a signature's write_s is over (14 is the signature queue's too, unused)
ROUND_ROBIN, LEAST_CONNECTIONS, RANDOM = range(3)
STEP, RESULT, FETCH, ASSET_DONE, NEXT = range(5)  # what a visitor does next (loop.visitor_chain)

# Per-bin counters (``counts``: a row per name of sim.vocabulary.COUNTS, the last column says the name was touched)
# and totals (``totals``: a column per name of sim.vocabulary.TOTALS, row 0 the value, row 1 touched).
(C_PAGE_VIEWS, C_SUBMITS, C_CDN_HITS, C_COMPLETED, C_ACTIONS_COMPLETED, C_ORIGIN, C_REJECTED, C_TIMED_OUT,
 C_ABANDONED, C_V_FAILED, C_V_ABANDONED, C_ACTIONS_LOST, C_RETRIES, C_WR_REFRESHES) = range(len(COUNTS))
(T_PV_ATTEMPTED, T_SUBMITS, T_CDN_HITS, T_PV_COMPLETED, T_ACT_COMPLETED, T_ARRIVED, T_STARTED, T_COMPLETED,
 T_WASTED, T_REJECTED, T_TIMED_OUT, T_ABANDONED, T_RETRIES, T_SERVED, T_V_FAILED, T_V_ABANDONED,
 T_LOST, T_WR_ABANDONED, T_WR_REJECTED, T_WR_REFRESHES, T_SQ_QUEUED, T_SQ_WRITTEN) = range(len(TOTALS))

__all__ = [name for name in dict(globals()) if name.isupper()] + ["jit", "inline"]
