"""The Gatling simulation for Gatling's JavaScript SDK (``@gatling.io/core`` and ``@gatling.io/http``).

An open injection profile of whole-second steps (Gatling counts a step's duration in seconds):
``rampUsersPerSec(a).to(b).during(d)``, ``constantUsersPerSec(r).during(d)`` or ``nothingFor(d)``, each
``randomized()`` (Poisson arrivals, as the locust replay's), each step holding the plan's expected visitors.
"""

from __future__ import annotations

import json

from sim.loadtest.export.common import Export, header_lines, num
from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import Stage, StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["render_gatling", "gatling_steps"]


def gatling_steps(steps: tuple[Stage, ...]) -> list[tuple[str, float, float, int]]:
    """(kind, start rate, end rate, seconds) with kind "ramp", "constant" or "nothing", rates as written."""
    out = []
    for s in steps:
        a, b, d = float(num(s.start_rate)), float(num(s.end_rate)), round(s.duration_s)
        if a == 0 and b == 0:
            out.append(("nothing", 0.0, 0.0, d))
        elif a == b:
            out.append(("constant", a, a, d))
        else:
            out.append(("ramp", a, b, d))
    return out


def _step_js(kind: str, a: float, b: float, d: int) -> str:
    if kind == "nothing":
        return f"nothingFor({d})"
    if kind == "constant":
        return f"constantUsersPerSec({num(a)}).during({d}).randomized()"
    return f"rampUsersPerSec({num(a)}).to({num(b)}).during({d}).randomized()"


def render_gatling(plan: LoadPlan, fit: StageFit, journey: Journey, *, host: str,
                   steps: tuple[Stage, ...]) -> Export:
    inject = gatling_steps(steps)
    visitors = sum((a + b) / 2 * d for _, a, b, d in inject)
    notes = (
        f"Gatling: {len(inject)} injection steps on whole seconds, randomized (Poisson arrivals), each holding "
        "the plan's expected visitors.",
        "Run (Gatling's JavaScript SDK): put this file in src/ as NAME.gatling.js, then "
        f"npx gatling run --simulation NAME host={host}",
    )
    head = header_lines(plan, fit, journey, tool="Gatling (JavaScript SDK)", host=host, visitors=visitors,
                        stages=f"{len(inject)} Gatling injection steps",
                        override="npx gatling run ... host=URL, or the HOST environment variable", notes=notes)
    j = json.dumps
    form = "".join(f"\n          .formParam({j(k)}, {j(v)})" for k, v in journey.submit_fields)
    if len(journey.page_paths) == 1:
        next_page = j(journey.page_paths[0])
    else:
        next_page = '(session) => PAGES[Number(session.get("page")) % PAGES.length]'
    steps_js = ",\n".join(f"      {_step_js(*s)}" for s in inject)
    text = "\n".join(f"// {line}".rstrip() for line in head) + f"""

import {{
  simulation, scenario, exec, pause, repeat, asLongAs, doIf,
  rampUsersPerSec, constantUsersPerSec, nothingFor, getParameter, getEnvironmentVariable
}} from "@gatling.io/core";
import {{ http }} from "@gatling.io/http";

const LANDING = {j(journey.landing_path)};
const PAGES = {j(list(journey.page_paths))};
const ACTION = {j(journey.action_path)};
const SUBMIT = {j(journey.submit_path)};
const ASSETS = {j(list(journey.asset_paths))};
const ASSET_SLOTS = {journey.asset_slots};  // asset requests a page may send
const ASSET_P = {num(journey.asset_p, 8)};  // the chance each is sent
const MORE_PAGES_P = {num(journey.more_pages_p, 8)};  // after each page, the chance of another
const ACTION_P = {num(journey.action_p, 8)};  // the action page and the form's POST
/** @type {{import("@gatling.io/core").Duration}} */
const THINK = {{ amount: {journey.think_ms}, unit: "milliseconds" }};  // the median think time, time-compressed

export default simulation((setUp) => {{
  const host = getParameter("host", getEnvironmentVariable("HOST", {j(host)}));
  const assets = repeat(ASSET_SLOTS, "slot").on(
    doIf((session) => Math.random() < ASSET_P).then(
      exec(http("asset").get((session) => ASSETS[Number(session.get("slot")) % ASSETS.length]))
    )
  );
  const visitor = scenario("surge visitor").exec(
    http("landing").get(LANDING),
    assets,
    asLongAs((session) => Math.random() < MORE_PAGES_P, "page").on(
      pause(THINK),
      http("page").get({next_page}),
      assets
    ),
    doIf((session) => Math.random() < ACTION_P).then(
      pause(THINK),
      http("action").get(ACTION),
      assets,
      pause(THINK),
      http("submit").post(SUBMIT){form}
    )
  );
  setUp(
    visitor.injectOpen(
{steps_js}
    )
  ).protocols(http.baseUrl(host));
}});
"""
    return Export(format="gatling", text=text, visitors=visitors, stages=len(inject),
                  run_hint=f"npx gatling run --simulation NAME host={host}  (FILE in src/ as NAME.gatling.js)")
