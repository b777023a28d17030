"""``surge advise``: the scenario as it is, each mitigation that applies, and the cheapest combinations that meet the SLO.

Every variant meets the same visitors (the scenario's seed: common random numbers), so
differences between rows are the mitigations', not the dice's. Variants run in parallel
processes, in stages: the scenario and each mitigation alone; then combinations of those
that helped but did not meet the SLO alone (one per group: two landing-page caches or two
instance counts do not combine), since a combination holding a mitigation that already
meets the SLO cannot be cheaper than it. Ranked by cost among the variants that meet the
SLO, then the rest by lost actions.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import asdict, dataclass
from typing import Callable

from sim.analysis.mitigations import Mitigation, apply, catalog, instance_counts, sizing
from sim.analysis.runner import Rows, run_points, shared_pool
from sim.analysis.slo import parse_slo
from sim.stats.figures import place, terms_where
from sim.config.scenario import Scenario, parse_scenario

__all__ = ["Variant", "Session", "run_variant", "advise", "combinations", "quick_advice", "describe", "lost_fraction", "QUICK_TERMS", "rank", "DEFAULT_PRICE_PER_INSTANCE_HOUR", "MAX_VARIANTS"]

# Assumption: a small cloud VM (2 vCPU, 4-8 GB) on demand is about 0.10 US$ an hour.
DEFAULT_PRICE_PER_INSTANCE_HOUR = 0.10
MAX_VARIANTS = 48  # runs of one advise, all stages together
_FREE_TOP, _PAID_TOP = 3, 2  # combinations are made of the best free and the cheapest paid single mitigations


@dataclass(frozen=True, kw_only=True)
class Variant:
    index: int
    name: str  # "as is", or the mitigations' labels joined by " + "
    keys: tuple[str, ...]
    table: dict
    path: str  # the scenario's path: relative files (a trace) are read next to it
    slo: str
    quick_end_s: float | None = None  # a quick advise stops the run here


def run_variant(point: Variant, replications: int, seed: int | None, engine: str) -> dict:
    """One variant's row (module level, for the process pool)."""
    from sim.engine import replication_seeds, simulate
    from sim.analysis.run_summary import Settings, summarize_runs

    table = point.table
    if point.quick_end_s is not None:  # the run cut short: so is a schedule that reaches beyond it
        table = copy.deepcopy(table)
        run = table.setdefault("run", {})
        if "duration_s" in run:
            end = min(float(run["duration_s"]), point.quick_end_s)
        else:  # the default duration, as the scenario reads it
            end = min(parse_scenario(point.table, path=point.path).run.duration_s, point.quick_end_s)
        run["duration_s"] = end
        scale = table.get("site", {}).get("autoscale")
        if isinstance(scale, dict) and "schedule" in scale:
            scale["schedule"] = [e for e in scale["schedule"] if e["at_s"] < end]
    scenario = parse_scenario(table, path=point.path)
    seed = scenario.run.seed if seed is None else seed
    result = simulate(scenario, engine=engine, seed_seq=replication_seeds(seed, 1)[0])
    run = summarize_runs(scenario, [result], objectives=parse_slo(point.slo),
                         settings=Settings(replications_requested=1, seed=seed, engine=result.engine))
    summary, judged = run.figures, run.verdict
    hours = scenario.run.duration_s / 3600
    inst = summary["instances"]["mean"]
    return {"index": point.index, "name": point.name, "keys": list(point.keys), "engine": result.engine,
            "error": result.error, "partial": result.partial, "complete": not result.partial,
            "meets_slo": judged.holds and not result.partial, "verdict": judged.text,
            "loss_window_s": list(judged.window_s) if judged.window_s else None,
            "bottleneck": judged.bottleneck.get("short", ""), "bottleneck_detail": judged.bottleneck.get("text", ""),
            "lost_actions": summary["actions"]["lost"], "actions_attempted": summary["actions"]["attempted"],
            "lost_visitors": summary["visitors"]["lost"], "visitors_arrived": summary["visitors"]["arrived"],
            "lost_actions_fraction": summary["actions"]["lost_fraction"],
            "lost_visitors_fraction": summary["visitors"]["lost_fraction"],
            "p95_s": summary["page_attempt_s"]["p95"],
            "p95_unanswered": math.isinf(summary["page_attempt_s"]["p95"]),  # null in JSON: over 5 % failed
            "completed_p95_s": summary["page_response_s"]["p95"],
            "error_fraction": summary["requests"]["error_fraction"],
            "instance_hours": inst * hours if inst == inst else 0.0}


def rank(rows: list[dict]) -> list[dict]:
    """Those meeting the SLO by cost (then fewer changes, then lost actions), then the rest by lost actions."""
    def lost(r):
        x = lost_fraction(r)
        return x if x == x else 1.0

    meets = sorted((r for r in rows if r["meets_slo"]), key=lambda r: (r["cost"], len(r["keys"]), lost(r)))
    rest = sorted((r for r in rows if not r["meets_slo"]), key=lambda r: (lost(r), r["cost"]))
    return meets + rest


