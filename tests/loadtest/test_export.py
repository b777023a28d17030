"""surge export's core: the stages fitted to a load plan's rate, and each format's file read back.

Each format's own stages are parsed back from the written text (k6's stages, Artillery's phases, Gatling's
injection steps, JMeter's schedule string read with JMeter's grammar, the CSV's rows) and their expected
visitors compared with ``LoadPlan.expected_visitors()``. The tools themselves check the files in
``tests/cli/test_export.py``.
"""

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

from sim.config.distributions import Constant, Empirical, Exponential, Gamma, Lognormal, Uniform
from sim.config.scenario import load_scenario
from sim.errors import ConfigError
from sim.loadtest.export import (FORMATS, artillery_ramp_arrivals, export, fit_stages, journey_of, median_s,
                                 whole_second_steps)
from sim.loadtest.export.artillery import RAMP_MIN_RATE, journey_classes
from sim.loadtest.schedule import LoadPlan
from tests.conftest import SCENARIOS


@pytest.fixture(scope="module")
def anca_plan():
    return LoadPlan(load_scenario(SCENARIOS / "anca-2020.toml"), time_scale=144, scale=0.001)


@pytest.fixture(scope="module")
def anca_exports(anca_plan):
    return {fmt: export(anca_plan, fmt) for fmt in FORMATS}


# -- each format read back: its stages as (start s, end s, start rate, end rate) or its own count --------------

def k6_read(text):
    unit = int(re.search(r"timeUnit: '(\d+)s'", text).group(1))
    rate = int(re.search(r"startRate: (\d+),", text).group(1)) / unit
    pieces, t = [], 0.0
    for target, seconds in re.findall(r"\{ target: (\d+), duration: '([\d.]+)s' \}", text):
        d = float(seconds)
        pieces.append((t, t + d, rate, int(target) / unit))
        t, rate = t + d, int(target) / unit
    return unit, pieces


def pieces_visitors(pieces):
    return sum((a + b) / 2 * (t1 - t0) for t0, t1, a, b in pieces)


def pieces_rate(pieces, t):
    for t0, t1, a, b in pieces:
        if t0 <= t < t1:
            return a + (b - a) * (t - t0) / (t1 - t0)
    return 0.0


def artillery_read(text):
    script = yaml.safe_load(text)
    return script, script["config"]["phases"]


def artillery_arrivals(phase):
    """The arrivals Artillery 2 sends for one phase on one worker, as its phases.js (int-core) counts them.

    ``pause``: none. ``arrivalCount``: that many. A ramp (``arrivalRate`` to ``rampTo`` over ``duration``
    seconds, duration >= 2): in second i the rate ``(rampTo - arrivalRate) / (duration - 1) * i +
    arrivalRate``, of which it sends the floor, plus one when ``Math.round(fraction * workers) >= worker``,
    i.e. when the fraction is at least a half on the one local worker. Written out here from Artillery's
    source, apart from the exporter's ``artillery_ramp_arrivals``."""
    if "pause" in phase:
        return 0
    if "arrivalCount" in phase:
        return int(phase["arrivalCount"])
    assert "rampTo" in phase and int(phase["duration"]) >= 2, phase  # the only other kind the exporter writes
    a, b, d = phase["arrivalRate"], phase["rampTo"], int(phase["duration"])
    total = 0
    for i in range(d):
        raw = (b - a) / (d - 1) * i + a
        total += math.floor(raw) + (1 if math.floor(raw % 1 + 0.5) >= 1 else 0)  # JS Math.round(x) = floor(x + .5)
    return total


def exact_visitors(plan, t0_s, t1_s):
    """The plan's expected visitors between two wall instants: the profile's exact integral, scaled."""
    a, b = (min(max(t, 0.0), plan.duration_s) * plan.time_scale for t in (t0_s, t1_s))
    return plan.scale * float(plan.profile.cumulative(b) - plan.profile.cumulative(a))


_GATLING = re.compile(r"rampUsersPerSec\(([\d.]+)\)\.to\(([\d.]+)\)\.during\((\d+)\)\.randomized\(\)"
                      r"|constantUsersPerSec\(([\d.]+)\)\.during\((\d+)\)\.randomized\(\)|nothingFor\((\d+)\)")


