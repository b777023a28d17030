import math

import pytest

from sim.errors import ConfigError
from sim.analysis.slo import evaluate, parse_slo

SUMMARY = {"page_response_s": {"p95": 1.5, "p99": 2.5, "mean": 0.4},
           "requests": {"error_fraction": 0.004}, "visitors": {"dropped_fraction": 0.02, "lost_fraction": None},
           "actions": {"lost_fraction": 0.0}}


def test_parse_and_evaluate():
    slo = parse_slo("p95<2s, p99<=2500ms, errors<1%, dropped<1%, lost_actions<0.5%")
    verdicts = [(o.text, v, ok) for o, v, ok in evaluate(slo, SUMMARY)]
    assert verdicts == [("p95<2s", 1.5, True), ("p99<=2500ms", 2.5, True), ("errors<1%", 0.004, True),
                        ("dropped<1%", 0.02, False), ("lost_actions<0.5%", 0.0, True)]


def test_undefined_figures_never_meet_an_objective():
    (o,) = parse_slo("lost_visitors<5%")
    assert math.isnan(o.value(SUMMARY)) and not o.met(SUMMARY)


@pytest.mark.parametrize("text, message", [
    ("p95<2", "a time needs a unit"), ("errors<1s", "written in %"), ("latency<2s", "unknown metric"),
    ("p95>2s", "cannot read"), ("", "no objective"), ("p95<-1s", "must be a finite number >= 0"),
])
def test_bad_slo(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_slo(text)


@pytest.mark.parametrize("figure", [None, math.nan, "n/a", {"p95": 1.0}, [0.1], True])
def test_a_term_with_no_measured_value_is_not_met_and_raises_nothing(figure):
    """A short load test sees no action: lost_actions has no value (null, nan, or junk in a summary file)."""
    (o,) = parse_slo("lost_actions<1%")
    summary = {"actions": {"lost_fraction": figure}}
    ((objective, value, met),) = evaluate((o,), summary)
    assert objective is o and math.isnan(value) and met is False
    assert not o.met({"actions": figure}) and not o.met({})


def test_latency_terms_count_failed_attempts_and_completed_terms_do_not():
    from sim.analysis.slo import parse_slo, evaluate

    # 27 % of attempts failed: the answered pages were fast, the attempts were not.
    summary = {"page_response_s": {"p95": 0.8}, "page_attempt_s": {"p95": float("inf"), "answered_fraction": 0.73}}
    (p95, done) = parse_slo("p95<2s,completed_p95<2s")
    assert [met for _, _, met in evaluate((p95, done), summary)] == [False, True]
    # A summary from before attempts were counted is judged on its completed pages.
    assert p95.met({"page_response_s": {"p95": 0.8}})
