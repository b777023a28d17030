"""The CSV: per wall second of the test, the plan's expected arrivals in that second (its mean target rate)."""

from __future__ import annotations

import math

import numpy as np

from sim.errors import ConfigError
from sim.loadtest.export.common import Export, header_lines, num
from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["render_csv", "per_second", "MAX_CSV_ROWS"]

MAX_CSV_ROWS = 3_000_000  # a month of seconds at a time scale of 1 (run.duration_s is at most 31 days)


def per_second(plan: LoadPlan) -> tuple[np.ndarray, np.ndarray]:
    """Each wall second's start and the plan's expected arrivals in it (the last second may be partial)."""
    rows = max(1, math.ceil(plan.duration_s - 1e-9))
    if rows > MAX_CSV_ROWS:
        raise ConfigError("--format", f"csv writes a row per wall second: {rows:,} rows is more than the "
                          f"{MAX_CSV_ROWS:,} it may write; raise --time-scale or give --duration-s")
    edges = np.minimum(np.arange(rows + 1, dtype=float), plan.duration_s)
    cum = plan.scale * plan.profile.cumulative(edges * plan.time_scale)
    return edges[:-1], np.diff(cum)


def render_csv(plan: LoadPlan, fit: StageFit, journey: Journey, *, host: str) -> Export:
    starts, counts = per_second(plan)
    visitors = float(counts.sum())
    notes = ("CSV: t_s is a wall second of the test, target_visitors_per_s the plan's expected arrivals in it "
             "(the mean target rate over that second);",
             "lines starting with # are comments (pandas: read_csv(path, comment='#')).")
    head = header_lines(plan, fit, journey, tool="CSV", host=host, visitors=visitors,
                        stages=f"{len(starts)} one-second rows (exact, not fitted)", override="your tool's setting",
                        notes=notes)
    lines = [f"# {line}".rstrip() for line in head] + ["t_s,target_visitors_per_s"]
    lines += [f"{t:.0f},{num(c, 9)}" for t, c in zip(starts, counts)]
    return Export(format="csv", text="\n".join(lines) + "\n", visitors=visitors, stages=len(starts),
                  run_hint="read FILE with your tool's own CSV support (comment lines start with #)")
