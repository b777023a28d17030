"""The prediction band: the model at both ends of [site.calibration]'s capacity interval."""

import dataclasses
import math

import pytest

from sim.analysis.band import (BAND_TERMS, end_factors, end_scenarios, measured_against, outside, outside_spans,
                               prediction_band, simulate_band)
from sim.analysis.run_summary import figures_and_rows
from sim.config.distributions import Lognormal
from sim.config.site import CalibrationConfig
from sim.engine import simulate_replications
from tests.analysis.band_case import CAPACITY, HIGH, LOW, SITE, WORKERS, calibrated

def test_each_end_scales_the_page_law_to_workers_over_that_ends_capacity_keeping_its_shape(tmp_path):
    scenario = calibrated(tmp_path)
    assert scenario.site.calibration == CalibrationConfig(capacity_per_s=CAPACITY, capacity_low_per_s=LOW,
                                                          capacity_high_per_s=HIGH, precision=0.07388)
    ends = end_scenarios(scenario)
    for end, capacity in (("fast", HIGH), ("slow", LOW)):
        page = ends[end].site.app.page_s
        assert isinstance(page, Lognormal) and page.sigma == 0.5
        assert page.mean == pytest.approx(WORKERS / capacity, rel=1e-5)  # the median was written to 6 digits
        assert ends[end].site.app.submit_s is None and ends[end].site.app.asset_s == scenario.site.app.asset_s
        assert dataclasses.replace(ends[end], site=scenario.site) == scenario  # nothing else changed
    assert end_factors(scenario.site.calibration) == {"fast": CAPACITY / HIGH, "slow": CAPACITY / LOW}
    without = dataclasses.replace(scenario, site=dataclasses.replace(scenario.site, calibration=None))
    with pytest.raises(ValueError, match=r"no \[site.calibration\]"):
        end_scenarios(without)


def _p95_band(scenario):
    got = simulate_band(scenario, 1, engine="fast")
    assert got.error is None and not got.band["partial"]
    return got.band


def test_the_band_brackets_the_point_and_narrows_with_the_interval(tmp_path):
    scenario = calibrated(tmp_path)
    point, _ = figures_and_rows(simulate_replications(scenario, 1, engine="fast"))
    wide = _p95_band(scenario)
    # the same seed at each end: the same visitors meet a faster and a slower site, and a FIFO queue's
    # waits grow with its service times (Lindley's recursion), so the percentiles are ordered
    # fast < point < slow
    for key in ("page_response_s.p95", "page_response_s.p99", "page_attempt_s.p95"):
        fast, slow = (wide[key.split(".")[0]][key.split(".")[1]][i] for i in (0, 1))
        value = point[key.split(".")[0]][key.split(".")[1]]
        assert fast < value < slow, (key, fast, value, slow)
    assert wide["requests"]["error_fraction"][0] <= point["requests"]["error_fraction"] \
        <= wide["requests"]["error_fraction"][1]
    assert wide["capacity_at_ends_per_s"] == [HIGH, LOW] and wide["ends"] == ["fast", "slow"]
    assert wide["page_service_mean_s"] == pytest.approx([WORKERS / HIGH, WORKERS / LOW], rel=1e-5)
    # the same point capacity known to +-3 % (the precision calibrate aims at by default): a narrower
    # band, inside the wide one, around the same point
    narrow_site = SITE.replace(f"capacity_low_per_s = {LOW}", f"capacity_low_per_s = {CAPACITY * 0.97:.4g}") \
        .replace(f"capacity_high_per_s = {HIGH}", f"capacity_high_per_s = {CAPACITY * 1.03:.4g}")
    narrow = _p95_band(calibrated(tmp_path, narrow_site))
    for q in ("p95", "p99"):
        (wf, ws), (nf, ns) = wide["page_response_s"][q], narrow["page_response_s"][q]
        assert wf < nf < point["page_response_s"][q] < ns < ws, (q, wide, narrow)


