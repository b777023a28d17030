"""The Artillery script (YAML): ``config.phases`` on whole seconds and one weighted scenario per kind of journey.

Artillery 2 (checked on 2.0.21) takes a phase's ``duration`` in whole seconds; a ramp (``arrivalRate`` to
``rampTo``) sends, each second, the rounded rate of that second, and a constant ``arrivalRate`` that is not
a whole number fails (its work is split between workers in whole arrivals). So a phase is a ramp only where
the rate is at least one visitor a second and the ramp's own rounded count is within a visitor (or 1 %)
of the plan's; elsewhere it is an ``arrivalCount`` (that many arrivals, evenly spaced, over the phase) or a
``pause``. The plan's fractional visitors carry from phase to phase, so the file's count never drifts
by more than one visitor from the plan's. A journey's random steps become scenarios: one per number of
pages (the tail beyond 0.1 % folded into the last) with and without the action, weighted by their
probability in ten-thousandths; asset requests use Artillery's per-request ``probability``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sim.loadtest.export.common import Export, header_lines
from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import Stage, StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["render_artillery", "ArtilleryPhase", "artillery_phases", "artillery_ramp_arrivals",
           "journey_classes", "RAMP_MIN_RATE", "MAX_PAGES"]

RAMP_MIN_RATE = 1.0  # visitors per second: below, Artillery's per-second rounding loses too many
MAX_PAGES = 200  # the longest journey written out; the rest of the tail is folded into it
WEIGHT_UNIT = 10_000  # scenario weights are whole numbers: probabilities in ten-thousandths


@dataclass(frozen=True)
class ArtilleryPhase:
    duration_s: int
    kind: str  # "ramp", "count" or "pause"
    arrival_rate: float = 0.0
    ramp_to: float = 0.0
    count: int = 0

    @property
    def arrivals(self) -> int:
        """The arrivals Artillery sends in this phase."""
        if self.kind == "ramp":
            return artillery_ramp_arrivals(self.arrival_rate, self.ramp_to, self.duration_s)
        return self.count if self.kind == "count" else 0


def artillery_ramp_arrivals(rate: float, ramp_to: float, duration_s: int) -> int:
    """Artillery's count for a ramp on one worker (int-core's phases.js): each second's rate, rounded."""
    if duration_s == 1:
        raw = (ramp_to + rate) / 2
        return math.floor(raw) + (1 if math.floor(math.fmod(raw, 1) + 0.5) >= 1 else 0)
    total = 0
    for i in range(duration_s):
        raw = ((ramp_to - rate) / (duration_s - 1)) * i + rate
        total += math.floor(raw) + (1 if math.floor(math.fmod(raw, 1) + 0.5) >= 1 else 0)
    return total


def _rate(x: float) -> float:
    return round(x, 3)


def artillery_phases(steps: tuple[Stage, ...]) -> list[ArtilleryPhase]:
    phases = []
    carry = 0.0
    for step in steps:
        d = round(step.duration_s)
        want = step.plan_visitors + carry
        a, b = _rate(step.start_rate), _rate(step.end_rate)
        if d >= 2 and min(a, b) >= RAMP_MIN_RATE and abs(a - b) >= 0.5:
            n = artillery_ramp_arrivals(a, b, d)
            if abs(n - want) <= max(1.0, 0.01 * want):
                phases.append(ArtilleryPhase(d, "ramp", arrival_rate=a, ramp_to=b))
                carry = want - n
                continue
        n = max(0, math.floor(want + 0.5))
        phases.append(ArtilleryPhase(d, "count", count=n) if n else ArtilleryPhase(d, "pause"))
        carry = want - n
    return phases


def journey_classes(journey: Journey) -> list[tuple[int, bool, int]]:
    """(browsing pages, acts, weight in ten-thousandths) for each kind of journey of weight > 0."""
    more = journey.more_pages_p
    n_max = 1
    if more > 0:
        n_max = min(MAX_PAGES, max(1, math.ceil(math.log(1e-3) / math.log(more))))
    out = []
    for n in range(1, n_max + 1):
        p_n = more ** (n - 1) * ((1 - more) if n < n_max else 1.0)
        for acts in (False, True):
            p = p_n * (journey.action_p if acts else 1 - journey.action_p)
            weight = round(p * WEIGHT_UNIT)
            if weight > 0:
                out.append((n, acts, weight))
    return out


