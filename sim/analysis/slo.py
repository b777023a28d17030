"""Service-level objectives, as k6's thresholds: ``"p95<2s,errors<1%,lost_actions<1%"``.

One parser and one evaluator serve ``surge run``'s verdict, ``surge loadtest``'s exit
code, ``surge sweep``'s least capacity and ``surge advise``, so an SLO means the same thing
everywhere.

Latency terms cannot hide overload: ``p50``, ``p95`` and ``p99`` are taken over every
attempted page view and submit, a failed or abandoned one counting as never answered
(``page_attempt_s``, see :mod:`sim.stats.attempts`): ``p95<2s`` holds only if at least 95 %
of the attempts were answered, within 2 s. ``completed_p95`` keeps the percentile of the
answered ones alone. A summary written before ``page_attempt_s`` existed is judged on
``page_response_s``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sim.errors import ConfigError
from sim.stats.figures import slo_terms

__all__ = ["Objective", "parse_slo", "evaluate", "METRICS"]

# SLO name -> (path in summary.json, kind): "time" takes s or ms, "fraction" takes %. From the
# registry of figures (sim.stats.figures): a new term is an entry there.
METRICS: dict[str, tuple[tuple[str, ...], str]] = {
    f.name: (f.path, "time" if f.unit == "s" else "fraction") for f in slo_terms()}
_TERM = re.compile(r"^\s*([a-z_0-9]+)\s*(<=|<)\s*([0-9.eE+-]+)\s*(ms|s|%)?\s*$")


@dataclass(frozen=True, kw_only=True)
class Objective:
    metric: str
    op: str
    limit: float  # seconds for times, a fraction for fractions
    text: str

    def value(self, summary: dict) -> float:
        """The figure judged, or nan when the summary has no measured value for it (missing, null, not a number).

        An attempt percentile that the failures reach is null in summary.json: nan here, never met."""
        path = METRICS[self.metric][0]
        if path[0] == "page_attempt_s" and "page_attempt_s" not in summary:
            path = ("page_response_s", path[1])  # a summary from before attempts were counted
        node = summary
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return math.nan
            node = node[part]
        if isinstance(node, bool) or not isinstance(node, (int, float)):
            return math.nan  # null (JSON's nan), or anything that is not a figure: not measured
        return float(node)

    def met(self, summary: dict) -> bool:
        """Whether the objective holds; a figure that is missing or undefined never meets it."""
        v = self.value(summary)
        if math.isnan(v):
            return False
        return v < self.limit if self.op == "<" else v <= self.limit


def parse_slo(text: str, *, source: str = "--slo") -> tuple[Objective, ...]:
    objectives = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        m = _TERM.match(term)
        if not m:
            raise ConfigError(source, f"cannot read {term!r}: write terms like p95<2s, errors<1%")
        metric, op, number, unit = m.groups()
        if metric not in METRICS:
            raise ConfigError(source, f"unknown metric {metric!r} in {term!r} (known: {', '.join(METRICS)})")
        try:
            value = float(number)
        except ValueError:
            raise ConfigError(source, f"{number!r} is not a number in {term!r}") from None
        kind = METRICS[metric][1]
        if kind == "time":
            if unit not in ("s", "ms"):
                raise ConfigError(source, f"{term!r}: a time needs a unit, s or ms")
            value = value / 1000 if unit == "ms" else value
        else:
            if unit != "%":
                raise ConfigError(source, f"{term!r}: a fraction is written in %")
            value = value / 100
        if not (value >= 0) or math.isinf(value):
            raise ConfigError(source, f"{term!r}: the limit must be a finite number >= 0")
        objectives.append(Objective(metric=metric, op=op, limit=value, text=term))
    if not objectives:
        raise ConfigError(source, f"no objective in {text!r}")
    return tuple(objectives)


def evaluate(objectives: tuple[Objective, ...], summary: dict) -> list[tuple[Objective, float, bool]]:
    """Each objective with the figure it was judged on and whether it holds.

    A figure the summary does not hold (a load test too short to see an action) is nan and
    never meets its objective: it reads "not measured" and counts as broken."""
    return [(o, o.value(summary), o.met(summary)) for o in objectives]
