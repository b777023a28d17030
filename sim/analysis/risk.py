"""``surge risk``: the probability that the SLO holds over the plausible surges a scenario's
``[uncertain]`` tables describe, with its 95 % interval, and which inputs matter most.

The surges are a Latin hypercube design over the inputs' laws (``scipy.stats.qmc``), each
draw with its own seed from ``SeedSequence(seed).spawn``: the same points and seeds for any
variant of the table (a mitigation applied), so variants meet the same surges (common
random numbers).

Fast and honest, in three steps:

1. **Screen** every draw with the fluid model (:mod:`sim.analysis.screen`): a score that
   grows with the visitors it loses, in milliseconds.
2. **Simulate near the boundary**: draws are ordered by score; a spread sample of
   :data:`SPREAD_SAMPLE` draws is simulated, then (by bisection, then all of them) every draw
   that :func:`classify` leaves undecided: those between the least simulated failure and the
   greatest simulated hold in that order, and :data:`BUFFER` ranks more on each side. Every
   other draw takes the verdict of the simulated draws beside it (holding is taken to be
   monotone in the score there; the spread sample checks it across the whole range, and a test
   checks it against brute force). A draw is simulated to its surge's end only
   (:func:`sim.analysis.screen.surge_end_s`), its losses over the whole run's visitors.
3. **Count**: P(holds) is the share of the draws that hold, with a Wilson 95 % interval over the
   draws (a Latin hypercube's variance is at most n/(n-1) times independent draws', Owen 1997).
   By default 200 draws, then 300 and 400 while the interval is wider than +-5 points.

Sensitivity: partial rank correlation coefficients (PRCC) between each input and the lost
actions over the draws: how strongly the losses rise or fall with an input once the others'
(monotone) effects are taken out, from -1 to 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from sim.analysis.runner import run_points
from sim.analysis.screen import RISK_TERMS, DrawPoint, run_draw, screen_draw, warm_up
from sim.analysis.slo import parse_slo
from sim.config.limits import MAX_SWEEP_POINTS
from sim.config.scenario import parse_scenario
from sim.config.uncertain import point_table, read_uncertain
from sim.errors import ConfigError

__all__ = ["RiskResult", "assess", "design", "wilson", "prcc", "classify", "plan_draws", "check_slo", "check_draws", "quick_look", "QUICK_DRAWS", "DEFAULT_DRAWS", "SPREAD_SAMPLE"]

# 385 draws give a Wilson 95 % half-width of at most 5 points (p = 0.5: 1.96 sqrt(0.25 / 385) = 0.050).
DEFAULT_DRAWS = 400
SPREAD_SAMPLE = 16  # draws simulated first, spread evenly over the score's ranks
TARGET_HALF_WIDTH = 0.05  # the default stops at half its draws once the 95 % interval is this narrow
BUFFER = 4  # ranks simulated past the simulated boundary on each side (see _to_simulate)


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


def classify(n: int, outcome: dict[int, bool], buffer: int = BUFFER) -> dict[int, bool | None]:
    """Each rank's verdict from the simulated ones (``outcome``: rank -> holds), taking holding as monotone in
    the score: a rank holds when a simulated hold lies at or above it and it lies more than ``buffer`` ranks
    below the least simulated failure; it fails when a simulated failure lies at or below it and it lies more
    than ``buffer`` ranks above the greatest simulated hold; otherwise ``None`` (it must be simulated)."""
    fails = [r for r, held in outcome.items() if not held]
    holds = [r for r, held in outcome.items() if held]
    b = min(fails) if fails else n
    a = max(holds) if holds else -1
    out: dict[int, bool | None] = {}
    for r in range(n):
        if r in outcome:
            out[r] = outcome[r]
        elif r <= a and r < b - buffer:
            out[r] = True
        elif r >= b and r > a + buffer:
            out[r] = False
        else:
            out[r] = None
    return out


def _next_batch(undecided: list[int], jobs: int) -> list[int]:
    """The undecided ranks to simulate next: all of them when few, else an even spread (a bisection step)."""
    width = max(4 * jobs, 8)
    if len(undecided) <= 2 * width:
        return undecided
    picks = np.linspace(0, len(undecided) - 1, width + 2)[1:-1].round().astype(int)
    return sorted({undecided[i] for i in picks})


def check_slo(slo: str):
    """The SLO's objectives, refused unless each is a term a draw is judged on."""
    objectives = parse_slo(slo)
    other = [o.text for o in objectives if o.metric not in RISK_TERMS]
    if other:
        raise ConfigError("--slo", f"surge risk judges {', '.join(RISK_TERMS)}; not {', '.join(other)}")
    return objectives


def check_draws(draws: int) -> int:
    if not 1 <= draws <= MAX_SWEEP_POINTS:
        raise ConfigError("--draws", f"must be within [1, {MAX_SWEEP_POINTS}], got {draws}")
    return draws


