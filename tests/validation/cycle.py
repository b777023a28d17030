"""A stack's worker cycle at saturation, as the servers themselves log it.

Each worker (a gunicorn process, a waitress thread, a demo-site slot) logs when each request
entered it and left it (``time.monotonic()``, one clock for every process: the petition
app's ``PETITION_TIMES``, the demo site's ``--times-log``). While the worker is saturated the
next request enters as soon as it is free again, so the time from one entry to the next is
the whole cycle: the page's own time, and what the server does between two requests
(writing the answer, closing, accepting and parsing the next, waiting for a core). That is
the quantity ``surge calibrate``'s page mean, workers / saturated throughput, stands for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_times", "saturated_cycle", "calibration_cycle"]


def read_times(folder: Path) -> dict[str, np.ndarray]:
    """worker -> its requests' (entered, left), in order of entry."""
    out: dict[str, list] = {}
    for path in sorted(Path(folder).glob("*.txt")):
        for line in path.read_text().splitlines():
            fields = line.split()
            if path.name == "demo.txt":  # slot entered left
                worker, entered, left = f"slot {fields[0]}", float(fields[1]), float(fields[2])
            else:  # one file per worker: entered left method path
                worker, entered, left = path.stem, float(fields[0]), float(fields[1])
            out.setdefault(worker, []).append((entered, left))
    return {w: np.array(sorted(v)) for w, v in out.items()}


def saturated_cycle(times: dict[str, np.ndarray], windows: list[tuple[float, float]]) -> dict:
    """The mean cycle (one entry to the next on a worker), and its parts, over the pairs inside ``windows``.

    ``in_worker_s``: the mean time a request spent in the worker; ``between_s``: the mean rest of
    the cycle, the server's own time between two requests."""
    cycles, inside = [], []
    for rows in times.values():
        if len(rows) < 2:
            continue
        entered, left = rows[:-1, 0], rows[:-1, 1]
        following = rows[1:, 0]
        keep = np.zeros(len(entered), dtype=bool)
        for lo, hi in windows:
            keep |= (entered >= lo) & (following <= hi)
        cycles.append(following[keep] - entered[keep])
        inside.append(left[keep] - entered[keep])
    cycle, spent = np.concatenate(cycles or [np.zeros(0)]), np.concatenate(inside or [np.zeros(0)])
    if not len(cycle):
        raise ValueError(f"no worker logged two requests within {windows}")
    return {"cycle_s": float(cycle.mean()), "in_worker_s": float(spent.mean()),
            "between_s": float(cycle.mean() - spent.mean()), "pairs": len(cycle)}


def calibration_cycle(row, folder: Path) -> dict:
    """The cycle over the saturated steps of the calibration ``row`` (tests/validation/harness.py), less
    each step's first quarter (the queue filling), as calibrate's own windows; {} if none saturated."""
    if not row.saturated_steps:
        return {}
    windows = [(start + 0.25 * (end - start), end) for start, end in row.step_windows[-row.saturated_steps:]]
    return saturated_cycle(read_times(folder), windows)
