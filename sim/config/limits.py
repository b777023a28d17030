"""The sizes surge accepts: every count or rate that becomes memory or events, bounded in one place.

Each is checked before anything is allocated or run (a scenario key when the scenario
is read, a flag at the top of its command), with one line naming the key, the value and
the limit. ``docs/scenario-format.md`` ("Limits") lists them all; keep the two in step.
"""

from __future__ import annotations

import os

__all__ = [
    "MAX_DURATION_S", "MAX_BINS", "MAX_AUTOSCALE_PERIODS", "MAX_INSTANCES", "MAX_WORKERS", "MAX_QUEUE_LIMIT",
    "MAX_CONNECTIONS", "MAX_QUERIES", "MAX_PAGES_PER_VISIT", "MAX_REQUESTS_PER_PAGE", "MAX_REQUESTS_PER_VISIT",
    "MAX_QUERIES_PER_VISIT", "MAX_RETRIES", "MAX_FOLLOWERS", "MAX_RESHARE_FACTOR", "MAX_VISITORS", "MAX_LOADTEST_VISITORS",
    "MAX_REPLICATIONS", "MAX_SWEEP_VALUES", "MAX_SWEEP_POINTS", "MAX_PLAN_ERLANGS", "MAX_PROBE_RATE_PER_S",
    "MAX_CONCURRENT_VISITORS", "max_processes",
    "MAX_SYN_RETRIES", "MIN_REFRESH_S", "MAX_AUTOSCALE_SCHEDULE",
]

# -- a scenario ------------------------------------------------------------------------------
MAX_DURATION_S = 31 * 86_400.0  # run.duration_s: a month (arrival windows and slices follow simulated time)
MAX_BINS = 100_000  # run.duration_s / run.bin_s: rows of timeseries.csv and profile.csv, points of every plot
MAX_AUTOSCALE_PERIODS = 100_000  # run.duration_s / site.autoscale.period_s: the autoscaler's evaluations
MAX_AUTOSCALE_SCHEDULE = 100  # site.autoscale.schedule entries: an event each, all pending from the start
MAX_INSTANCES = 1_000  # site.app.instances and site.autoscale.max: a queue and its arrays per instance
MAX_WORKERS = 10_000  # site.app.workers, per instance; site.signature_queue.writers
MAX_QUEUE_LIMIT = 1_000_000_000  # site.app.queue_limit when finite (inf: unbounded)
MAX_ACTIVE_USERS = 1_000_000_000  # site.waiting_room.active_limit: a count the compiled loop holds in an int64
MAX_SYN_RETRIES = 30  # site.app.syn_retries: 2**31 s of back-off is far beyond any run
# site.waiting_room.refresh_s: a queued visitor's reloads are counted one by one when they leave the queue
# (a month's wait at 1 s is 2.7 M steps of a loop, no memory).
MIN_REFRESH_S = 1.0
MAX_CONNECTIONS = 10_000  # site.db.connections
MAX_QUERIES = 100  # site.db.queries_per_page and queries_per_submit: a row of draws per page view
MAX_PAGES_PER_VISIT = 100  # visitors.pages_per_visit (a mean)
MAX_REQUESTS_PER_PAGE = 1_000  # visitors.requests_per_page
MAX_REQUESTS_PER_VISIT = 1_000  # visitors.pages_per_visit x visitors.requests_per_page: draws per visitor
MAX_QUERIES_PER_VISIT = 1_000  # visitors.pages_per_visit x the larger of site.db.queries_per_page/submit
MAX_RETRIES = 100  # visitors.retry.max: events per visitor
MAX_FOLLOWERS = 1e10  # traffic.shares[].followers: more accounts than people on Earth
MAX_RESHARE_FACTOR = 1e6  # traffic.shares[].reshare_factor: the cascade's branching ratio 1 - 1/R stays below 1
# Visitors a simulated run expects: arrival windows keep memory to the traffic in flight, so this
# bounds the run's time (the fast engine: about 1.5 s per million visitors here) and, where the
# site falls behind without a backlog limit, the requests it holds. Ten times the 10x surge benchmark.
MAX_VISITORS = 100_000_000
# A load test draws its arrivals at once and starts a greenlet per visitor in flight.
MAX_LOADTEST_VISITORS = 10_000_000

# -- the commands ----------------------------------------------------------------------------
MAX_REPLICATIONS = 1_000  # --replications (surge run, surge sweep)
MAX_SWEEP_VALUES = 10_000  # values of one --vary
MAX_SWEEP_POINTS = 10_000  # points of a sweep: the product of every --vary's values
MAX_PLAN_ERLANGS = 1_000_000  # surge plan: busy workers (or connections) the peak needs on average
MAX_PROBE_RATE_PER_S = 10_000.0  # surge calibrate --max-rate
MAX_CONCURRENT_VISITORS = 100_000  # surge loadtest --max-concurrent-visitors (a greenlet each)


def max_processes() -> int:
    """Processes a command may start at once (surge loadtest --processes, surge sweep --jobs): the machine's cores.

    At least 2, so that a parallel run (and its test) means the same on a one-core machine."""
    return max(2, os.cpu_count() or 1)
