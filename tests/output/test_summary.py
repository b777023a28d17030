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


def test_a_band_shows_beside_each_figure_and_an_attempt_percentile_the_failures_reach_reads_unanswered():
    from sim.output.summary import band_rows, summary_rows

    s = {"visitors": {"arrived": 1000, "lost": 12, "lost_fraction": 0.012},
         "page_response_s": {"p50": 0.062, "p95": 0.241, "p99": 0.301},
         "page_attempt_s": {"p50": 0.062, "p95": 0.25, "p99": None, "answered_fraction": 0.985},
         "prediction_band": {"capacity_per_s": 46.7, "capacity_low_per_s": 43.2, "capacity_high_per_s": 50.1,
                             "page_response_s": {"p95": [0.198, 0.301], "p99": [0.25, 0.4]},
                             "page_attempt_s": {"p95": [0.2, None], "p99": [None, None]},
                             "visitors": {"lost": [0, 40], "lost_fraction": [0.0, 0.04]}}}
    rows = dict(summary_rows(s))
    assert rows["prediction band (fast to slow)"] == ("the model at 50.10 and 43.20 pages/s, the calibration's "
                                                      "95 % interval of 46.70/s")
    assert rows["visitors lost"] == "12 (1.2 %; band 0.0 % to 4.0 %)"
    assert rows["completed pages p50 / p95 / p99"] == "62 ms / 241 ms / 301 ms; band p95 198 ms to 301 ms, p99 250 ms to 400 ms"
    assert rows["every attempt p50 / p95 / p99"] == ("62 ms / 250 ms / unanswered (98.5 % answered); "
                                                     "band p95 200 ms to unanswered, p99 unanswered to unanswered")
    assert band_rows(s) == [("page response p95 (completed pages)", "198 ms", "241 ms", "301 ms"),
                            ("page response p99 (completed pages)", "250 ms", "301 ms", "400 ms"),
                            ("page response p95 (every attempt)", "200 ms", "250 ms", "unanswered"),
                            ("page response p99 (every attempt)", "unanswered", "unanswered", "unanswered"),
                            ("visitors lost", "0.0 %", "1.2 %", "4.0 %")]
    del s["prediction_band"]
    assert "prediction band (fast to slow)" not in dict(summary_rows(s)) and band_rows(s) == []
    assert dict(summary_rows(s))["visitors lost"] == "12 (1.2 %)"
