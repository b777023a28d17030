"""A trace: observed visitors per interval, as exported from web analytics, replayed as the profile.

Format (CSV, one header row, two columns): the interval's start, then the visitors
counted in it. The start is either seconds (any origin) or an ISO 8601 timestamp;
either way the first row is t = 0. Each interval runs to the next row's start; the
last one is as long as the one before it.

Interpolation: each interval's count is spread evenly over the interval (the rate
is piecewise constant, ``count / length``), so the cumulative count is piecewise
linear and passes exactly through the observed totals at every interval boundary.
Before the first row and after the last interval the rate is 0.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from sim.errors import ConfigError

__all__ = ["Trace", "read_trace"]


@dataclass(frozen=True, kw_only=True, eq=False)
class Trace:
    edges_s: np.ndarray  # n + 1 interval boundaries, from 0
    counts: np.ndarray  # n visitor counts
    start: datetime | None = None  # the first row's time, when the file gave ISO 8601 times

    def rate_per_s(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        rates = self.counts / np.diff(self.edges_s)
        idx = np.searchsorted(self.edges_s, t, side="right") - 1
        inside = (idx >= 0) & (idx < len(self.counts))
        return np.where(inside, rates[np.clip(idx, 0, len(rates) - 1)], 0.0)

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(self.counts)])
        return np.interp(np.asarray(t, dtype=float), self.edges_s, cum, left=0.0, right=cum[-1])


def _parse_time(text: str) -> tuple[float, datetime | None]:
    """Seconds, and the time itself when the text is ISO 8601 (None for plain seconds)."""
    try:
        return float(text), None
    except ValueError:
        when = datetime.fromisoformat(text.strip())
        return when.timestamp(), when


def read_trace(path: str | Path) -> Trace:
    """Read a trace CSV; a bad row raises ConfigError naming the file and line."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError("", f"cannot read trace {name}: {err.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # -sig: a spreadsheet's byte-order mark is not part of the header
    except UnicodeDecodeError as err:  # decoded whole, so the position is the file's
        line = data[:err.start].count(b"\n") + 1
        raise ConfigError("", f"trace {name} is not UTF-8 text (byte {data[err.start]:#04x} on line {line}): "
                          "save it as UTF-8") from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    data = rows[1:]  # the header names the columns; its words are free
    if len(data) < 2:
        raise ConfigError("", f"{name}: needs a header and at least 2 rows, got {len(data)} rows")
    starts, counts = [], []
    first: datetime | None = None
    for line, row in enumerate(data, start=2):
        if len(row) < 2:
            raise ConfigError("", f"{name} line {line}: needs 2 columns (start, visitors), got {row!r}")
        try:
            start, when = _parse_time(row[0])
        except ValueError:
            raise ConfigError("", f"{name} line {line}: start must be seconds or an ISO 8601 time, got {row[0]!r}") from None
        try:
            count = float(row[1])
        except ValueError:
            raise ConfigError("", f"{name} line {line}: visitors must be a number, got {row[1]!r}") from None
        if not (count >= 0) or math.isinf(count):
            raise ConfigError("", f"{name} line {line}: visitors must be >= 0 and finite, got {row[1]!r}")
        if starts and not (start > starts[-1]):
            raise ConfigError("", f"{name} line {line}: start must increase, got {row[0]!r}")
        if not starts:
            first = when
        starts.append(start)
        counts.append(count)
    edges = np.asarray(starts + [2 * starts[-1] - starts[-2]], dtype=float)
    return Trace(edges_s=edges - edges[0], counts=np.asarray(counts, dtype=float), start=first)