def _s(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _phase_yaml(p: ArtilleryPhase) -> str:
    if p.kind == "ramp":
        return f"    - {{ duration: {p.duration_s}, arrivalRate: {p.arrival_rate:g}, rampTo: {p.ramp_to:g} }}"
    if p.kind == "count":
        return f"    - {{ duration: {p.duration_s}, arrivalCount: {p.count} }}"
    return f"    - {{ pause: {p.duration_s} }}"


def render_artillery(plan: LoadPlan, fit: StageFit, journey: Journey, *, host: str,
                     steps: tuple[Stage, ...]) -> Export:
    phases = artillery_phases(steps)
    visitors = float(sum(p.arrivals for p in phases))
    classes = journey_classes(journey)
    total = sum(w for _, _, w in classes)
    pages = sum(n * w for n, _, w in classes) / total
    prob = min(101, round(journey.asset_p * 101)) if journey.asset_slots else 0
    slots = journey.asset_slots if prob else 0
    ramps = sum(p.kind == "ramp" for p in phases)
    notes = [
        f"Artillery: {len(phases)} phases on whole seconds, {ramps} of them ramps (arrivalRate to rampTo, at least "
        f"{RAMP_MIN_RATE:g} visitor/s), the rest arrivalCount (evenly spaced) or pause;",
        "fractional visitors carry from phase to phase. Journeys: one scenario per number of pages, with and "
        f"without the action, weighted in 1/{WEIGHT_UNIT}.",
    ]
    if abs(pages - journey.pages) > 0.01 * journey.pages:
        notes.append(f"Journeys of at most {MAX_PAGES} pages: {pages:.3g} pages a visitor on average, not "
                     f"{journey.pages:.3g}.")
    if journey.asset_slots and prob < 101:
        notes.append("Artillery draws a request's probability as a whole number out of 101: each asset is sent with "
                     f"probability {prob}/101 = {prob / 101:.2%}" + ("." if prob else ": no asset requests."))
    notes.append(f"Run: artillery run --target {host} this-file.yml")
    head = header_lines(plan, fit, journey, tool="Artillery", host=host, visitors=visitors,
                        stages=f"{len(phases)} Artillery phases", override="artillery run --target URL",
                        notes=tuple(notes))
    out = [f"# {line}".rstrip() for line in head]
    out += ["config:", f"  target: {_s(host)}", "  http:", "    timeout: 30", "  phases:"]
    out += [_phase_yaml(p) for p in phases]
    out.append("scenarios:")
    think = f"{{ think: {_s(f'{journey.think_ms}ms')} }}"
    assets_done = False

    def assets(indent: str) -> list[str]:
        nonlocal assets_done
        if not slots:
            return []
        if assets_done:
            return [f"{indent}- *assets"]
        assets_done = True
        get = "{ url: \"{{ asset }}\"" + (f", probability: {prob}" if prob < 101 else "") + " }"
        paths = [journey.asset_path(j) for j in range(slots)]
        return [f"{indent}- &assets", f"{indent}  loop:", f"{indent}    - get: {get}",
                f"{indent}  over: {json.dumps(paths)}", f"{indent}  loopElement: asset"]

    form = ", ".join(f"{_s(k)}: {_s(v)}" for k, v in journey.submit_fields)
    for n, acts, weight in classes:
        name = f"{n} page{'s' if n > 1 else ''}" + (", then the action" if acts else "")
        out += [f"  - name: {_s(name)}", f"    weight: {weight}", "    flow:",
                f"      - get: {{ url: {_s(journey.landing_path)} }}"]
        out += assets("      ")
        if n > 1:
            pages = [journey.page_paths[k % len(journey.page_paths)] for k in range(n - 1)]
            out += ["      - loop:", f"          - {think}", "          - get: { url: \"{{ page }}\" }"]
            out += assets("          ")
            out += [f"        over: {json.dumps(pages)}", "        loopElement: page"]
        if acts:
            out += [f"      - {think}", f"      - get: {{ url: {_s(journey.action_path)} }}"]
            out += assets("      ")
            out += [f"      - {think}", f"      - post: {{ url: {_s(journey.submit_path)}, form: {{ {form} }} }}"]
    return Export(format="artillery", text="\n".join(out) + "\n", visitors=visitors, stages=len(phases),
                  run_hint=f"artillery run --target {host} FILE")
