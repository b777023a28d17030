"""A scenario as its load test plays it: time-compressed and scaled down, in wall-clock seconds.

``surge loadtest --time-scale X --scale Y`` sends ``Y`` times the visitors ``X`` times
faster, with think times ``X`` times shorter, while the site's service times stay
real. To predict that test, the model runs the same thing: the profile becomes a
trace of ``Y * X * rate(X t)`` (per wall second, in fine bins), think times shrink,
and, like the load test's clients, visitors neither give up nor retry.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from sim.config.distributions import Constant, scaled
from sim.config.checks import LIMIT
from sim.config.limits import MAX_DURATION_S
from sim.errors import ConfigError
from sim.files import write_csv
from sim.traffic.profile import build_profile
from sim.config.scenario import Scenario

__all__ = ["compress"]


def compress(scenario: Scenario, *, time_scale: float, scale: float, workdir: Path) -> Scenario:
    """The wall-clock scenario of a load test; its trace CSV is written into ``workdir``."""
    if not (0 < time_scale < math.inf):
        raise ConfigError("--time-scale", f"must be > 0, got {time_scale!r}")
    if not (0 < scale < math.inf):
        raise ConfigError("--scale", f"must be > 0, got {scale!r}")
    run = scenario.run
    wall_s = run.duration_s / time_scale
    if wall_s > MAX_DURATION_S:
        raise ConfigError("--time-scale", f"makes run.duration_s = {run.duration_s:g} last {wall_s:.4g} s, more than "
                          f"{MAX_DURATION_S:g} ({LIMIT}), got {time_scale!r}")
    profile = build_profile(scenario)
    n = int(min(max(math.ceil(wall_s), 100), 200_000))  # about 1 s bins, at least 100, at most 200,000
    edges = np.linspace(0.0, wall_s, n + 1)
    counts = scale * np.diff(profile.cumulative(edges * time_scale))
    trace = Path(workdir) / "compressed-trace.csv"
    write_csv(trace, ["start_s", "visitors"], ((f"{a:.9g}", f"{c:.9g}") for a, c in zip(edges[:-1], counts)))
    traffic = dataclasses.replace(scenario.traffic, baseline_per_day=None, constant_per_s=None, shares=(),
                                  hourly_weights=None, trace=str(trace))
    visitors = dataclasses.replace(scenario.visitors, think_s=scaled(scenario.visitors.think_s, 1 / time_scale),
                                   patience_s=Constant(value=math.inf), retry=None)
    compressed_run = dataclasses.replace(run, duration_s=wall_s, warmup_s=run.warmup_s / time_scale,
                                         bin_s=run.bin_s / time_scale)
    return dataclasses.replace(scenario, run=compressed_run, traffic=traffic, visitors=visitors)
