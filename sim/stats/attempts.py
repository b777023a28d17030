"""Percentiles over every attempt: a page or submit that failed or was given up counts as never answered.

A percentile of completed responses hides overload: when a quarter of the pages get a 503,
the p95 of those that were answered may still look fine. Here each attempted page view or
submit is one value: those served at the edge count as 0 s, those the origin answered as their
response time (the histogram), and those that failed, timed out, were abandoned or were still
unanswered at the end as +inf. So ``p95`` is finite only when at least 95 % of the attempts
were answered, and no faster than the answered ones allow.
"""

from __future__ import annotations

import math

__all__ = ["attempt_quantiles", "QUANTILES"]

QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def attempt_quantiles(hist, *, attempts: float, answered: float) -> dict:
    """``hist``: response times of the answers the origin gave (a LogHistogram); ``attempts``:
    page views and submits attempted; ``answered``: those answered OK, at the edge or the origin.

    Returns the percentiles over all attempts (inf where the failures reach them), ``attempts``
    and ``answered_fraction`` (the share of attempts with a finite value)."""
    attempts, answered = float(attempts), float(answered)
    out = {"attempts": attempts, "answered_fraction": answered / attempts if attempts > 0 else math.nan}
    origin = min(float(hist.count), answered)  # answers served after their visitor left are not the visitor's
    edge = answered - origin
    for name, q in QUANTILES.items():
        if attempts <= 0:
            out[name] = math.nan
            continue
        rank = max(math.ceil(q * attempts - 1e-9), 1)  # the lower quantile's rank, as LogHistogram's
        if rank <= edge:
            out[name] = 0.0
        elif rank <= edge + origin:
            out[name] = hist.quantile(min((rank - edge) / hist.count, 1.0))
        else:
            out[name] = math.inf
    return out
