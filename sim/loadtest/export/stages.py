"""Piecewise-linear stages fitted to a load plan's arrival rate: the form k6, Gatling, JMeter and Artillery take.

The plan's target rate (visitors per wall second, ``LoadPlan.target_rate_per_s``) is cut into straight
pieces. A piece is split in two, the worst first, until at 15 inner points its straight line is within
``rate_tolerance`` of the peak rate and its expected visitors (the trapezoid) are within
``visitors_tolerance`` of the plan's (the profile's exact integral), or until there are ``max_stages``
pieces. A share's instant, where the rate jumps, is always a boundary, so a stage may start at another
rate than the one its predecessor ended at. Pure: numbers in, numbers out.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError
from sim.loadtest.schedule import LoadPlan

__all__ = ["Stage", "StageFit", "fit_stages", "whole_second_steps", "plan_visitors",
           "RATE_TOLERANCE", "VISITORS_TOLERANCE", "MAX_STAGES"]

RATE_TOLERANCE = 0.02  # of the peak rate, at any probed instant
VISITORS_TOLERANCE = 0.005  # of a stage's own expected visitors
MAX_STAGES = 500
_MIN_SPLIT_S = 0.002  # a stage shorter than this is not split (the tools take milliseconds)
_PROBES = np.arange(1, 16) / 16.0


@dataclass(frozen=True)
class Stage:
    """A straight piece of the rate: ``start_rate`` just after ``start_s``, ``end_rate`` just before ``end_s``."""

    start_s: float
    end_s: float
    start_rate: float  # visitors per wall second
    end_rate: float
    plan_visitors: float  # the plan's expected visitors in [start_s, end_s)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def visitors(self) -> float:
        """The stage's own expected visitors: the area under its straight line."""
        return (self.start_rate + self.end_rate) / 2 * self.duration_s

    def rate_at(self, t_s: float) -> float:
        if self.duration_s <= 0:
            return self.end_rate
        f = (t_s - self.start_s) / self.duration_s
        return self.start_rate + (self.end_rate - self.start_rate) * f


@dataclass(frozen=True)
class StageFit:
    stages: tuple[Stage, ...]
    duration_s: float  # wall seconds of arrivals
    peak_rate_per_s: float
    expected_visitors: float  # the plan's
    rate_tolerance: float
    visitors_tolerance: float
    max_stages: int
    worst_rate_error: float  # the largest probed |line - plan| over the peak rate
    worst_visitors_error: float  # the largest |stage's visitors - plan's| over the plan's, across stages

    @property
    def visitors(self) -> float:
        return float(sum(s.visitors for s in self.stages))

    @property
    def total_error(self) -> float:
        """|the stages' expected visitors - the plan's| / the plan's."""
        return abs(self.visitors - self.expected_visitors) / self.expected_visitors if self.expected_visitors else 0.0

    @property
    def within_tolerance(self) -> bool:
        return self.worst_rate_error <= self.rate_tolerance and self.worst_visitors_error <= self.visitors_tolerance

    def rate_at(self, t_s: float, *, side: str = "right") -> float:
        """The stages' rate at ``t_s``; at a boundary, the next stage's start (``right``) or the last's end."""
        starts = [s.start_s for s in self.stages]
        if side == "right":  # the stage with start <= t < end
            i = bisect.bisect_right(starts, t_s) - 1
            if i < 0 or t_s >= self.stages[i].end_s:
                return 0.0
        else:  # the stage with start < t <= end
            i = bisect.bisect_left(starts, t_s) - 1
            if i < 0 or t_s > self.stages[i].end_s:
                return 0.0
        stage = self.stages[i]
        return stage.rate_at(t_s)