def gatling_read(text):
    inject = text[text.index("injectOpen("):]
    pieces, t = [], 0.0
    for m in _GATLING.finditer(inject):
        if m.group(1):
            a, b, d = float(m.group(1)), float(m.group(2)), int(m.group(3))
        elif m.group(4):
            a = b = float(m.group(4))
            d = int(m.group(5))
        else:
            a = b = 0.0
            d = int(m.group(6))
        pieces.append((t, t + d, a, b))
        t += d
    return pieces


# JMeter's schedule grammar, as its parser reads it (org.apache.jmeter.threads.openmodel: scheduleTokenizer.kt,
# scheduleParser.kt, ThreadScheduleProcessGenerator.kt, JMeter 5.5+).
_TOKEN = re.compile(r"\s+|(?P<p>[()/])|(?P<n>\d+(?:\.\d+)?|\.\d+)|(?P<i>[A-Za-z][A-Za-z0-9_]*)")
_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def _unit(word):
    w = word.lower()
    for prefix, seconds in (("ms", 0.001), ("sec", 1), ("min", 60), ("hour", 3600), ("day", 86400)):
        if w == prefix or (prefix != "ms" and w.startswith(prefix)):
            return seconds
    if w in ("s", "m", "h", "d"):
        return _UNITS[w]
    raise AssertionError(f"JMeter knows no time unit {word!r}")


def jmeter_steps(schedule):
    tokens, pos = [], 0
    while pos < len(schedule):
        m = _TOKEN.match(schedule, pos)
        assert m, f"JMeter cannot tokenize {schedule[pos:pos + 20]!r}"
        if m.group("p") or m.group("n") or m.group("i"):
            tokens.append(m.group(0))
        pos = m.end()
    steps, i, last_rate = [], 0, 0.0

    def expect(text):
        nonlocal i
        assert tokens[i].lower() == text, f"expected {text!r} at token {i}, got {tokens[i]!r}"
        i += 1

    def number():
        nonlocal i
        assert re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", tokens[i]), f"expected a number, got {tokens[i]!r}"
        i += 1
        return float(tokens[i - 1])

    def duration():
        nonlocal i
        total = 0.0
        while True:
            value = number()
            if value == 0 and tokens[i] == ")":
                return total
            total += value * _unit(tokens[i])
            i += 1
            if not re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", tokens[i]):
                return total

    while i < len(tokens):
        word = tokens[i].lower()
        i += 1
        expect("(")
        if word == "rate":
            value = number()
            if not (value == 0 and tokens[i] == ")"):
                assert tokens[i] in ("/", "per")
                i += 1
                value /= _unit(tokens[i])
                i += 1
            steps.append(("rate", value))
            last_rate = value
        elif word in ("random_arrivals", "even_arrivals"):
            steps.append(("arrivals", duration()))
        elif word == "pause":
            d = duration()
            steps += ([("arrivals", d), ("rate", last_rate)] if last_rate == 0 else
                      [("rate", last_rate), ("rate", 0.0), ("arrivals", d), ("rate", 0.0), ("rate", last_rate)])
        else:
            raise AssertionError(f"JMeter's schedule has no {word!r}")
        expect(")")
    return steps


def jmeter_pieces(schedule):
    """(start, end, begin rate, end rate) of each arrivals step, as JMeter's generator reads them."""
    steps = jmeter_steps(schedule)
    pieces, t, begin = [], 0.0, 0.0
    for k, step in enumerate(steps):
        if step[0] == "rate":
            begin = step[1]
            continue
        end = steps[k + 1][1] if k + 1 < len(steps) and steps[k + 1][0] == "rate" else begin
        pieces.append((t, t + step[1], begin, end))
        t += step[1]
    return pieces


def jmeter_schedule_of(text):
    root = ET.fromstring(text.split("-->", 1)[1])
    group = root.find(".//OpenModelThreadGroup")
    return root, group, group.find("stringProp[@name='OpenModelThreadGroup.schedule']").text


def csv_read(text):
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rows[0] == "t_s,target_visitors_per_s"
    data = np.array([[float(x) for x in row.split(",")] for row in rows[1:]])
    return data[:, 0], data[:, 1]