def lost_fraction(r: dict) -> float:
    """A row's lost actions, or its lost visitors where nobody acted (nan where neither has a figure)."""
    x = r["lost_actions_fraction"]
    return x if x == x else r["lost_visitors_fraction"]


def combinations(singles: list[dict], by_key: dict[str, Mitigation], baseline: dict, size: int, *,
                 shortfall: Callable[[dict], float] = lost_fraction,
                 met: Callable[[dict], bool] = lambda r: r["meets_slo"]) -> list[tuple]:
    """Combinations of ``size`` of the single mitigations that helped (a smaller ``shortfall`` than the
    baseline's: lost actions by default) without being ``met`` (meeting the SLO by default): the best
    free one of each group (top 3) and the 2 cheapest paid ones, one per group."""
    helped = sorted((r for r in singles if not met(r) and r["complete"] and shortfall(r) < shortfall(baseline)),
                    key=lambda r: (shortfall(r), r["cost"]))
    free, seen = [], set()
    for r in helped:
        m = by_key[r["keys"][0]]
        if m.free and m.group not in seen:
            seen.add(m.group)
            free.append(m.key)
    paid = [r["keys"][0] for r in sorted((r for r in helped if not by_key[r["keys"][0]].free),
                                         key=lambda r: (r["cost"], shortfall(r)))[:_PAID_TOP]]
    out = []
    for combo in itertools.combinations(free[:_FREE_TOP] + paid, size):
        groups = [by_key[k].group for k in combo]
        if len(set(groups)) == len(groups):
            out.append(combo)
    return out


class Session:
    """One advice's variants and rows: each variant made from the mitigations' keys, run in stages, every
    row costed against the first row run (the scenario as it is)."""

    def __init__(self, table: dict, path: str, *, slo: str,
                 price_per_instance_hour: float = DEFAULT_PRICE_PER_INSTANCE_HOUR, jobs: int = 1,
                 engine: str = "auto", dask: str | None = None, quick_end_s: float | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 surge_window_s: tuple[float, float] | None = None) -> None:
        scenario: Scenario = parse_scenario(table, path=path)
        if surge_window_s is None and scenario.traffic.shares:  # pre-scaling ends when the rate is back near the baseline
            from sim.analysis.window import surge_window
            from sim.traffic.profile import build_profile

            w = surge_window(build_profile(scenario))
            surge_window_s = (w.start_s, w.end_s)
        self.table, self.path, self.slo = table, path, slo
        self.price, self.jobs, self.engine, self.dask = price_per_instance_hour, jobs, engine, dask
        self.quick_end_s, self.progress = quick_end_s, progress
        self.mitigations = catalog(scenario, sizing(scenario, surge_window_s=surge_window_s))
        self.by_key = {m.key: m for m in self.mitigations}
        self.variants: list[Variant] = []
        self.rows: list[dict] = []
        self.stopped: str | None = None

    def variant(self, keys: tuple[str, ...]) -> Variant:
        ms = [self.by_key[k] for k in keys]
        v = Variant(index=len(self.variants), name=" + ".join(m.label for m in ms) or "as is", keys=keys,
                    table=apply(self.table, ms), path=self.path, slo=self.slo, quick_end_s=self.quick_end_s)
        parse_scenario(v.table, path=self.path)  # a mitigation that makes a bad scenario is a bug: fail before running
        self.variants.append(v)
        return v

    def run_stage(self, stage: str, batch: list[Variant]) -> list[dict]:
        """The batch's rows (also kept in ``rows``), every row costed; ``stopped`` says whether it was cut short."""
        progress = self.progress
        tick = (lambda done, total: progress(stage, done, total)) if progress else (lambda done, total: None)
        got: Rows = run_points(batch, replications=1, seed=None, engine=self.engine, jobs=self.jobs,
                               dask_address=self.dask, progress=tick, fn=run_variant)
        self.rows.extend(got)
        self.stopped = got.stopped
        base = self.rows[0]["instance_hours"] if self.rows else 0.0
        for r in self.rows:
            r["instance_hours_added"] = max(r["instance_hours"] - base, 0.0)
            r["cost"] = r["instance_hours_added"] * self.price
        return list(got)

    def central(self, *, combine: bool = True) -> None:
        """The scenario as it is and each mitigation; then combinations of those that helped, while none
        free meets the SLO."""
        self.run_stage("the scenario and each mitigation",
                       [self.variant(())] + [self.variant((m.key,)) for m in self.mitigations])
        if not combine or self.stopped is not None or self.rows[0]["meets_slo"]:
            return
        baseline, singles = self.rows[0], [r for r in self.rows[1:] if len(r["keys"]) == 1]
        for size in (2, 3):
            combos = combinations(singles, self.by_key, baseline, size)[:max(MAX_VARIANTS - len(self.variants), 0)]
            if not combos or self.stopped is not None:
                break
            if any(r["meets_slo"] and r["cost"] == 0 for r in self.rows):
                break  # a free fix meets the SLO: nothing larger can be cheaper
            self.run_stage(f"combinations of {size}", [self.variant(c) for c in combos])