def plan_draws(table: dict, path: str, inputs, *, slo: str, draws: int, seed: int) -> list[DrawPoint]:
    """The draws: a Latin hypercube over the inputs, each draw's table checked, each with its own seed. The same
    for any variant of ``table`` (its inputs' values and seeds depend on the inputs and ``seed`` only)."""
    u = design(len(inputs), draws, seed)
    seeds = np.random.SeedSequence(seed).spawn(2)[0].spawn(draws)
    points = []
    for i in range(draws):
        values = {item.key: item.value_at(u[i, j]) for j, item in enumerate(inputs)}
        t = point_table(table, values)
        try:
            parse_scenario(t, path=path)
        except ConfigError as err:
            at = ", ".join(f"{k} = {v:.6g}" for k, v in values.items())
            raise ConfigError(err.key, f"{err.message} (a drawn surge: {at})").at(path) from None
        points.append(DrawPoint(index=i, table=t, path=path, values=values, seed_seq=seeds[i], slo=slo))
    return points


def assess(table: dict, path: str, *, slo: str, draws: int | None = None, seed: int | None = None,
           jobs: int = 1, dask: str | None = None, engine: str = "auto", progress=None) -> RiskResult:
    """P(the SLO holds) over the plausible surges of the scenario ``table`` (read from ``path``)."""
    started = time.perf_counter()
    inputs = read_uncertain(table, path)
    if not inputs:
        raise ConfigError("uncertain", "the scenario has no [uncertain.\"dotted.key\"] tables: nothing to draw "
                          "(see docs/scenario-format.md)").at(path)
    objectives = check_slo(slo)
    n = check_draws(DEFAULT_DRAWS if draws is None else draws)
    central = parse_scenario(table, path=path)
    seed = central.run.seed if seed is None else seed
    points = plan_draws(table, path, inputs, slo=slo, draws=n, seed=seed)
    tick = progress or (lambda stage, done, total: None)
    run = dict(seed=seed, engine=engine, jobs=jobs, dask_address=dask)
    # The default: half the draws first (a Latin hypercube's rows come in random order, so its first rows
    # are a uniform sample too), then three quarters, then all, while the interval is still wider than
    # +-TARGET_HALF_WIDTH (P = 0.5 needs 385 draws, P = 0.15 about 200).
    stages = [n // 2, 3 * n // 4, n] if draws is None and n >= 2 * SPREAD_SAMPLE else [n]
    screens: dict[int, dict] = {}
    rows: dict[int, dict] = {}  # draw index -> simulated row
    stopped = None
    for size in stages:
        todo = [p for p in points[:size] if p.index not in screens]
        got = run_points(todo, replications=1, progress=lambda done, total: tick("screening", done, total),
                         fn=screen_draw, **run)
        screens.update({r["index"]: r for r in got})
        if got.stopped or len(got) < len(todo):  # a draw is judged only once every draw of its stage is screened
            stopped = got.stopped or "stopped"
            break
        stopped = _simulate_boundary(points[:size], screens, rows, run, tick)
        judged = _judge(points[:size], screens, rows)
        held = sum(e["holds"] for e in judged)
        lo, hi = wilson(held, len(judged)) if judged else (0.0, 1.0)
        if stopped is not None or (hi - lo) / 2 <= TARGET_HALF_WIDTH:
            break
    judged = _judge([p for p in points if p.index in screens], screens, rows) if screens else []
    holds = sum(e["holds"] for e in judged)
    counted = len(judged)
    return RiskResult(
        probability_holds=holds / counted if counted else math.nan,
        probability_holds_ci=wilson(holds, counted) if counted else (math.nan, math.nan),
        draws=tuple(judged), sensitivities=tuple(_sensitivities(inputs, judged)),
        partial=stopped is not None or counted < len(screens),
        slo=",".join(o.text for o in objectives), seed=seed, inputs=tuple(i.to_dict() for i in inputs),
        planned=n, simulated=sum(e["how"] == "simulated" for e in judged),
        screened=sum(e["how"] == "screened" for e in judged), stopped=stopped,
        elapsed_s=time.perf_counter() - started)


def _order(points, screens) -> list[int]:
    """Draw indices by their fluid score, least loss first (rank -> draw index)."""
    return sorted((p.index for p in points), key=lambda i: (screens[i]["score"], i))


def _simulate_boundary(points, screens, rows, run, tick) -> str | None:
    """Simulate a spread sample, then the draws classify leaves undecided, until none is; why it stopped, or None."""
    order = _order(points, screens)
    n = len(order)
    by_index = {p.index: p for p in points}
    batch = sorted(set(np.linspace(0, n - 1, min(SPREAD_SAMPLE, n)).round().astype(int).tolist()))
    if run["jobs"] > 1 and not run["dask_address"] and not rows:
        warm_up(by_index[order[0]], run["engine"])
    while True:
        batch = [r for r in batch if order[r] not in rows]
        if not batch:
            return None
        got = run_points([by_index[order[r]] for r in batch], replications=1, fn=run_draw,
                         progress=lambda done, total: tick("simulating", len(rows) + done, len(rows) + total), **run)
        rows.update({r["index"]: r for r in got})
        if got.stopped:
            return got.stopped
        failed = [r for r in got if not r["complete"]]
        if failed:
            return failed[0]["error"] or "a draw stopped midway"
        outcome = {r: rows[d]["holds"] for r, d in enumerate(order) if d in rows and rows[d]["complete"]}
        batch = _next_batch([r for r, v in classify(n, outcome).items() if v is None], run["jobs"])


def _fluid_scale(screens, rows, figure: str):
    """``score -> ratio`` of simulated to fluid losses, interpolated between the simulated draws (by score) where
    both lost some: what a screened draw's fluid estimate is multiplied by (the fluid model's error changes with
    the surge's size: several times near the boundary, a third at the largest surges); 1 with no such draw."""
    pairs = sorted((screens[d]["score"], rows[d][figure] / screens[d][figure]) for d in rows
                   if rows[d]["complete"] and rows[d][figure] == rows[d][figure] and rows[d][figure] > 0
                   and screens[d][figure] == screens[d][figure] and screens[d][figure] > 0)
    if not pairs:
        return lambda score: 1.0
    xs, ys = np.array([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return lambda score: float(np.exp(np.interp(score, xs, ys)))


def _judge(points, screens, rows) -> list[dict]:
    """Each draw's verdict: simulated, or screened from the simulated draws around it (left out: undecided)."""
    order = _order(points, screens)
    outcome = {r: rows[d]["holds"] for r, d in enumerate(order) if d in rows and rows[d]["complete"]}
    verdicts = classify(len(order), outcome)
    by_index = {p.index: p for p in points}
    scale = {f: _fluid_scale(screens, rows, f) for f in ("lost_actions_fraction", "lost_visitors_fraction")}
    out = []
    for rank, d in enumerate(order):
        if rank in outcome:
            row = rows[d]
            entry = {"holds": row["holds"], "how": "simulated", "lost_actions_fraction": row["lost_actions_fraction"],
                     "lost_visitors_fraction": row["lost_visitors_fraction"]}
        elif verdicts[rank] is not None:
            entry = {"holds": verdicts[rank], "how": "screened",
                     **{f: min(scale[f](screens[d]["score"]) * screens[d][f], 1.0) for f in scale}}
        else:
            continue  # stopped midway: a draw near the boundary that was not simulated is not judged
        out.append({"index": d, "inputs": by_index[d].values, **entry, "score": screens[d]["score"]})
    return sorted(out, key=lambda e: e["index"])


QUICK_DRAWS = 20  # surge run's quick look: the fluid model on this many draws, 2-4 s on a 2-core machine


def quick_look(table: dict, path: str, *, slo: str, summary: dict, draws: int = QUICK_DRAWS,
               seed: int | None = None) -> dict | None:
    """How often the SLO's loss terms hold over the ranges, by the fluid model alone, scaled to the run just made.

    The fluid model's losses for each draw are multiplied by the ratio of the run's simulated losses to the
    fluid model's for the central case (its own bias, measured on this scenario), then judged against the
    SLO's loss terms; other terms are left to ``surge risk``. None when the scenario has no ranges or the
    SLO no loss term."""
    inputs = read_uncertain(table, path)
    terms = [o for o in parse_slo(slo) if o.metric in ("lost_actions", "lost_visitors")]
    if not inputs or not terms:
        return None
    started = time.perf_counter()
    central = parse_scenario(table, path=path)
    seed = central.run.seed if seed is None else seed
    centre = screen_draw(DrawPoint(index=-1, table=point_table(table, {}), path=path, values={},
                                   seed_seq=np.random.SeedSequence(seed), slo=slo), 1, seed, "auto")
    points = plan_draws(table, path, inputs, slo=slo, draws=draws, seed=seed)
    figures = [screen_draw(p, 1, seed, "auto") for p in points]
    simulated = {"lost_actions": summary.get("actions", {}).get("lost_fraction", math.nan),
                 "lost_visitors": summary.get("visitors", {}).get("lost_fraction", math.nan)}

    def scale(metric: str) -> float:
        fluid, sim = centre[f"{metric}_fraction"], simulated[metric]
        return sim / fluid if fluid == fluid and fluid > 0 and sim == sim and sim > 0 else 1.0

    k = {o.metric: float(scale(o.metric)) for o in terms}
    holds = sum(all(o.met({o.metric.split("_")[1]: {"lost_fraction": k[o.metric] * f[f"{o.metric}_fraction"]}})
                    for o in terms) for f in figures)
    return {"draws": draws, "holds": holds, "judged_on": [o.text for o in terms], "scale": k,
            "elapsed_s": time.perf_counter() - started}


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
