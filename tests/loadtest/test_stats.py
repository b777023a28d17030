"""A load test's statistics merged across workers: percentiles within the histogram's stated error, counts exact.

Each locust worker records into a LoadRecorder and sends it to the master as a dict; the
master merges them. Here a sample is split among N recorders, each goes through
to_dict / JSON / from_dict as on the wire, and the merge is checked against numpy's exact
lower quantile (``method="inverted_cdf"``, the rank ``sim/stats/histogram.py`` documents)
within the relative error it states (``alpha`` = 0.5 %), for samples of several shapes.
"""

from __future__ import annotations

import json
import math
import zlib

import numpy as np
import pytest

from sim.loadtest.stats import LOADTEST_COLUMNS, LoadRecorder
from sim.stats.histogram import DEFAULT_ALPHA

QS = (0.5, 0.95, 0.99)
EDGES_S = np.arange(0.0, 601.0, 60.0)  # simulated seconds: ten bins of a minute
TIME_SCALE = 10.0  # so the test lasts 60 wall seconds


def _shape(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Page response times in seconds, of shapes a load test sees."""
    if name == "lognormal":  # a healthy site
        return rng.lognormal(np.log(0.08), 0.5, n)
    if name == "heavy tail":  # Pareto: a few requests wait very long
        return 0.02 * (1 + rng.pareto(1.3, n))
    if name == "bimodal":  # cache hits and a saturated app tier
        return np.where(rng.random(n) < 0.7, rng.lognormal(np.log(0.004), 0.3, n), rng.lognormal(np.log(3.0), 0.4, n))
    if name == "exponential":
        return rng.exponential(0.25, n)
    if name == "ties":  # a coarse timer: many equal values
        return rng.choice([0.001, 0.002, 0.005, 0.01, 0.5], size=n, p=[0.4, 0.3, 0.2, 0.08, 0.02])
    raise AssertionError(name)


def _within(estimate: float, exact: float, alpha: float = DEFAULT_ALPHA) -> bool:
    """``|estimate - exact| <= alpha * exact``, with room for the last bit of floating point."""
    return abs(estimate - exact) <= alpha * exact * (1 + 1e-9) + 1e-15


def _exact(values: np.ndarray, q: float) -> float:
    return float(np.quantile(values, q, method="inverted_cdf"))


def _wire(rec: LoadRecorder) -> LoadRecorder:
    """As a worker sends its recorder to the master: a dict, through JSON, and back."""
    return LoadRecorder.from_dict(json.loads(json.dumps(rec.to_dict())))


def _sample(shape: str, seed: int, n: int = 20_000):
    rng = np.random.default_rng(seed)
    response = np.clip(_shape(shape, rng, n), 1e-4, 1e5)
    # The generator's send lag: mostly on time, at times late, never more than half the response
    # (so the response from the actual send stays within the histogram's range); some exactly 0.
    lag = np.where(rng.random(n) < 0.1, 0.0, rng.exponential(0.002, n)) * np.where(rng.random(n) < 0.01, 50, 1)
    lag = np.minimum(lag, response / 2)
    t_wall = rng.uniform(0, EDGES_S[-1] / TIME_SCALE, n)
    status = rng.choice(np.array(["200", "302", "503", "504", "timeout", "500"]), size=n,
                        p=[0.85, 0.03, 0.06, 0.02, 0.02, 0.02])
    document = rng.random(n) < 0.6
    return rng, response, lag, t_wall, status, document


def _record(rec: LoadRecorder, i, response, lag, t_wall, status, document) -> None:
    for j in i:
        rec.request(float(t_wall[j]), response_s=float(response[j]), status=str(status[j]),
                    document=bool(document[j]), lag_s=float(lag[j]))


@pytest.mark.parametrize("workers", [1, 3, 8])
@pytest.mark.parametrize("shape", ["lognormal", "heavy tail", "bimodal", "exponential", "ties"])
def test_percentiles_merged_across_workers_are_within_the_stated_error(shape, workers):
    rng, response, lag, t_wall, status, document = _sample(shape, seed=zlib.crc32(f"{shape} {workers}".encode()))
    n = len(response)
    # Uneven shares, as workers that start at different times get: each request goes to one worker.
    owner = rng.choice(workers, size=n, p=rng.dirichlet(np.full(workers, 2.0)))
    recorders = [LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE) for _ in range(workers)]
    for w, rec in enumerate(recorders):
        _record(rec, np.flatnonzero(owner == w), response, lag, t_wall, status, document)
    received = [_wire(rec) for rec in recorders]
    merged = received[0]
    for rec in received[1:]:
        merged.merge(rec)

    ok = np.char.startswith(status.astype(str), "2") | np.char.startswith(status.astype(str), "3")
    page = ok & document
    sent = np.maximum(response - lag, 0.0)
    for hist, values in ((merged.response, response[page]), (merged.all_response, response[ok]),
                         (merged.sent_response, sent[page]), (merged.lag, lag)):
        assert hist.count == len(values)
        for q in QS:
            exact, estimate = _exact(values, q), hist.quantile(q)
            assert _within(estimate, exact), (shape, workers, q, estimate, exact)
        assert hist.max == pytest.approx(values.max(), rel=1e-12)  # min and max travel exactly
        assert hist.mean == pytest.approx(values.mean(), rel=1e-9)

    # The merge is the histogram of the whole sample: as if one process had recorded it all.
    alone = LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE)
    _record(alone, range(n), response, lag, t_wall, status, document)
    for name in ("response", "all_response", "sent_response", "lag"):
        assert np.array_equal(getattr(merged, name).bucket_counts(), getattr(alone, name).bucket_counts()), name
    assert merged.status == alone.status


@pytest.mark.parametrize("workers", [2, 5])
def test_counts_and_per_bin_series_add_up_exactly(workers):
    rng, response, lag, t_wall, status, document = _sample("lognormal", seed=workers, n=6_000)
    n = len(response)
    owner = rng.integers(0, workers, n)
    recorders = [LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE) for _ in range(workers)]
    for w, rec in enumerate(recorders):
        _record(rec, np.flatnonzero(owner == w), response, lag, t_wall, status, document)
        # what the locust side counts besides requests: visitors arriving, dropped, served
        for t in rng.uniform(0, 60, 40):
            rec.count("arrivals", float(t))
        rec.count("dropped", 59.9, k=w + 1)
    received = [_wire(rec) for rec in recorders]
    merged = LoadRecorder.from_dict(received[0].to_dict())
    for rec in received[1:]:
        merged.merge(rec)

    for name in merged.counts:  # every counter, bin by bin, is the workers' sum
        assert np.array_equal(merged.counts[name], sum(r.counts[name] for r in recorders)), name
    in_bin = np.searchsorted(EDGES_S, t_wall * TIME_SCALE, side="right") - 1
    per_bin = np.bincount(in_bin, minlength=len(EDGES_S) - 1)
    assert np.array_equal(merged.counts["requests"], per_bin)
    assert merged.counts["requests"].sum() == n
    assert merged.counts["arrivals"].sum() == 40 * workers
    assert merged.counts["dropped"][-1] == sum(range(1, workers + 1))
    assert merged.counts["rejected"].sum() == np.sum(status == "503")
    assert merged.counts["timed_out"].sum() == np.sum((status == "504") | (status == "timeout"))
    assert merged.counts["errors"].sum() == np.sum(status == "500")
    assert sum(merged.status.values()) == n
    assert merged.status == {str(k): int(v) for k, v in zip(*np.unique(status, return_counts=True))}

    # The per-bin series: counts exact, each bin's percentiles within the error of its own exact ones.
    target = np.full(len(EDGES_S) - 1, 12.5)
    rows = merged.timeseries(target)
    assert len(rows) == len(EDGES_S) - 1 and all(len(r) == len(LOADTEST_COLUMNS) for r in rows)
    col = {name: i for i, name in enumerate(LOADTEST_COLUMNS)}
    ok = np.char.startswith(status.astype(str), "2") | np.char.startswith(status.astype(str), "3")
    for b, row in enumerate(rows):
        here = in_bin == b
        assert (row[col["bin_start_s"]], row[col["bin_end_s"]]) == (EDGES_S[b], EDGES_S[b + 1])
        assert row[col["requests"]] == here.sum()
        assert row[col["rejected"]] == np.sum(here & (status == "503"))
        assert row[col["target_arrivals"]] == 12.5
        pages = response[here & ok & document]
        for q, name in zip(QS, ("p50_s", "p95_s", "p99_s")):
            assert _within(row[col[name]], _exact(pages, q)), (b, name)
        assert _within(row[col["lag_p99_s"]], _exact(lag[here], 0.99)) or _exact(lag[here], 0.99) == 0
        assert row[col["lag_max_s"]] == pytest.approx(lag[here].max(), rel=1e-12)
    assert sum(r[col["requests"]] for r in rows) == n

    summary = merged.summary(target_visitors=float(target.sum()), plan={"time_scale": TIME_SCALE})
    assert summary["requests"]["arrived"] == n
    assert summary["page_response_s"]["count"] == np.sum(ok & document)
    assert summary["generator"]["requests"] == n
    for q in ("p50", "p99"):
        assert _within(summary["generator"]["lag_s"][q], _exact(lag, float(q[1:]) / 100))


def test_the_start_time_crosses_the_wire_and_the_earliest_driver_s_is_kept():
    # a driver not yet started has none (NaN); the test started with the first driver that did
    recorders = []
    for started in (1_700_000_000.25, math.nan, 1_700_000_000.0):
        rec = LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE)
        rec.started_unix_s = started
        recorders.append(_wire(rec))
    merged = recorders[0].merge(recorders[1]).merge(recorders[2])
    assert merged.summary(target_visitors=0.0, plan={})["started_unix_s"] == 1_700_000_000.0
    assert math.isnan(LoadRecorder(edges_s=EDGES_S, time_scale=TIME_SCALE).started_unix_s)
