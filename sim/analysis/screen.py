"""One plausible surge (a draw of ``surge risk``): screened with the fluid model, or simulated over its surge.

The screen: the fluid model of :mod:`sim.analysis.sizing` gives the visitors the draw loses in
milliseconds; its score grows with them (where the fluid loses nobody, the peak's offered
work over the site's capacity, minus one, so that draws are still ordered by how near they
come to overload).

The simulation runs from the start to :func:`surge_end_s`, half an hour after the last
moment the fluid model's offered work reaches half the site's capacity: after it, the site
keeps up with room to spare and loses nobody. Its losses are counted over the whole run's
visitors and actions (those after the end are expected, not drawn: the profile's visitors
times the action rate), so a draw's lost fractions mean what ``surge run``'s mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.analysis.advise import QUICK_TERMS, Variant, run_variant
from sim.analysis.sizing import fluid_losses, workload
from sim.analysis.slo import parse_slo
from sim.stats.figures import place
from sim.config.scenario import Scenario, parse_scenario
from sim.traffic.profile import build_profile

__all__ = ["DrawPoint", "draw_figures", "run_draw", "surge_end_s", "screen_draw", "warm_up", "brute_force_draw", "QUIET_LOAD", "AFTER_S", "SCREEN_BIN_S",
           "RISK_TERMS"]

QUIET_LOAD = 0.5  # offered work below half the capacity: the site keeps up with room to spare
AFTER_S = 1800.0  # simulated past the last busy moment: retries, queues draining (as surge run's quick advice)
SCREEN_BIN_S = 30.0  # the fluid model's bins: the surge's ~6 min peak spans a dozen
# The SLO terms a draw is judged on (as surge run's quick advice): losses over the whole run's visitors,
# p95 and errors over the simulated surge.
RISK_TERMS = QUICK_TERMS


@dataclass(frozen=True, kw_only=True)
class DrawPoint:
    index: int
    table: dict  # the scenario's table with this draw's values set (no [uncertain] tables)
    path: str
    values: dict  # uncertain key -> value drawn
    seed_seq: np.random.SeedSequence = field(repr=False)  # this draw's own stream, the same for every variant
    slo: str


def _capacity_load(scenario: Scenario, load) -> np.ndarray:
    """Offered work per bin over the app tier's workers (1: just enough on average)."""
    app = scenario.site.app
    if app is None:
        return np.zeros(len(load.visitors_per_s))
    return load.visitors_per_s * load.requests_per_visitor * load.work_s / (app.instances * app.workers)


def surge_end_s(scenario: Scenario, load=None) -> float:
    """Where a draw's simulation may stop: :data:`AFTER_S` after the offered work last reaches
    :data:`QUIET_LOAD` of capacity (after the peak where it never does), within the run."""
    load = load if load is not None else workload(scenario, bin_s=SCREEN_BIN_S)
    busy = _capacity_load(scenario, load)
    over = np.flatnonzero(busy >= QUIET_LOAD)
    last = (over[-1] + 1 if over.size else int(np.argmax(busy)) + 1) * load.bin_s
    return float(min(scenario.run.duration_s, max(last + AFTER_S, scenario.run.warmup_s + load.bin_s)))


