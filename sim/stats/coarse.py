"""Percentiles over time that mean something: neighbouring bins merged until each holds enough responses.

A bin's p99 is an order statistic of its responses: with n < 100 of them the lower 0.99-quantile
(rank ceil(0.99 n)) is the bin's slowest response, so a night bin of 20 page views draws its
maximum as if it were a p99. :data:`MIN_RESPONSES` = 100 is the least count whose p99 is not the
maximum. Bins are merged left to right until a group holds that many; a group is never wider than
``max_bins``, and one that reaches that width short of the count is kept and flagged (``enough``
False) for the figure to mark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_RESPONSES", "MAX_MERGED_BINS", "sparse_groups", "MergedQuantiles", "merged_quantiles", "MergedRatio",
           "merged_ratio"]

MIN_RESPONSES = 100
MAX_MERGED_BINS = 60  # an hour of one-minute bins: a step wider than that no longer reads as "over time"


def sparse_groups(counts, *, min_count: int = MIN_RESPONSES, max_bins: int = MAX_MERGED_BINS) -> list[tuple[int, int]]:
    """Consecutive bins ``[lo, hi)`` covering every bin, each holding >= ``min_count`` in all unless it is
    ``max_bins`` wide; a short remainder at the end joins the group before it when that stays within
    ``max_bins``."""
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count!r}")
    if max_bins < 1:
        raise ValueError(f"max_bins must be >= 1, got {max_bins!r}")
    counts = np.asarray(counts, dtype=float)
    groups: list[tuple[int, int]] = []
    lo, held = 0, 0.0
    for b, c in enumerate(counts):
        held += c
        if held >= min_count or b + 1 - lo >= max_bins:
            groups.append((lo, b + 1))
            lo, held = b + 1, 0.0
    if lo < len(counts):
        if groups and len(counts) - groups[-1][0] <= max_bins:
            groups[-1] = (groups[-1][0], len(counts))
        else:
            groups.append((lo, len(counts)))
    return groups


@dataclass(frozen=True, kw_only=True)
class MergedQuantiles:
    edges_s: np.ndarray  # groups + 1 edges
    counts: np.ndarray  # responses in each group
    values: dict  # q -> one quantile per group (nan where a group is empty)
    enough: np.ndarray  # bool: the group holds >= min_count responses
    min_count: int


def merged_quantiles(series, name: str = "response_s", qs=(0.5, 0.95, 0.99), *, min_count: int = MIN_RESPONSES,
                     max_bins: int = MAX_MERGED_BINS) -> MergedQuantiles:
    """Quantiles of ``name`` over groups of neighbouring bins (:func:`sparse_groups` of the responses per
    bin). ``series`` is a :class:`~sim.stats.series.BinnedSeries` or several on the same bins (replications),
    whose responses are pooled: a group's p99 is the p99 of all its responses in every replication."""
    parts = list(series) if isinstance(series, (list, tuple)) else [series]
    first = parts[0]
    for other in parts[1:]:
        if not first.bins.same_as(other.bins):
            raise ValueError("the series to pool must share their bins")
    per_bin = sum(p.observations(name) for p in parts)
    groups = sparse_groups(per_bin, min_count=min_count, max_bins=max_bins)
    edges = first.edges_s
    values = {q: np.full(len(groups), np.nan) for q in qs}
    counts = np.zeros(len(groups), dtype=np.int64)
    for g, (lo, hi) in enumerate(groups):
        hist = parts[0].span_histogram(name, lo, hi)
        for p in parts[1:]:
            hist.merge(p.span_histogram(name, lo, hi))
        counts[g] = hist.count
        for q, v in zip(qs, hist.quantiles(list(qs))):
            values[q][g] = v
    return MergedQuantiles(edges_s=np.array([edges[lo] for lo, _ in groups] + [edges[-1]]), counts=counts,
                           values=values, enough=counts >= min_count, min_count=min_count)


@dataclass(frozen=True, kw_only=True)
class MergedRatio:
    edges_s: np.ndarray  # groups + 1 edges
    counts: np.ndarray  # the denominator's total in each group
    ratio: np.ndarray  # numerator / denominator per group (nan where the denominator is 0)
    enough: np.ndarray  # bool: the group's denominator is >= min_count
    min_count: int


def merged_ratio(edges_s, part, whole, *, min_count: int = MIN_RESPONSES,
                 max_bins: int = MAX_MERGED_BINS) -> MergedRatio:
    """``part / whole`` (actions lost of actions ended, say) over groups of neighbouring bins, each holding
    ``min_count`` of ``whole`` (:func:`sparse_groups`): a fraction of 3 actions is not a rate of loss."""
    part, whole = np.asarray(part, dtype=float), np.asarray(whole, dtype=float)
    edges = np.asarray(edges_s, dtype=float)
    if not len(part) == len(whole) == len(edges) - 1:
        raise ValueError(f"need one part and one whole per bin: {len(part)}, {len(whole)} for {len(edges) - 1} bins")
    groups = sparse_groups(np.nan_to_num(whole), min_count=min_count, max_bins=max_bins)
    num = np.array([np.nansum(part[lo:hi]) for lo, hi in groups])
    den = np.array([np.nansum(whole[lo:hi]) for lo, hi in groups])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return MergedRatio(edges_s=np.array([edges[lo] for lo, _ in groups] + [edges[-1]]), counts=den, ratio=ratio,
                       enough=den >= min_count, min_count=min_count)
