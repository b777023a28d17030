"""The k6 script: a ``ramping-arrival-rate`` scenario (open model) and one visitor's journey per iteration.

k6 takes whole numbers of iterations per ``timeUnit``: the time unit is a power of ten seconds, large
enough that rounding the targets moves under 0.1 % of the visitors (and under 0.1 % of the peak rate).
"""

from __future__ import annotations

import json
import math

from sim.loadtest.export.common import Export, header_lines, num
from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["render_k6", "k6_time_unit_s", "k6_stages", "RESPONSE_ALLOWANCE_S"]

RESPONSE_ALLOWANCE_S = 0.5  # per request, when sizing the VUs k6 allocates up front


def k6_time_unit_s(fit: StageFit) -> int:
    need = 1.0
    if fit.peak_rate_per_s > 0:
        need = max(need, 1000 / fit.peak_rate_per_s)
    if fit.expected_visitors > 0:
        need = max(need, 500 * fit.duration_s / fit.expected_visitors)
    return 10 ** math.ceil(math.log10(need) - 1e-12)


def _duration(ms: int) -> str:
    whole, frac = divmod(ms, 1000)
    return f"{whole}s" if frac == 0 else f"{whole}.{frac:03d}".rstrip("0") + "s"


def k6_stages(fit: StageFit, time_unit_s: int) -> tuple[int, list[tuple[int, int]]]:
    """``startRate`` and the stages as (target per time unit, duration in ms); a jump is a stage of 0 ms."""
    ms = [round(s.start_s * 1000) for s in fit.stages] + [round(fit.duration_s * 1000)]

    def q(rate: float) -> int:
        return max(0, round(rate * time_unit_s))

    start = prev = q(fit.stages[0].start_rate)
    out: list[tuple[int, int]] = []
    for i, s in enumerate(fit.stages):
        a, b = q(s.start_rate), q(s.end_rate)
        if a != prev:
            out.append((a, 0))
        out.append((b, ms[i + 1] - ms[i]))
        prev = b
    return start, out


def _visitors(start: int, stages: list[tuple[int, int]], time_unit_s: int) -> float:
    total, prev = 0.0, start
    for target, ms in stages:
        total += (prev + target) / 2 / time_unit_s * ms / 1000
        prev = target
    return total


def render_k6(plan: LoadPlan, fit: StageFit, journey: Journey, *, host: str, max_vus: int) -> Export:
    unit = k6_time_unit_s(fit)
    start, stages = k6_stages(fit, unit)
    visitors = _visitors(start, stages, unit)
    visit_s = journey.thinks * journey.think_s + journey.requests * RESPONSE_ALLOWANCE_S
    pre = min(max_vus, max(1, math.ceil(fit.peak_rate_per_s * visit_s)))
    notes = (
        f"k6: rates are visitors per timeUnit ({unit} s), whole numbers as k6 takes them; arrivals are evenly "
        "spaced along the rate (k6's arrival-rate executors are not Poisson).",
        f"VUs: {pre} allocated up front (the peak rate x a visit of {num(visit_s, 3)} s, "
        f"{RESPONSE_ALLOWANCE_S:g} s a request), at most {max_vus}; beyond them k6 drops arrivals and counts",
        "them in dropped_iterations (as surge loadtest's --max-concurrent-visitors).",
        f"Run: k6 run -e HOST={host} this-file.js",
    )
    head = header_lines(plan, fit, journey, tool="k6", host=host, visitors=visitors,
                        stages=f"{len(stages)} k6 stages", override="k6 run -e HOST=URL", notes=notes)
    j = json.dumps
    form = ", ".join(f"{j(k)}: {j(v)}" for k, v in journey.submit_fields)
    stage_lines = "\n".join(f"        {{ target: {t}, duration: '{_duration(ms)}' }}," for t, ms in stages)
    text = "\n".join(f"// {line}".rstrip() for line in head) + f"""

import http from 'k6/http';
import {{ sleep }} from 'k6';

const HOST = __ENV.HOST || {j(host)};
const LANDING = {j(journey.landing_path)};
const PAGES = {j(list(journey.page_paths))};
const ACTION = {j(journey.action_path)};
const SUBMIT = {j(journey.submit_path)};
const FORM = {{ {form} }};
const ASSETS = {j(list(journey.asset_paths))};
const ASSET_SLOTS = {journey.asset_slots};  // asset requests a page may send
const ASSET_P = {num(journey.asset_p, 8)};  // the chance each is sent
const MORE_PAGES_P = {num(journey.more_pages_p, 8)};  // after each page, the chance of another
const ACTION_P = {num(journey.action_p, 8)};  // the action page and the form's POST
const THINK_S = {num(journey.think_s, 8)};  // the median think time, time-compressed

/** @type {{import('k6/options').Options}} */
export const options = {{
  scenarios: {{
    surge: {{
      executor: 'ramping-arrival-rate',
      startRate: {start},
      timeUnit: '{unit}s',
      preAllocatedVUs: {pre},
      maxVUs: {max_vus},
      stages: [
{stage_lines}
      ],
    }},
  }},
}};

/** @param {{string}} path */
function page(path) {{
  http.get(HOST + path);
  for (let slot = 0; slot < ASSET_SLOTS; slot++) {{
    if (Math.random() < ASSET_P) {{
      http.get(HOST + ASSETS[slot % ASSETS.length]);
    }}
  }}
}}

export default function () {{
  page(LANDING);
  for (let k = 0; Math.random() < MORE_PAGES_P; k++) {{
    sleep(THINK_S);
    page(PAGES[k % PAGES.length]);
  }}
  if (Math.random() < ACTION_P) {{
    sleep(THINK_S);
    page(ACTION);
    sleep(THINK_S);
    http.post(HOST + SUBMIT, FORM);
  }}
}}
"""
    return Export(format="k6", text=text, visitors=visitors, stages=len(stages),
                  run_hint="k6 run -e HOST=" + host + " FILE")