def file_visitors(fmt, text):
    """The expected visitors of a written file, read from its own stages."""
    if fmt == "k6":
        return pieces_visitors(k6_read(text)[1])
    if fmt == "artillery":
        return float(sum(artillery_arrivals(p) for p in artillery_read(text)[1]))
    if fmt == "gatling":
        return pieces_visitors(gatling_read(text))
    if fmt == "jmeter":
        pieces = jmeter_pieces(jmeter_schedule_of(text)[2])
        return pieces_visitors(pieces)
    return float(csv_read(text)[1].sum())


# -- the fit ------------------------------------------------------------------------------------------------

# What the README and docs/export.md state: each stage within 2 % of the peak rate and 0.5 % of its visitors,
# so the stages' total within 0.5 % of the plan's.
RATE_OF_PEAK = 0.02
STAGE_VISITORS = 0.005


@pytest.mark.parametrize("scenario", ["anca-2020", "gentle", "campaign"])
def test_stages_fit_the_rate_within_the_stated_errors(scenario):
    plan = LoadPlan(load_scenario(SCENARIOS / f"{scenario}.toml"), time_scale=144, scale=0.001)
    fit = fit_stages(plan)
    assert fit.within_tolerance and 2 <= len(fit.stages) <= 500
    assert fit.stages[0].start_s == 0 and fit.stages[-1].end_s == pytest.approx(plan.duration_s)
    assert all(a.end_s == b.start_s for a, b in zip(fit.stages, fit.stages[1:]))
    for s in fit.stages:  # each stage's straight line holds the plan's visitors within 0.5 %
        plan_s = exact_visitors(plan, s.start_s, s.end_s)
        line_s = (s.start_rate + s.end_rate) / 2 * (s.end_s - s.start_s)  # the trapezoid under the stage
        assert abs(line_s - plan_s) <= STAGE_VISITORS * plan_s + 1e-9, (s, plan_s)
    total = sum((s.start_rate + s.end_rate) / 2 * (s.end_s - s.start_s) for s in fit.stages)
    assert total == pytest.approx(exact_visitors(plan, 0, plan.duration_s), rel=STAGE_VISITORS)
    # the rate jumps only where a share is posted
    jumps = [b.start_s for a, b in zip(fit.stages, fit.stages[1:]) if b.start_rate != a.end_rate]
    assert jumps == pytest.approx([s.at_s / 144 for s in plan.scenario.traffic.shares if s.at_s / 144 < plan.duration_s])
    # The fitter probes 15 points a stage; the statement is about every instant, so it is checked on a grid
    # ten times finer than the stages need (10,000 instants; measured worst: anca-2020 0.57 %, gentle 0.59 %,
    # campaign 1.30 % of the peak), against the peak as the grid sees it (at most the true one: stricter).
    t = np.linspace(0, plan.duration_s, 10_001)[:-1]
    target = plan.scale * plan.time_scale * plan.profile.rate_per_s(t * plan.time_scale)
    t0, t1, r0, r1 = (np.array(x) for x in zip(*[(s.start_s, s.end_s, s.start_rate, s.end_rate) for s in fit.stages]))
    i = np.searchsorted(t0, t, side="right") - 1  # the stage holding t: start <= t < end
    line = r0[i] + (r1[i] - r0[i]) * (t - t0[i]) / (t1[i] - t0[i])
    err = np.abs(line - target)
    assert err.max() <= RATE_OF_PEAK * target.max(), t[err.argmax()]


