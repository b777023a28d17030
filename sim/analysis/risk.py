"""``surge risk``: the probability that the SLO holds over the plausible surges a scenario's
``[uncertain]`` tables describe, with its 95 % interval, and which inputs matter most.

The surges are a Latin hypercube design over the inputs' laws (``scipy.stats.qmc``), each
draw with its own seed from ``SeedSequence(seed).spawn``: the same points and seeds for any
variant of the table (a mitigation applied), so variants meet the same surges (common
random numbers).

Fast and honest, in three steps:

1. **Screen** every draw with the fluid model (:mod:`sim.analysis.screen`): a score that
   grows with the visitors it loses, in milliseconds.
2. **Simulate near the boundary**: draws are ordered by score; a spread sample is simulated,
   then every draw whose rank lies between the first simulated failure and the last simulated
   hold, widened by one sample step on each side, until no draw left unsimulated is that close
   to a simulated draw of the other verdict. Every other draw takes the verdict of the
   simulated draws beside it: holding is taken to be monotone in the score there, which the
   spread sample checks across the whole range. A draw is simulated over its surge only
   (:func:`sim.analysis.screen.surge_end_s`), its losses over the whole run's visitors.
3. **Count**: P(holds) is the share of the draws that hold, with a Wilson 95 % interval over the
   draws (a Latin hypercube's variance is at most the independent draws' for a monotone
   response, Owen 1997, so the interval is if anything wide).

Sensitivity: partial rank correlation coefficients (PRCC) between each input and the lost
actions over the draws: how strongly the losses rise or fall with an input once the others'
(monotone) effects are taken out, from -1 to 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim.analysis.runner import run_points
from sim.analysis.screen import RISK_TERMS, DrawPoint, run_draw, screen_draw
from sim.analysis.slo import parse_slo
from sim.config.limits import MAX_SWEEP_POINTS
from sim.config.scenario import parse_scenario
from sim.config.uncertain import point_table, read_uncertain
from sim.errors import ConfigError

__all__ = ["RiskResult", "assess", "design", "wilson", "prcc", "DEFAULT_DRAWS", "SPREAD_SAMPLE"]

# 385 draws give a Wilson 95 % half-width of at most 5 points (p = 0.5: 1.96 sqrt(0.25 / 385) = 0.050).
DEFAULT_DRAWS = 400
SPREAD_SAMPLE = 24  # draws simulated first, spread evenly over the score's ranks


@dataclass(frozen=True, kw_only=True)
class RiskResult:
    probability_holds: float
    probability_holds_ci: tuple[float, float]  # 95 %
    # each: {"inputs": {key: value}, "lost_actions_fraction", "lost_visitors_fraction", "holds", "how"}
    draws: tuple[dict, ...]
    sensitivities: tuple[dict, ...]
    partial: bool
    slo: str = ""
    seed: int = 0
    inputs: tuple[dict, ...] = ()  # the [uncertain] tables as given
    planned: int = 0  # draws planned; fewer are counted when stopped midway
    simulated: int = 0
    screened: int = 0
    stopped: str | None = None
    elapsed_s: float = 0.0

    def percentiles(self, figure: str) -> dict:
        """Median, 90th and 99th percentile of a draw figure (``lost_actions_fraction``...), nan where none."""
        values = np.array([d[figure] for d in self.draws], dtype=float)
        values = values[~np.isnan(values)]
        if not values.size:
            return {"p50": math.nan, "p90": math.nan, "p99": math.nan}
        return {f"p{q}": float(np.percentile(values, q)) for q in (50, 90, 99)}

    def to_dict(self) -> dict:
        return {"probability_holds": self.probability_holds,
                "probability_holds_ci": list(self.probability_holds_ci),
                "slo": self.slo, "seed": self.seed, "draws_planned": self.planned, "draws_count": len(self.draws),
                "simulated": self.simulated, "screened": self.screened, "partial": self.partial,
                "stopped": self.stopped, "elapsed_s": self.elapsed_s, "uncertain": list(self.inputs),
                "lost_actions_fraction": self.percentiles("lost_actions_fraction"),
                "lost_visitors_fraction": self.percentiles("lost_visitors_fraction"),
                "sensitivities": list(self.sensitivities), "draws": list(self.draws)}


def design(dimensions: int, draws: int, seed: int) -> np.ndarray:
    """A Latin hypercube of ``draws`` points in (0, 1)^dimensions, the same for a given seed."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])  # apart from the draws' own seeds
    return qmc.LatinHypercube(d=dimensions, rng=rng).random(draws) if _rng_kw() else \
        qmc.LatinHypercube(d=dimensions, seed=rng).random(draws)