def advise(table: dict, path: str, *, slo: str, price_per_instance_hour: float = DEFAULT_PRICE_PER_INSTANCE_HOUR,
           jobs: int = 1, engine: str = "auto", quick_end_s: float | None = None, combine: bool = True,
           progress: Callable[[str, int, int], None] | None = None,
           surge_window_s: tuple[float, float] | None = None,
           dask: str | None = None) -> tuple[list[dict], list[Variant], str | None]:
    """Rows ranked (with ``cost`` and ``instance_hours_added``), the variants run, and why it stopped (None: done)."""
    session = Session(table, path, slo=slo, price_per_instance_hour=price_per_instance_hour, jobs=jobs,
                      engine=engine, dask=dask, quick_end_s=quick_end_s, progress=progress,
                      surge_window_s=surge_window_s)
    with shared_pool(jobs):  # the stages on one pool of processes
        session.central(combine=combine)
    return rank(session.rows), session.variants, session.stopped


QUICK_TERMS = terms_where("quick")  # the SLO terms a quick row is judged on (sim.stats.figures)


def _meets_whole_run(row: dict, base: dict, summary: dict, objectives) -> bool:
    """A quick variant judged over the whole run: its losses plus what the site as it is lost after
    the quick run ended (an upper bound: a mitigation only lowers it), over the whole run's visitors
    and actions (the same visitors meet every variant). p95 and errors are the quick run's, over
    the surge, where they are worst. Terms a quick row has no figure for are left to surge advise."""
    if row.get("partial"):
        return False
    acts, vis = summary["actions"], summary["visitors"]

    def whole(lost: float, after: float, total: float) -> float:
        return (lost + max(after, 0.0)) / total if total > 0 else math.nan

    estimate = place({"lost_actions": whole(row["lost_actions"], acts["lost"] - base["lost_actions"],
                                            acts["attempted"]),
                      "lost_visitors": whole(row["lost_visitors"], vis["lost"] - base["lost_visitors"], vis["arrived"]),
                      "p95": row["p95_s"], "errors": row["error_fraction"]})
    return all(o.met(estimate) for o in objectives if o.metric in QUICK_TERMS)


def quick_advice(table: dict, path: str, *, slo: str, summary: dict, until_s: float, engine: str = "auto",
                 price_per_instance_hour: float = DEFAULT_PRICE_PER_INSTANCE_HOUR) -> dict:
    """Each mitigation alone, run to ``until_s`` in this process, judged over the whole run whose
    ``summary`` is given (see :func:`_meets_whole_run`); the cheapest that meets the SLO.

    A fixed number of instances costs its instance-hours over the whole run, not the quick one's, and a
    schedule's raised minimum its hours after the quick run's end."""
    import time

    started = time.perf_counter()
    ranked, variants, stopped = advise(table, path, slo=slo, jobs=1, engine=engine, quick_end_s=until_s,
                                       combine=False, price_per_instance_hour=price_per_instance_hour)
    base_scenario = parse_scenario(table, path=path)
    duration_s = base_scenario.run.duration_s
    quick_s = min(until_s, duration_s)
    tables = {v.index: v.table for v in variants}
    for r in ranked:
        if any(k.startswith("instances-x") for k in r["keys"]):
            r["cost"] *= duration_s / quick_s
        # a schedule's raised minimum holds past the quick run's end until its next entry: those hours too
        sched = tables[r["index"]].get("site", {}).get("autoscale", {}).get("schedule", [])
        for j, e in enumerate(sched):
            stop = sched[j + 1]["at_s"] if j + 1 < len(sched) else duration_s
            extra = max(e["min"] - base_scenario.site.app.instances, 0)
            r["cost"] += price_per_instance_hour * extra * max(stop - max(e["at_s"], quick_s), 0.0) / 3600
    base = next(r for r in ranked if not r["keys"])
    objectives = parse_slo(slo)
    meets = sorted((r for r in ranked if _meets_whole_run(r, base, summary, objectives)),
                   key=lambda r: (r["cost"], r["lost_actions"]))
    cheapest = meets[0] if meets else None
    scheduled = cheapest is not None and bool(tables[cheapest["index"]].get("site", {}).get("autoscale", {})
                                              .get("schedule"))
    counts = instance_counts(base_scenario, sizing(base_scenario))
    return {"until_s": quick_s, "stopped": stopped, "judged_on": list(QUICK_TERMS),
            "elapsed_s": time.perf_counter() - started,
            "cheapest": cheapest["name"] if cheapest else None, "cheapest_cost": cheapest["cost"] if cheapest else None,
            "price_per_instance_hour": price_per_instance_hour,
            # its cost estimated past the quick run (a schedule's raised minimum), not measured
            "cheapest_scheduled": scheduled,
            "cheapest_free": bool(cheapest is None or cheapest["cost"] == 0),
            "instances": asdict(counts),
            "rows": [{k: r[k] for k in ("name", "keys", "lost_actions_fraction", "lost_visitors_fraction", "cost")}
                     for r in ranked]}


def describe(mitigations: list[Mitigation]) -> list[dict]:
    """What each mitigation is and assumes, for advise.json."""
    return [{"key": m.key, "label": m.label, "description": m.description, "free": m.free, "group": m.group}
            for m in mitigations]