def test_the_founding_case_figures_docs_export_states(anca_plan, anca_exports):
    # docs/export.md: "55 stages, worst rate error 0.56 % of the peak, worst stage 0.48 %, total +0.29 %"
    fit = fit_stages(anca_plan)
    assert len(fit.stages) == 55
    lines = [(s.start_rate + s.end_rate) / 2 * (s.end_s - s.start_s) for s in fit.stages]
    plans = [exact_visitors(anca_plan, s.start_s, s.end_s) for s in fit.stages]
    assert round(max(abs(a - b) / b for a, b in zip(lines, plans)) * 100, 2) == 0.48
    assert round((sum(lines) / anca_plan.expected_visitors() - 1) * 100, 2) == 0.29
    assert "each within 2.00 % of the peak rate (worst 0.56 %)" in anca_exports["k6"].text  # at the probes
    # between the probes, on a grid of 100,000 instants, no worse than 0.57 %
    t = np.linspace(0, anca_plan.duration_s, 100_001)[:-1]
    target = anca_plan.scale * anca_plan.time_scale * anca_plan.profile.rate_per_s(t * anca_plan.time_scale)
    t0, t1, r0, r1 = (np.array(x) for x in zip(*[(s.start_s, s.end_s, s.start_rate, s.end_rate) for s in fit.stages]))
    i = np.searchsorted(t0, t, side="right") - 1
    worst = np.max(np.abs(r0[i] + (r1[i] - r0[i]) * (t - t0[i]) / (t1[i] - t0[i]) - target)) / target.max()
    assert 0.0056 <= worst < 0.0057


def test_a_constant_rate_is_one_stage():
    plan = LoadPlan(load_scenario(SCENARIOS / "steady.toml"), time_scale=1, scale=0.1)
    fit = fit_stages(plan)
    assert len(fit.stages) == 1 and fit.total_error < 1e-12
    assert fit.stages[0].start_rate == fit.stages[0].end_rate == pytest.approx(0.9)


def test_the_stage_cap_is_kept_and_said(anca_plan):
    fit = fit_stages(anca_plan, max_stages=4)
    assert len(fit.stages) <= 4 and not fit.within_tolerance
    assert "NOT within them: the 4-stage cap was reached" in export(anca_plan, "k6", max_stages=4).text
    with pytest.raises(ConfigError, match="--max-stages"):
        fit_stages(anca_plan, max_stages=1)
    with pytest.raises(ConfigError, match="--max-stages: must be at least 3"):
        fit_stages(anca_plan, max_stages=2)  # two shares: three stages at the least


def test_whole_second_steps_hold_each_seconds_visitors(anca_plan):
    fit = fit_stages(anca_plan)
    steps = whole_second_steps(fit, anca_plan)
    assert all(s.start_s == int(s.start_s) and s.end_s == int(s.end_s) and s.duration_s >= 1 for s in steps)
    for s in steps:
        line_s = (s.start_rate + s.end_rate) / 2 * (s.end_s - s.start_s)
        assert line_s == pytest.approx(exact_visitors(anca_plan, s.start_s, s.end_s), rel=1e-9, abs=1e-12)
    assert sum(s.visitors for s in steps) == pytest.approx(anca_plan.expected_visitors(), rel=1e-9)
    # a share's post is a boundary (at 25 s), or the second around it a step of its own (at 37.5 s):
    # the jump does not leak into its neighbours
    assert any(s.start_s == 25 for s in steps) and any(s.start_s == 37 and s.end_s == 38 for s in steps)


# -- every format -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["anca-2020", "gentle", "campaign"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_files_own_stages_hold_the_plans_visitors(scenario, fmt):
    plan = LoadPlan(load_scenario(SCENARIOS / f"{scenario}.toml"), time_scale=144, scale=0.001)
    result = export(plan, fmt)
    read = file_visitors(fmt, result.text)
    assert read == pytest.approx(result.visitors, rel=1e-6, abs=1e-6)  # what the header says is what the file does
    assert read == pytest.approx(plan.expected_visitors(), rel=0.01)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_file_says_what_it_plays_and_where(anca_exports, fmt):
    text = anca_exports[fmt].text
    head = " ".join(line.lstrip("#/ ").strip() for line in text.splitlines()[:25])
    for fact in ("'anca-2020'", "time scale 144", "scale 0.001", "load factor 0.144", "expected visitors 985.365",
                 "peak rate 29.35 visitors/s", "Traffic goes only to the host you give it: http://127.0.0.1:8000"):
        assert fact in head, fact


