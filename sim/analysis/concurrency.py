"""A site's effective concurrency from the responses a step load saw, by the requests in flight.

A site with ``c`` workers serves a request at once while fewer than ``c`` others are in
it, and queues it otherwise: behind ``n - c + 1`` departures, each ``1 / X`` apart at
saturated throughput ``X``. So the mean response of a request sent while ``n`` others
were in flight is flat in ``n`` up to ``c - 1`` and then rises by ``1 / X`` per request:

    E[R | n] = b + max(0, n - c + 1) / X

The client sees ``n`` directly (requests it sent and has no answer to yet, less those
already on their way back), so the hinge ``c`` is fitted by weighted least squares over
the groups of equal ``n``, with ``b`` the best level for each candidate. A request that
waited cannot come back as fast as one that did not: the step of ``1 / X`` at the hinge
is what tells ``c`` from ``c + 1``, where ``X * E[S]`` (two noisy means) cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ConcurrencyFit", "fit_concurrency", "in_flight_when_sent"]


@dataclass(frozen=True, kw_only=True)
class ConcurrencyFit:
    workers: int
    base_s: float  # mean response with a free worker
    samples: int  # responses in the groups used
    sse: float  # the misfit: squared deviations of the group means over their variances


def in_flight_when_sent(sent_s: np.ndarray, finished_s: np.ndarray, *, round_trip_s: float = 0.0) -> np.ndarray:
    """For each request, how many others the site held when it arrived: sent before it, not yet finished.

    A request arrives half a round trip after it is sent, and another one's answer left
    the site half a round trip before the client had it: so those finished within a round
    trip after the send had already left the site. Counting them would move the hinge up
    by the share of time answers spend on the wire (0.4 of a worker at 16 workers, 20 ms
    service and a 1 ms round trip)."""
    sent = np.asarray(sent_s, dtype=float)
    earlier = np.searchsorted(np.sort(sent), sent, side="left")
    left_site = np.sort(np.asarray(finished_s, dtype=float) - round_trip_s)
    finished = np.searchsorted(left_site, sent, side="right")
    return np.maximum(earlier - finished, 0)


def fit_concurrency(in_flight: np.ndarray, response_s: np.ndarray, *, throughput_per_s: float,
                    candidates: range | list[int] | None = None, max_in_flight: int | None = None,
                    min_group: int = 20, service_cv: float = 1.0) -> ConcurrencyFit:
    """The hinge ``c`` of ``E[R | n] = b + [n >= c] (r_c + (n - c) / X)``, among ``candidates`` (default: any).

    ``r_c``, the wait for the first of ``c`` busy workers, follows the service's CV (``service_cv``:
    1 for an exponential service, where ``r_c = 1 / X``).

    Weighted least squares over the groups of equal ``n`` (at most ``max_in_flight``, each of
    at least ``min_group`` responses), each group mean weighted by its inverse variance.
    The groups far above the hinge tell little about where it is, and they would tie the
    level ``b`` to the throughput's own error times ``n``: ``max_in_flight`` leaves them out.
    """
    if not throughput_per_s > 0:
        raise ValueError(f"throughput_per_s must be > 0, got {throughput_per_s}")
    n = np.asarray(in_flight, dtype=np.int64)
    r = np.asarray(response_s, dtype=float)
    counts = np.bincount(n)
    sums = np.bincount(n, weights=r, minlength=len(counts))
    squares = np.bincount(n, weights=r * r, minlength=len(counts))
    keep = np.flatnonzero(counts >= max(min_group, 2))
    if max_in_flight is not None:
        keep = keep[keep <= max_in_flight]
    if len(keep) < 2:
        raise ValueError(f"too few responses per number in flight to find the concurrency ({len(r)} in all)")
    k, count = keep.astype(float), counts[keep].astype(float)
    mean = sums[keep] / count
    var = np.maximum((squares[keep] - count * mean**2) / (count - 1), 1e-12)
    w = count / var  # inverse variance of each group's mean
    # A hinge beyond the largest n kept would be flat everywhere: the data could not tell it apart.
    options = candidates if candidates is not None else range(1, int(keep[-1]) + 2)
    best = None
    cv2 = min(max(service_cv, 0.0), 1.0) ** 2
    for c in options:
        # Queued behind n - c others, after the first of the c busy workers is done: that first wait
        # is S / c for an exponential service (1 / X) but S / (c + 1) for a constant one, whose
        # residuals are short; S / (c + 1 - CV^2) between. With 1 / X for all, a steady service's
        # hinge would come out one too high.
        first = c / (c + 1 - cv2) / throughput_per_s
        rise = np.where(k >= c, first + np.maximum(0.0, k - c) / throughput_per_s, 0.0)
        base = float(np.sum(w * (mean - rise)) / np.sum(w))
        sse = float(np.sum(w * (mean - base - rise) ** 2))
        if best is None or sse < best.sse:
            best = ConcurrencyFit(workers=int(c), base_s=base, samples=int(count.sum()), sse=sse)
    if best is None:
        raise ValueError("no candidate number of workers")
    return best