def test_the_band_holds_each_figure_as_fast_slow_pairs_and_leaves_out_what_neither_end_has(tmp_path):
    scenario = calibrated(tmp_path)
    by_end = {"fast": {"page_response_s": {"p95": 0.2, "p99": 0.3}, "page_attempt_s": {"p95": 0.21, "p99": math.inf},
                       "requests": {"error_fraction": 0.0}, "visitors": {"lost": 0, "lost_fraction": 0.0}},
              "slow": {"page_response_s": {"p95": 0.4, "p99": 0.5}, "page_attempt_s": {"p95": 0.45, "p99": math.inf},
                       "requests": {"error_fraction": 0.01}, "visitors": {"lost": 3, "lost_fraction": 0.001}}}
    band = prediction_band(scenario, by_end)
    assert band["page_response_s"] == {"p95": [0.2, 0.4], "p99": [0.3, 0.5]}
    assert band["page_attempt_s"] == {"p95": [0.21, 0.45]}  # no attempt at all: no p99 to speak of
    for figures in by_end.values():
        figures["page_attempt_s"].update(attempts=1000, answered_fraction=0.98)
    # with attempts, a percentile the failures reach at both ends is unanswered at both: kept, as nulls
    assert prediction_band(scenario, by_end)["page_attempt_s"] == {"p95": [0.21, 0.45], "p99": [None, None]}
    assert band["visitors"] == {"lost_fraction": [0.0, 0.001], "lost": [0, 3]}
    assert "actions" not in band and band["partial"] is False
    assert [g["figure"] for g in measured_against(band, {"page_response_s": {"p95": 0.5, "p99": 0.35},
                                                         "requests": {"error_fraction": 0.0}})] \
        == ["completed_p95", "completed_p99", "errors"]
    judged = {g["figure"]: g["outside"] for g in measured_against(
        band, {"page_response_s": {"p95": 0.5, "p99": 0.35}, "page_attempt_s": {"p95": 0.1},
               "requests": {"error_fraction": 0.0}})}
    assert judged == {"completed_p95": "above", "completed_p99": None, "p95": "below", "errors": None}
    assert set(BAND_TERMS) >= set(judged)
    assert outside(0.3, (0.4, 0.2)) == 0 and outside(0.1, (0.4, 0.2)) == -1 and outside(None, (0.1, 0.2)) == 0


def test_a_count_is_outside_only_beyond_its_noise_from_the_nearer_end():
    get = lambda r: r["completed"]  # noqa: E731
    row = lambda n: {"completed": n}  # noqa: E731
    # band 1,000 to 1,200 per bin; noise sqrt(end + measured): 4 sd is about 180 here
    pairs = [(0, 60, row(1200), row(1000), row(1100)),  # inside
             (60, 120, row(1200), row(1000), row(1300)),  # 100 above: 2.1 sd
             (120, 180, row(1200), row(1000), row(1500)),  # 300 above: 5.8 sd
             (180, 240, row(1200), row(1000), row(1500)),
             (240, 300, row(1200), row(1000), row(600)),  # 400 below: 9.8 sd
             (300, 360, row(1200), None, row(0))]  # the band has no bin: not judged
    assert outside_spans(pairs, get) == [(120, 240, pytest.approx(300 / math.sqrt(2700)), 1),
                                         (240, 300, pytest.approx(400 / math.sqrt(1600)), -1)]


def test_an_unanswered_attempt_percentile_is_judged_as_never_answered():
    band = {"page_attempt_s": {"p95": [0.197, None], "p99": [None, None]}}
    measured = {"page_attempt_s": {"attempts": 3413, "answered_fraction": 0.96, "p95": 0.236, "p99": None}}
    got = {g["figure"]: (g["measured"], g["band"], g["outside"]) for g in measured_against(band, measured)}
    assert got == {"p95": (0.236, [0.197, math.inf], None), "p99": (math.inf, [math.inf, math.inf], None)}
    answered = {"page_attempt_s": {"attempts": 3413, "answered_fraction": 1.0, "p95": 0.2, "p99": 0.3}}
    assert [g["outside"] for g in measured_against(band, answered)] == [None, "below"]
    assert measured_against(band, {"page_attempt_s": {"attempts": 0}}) == []  # nothing attempted: nothing judged