def test_k6_stages_reproduce_the_rate(anca_plan, anca_exports):
    fit = fit_stages(anca_plan)
    unit, pieces = k6_read(anca_exports["k6"].text)
    assert unit == 1000  # 0.001 visitor/s resolution: rounding moves under 0.1 % of the visitors
    for t in (5.0, 24.0, 26.0, 30.0, 38.0, 60.0, 200.0, 600.0, 1100.0):
        # the stages' 2 % of the peak, plus half a unit: k6's targets are rounded to whole iterations per unit
        allowed = RATE_OF_PEAK * fit.peak_rate_per_s + 0.5 / unit
        assert abs(pieces_rate(pieces, t) - anca_plan.target_rate_per_s(t)) <= allowed, t
    # the jump at the main post is a stage of no duration
    assert any(t1 == t0 and b > 10 * a for t0, t1, a, b in pieces)


def test_k6_script_walks_the_journey(anca_exports):
    text = anca_exports["k6"].text
    for line in ("executor: 'ramping-arrival-rate'", "timeUnit: '1000s'", "const HOST = __ENV.HOST || "
                 '"http://127.0.0.1:8000";', 'const ACTION = "/act";', 'const SUBMIT = "/sign";',
                 'const FORM = { "name": "A. Visitor", "email": "visitor@example.org", "zip": "10001" };',
                 "const ASSET_SLOTS = 69;", "const ASSET_P = 0.05;", "const ACTION_P = 0.05;",
                 "const THINK_S = 0.104;", "http.post(HOST + SUBMIT, FORM);", "preAllocatedVUs:", "maxVUs: 10000,"):
        assert line in text, line


def test_artillery_phases_are_whole_and_ramps_only_where_artillery_keeps_them(anca_plan, anca_exports):
    script, phases = artillery_read(anca_exports["artillery"].text)
    assert script["config"]["target"] == "http://127.0.0.1:8000"
    for p in phases:
        assert all(isinstance(v, int) for k, v in p.items() if k in ("duration", "pause", "arrivalCount"))
        if "rampTo" in p:
            assert p["duration"] >= 2 and min(p["arrivalRate"], p["rampTo"]) >= RAMP_MIN_RATE
        assert "arrivalRate" not in p or "rampTo" in p  # no constant fractional rate: Artillery asserts on it
    assert any("rampTo" in p for p in phases) and any("arrivalCount" in p for p in phases)
    # the count never drifts from the plan's by more than a visitor (fractions carry from phase to phase); a
    # ramp is kept only where Artillery's count is within a visitor or 1 % of the plan's
    t, sent = 0, 0
    for p in phases:
        n = artillery_arrivals(p)
        t += p.get("pause", p.get("duration"))
        sent += n
        assert abs(sent - exact_visitors(anca_plan, 0, t)) <= 1.0 + 0.01 * n
    assert abs(sent - anca_plan.expected_visitors()) <= 1.0  # the README's "within one visitor"
    weights = [s["weight"] for s in script["scenarios"]]
    assert all(isinstance(w, int) and w > 0 for w in weights) and sum(weights) == pytest.approx(10_000, abs=10)
    first = script["scenarios"][0]["flow"]
    assert first[0] == {"get": {"url": "/"}}
    assets = first[1]
    assert assets["loop"] == [{"get": {"url": "{{ asset }}", "probability": 5}}] and len(assets["over"]) == 69


def test_artillery_ramp_counts_each_second_rounded():
    for a, b, d in ((1, 3, 3), (1.2, 2.8, 2), (10, 20, 11), (1.25, 7.9, 13), (29.351, 3.02, 40)):
        phase = {"duration": d, "arrivalRate": a, "rampTo": b}
        assert artillery_ramp_arrivals(a, b, d) == artillery_arrivals(phase), phase
    assert artillery_ramp_arrivals(1, 3, 3) == 1 + 2 + 3
    assert artillery_ramp_arrivals(1.2, 2.8, 2) == 1 + 3
    assert artillery_ramp_arrivals(2.5, 2.5, 1) == 3  # JavaScript's Math.round: halves go up
    assert artillery_ramp_arrivals(10, 20, 11) == sum(range(10, 21))


def test_artillery_journeys_keep_the_model_s_mix(anca_plan):
    journey = journey_of(anca_plan)
    classes = journey_classes(journey)
    total = sum(w for _, _, w in classes)
    pages = sum(n * w for n, _, w in classes) / total
    acts = sum(w for _, a, w in classes if a) / total
    assert pages == pytest.approx(1.3, rel=0.01) and acts == pytest.approx(0.05, rel=0.02)


