"""The model's vocabulary: request kinds, request states and outcomes, a visitor's end, the
per-bin counters, totals and time-weighted levels a run records.

Both engines (``sim.engine.reference`` and the compiled loop, ``sim.engine.compiled``), the
journeys (``sim.traffic.journey``) and the recorder (``sim.engine.recorder``) take these from
here. The codes are small integers because the compiled loop stores them in integer arrays;
the reference engine uses the same codes, so one name means one value everywhere. The
counters', totals' and levels' names are the recorder's keys and the time series' roots.
"""

from __future__ import annotations

__all__ = [
    "PAGE", "SUBMIT", "ASSETS",
    "QUEUED", "SERVING", "FINISHED", "GONE", "CONNECTING",
    "NONE", "OK", "REJECTED", "TIMED_OUT", "ABANDONED", "OUTCOMES",
    "SERVED", "FAILED", "ENDS",
    "BY_TTL",
    "COUNTS", "TOTALS", "LEVELS",
]

# What an origin request is: a page's HTML document, a form submit, or an asset that missed the CDN.
# A journey's steps are PAGE or SUBMIT; ASSETS requests are the page's asset misses, fetched after it.
PAGE, SUBMIT, ASSETS = 0, 1, 2

# A request's life at an instance (CONNECTING: its SYN was dropped, a retransmission is due).
QUEUED, SERVING, FINISHED, GONE, CONNECTING = range(5)

# What a request's visitor hears, decided once (NONE: not yet). The names are the recorder's:
# ``requests.rejected``, the counter ``timed_out`` ...
NONE, OK, REJECTED, TIMED_OUT, ABANDONED = range(5)
OUTCOMES = ("none", "ok", "rejected", "timed_out", "abandoned")  # by code

# How a visitor's journey ends: SERVED, FAILED (an error it did not retry), or ABANDONED (gave up
# waiting, at the site or in the waiting room). Codes apart from the outcomes' but ABANDONED's own.
SERVED, FAILED = 5, 6
ENDS = {SERVED: "served", FAILED: "failed", ABANDONED: "abandoned"}  # ``visitors.<end>``

# A step's HTML at the edge: 1 a hit, 0 a miss, BY_TTL decided when it is requested (the landing
# page under ``site.cdn.landing_ttl_s``: a hit while the edge's copy is fresh).
BY_TTL = 2

# Per-bin counters an engine reports (``arrivals`` and the time series' other columns are the
# recorder's own), in the order of the compiled loop's counter rows.
COUNTS = ("page_views", "submits", "cdn_hits", "completed", "actions_completed", "origin_requests",
          "rejected", "timed_out", "abandoned", "visitors_failed", "visitors_abandoned", "actions_lost",
          "retries", "waiting_room_refreshes")
# Totals an engine reports over the measured part of the run (after the warm-up), in the order of the
# compiled loop's columns (``visitors.arrived`` and ``actions.attempted`` are the recorder's own).
TOTALS = ("page_views.attempted", "actions.submits", "requests.cdn_hits", "page_views.completed",
          "actions.completed", "requests.arrived", "requests.started", "requests.completed", "requests.wasted",
          "requests.rejected", "requests.timed_out", "requests.abandoned", "visitors.retries", "visitors.served",
          "visitors.failed", "visitors.abandoned", "actions.lost", "waiting_room.abandoned", "waiting_room.rejected",
          "waiting_room.refreshes", "signatures.queued", "signatures.written")
# Time-weighted levels, each averaged per bin.
LEVELS = ("app_busy", "app_queue", "app_capacity", "instances",
          "db_busy", "db_queue", "db_capacity", "room_active", "room_queue", "signature_queue")
