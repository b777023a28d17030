"""Capacity sweeps: run a scenario over a grid of values, and find the least capacity meeting an SLO.

``--vary KEY=VALUES`` names any numeric scenario key by its dotted path (list items by
index: ``traffic.shares.0.followers``). Every point is validated before anything runs.
The first ``--vary`` is the capacity (the x axis); the others are surge sizes (one
line each). Every point uses the same seeds, so the same visitors, with the same
patience and service draws, meet each site (common random numbers): differences
between points are the site's, not the dice's.
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from sim.analysis.runner import Rows, run_points
from sim.errors import ConfigError
from sim.config.checks import LIMIT
from sim.config.limits import MAX_SWEEP_POINTS, MAX_SWEEP_VALUES
from sim.config.scenario import check_run_size, parse_scenario, read_scenario_table
from sim.analysis.slo import Objective

__all__ = ["Vary", "parse_vary", "SweepPoint", "plan_points", "least_capacity", "load_table", "sweep"]


@dataclass(frozen=True, kw_only=True)
class Vary:
    key: str
    values: tuple[float, ...]


def _number(token: str, spec: str) -> float | int:
    token = token.strip()
    try:
        if all(c.isdigit() or c in "+-" for c in token):
            return int(token)
        value = float(token)
    except ValueError:
        raise ConfigError("--vary", f"{spec!r}: {token!r} is not a number") from None
    if math.isnan(value):
        raise ConfigError("--vary", f"{spec!r}: {token!r} is not a number")
    return value


def _too_many(spec: str, count: float) -> None:
    """Refuse a list of values longer than MAX_SWEEP_VALUES before it is built."""
    if count > MAX_SWEEP_VALUES:
        raise ConfigError("--vary", f"{spec!r}: {count:.6g} values is too many (at most {MAX_SWEEP_VALUES}: {LIMIT})")


def parse_vary(spec: str) -> Vary:
    """``key=a:b[:step]`` (inclusive), ``key=v1,v2,...`` or ``key=log:a:b:n`` (n log-spaced values)."""
    if "=" not in spec:
        raise ConfigError("--vary", f"{spec!r}: write KEY=VALUES, e.g. site.app.instances=1:24")
    key, _, text = spec.partition("=")
    key, text = key.strip(), text.strip()
    if not key or not text:
        raise ConfigError("--vary", f"{spec!r}: write KEY=VALUES, e.g. site.app.instances=1:24")
    if text.startswith("log:"):
        parts = text[4:].split(":")
        if len(parts) != 3:
            raise ConfigError("--vary", f"{spec!r}: a log range is log:FIRST:LAST:COUNT")
        a, b, n = (_number(p, spec) for p in parts)
        if not (0 < a < math.inf and 0 < b < math.inf and isinstance(n, int) and n >= 2):
            raise ConfigError("--vary", f"{spec!r}: log ranges need finite FIRST, LAST > 0 and a whole COUNT >= 2")
        _too_many(spec, n)
        values = tuple(float(v) for v in np.geomspace(a, b, n))
    elif ":" in text:
        parts = [_number(p, spec) for p in text.split(":")]
        if len(parts) not in (2, 3):
            raise ConfigError("--vary", f"{spec!r}: a range is FIRST:LAST or FIRST:LAST:STEP")
        a, b = parts[0], parts[1]
        step = parts[2] if len(parts) == 3 else 1
        if not all(math.isfinite(x) for x in (a, b, step)):
            raise ConfigError("--vary", f"{spec!r}: a range needs finite FIRST, LAST and STEP")
        if not (step > 0) or b < a:
            raise ConfigError("--vary", f"{spec!r}: a range needs LAST >= FIRST and STEP > 0")
        _too_many(spec, (b - a) / step + 1)  # counted before a value is made
        count = int(math.floor((b - a) / step + 1e-9)) + 1
        values = tuple(a + i * step for i in range(count))
    else:
        tokens = [p for p in text.split(",") if p.strip()]
        _too_many(spec, len(tokens))
        values = tuple(_number(p, spec) for p in tokens)
    if not values:
        raise ConfigError("--vary", f"{spec!r}: no values")
    return Vary(key=key, values=values)


def load_table(path: str) -> dict:
    """The scenario's TOML table as ``surge run`` reads it: its ``include`` merged in (errors name the file)."""
    return read_scenario_table(path)