def test_gatling_injects_whole_seconds_of_poisson_arrivals(anca_exports):
    text = anca_exports["gatling"].text
    pieces = gatling_read(text)
    inject = text[text.index("injectOpen("):]
    steps = inject.count(".during(") + inject.count("nothingFor(")
    assert len(pieces) == steps == anca_exports["gatling"].stages
    for line in ('from "@gatling.io/core"', 'import { http } from "@gatling.io/http";', "simulation((setUp) => {",
                 '.protocols(http.baseUrl(host))', 'getEnvironmentVariable("HOST", "http://127.0.0.1:8000")',
                 '.formParam("email", "visitor@example.org")', 'const THINK = { amount: 104, unit: "milliseconds" };'):
        assert line in text, line


def test_jmeter_plan_is_an_open_model_thread_group_with_the_journey(anca_plan, anca_exports):
    text = anca_exports["jmeter"].text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!--')
    root, group, schedule = jmeter_schedule_of(text)
    assert root.tag == "jmeterTestPlan"
    assert group.get("testclass") == "OpenModelThreadGroup" and group.get("guiclass") == "OpenModelThreadGroupGui"
    main = group.find("elementProp[@name='ThreadGroup.main_controller']")
    assert main.get("elementType") == "OpenModelThreadGroupController"
    assert "e" not in re.sub(r"rate|random_arrivals|pause|sec", "", schedule)  # no exponents
    assert schedule.endswith("pause(30 sec)")
    pieces = jmeter_pieces(schedule)
    assert pieces[-1][2:] == (0.0, 0.0) and pieces[-1][1] - pieces[-1][0] == 30  # the grace after the arrivals
    assert pieces_visitors(pieces) == pytest.approx(anca_plan.expected_visitors(), rel=0.01)
    # every element is followed by its hashTree, as JMeter's loader wants
    for parent in root.iter():
        kids = [k for k in parent if k.tag not in ("stringProp", "boolProp", "intProp", "longProp", "elementProp",
                                                   "collectionProp")]
        if parent.tag == "hashTree":
            assert [k.tag == "hashTree" for k in kids] == [i % 2 == 1 for i in range(len(kids))]
    samplers = {s.get("testname"): s for s in root.iter("HTTPSamplerProxy")}
    paths = {s.find("stringProp[@name='HTTPSampler.path']").text for s in samplers.values()}
    assert paths == {"/", "/act", "/sign", "/static/site.css", "/static/app.js"}
    submit = samplers["submit /sign"]
    assert submit.find("stringProp[@name='HTTPSampler.method']").text == "POST"
    fields = {e.find("stringProp[@name='Argument.name']").text: e.find("stringProp[@name='Argument.value']").text
              for e in submit.iter("elementProp") if e.get("elementType") == "HTTPArgument"}
    assert fields == {"name": "A. Visitor", "email": "visitor@example.org", "zip": "10001"}
    conditions = [c.text for c in root.iter("stringProp") if c.get("name") in ("IfController.condition",
                                                                             "WhileController.condition")]
    assert "${__groovy(Math.random() < 0.05)}" in conditions and "${__groovy(Math.random() < 0.23076923)}" in conditions
    defaults = root.find(".//ConfigTestElement")
    assert defaults.find("stringProp[@name='HTTPSampler.domain']").text == "${__P(host,127.0.0.1)}"
    assert defaults.find("stringProp[@name='HTTPSampler.port']").text == "${__P(port,8000)}"
    assert "--" not in text.split("<!--", 1)[1].split("-->", 1)[0]  # an XML comment may not hold a double hyphen


def test_jmeter_grammar_reader_reads_jmeter_s_examples():
    # the examples in scheduleParser.kt's documentation
    assert jmeter_pieces("rate(2/sec) random_arrivals(1 min) rate(3/sec)") == [(0, 60, 2, 3)]
    assert jmeter_pieces("rate(2/sec) random_arrivals(1 min) random_arrivals(2 min) rate(3/sec)") == [
        (0, 60, 2, 2), (60, 180, 2, 3)]
    assert jmeter_pieces("rate(1/sec) rate(2/sec) random_arrivals(1 min) rate(3/sec) rate(4/sec) "
                         "random_arrivals(2 min) rate(5/sec)") == [(0, 60, 2, 3), (60, 180, 4, 5)]
    with pytest.raises(AssertionError):
        jmeter_steps("rate(1e-3/sec) random_arrivals(1 sec)")