def _rates(plan: LoadPlan, t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    inside = (t >= 0) & (t < plan.duration_s)
    r = plan.scale * plan.time_scale * plan.profile.rate_per_s(np.clip(t, 0, plan.duration_s) * plan.time_scale)
    return np.where(inside, r, 0.0)


def plan_visitors(plan: LoadPlan, t0_s: float, t1_s: float) -> float:
    """The plan's expected visitors between wall seconds ``t0_s`` and ``t1_s`` (the profile's exact integral)."""
    a, b = (min(max(x, 0.0), plan.duration_s) * plan.time_scale for x in (t0_s, t1_s))
    return plan.scale * float(plan.profile.cumulative(b) - plan.profile.cumulative(a))


def _breakpoints(plan: LoadPlan, max_stages: int) -> list[float]:
    """Wall instants where the rate may jump: each share's post, and a trace's interval edges when few."""
    d = plan.duration_s
    points = {s.at_s / plan.time_scale for s in plan.scenario.traffic.shares}
    edges = getattr(plan.profile.baseline, "edges_s", None)
    if edges is not None and len(edges) <= max_stages // 2:
        points.update(float(e) / plan.time_scale for e in edges)
    inner = sorted(p for p in points if 0 < p < d)
    if len(inner) + 1 > max_stages:
        raise ConfigError("--max-stages", f"must be at least {len(inner) + 1} for this scenario's shares, "
                          f"got {max_stages}")
    return [0.0, *inner, d]


def _eps(t: float) -> float:
    return 1e-12 * max(1.0, abs(t))


def fit_stages(plan: LoadPlan, *, rate_tolerance: float = RATE_TOLERANCE,
               visitors_tolerance: float = VISITORS_TOLERANCE, max_stages: int = MAX_STAGES) -> StageFit:
    """Stages over ``[0, plan.duration_s]`` (wall seconds) within the tolerances, or ``max_stages`` of them."""
    if not (isinstance(max_stages, int) and max_stages >= 2):
        raise ConfigError("--max-stages", f"must be a whole number >= 2, got {max_stages!r}")
    for flag, tol in (("rate_tolerance", rate_tolerance), ("visitors_tolerance", visitors_tolerance)):
        if not (0 < tol < 1):
            raise ConfigError(flag, f"must be within (0, 1), got {tol!r}")
    total = plan.expected_visitors()
    points = _breakpoints(plan, max_stages)
    probe_peak = float(np.max(_rates(plan, np.array(points[:-1]) + [_eps(p) for p in points[:-1]])))
    peak = max(plan.load_factor * plan.real_peak_per_s(), probe_peak)
    floor = 1e-6 * total + 1e-12  # a stage with next to no visitors is judged on this many

    def judge(a: float, b: float, ra: float, rb: float) -> tuple[float, Stage, float, float]:
        stage = Stage(a, b, ra, rb, plan_visitors(plan, a, b))
        inner = a + (b - a) * _PROBES
        line = ra + (rb - ra) * _PROBES
        rate_err = float(np.max(np.abs(_rates(plan, inner) - line))) / peak if peak > 0 else 0.0
        vis_err = abs(stage.visitors - stage.plan_visitors) / max(stage.plan_visitors, floor)
        score = max(rate_err / rate_tolerance, vis_err / visitors_tolerance)
        return score, stage, rate_err, vis_err

    heap: list = []
    done: list = []
    for a, b in zip(points, points[1:]):  # at a breakpoint the rate may jump: the limits from either side
        ra, rb = (float(r) for r in _rates(plan, np.array([a + _eps(a), b - _eps(b)])))
        score, stage, rate_err, vis_err = judge(a, b, ra, rb)
        heapq.heappush(heap, (-score, a, stage, rate_err, vis_err))
    while heap and len(heap) + len(done) < max_stages:
        neg, a, stage, rate_err, vis_err = heap[0]
        if -neg <= 1.0:
            break
        heapq.heappop(heap)
        if stage.duration_s < 2 * _MIN_SPLIT_S:
            done.append((a, stage, rate_err, vis_err))
            continue
        mid = (stage.start_s + stage.end_s) / 2
        r_mid = float(_rates(plan, np.array([mid]))[0])  # shared by both halves: no jump inside a stage's span
        for lo, hi, r_lo, r_hi in ((stage.start_s, mid, stage.start_rate, r_mid), (mid, stage.end_s, r_mid,
                                                                                     stage.end_rate)):
            score, child, r_err, v_err = judge(lo, hi, r_lo, r_hi)
            heapq.heappush(heap, (-score, lo, child, r_err, v_err))
    pieces = sorted([(a, st, r, v) for _, a, st, r, v in heap] + done, key=lambda x: x[0])
    stages = tuple(p[1] for p in pieces)
    return StageFit(
        stages=stages, duration_s=plan.duration_s, peak_rate_per_s=peak, expected_visitors=total,
        rate_tolerance=rate_tolerance, visitors_tolerance=visitors_tolerance, max_stages=max_stages,
        worst_rate_error=max(p[2] for p in pieces), worst_visitors_error=max(p[3] for p in pieces))


def whole_second_steps(fit: StageFit, plan: LoadPlan) -> tuple[Stage, ...]:
    """The stages on whole seconds (Gatling and Artillery count in seconds), each holding the plan's visitors.

    Boundaries are the stages' rounded to the second, and the two seconds around a jump (the last step ends on
    the second after the arrivals). Each step's straight line runs between the stages' rates at its ends,
    scaled so that its area is the plan's expected visitors in it: a jump inside a second (a share's post)
    moves no visitors from one second to another.
    """
    end = max(1, math.ceil(fit.duration_s - 1e-9))
    bounds = {min(round(s.start_s), end) for s in fit.stages} | {0, end}
    for prev, stage in zip(fit.stages, fit.stages[1:]):
        if stage.start_rate != prev.end_rate:  # a jump: the second around it is a step of its own
            bounds |= {min(math.floor(stage.start_s), end), min(math.ceil(stage.start_s), end)}
    bounds = sorted(bounds)
    steps = []
    for a, b in zip(bounds, bounds[1:]):
        visitors = plan_visitors(plan, a, min(b, fit.duration_s))
        r0 = fit.rate_at(float(a), side="right")
        r1 = fit.rate_at(min(float(b), fit.duration_s), side="left")
        area = (r0 + r1) / 2 * (b - a)
        if area > 0:
            k = visitors / area
            r0, r1 = r0 * k, r1 * k
        else:
            r0 = r1 = visitors / (b - a)
        steps.append(Stage(float(a), float(b), r0, r1, visitors))
    return tuple(steps)