def draw_figures(point: DrawPoint) -> dict:
    """The fluid model's figures for a draw: ``score``, lost visitor and action fractions (estimates)."""
    scenario = parse_scenario(point.table, path=point.path)
    load = workload(scenario, bin_s=SCREEN_BIN_S)
    busy = _capacity_load(scenario, load)
    visitors = float(load.visitors_per_s.sum() * load.bin_s)
    app, v = scenario.site.app, scenario.visitors
    lost = 0.0
    if app is not None and busy.max(initial=0.0) > 1.0 and visitors > 0:
        backlog = math.inf if app.overflow == "drop" else app.queue_limit * app.instances
        got = fluid_losses(load, servers=app.instances * app.workers, queue_limit=backlog,
                           patience_mean_s=v.patience_s.mean, retry_probability=v.retry.probability if v.retry else 0.0,
                           patience_s=v.patience_s)
        lost = min((got.visitors_abandoned + got.visitors_failed) / visitors, 1.0)
    peak = float(busy.max(initial=0.0))
    # A lost visitor loses the action they came for: the fluid's visitors lost stand for both.
    return {"score": lost if lost > 0 else min(peak - 1.0, 0.0), "lost_visitors_fraction": lost,
            "lost_actions_fraction": lost if v.action_rate > 0 else math.nan, "peak_load": peak,
            "end_s": surge_end_s(scenario, load)}


def screen_draw(point: DrawPoint, replications: int, seed: int | None, engine: str) -> dict:
    """:func:`draw_figures` as a runner's row (module level, for the process pool)."""
    return {"index": point.index, "error": None, "complete": True, "partial": False, **draw_figures(point)}


def warm_up(point: DrawPoint, engine: str) -> None:
    """Load the engine's compiled code in this process with a one-minute run of a draw: the processes a pool
    forks from it inherit it instead of each loading it again (seconds per process, per round of draws)."""
    scenario = parse_scenario(point.table, path=point.path)
    end = scenario.run.warmup_s + max(scenario.run.bin_s, 60.0)
    if end < scenario.run.duration_s:
        run_variant(Variant(index=-1, name="warm-up", keys=(), table=point.table, path=point.path, slo=point.slo,
                            quick_end_s=end), 1, 0, engine)


def brute_force_draw(point: DrawPoint, replications: int, seed: int | None, engine: str) -> dict:
    """A draw simulated over the whole run with its own seed, no shortcut (what :func:`run_draw` must agree with)."""
    draw_seed = int(point.seed_seq.generate_state(1)[0])
    row = run_variant(Variant(index=point.index, name=f"draw {point.index}", keys=(), table=point.table,
                              path=point.path, slo=point.slo), 1, draw_seed, engine)
    return {"index": point.index, "holds": bool(row["meets_slo"]), "complete": row["complete"],
            "partial": row["partial"], "error": row["error"], "lost_actions_fraction": row["lost_actions_fraction"],
            "lost_visitors_fraction": row["lost_visitors_fraction"]}


def run_draw(point: DrawPoint, replications: int, seed: int | None, engine: str) -> dict:
    """A draw simulated to its surge's end (module level, for the process pool); its verdict over the whole run."""
    scenario = parse_scenario(point.table, path=point.path)
    profile = build_profile(scenario)
    end = surge_end_s(scenario)
    draw_seed = int(point.seed_seq.generate_state(1)[0])
    row = run_variant(Variant(index=point.index, name=f"draw {point.index}", keys=(), table=point.table,
                              path=point.path, slo=point.slo, quick_end_s=end), 1, draw_seed, engine)
    after = float(profile.cumulative(scenario.run.duration_s) - profile.cumulative(end))
    acts = row["actions_attempted"] + scenario.visitors.action_rate * after
    vis = row["visitors_arrived"] + after
    lost_actions = row["lost_actions"] / acts if acts > 0 else math.nan
    lost_visitors = row["lost_visitors"] / vis if vis > 0 else math.nan
    summary = place({"lost_actions": lost_actions, "lost_visitors": lost_visitors, "p95": row["p95_s"],
                     "errors": row["error_fraction"]})
    # Loss terms over the whole run; p95 and errors over the simulated surge, where they are worst.
    holds = all(o.met(summary) for o in parse_slo(point.slo))
    return {"index": point.index, "holds": bool(holds and row["complete"]), "complete": row["complete"],
            "partial": row["partial"], "error": row["error"], "lost_actions_fraction": lost_actions,
            "lost_visitors_fraction": lost_visitors, "end_s": end, "p95_s": row["p95_s"]}