def test_csv_is_the_expected_arrivals_of_each_second(anca_plan, anca_exports):
    t, per_s = csv_read(anca_exports["csv"].text)
    assert len(t) == 1200 and list(t[:3]) == [0, 1, 2]
    assert per_s.sum() == pytest.approx(anca_plan.expected_visitors(), rel=1e-6)
    for k in (0, 25, 26, 300):
        assert per_s[k] == pytest.approx(exact_visitors(anca_plan, k, k + 1), rel=1e-6)
    assert per_s[26] == pytest.approx(anca_plan.target_rate_per_s(26.5), rel=0.02)


def test_a_shorter_test_exports_its_own_part(anca_plan):
    plan = LoadPlan(anca_plan.scenario, time_scale=144, scale=0.01, duration_s=60)
    for fmt in FORMATS:
        assert file_visitors(fmt, export(plan, fmt).text) == pytest.approx(plan.expected_visitors(), rel=0.01), fmt


def test_the_journey_follows_the_site_and_the_assets_mode(anca_plan):
    j = journey_of(anca_plan)
    assert (j.landing_path, j.action_path, j.submit_path) == ("/", "/act", "/sign")
    assert j.more_pages_p == pytest.approx(1 - 1 / 1.3) and j.action_p == 0.05 and j.think_ms == 104
    assert j.asset_slots == 69 and j.asset_p == pytest.approx(0.05)
    none = journey_of(LoadPlan(anca_plan.scenario, time_scale=144, scale=0.001, assets="none"))
    assert none.asset_slots == 0 and "ASSET_SLOTS = 0;" in export(
        LoadPlan(anca_plan.scenario, time_scale=144, scale=0.001, assets="none"), "k6").text
    assert journey_of(LoadPlan(anca_plan.scenario, time_scale=144, scale=0.001, assets="all")).asset_p == 1


def test_medians():
    assert median_s(Constant(value=3)) == 3
    assert median_s(Exponential(mean_s=2)) == pytest.approx(2 * math.log(2))
    assert median_s(Lognormal(median=15, sigma=1)) == 15
    assert median_s(Uniform(low=1, high=5)) == 3
    assert median_s(Empirical(samples=(1.0, 2.0, 10.0))) == 2
    assert median_s(Gamma(shape=2, scale=1)) == pytest.approx(1.6783, rel=0.01)


def test_bad_values_name_their_flag(anca_plan):
    with pytest.raises(ConfigError, match="--format"):
        export(anca_plan, "locust")
    with pytest.raises(ConfigError, match="--host"):
        export(anca_plan, "k6", host="127.0.0.1:8000")
    with pytest.raises(ConfigError, match="--max-concurrent-visitors"):
        export(anca_plan, "k6", max_vus=0)


def test_a_host_and_site_paths_of_ones_own(write_scenario):
    path = write_scenario(
        (SCENARIOS / "steady.toml").read_text()
        + '\n[loadtest.site]\nlanding_path = "/start"\npage_paths = ["/a", "/b"]\nasset_paths = []\n'
        'action_path = "/petition"\nsubmit_path = "/petition/sign"\nsubmit_fields = { zip = "10001" }\n')
    plan = LoadPlan(load_scenario(path), time_scale=10, scale=0.01)
    k6 = export(plan, "k6", host="https://staging.example.org:8443").text
    assert 'const HOST = __ENV.HOST || "https://staging.example.org:8443";' in k6 and 'const LANDING = "/start";' in k6
    jmx = export(plan, "jmeter", host="https://staging.example.org:8443").text
    assert "${__P(protocol,https)}" in jmx and "${__P(host,staging.example.org)}" in jmx and "${__P(port,8443)}" in jmx
    assert "asset" not in "".join(re.findall(r'testname="([^"]*)"', jmx))
