"""The JMeter test plan (.jmx): an Open Model Thread Group (JMeter 5.5+) and HTTP samplers for the journey.

The thread group's schedule is JMeter's own language: ``rate(a/sec) random_arrivals(d sec) rate(b/sec)``
ramps the rate of Poisson arrivals from a to b over d seconds; a rate written twice in a row is a jump.
A trailing ``pause`` gives the last visitors time to finish (JMeter stops the threads still running when
the schedule ends). Each arrival is one thread that walks the journey once: random steps are If and
While Controllers on ``${__groovy(Math.random() < p)}``, paths in turn are Interleave Controllers.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from sim.loadtest.export.common import Export, header_lines, host_parts, num
from sim.loadtest.export.journey import Journey
from sim.loadtest.export.stages import StageFit
from sim.loadtest.schedule import LoadPlan

__all__ = ["render_jmeter", "jmeter_schedule", "GRACE_S"]

GRACE_S = 30  # seconds after the last arrival for the visitors still walking (k6's gracefulStop)


def _seconds(ms: int) -> str:
    whole, frac = divmod(ms, 1000)
    return str(whole) if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")


def jmeter_schedule(fit: StageFit, *, grace_s: int = GRACE_S) -> tuple[str, float]:
    """The ``OpenModelThreadGroup.schedule`` string and the visitors it expects (its rates as written)."""
    ms = [round(s.start_s * 1000) for s in fit.stages] + [round(fit.duration_s * 1000)]
    first = num(fit.stages[0].start_rate)
    parts = [f"rate({first}/sec)"]
    prev, visitors = first, 0.0
    for i, s in enumerate(fit.stages):
        a, b = num(s.start_rate), num(s.end_rate)
        if a != prev:
            parts.append(f"rate({a}/sec)")
        d = ms[i + 1] - ms[i]
        if d > 0:
            parts.append(f"random_arrivals({_seconds(d)} sec)")
            visitors += (float(a) + float(b)) / 2 * d / 1000
        parts.append(f"rate({b}/sec)")
        prev = b
    if grace_s:
        parts.append(f"pause({grace_s} sec)")
    return " ".join(parts), visitors


class _Xml:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str) -> None:
        self.lines.append("  " * self.depth + text)

    def element(self, tag: str, attrs: dict[str, str], props: list[str], children=None) -> None:
        """An element, its properties, then its hashTree holding ``children()`` (or empty)."""
        head = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        if props:
            self.line(f"<{tag} {head}>")
            self.depth += 1
            for p in props:
                self.line(p)
            self.depth -= 1
            self.line(f"</{tag}>")
        else:
            self.line(f"<{tag} {head}/>")
        if children is None:
            self.line("<hashTree/>")
        else:
            self.line("<hashTree>")
            self.depth += 1
            children()
            self.depth -= 1
            self.line("</hashTree>")


def _prop(kind: str, name: str, value) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{kind} name={quoteattr(name)}>{escape(str(value))}</{kind}>"


def _chance(p: float) -> str:
    return "${__groovy(Math.random() < " + num(p, 8) + ")}"


def render_jmeter(plan: LoadPlan, fit: StageFit, journey: Journey, *, host: str) -> Export:
    schedule, visitors = jmeter_schedule(fit)
    scheme, hostname, port = host_parts(host)
    notes = (
        f"JMeter: one Open Model Thread Group (JMeter 5.5 or later), {schedule.count('random_arrivals')} "
        f"random_arrivals steps (Poisson arrivals), then pause({GRACE_S} sec) for the last visitors.",
        f"Run: jmeter -n -t this-file.jmx -Jprotocol={scheme} -Jhost={hostname} -Jport={port} -l results.jtl",
    )
    head = header_lines(plan, fit, journey, tool="JMeter", host=host, visitors=visitors,
                        stages=f"{schedule.count('random_arrivals')} JMeter schedule steps",
                        override="jmeter -Jprotocol=... -Jhost=... -Jport=...", notes=notes)
    x = _Xml()

    def args_prop(fields=()) -> str:
        if not fields:
            return ('<elementProp name="HTTPsampler.Arguments" elementType="Arguments" guiclass="HTTPArgumentsPanel" '
                    'testclass="Arguments" testname="User Defined Variables">'
                    '<collectionProp name="Arguments.arguments"/></elementProp>')
        items = "".join(
            f'<elementProp name={quoteattr(k)} elementType="HTTPArgument">'
            + _prop("boolProp", "HTTPArgument.always_encode", True) + _prop("stringProp", "Argument.value", v)
            + _prop("stringProp", "Argument.metadata", "=") + _prop("boolProp", "HTTPArgument.use_equals", True)
            + _prop("stringProp", "Argument.name", k) + "</elementProp>"
            for k, v in fields)
        return ('<elementProp name="HTTPsampler.Arguments" elementType="Arguments" guiclass="HTTPArgumentsPanel" '
                f'testclass="Arguments" testname="User Defined Variables"><collectionProp name="Arguments.arguments">'
                f'{items}</collectionProp></elementProp>')

    def sampler(name: str, path: str, *, method: str = "GET", fields=(), think: bool = False) -> None:
        props = [args_prop(fields), _prop("stringProp", "HTTPSampler.path", path),
                 _prop("stringProp", "HTTPSampler.method", method),
                 _prop("boolProp", "HTTPSampler.follow_redirects", True),
                 _prop("boolProp", "HTTPSampler.use_keepalive", True)]

        def timer() -> None:  # a timer under a sampler delays that sampler only: the think before the step
            x.element("ConstantTimer", {"guiclass": "ConstantTimerGui", "testclass": "ConstantTimer",
                                        "testname": "think"},
                      [_prop("stringProp", "ConstantTimer.delay", journey.think_ms)])

        x.element("HTTPSamplerProxy", {"guiclass": "HttpTestSampleGui", "testclass": "HTTPSamplerProxy",
                                       "testname": name}, props, timer if think else None)

    def in_turn(name: str, items: list, each) -> None:
        if len(items) == 1:
            each(items[0])
            return
        x.element("InterleaveControl", {"guiclass": "InterleaveControlGui", "testclass": "InterleaveControl",
                                        "testname": name},
                  [_prop("intProp", "InterleaveControl.style", 1),
                   _prop("boolProp", "InterleaveControl.accrossThreads", False)],
                  lambda: [each(item) for item in items])

    def maybe(name: str, p: float, body) -> None:
        if p >= 1:
            body()
            return
        x.element("IfController", {"guiclass": "IfControllerPanel", "testclass": "IfController", "testname": name},
                  [_prop("stringProp", "IfController.condition", _chance(p)),
                   _prop("boolProp", "IfController.evaluateAll", False),
                   _prop("boolProp", "IfController.useExpression", True)], body)

    def assets() -> None:
        if not journey.asset_slots:
            return
        x.element("LoopController", {"guiclass": "LoopControlPanel", "testclass": "LoopController",
                                     "testname": "asset requests"},
                  [_prop("boolProp", "LoopController.continue_forever", True),
                   _prop("stringProp", "LoopController.loops", journey.asset_slots)],
                  lambda: maybe("asset sent", journey.asset_p, lambda: in_turn(
                      "assets in turn", list(journey.asset_paths), lambda path: sampler(f"asset {path}", path))))

    def visitor() -> None:
        sampler(f"landing {journey.landing_path}", journey.landing_path)
        assets()
        if journey.more_pages_p > 0:
            x.element("WhileController", {"guiclass": "WhileControllerGui", "testclass": "WhileController",
                                          "testname": "more pages"},
                      [_prop("stringProp", "WhileController.condition", _chance(journey.more_pages_p))],
                      lambda: (in_turn("pages in turn", list(journey.page_paths),
                                       lambda path: sampler(f"page {path}", path, think=True)), assets()))
        if journey.action_p > 0:
            maybe("the action", journey.action_p, lambda: (
                sampler(f"action {journey.action_path}", journey.action_path, think=True), assets(),
                sampler(f"submit {journey.submit_path}", journey.submit_path, method="POST",
                        fields=journey.submit_fields, think=True)))

    def plan_tree() -> None:
        x.element("ConfigTestElement", {"guiclass": "HttpDefaultsGui", "testclass": "ConfigTestElement",
                                        "testname": "HTTP Request Defaults: the host you give it"},
                  [args_prop(), _prop("stringProp", "HTTPSampler.protocol", f"${{__P(protocol,{scheme})}}"),
                   _prop("stringProp", "HTTPSampler.domain", f"${{__P(host,{hostname})}}"),
                   _prop("stringProp", "HTTPSampler.port", f"${{__P(port,{port})}}"),
                   _prop("stringProp", "HTTPSampler.connect_timeout", 10000),
                   _prop("stringProp", "HTTPSampler.response_timeout", 30000)])
        x.element("OpenModelThreadGroup", {"guiclass": "OpenModelThreadGroupGui", "testclass": "OpenModelThreadGroup",
                                           "testname": "surge visitors"},
                  ['<elementProp name="ThreadGroup.main_controller" elementType="OpenModelThreadGroupController"/>',
                   _prop("stringProp", "ThreadGroup.on_sample_error", "continue"),
                   _prop("stringProp", "OpenModelThreadGroup.schedule", schedule),
                   _prop("stringProp", "OpenModelThreadGroup.random_seed", "")], visitor)

    x.line('<jmeterTestPlan version="1.2" properties="5.0" jmeter="5.6.3">')
    x.depth += 1
    x.line("<hashTree>")
    x.depth += 1
    name = plan.scenario.name or plan.scenario.path
    x.element("TestPlan", {"guiclass": "TestPlanGui", "testclass": "TestPlan", "testname": f"surge: {name}"},
              [_prop("stringProp", "TestPlan.comments", " ".join(head)),
               _prop("boolProp", "TestPlan.functional_mode", False),
               _prop("boolProp", "TestPlan.serialize_threadgroups", False),
               '<elementProp name="TestPlan.user_defined_variables" elementType="Arguments" guiclass="ArgumentsPanel" '
               'testclass="Arguments" testname="User Defined Variables"><collectionProp name="Arguments.arguments"/>'
               '</elementProp>'], plan_tree)
    x.depth -= 1
    x.line("</hashTree>")
    x.depth -= 1
    x.line("</jmeterTestPlan>")
    comment = "\n".join(f"  {line}".replace("--", "- -").rstrip() for line in head)
    text = f'<?xml version="1.0" encoding="UTF-8"?>\n<!--\n{comment}\n-->\n' + "\n".join(x.lines) + "\n"
    return Export(format="jmeter", text=text, visitors=visitors, stages=schedule.count("random_arrivals"),
                  run_hint=f"jmeter -n -t FILE -Jprotocol={scheme} -Jhost={hostname} -Jport={port} -l results.jtl")