def _rng_kw() -> bool:
    import inspect

    from scipy.stats import qmc

    return "rng" in inspect.signature(qmc.LatinHypercube).parameters


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95 % by default)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def prcc(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Partial rank correlation of each column of ``x`` with ``y`` (nan where undefined)."""
    from scipy.stats import rankdata

    n, d = x.shape
    if n < d + 3:
        return np.full(d, math.nan)
    rx = np.column_stack([rankdata(x[:, j]) for j in range(d)])
    ry = rankdata(y)
    out = np.full(d, math.nan)
    for j in range(d):
        others = np.column_stack([np.ones(n), np.delete(rx, j, axis=1)])
        res_x = rx[:, j] - others @ np.linalg.lstsq(others, rx[:, j], rcond=None)[0]
        res_y = ry - others @ np.linalg.lstsq(others, ry, rcond=None)[0]
        sx, sy = np.linalg.norm(res_x), np.linalg.norm(res_y)
        if sx > 0 and sy > 0:
            out[j] = float(res_x @ res_y / (sx * sy))
    return out


def _to_simulate(order_rank: np.ndarray, outcome: dict[int, bool], step: int) -> set[int]:
    """Ranks left unsimulated that lie within ``step`` of the simulated draws' boundary (see the module doc)."""
    fails = [r for r, held in outcome.items() if not held]
    holds = [r for r, held in outcome.items() if held]
    n = len(order_rank)
    lo = (min(fails) if fails else n) - step  # below: takes "holds"
    hi = (max(holds) if holds else -1) + step  # above: takes "fails"
    return {r for r in range(max(lo, 0), min(hi, n - 1) + 1) if r not in outcome}


def assess(table: dict, path: str, *, slo: str, draws: int | None = None, seed: int | None = None,
           jobs: int = 1, dask: str | None = None, engine: str = "auto", progress=None) -> RiskResult:
    """P(the SLO holds) over the plausible surges of the scenario ``table`` (read from ``path``)."""
    started = time.perf_counter()
    inputs = read_uncertain(table, path)
    if not inputs:
        raise ConfigError("uncertain", "the scenario has no [uncertain.\"dotted.key\"] tables: nothing to draw "
                          "(see docs/scenario-format.md)").at(path)
    objectives = parse_slo(slo)
    other = [o.text for o in objectives if o.metric not in RISK_TERMS]
    if other:
        raise ConfigError("--slo", f"surge risk judges {', '.join(RISK_TERMS)}; not {', '.join(other)}")
    n = DEFAULT_DRAWS if draws is None else draws
    if not 1 <= n <= MAX_SWEEP_POINTS:
        raise ConfigError("--draws", f"must be within [1, {MAX_SWEEP_POINTS}], got {n}")
    central = parse_scenario(table, path=path)
    seed = central.run.seed if seed is None else seed
    u = design(len(inputs), n, seed)
    seeds = np.random.SeedSequence(seed).spawn(2)[0].spawn(n)
    points = []
    for i in range(n):
        values = {item.key: item.value_at(u[i, j]) for j, item in enumerate(inputs)}
        t = point_table(table, values)
        try:
            parse_scenario(t, path=path)
        except ConfigError as err:
            at = ", ".join(f"{k} = {v:.6g}" for k, v in values.items())
            raise ConfigError(err.key, f"{err.message} (a drawn surge: {at})").at(path) from None
        points.append(DrawPoint(index=i, table=t, path=path, values=values, seed_seq=seeds[i], slo=slo))
    tick = progress or (lambda stage, done, total: None)
    tick("screening", 0, n)
    got = run_points(points, replications=1, seed=seed, engine=engine, jobs=jobs, dask_address=dask,
                     progress=lambda done, total: tick("screening", done, total), fn=screen_draw)
    if got.stopped or len(got) < n:  # nothing is judged before every draw is screened
        return _nothing(inputs, objectives, seed, n, got.stopped or "stopped", started)
    screens = list(got)  # in draw order
    score = np.array([s["score"] for s in screens])
    order = np.argsort(score, kind="stable")  # rank -> draw
    outcome: dict[int, bool] = {}  # rank -> holds (simulated)
    rows: dict[int, dict] = {}  # draw index -> simulated row
    step = max(1, math.ceil(n / SPREAD_SAMPLE))
    batch = sorted(set(np.linspace(0, n - 1, min(SPREAD_SAMPLE, n)).round().astype(int).tolist()))
    stopped = None
    while batch and stopped is None:
        got = run_points([points[order[r]] for r in batch], replications=1, seed=seed, engine=engine, jobs=jobs,
                         dask_address=dask, progress=lambda done, total: tick("simulating", len(rows) + done,
                                                                              len(rows) + total),
                         fn=run_draw)
        for row in got:
            rows[row["index"]] = row
        rank_of = {int(d): r for r, d in enumerate(order)}
        for row in got:
            if row["complete"]:
                outcome[rank_of[row["index"]]] = row["holds"]
        stopped = got.stopped
        if stopped is None and any(not r["complete"] for r in got):
            stopped = next(r["error"] for r in got if not r["complete"])
        batch = sorted(_to_simulate(order, outcome, step))
    result_draws = []
    fails = [r for r, held in outcome.items() if not held]
    first_fail = min(fails) if fails else n
    unjudged = _to_simulate(order, outcome, step)  # empty unless stopped midway: near the boundary, not simulated
    for rank, d in enumerate(order.tolist()):
        p = points[d]
        if rank in outcome:
            row = rows[d]
            entry = {"holds": row["holds"], "how": "simulated", "lost_actions_fraction": row["lost_actions_fraction"],
                     "lost_visitors_fraction": row["lost_visitors_fraction"]}
        elif rank not in unjudged:
            entry = {"holds": rank < first_fail, "how": "screened",
                     "lost_actions_fraction": screens[d]["lost_actions_fraction"],
                     "lost_visitors_fraction": screens[d]["lost_visitors_fraction"]}
        else:
            continue  # stopped midway: a draw near the boundary that was not simulated is not judged
        result_draws.append({"index": d, "inputs": p.values, **entry, "score": screens[d]["score"]})
    result_draws.sort(key=lambda e: e["index"])
    holds = sum(e["holds"] for e in result_draws)
    counted = len(result_draws)
    sens = _sensitivities(inputs, result_draws)
    return RiskResult(
        probability_holds=holds / counted if counted else math.nan,
        probability_holds_ci=wilson(holds, counted) if counted else (math.nan, math.nan),
        draws=tuple(result_draws), sensitivities=tuple(sens), partial=stopped is not None or counted < n,
        slo=",".join(o.text for o in objectives), seed=seed, inputs=tuple(i.to_dict() for i in inputs),
        planned=n, simulated=sum(e["how"] == "simulated" for e in result_draws),
        screened=sum(e["how"] == "screened" for e in result_draws), stopped=stopped,
        elapsed_s=time.perf_counter() - started)


def _nothing(inputs, objectives, seed: int, n: int, stopped: str, started: float) -> RiskResult:
    """Stopped while screening: no draw judged."""
    return RiskResult(probability_holds=math.nan, probability_holds_ci=(math.nan, math.nan), draws=(),
                      sensitivities=(), partial=True, slo=",".join(o.text for o in objectives), seed=seed,
                      inputs=tuple(i.to_dict() for i in inputs), planned=n, stopped=stopped,
                      elapsed_s=time.perf_counter() - started)


def _sensitivities(inputs, draws: list[dict]) -> list[dict]:
    if not draws:
        return []
    x = np.array([[d["inputs"][i.key] for i in inputs] for d in draws], dtype=float)
    y = np.array([d["lost_actions_fraction"] for d in draws], dtype=float)
    y = np.where(np.isnan(y), np.array([d["lost_visitors_fraction"] for d in draws], dtype=float), y)
    keep = ~np.isnan(y)
    coef = prcc(x[keep], y[keep])
    out = [{"key": i.key, "prcc": float(c), "measure": "PRCC of lost actions"} for i, c in zip(inputs, coef)]
    return sorted(out, key=lambda s: -abs(s["prcc"]) if s["prcc"] == s["prcc"] else 0.0)
