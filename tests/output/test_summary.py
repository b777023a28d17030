"""The one summary formatter: SLO verdicts read "not measured" where a figure is missing, never a traceback."""

import math

from sim.output.summary import slo_rows, verdicts


def test_a_term_with_no_measured_value_reads_not_measured_and_is_broken():
    # as surge loadtest's summary.json holds it after a short run: JSON null for the missing figure
    summary = {"actions": {"lost_fraction": None}, "page_response_s": {"p95": 0.2},
               "slo": [{"objective": "lost_actions<1%", "value": None, "met": False},
                       {"objective": "p95<2s", "value": 0.2, "met": True}]}
    assert verdicts(summary) == [("lost_actions<1%", "not measured", False), ("p95<2s", "200 ms", True)]
    assert slo_rows(verdicts(summary)) == [("SLO lost_actions<1%", "BROKEN (not measured)"),
                                           ("SLO p95<2s (every attempt)", "met (200 ms)")]
    # judged afresh (surge report --slo): the same reading
    summary["actions"]["lost_fraction"] = math.nan
    assert slo_rows(verdicts(summary, "lost_actions<1%")) == [("SLO lost_actions<1%", "BROKEN (not measured)")]


def test_the_signature_queue_row_shows_only_with_a_queue():
    from sim.output.summary import summary_rows

    none = {"signatures": {"queued": 0, "written": 0, "pending_at_end": 0, "max_lag_s": math.nan}}
    assert all(not label.startswith("signatures") for label, _ in summary_rows(none))
    some = {"signatures": {"queued": 1200, "written": 1180, "pending_at_end": 20, "max_lag_s": 95.25}}
    assert ("signatures written (queued after the answer)",
            "1,180 of 1,200 queued, 20 pending at the end; longest lag 95.25 s") in summary_rows(some)


def test_an_attempt_percentile_the_failures_reach_reads_unanswered():
    # summary.json holds it as null: more than 5 % of the attempts were never answered
    summary = {"page_attempt_s": {"p95": None, "attempts": 1000.0, "answered_fraction": 0.9},
               "slo": [{"objective": "p95<2s", "value": None, "met": False}]}
    assert verdicts(summary) == [("p95<2s", "unanswered", False)] == verdicts(summary, "p95<2s")
    assert slo_rows(verdicts(summary)) == [("SLO p95<2s (every attempt)", "BROKEN (unanswered)")]