def _set(table: dict, key: str, value: Any) -> None:
    """Set a dotted key in a TOML table; list items are named by index."""
    parts = key.split(".")
    node: Any = table
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError("--vary", f"{key}: {'.'.join(parts[:i])} has no item {part}")
            node = node[int(part)]
        else:
            if part.isdigit():
                raise ConfigError("--vary", f"{key}: {'.'.join(parts[:i]) or 'the scenario'} is not a list")
            node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError("--vary", f"{key}: {'.'.join(parts[: i + 1])} is not a table")
    last = parts[-1]
    if isinstance(node, list):
        raise ConfigError("--vary", f"{key}: name a key inside the list item, not the item itself")
    old = node.get(last)
    if old is not None and (isinstance(old, (bool, str, dict, list)) or not isinstance(old, (int, float))):
        raise ConfigError("--vary", f"{key}: is not a number in the scenario (it is {old!r})")
    node[last] = value


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    index: int
    values: dict[str, float]  # varied key -> value
    table: dict  # the scenario's TOML table with the values set
    path: str


def plan_points(table: dict, path: str, varies: Sequence[Vary]) -> list[SweepPoint]:
    """Every point of the grid (surge sizes outer, capacity inner), each validated now."""
    if not varies:
        raise ConfigError("--vary", "give at least one, e.g. --vary site.app.instances=1:24")
    keys = [v.key for v in varies]
    if len(set(keys)) != len(keys):
        raise ConfigError("--vary", f"a key is varied twice: {keys}")
    total = math.prod(len(v.values) for v in varies)
    if total > MAX_SWEEP_POINTS:
        sizes = " x ".join(str(len(v.values)) for v in varies)
        raise ConfigError("--vary", f"{sizes} = {total} points is too many (at most {MAX_SWEEP_POINTS}: {LIMIT})")
    capacity, surges = varies[0], varies[1:]
    points = []
    for surge in itertools.product(*(v.values for v in surges)):
        for cap in capacity.values:
            values = {capacity.key: cap, **{v.key: x for v, x in zip(surges, surge)}}
            t = copy.deepcopy(table)
            for key, value in values.items():
                _set(t, key, value)
            try:
                check_run_size(parse_scenario(t, path=path), what="a sweep point")
            except ConfigError as err:
                at = ", ".join(f"{k} = {v!r}" for k, v in values.items())
                named = f"{err.key} = {values[err.key]!r}" if err.key in values else f"{err.key} (at {at})"
                raise ConfigError("--vary", f"{named}: {err.message}") from None
            points.append(SweepPoint(index=len(points), values=values, table=t, path=path))
    return points


def least_capacity(rows: Iterable[dict], capacity_key: str, surge_keys: Sequence[str],
                   objectives: Sequence[Objective]) -> list[dict]:
    """For each surge size, the least capacity whose mean figures meet every objective (None: none does).

    Judged on complete rows only: a point stopped midway has the figures of part of its run.
    ``complete`` is false where some of the surge size's points were not complete."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row["values"][k] for k in surge_keys), []).append(row)
    out = []
    for surge, members in groups.items():
        least = None
        complete = [r for r in members if r.get("complete", True)]
        for row in sorted(complete, key=lambda r: r["values"][capacity_key]):
            summary = _unflatten(row["figures"])
            if all(o.met(summary) for o in objectives):
                least = row["values"][capacity_key]
                break
        out.append({"surge": dict(zip(surge_keys, surge)), "capacity_key": capacity_key, "least": least,
                    "complete": len(complete) == len(members)})
    return out


def _unflatten(flat: dict) -> dict:
    nested: dict = {}
    for key, value in flat.items():
        node = nested
        *head, last = key.split(".")
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def sweep(path: str, vary: Sequence[str], *, replications: int = 1, seed: int | None = None,
          engine: str = "auto", jobs: int = 1, dask_address: str | None = None,
          progress: Callable[[int, int], None] | None = None) -> Rows:
    """Every point of the grid over ``vary`` (``"site.app.instances=1:4"``, ...) of the scenario at ``path``.

    One row per point: ``index``, ``values`` (the varied keys), ``figures`` (the flattened
    summary, means over replications with ``_ci`` half-widths), ``complete`` and ``partial``
    (:func:`~sim.analysis.runner.run_point`). Every point
    meets the same visitors (common random numbers); results do not depend on ``jobs``.
    """
    points = plan_points(load_table(path), path, [parse_vary(v) for v in vary])
    return run_points(points, replications=replications, seed=seed, engine=engine, jobs=jobs,
                      dask_address=dask_address, progress=progress or (lambda done, total: None))
