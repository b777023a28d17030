import math
import tomllib

import pytest

from sim.analysis.slo import parse_slo
from sim.analysis.verdict import clock, peak_demand, verdict, work_by_kind
from sim.config.scenario import parse_scenario
from sim.stats.summary import TIMESERIES_COLUMNS

SITE = """
[run]
duration_s = 3600
bin_s = 60
[traffic]
constant_per_s = 10.0
[visitors]
pages_per_visit = 2
requests_per_page = 11
action_rate = 0.5
[site.cdn]
hit_ratio = 0.9
html_hit_ratio = 0.0
[site.app]
instances = 2
workers = 4
page_s = 0.1
asset_s = 0.01
submit_s = 1.0
[site.db]
connections = 4
query_s = 0.02
queries_per_page = 1
queries_per_submit = 5
"""


def _scenario(text=SITE):
    return parse_scenario(tomllib.loads(text))


def _rows(lost_by_bin, *, util_app=0.5, util_db=0.1, completed=100):
    rows = []
    for i in range(60):
        row = dict.fromkeys(TIMESERIES_COLUMNS, 0.0)
        row.update(bin_start_s=60.0 * i, bin_end_s=60.0 * (i + 1), actions_completed=completed,
                   actions_lost=lost_by_bin.get(i, 0), utilization_app=util_app, utilization_db=util_db)
        rows.append([row[c] for c in TIMESERIES_COLUMNS])
    return rows


def test_work_by_kind_is_each_kinds_worker_seconds_per_visitor():
    work = work_by_kind(_scenario())
    # 2.5 page views a visitor (2 pages + the action page), every HTML at the origin: 0.1 s + 1 query of 0.02 s.
    assert work["pages"] == pytest.approx(2.5 * (0.1 + 0.02))
    assert work["form submits"] == pytest.approx(0.5 * (1.0 + 5 * 0.02))
    assert work["asset requests"] == pytest.approx(2.5 * 10 * 0.1 * 0.01)
    assert work["db.form submits"] == pytest.approx(0.5 * 5 * 0.02)


def test_peak_demand_is_the_offered_work_over_the_workers():
    # 10 visitors/s x (0.3 + 0.55 + 0.025) s of work = 8.75 busy workers of 8.
    assert peak_demand(_scenario()) == pytest.approx(10 * (0.3 + 0.55 + 0.025) / 8, rel=1e-6)


def test_a_run_that_loses_actions_does_not_hold_and_says_when():
    # 40 actions lost in bins 60..85 min: the window spans the middle 95 % of the losses.
    lost = {i: 40 for i in range(10, 36)}
    summary = {"actions": {"lost_fraction": 0.13, "attempted": 1000}, "page_attempt_s": {"answered_fraction": 0.999}}
    v = verdict(_scenario(), summary, _rows(lost, util_app=0.97), TIMESERIES_COLUMNS, parse_slo("lost_actions<1%"))
    assert not v.holds
    assert v.window_s == (600.0, 2100.0)
    assert v.text.startswith("does not hold: 13 % of actions lost between 0:10 and 0:36")
    assert v.bottleneck["tier"] == "app tier" and v.bottleneck["kind"] == "form submits"
    assert v.bottleneck["short"] == "form submits at the app tier"
    assert v.warnings == ()


def test_a_busier_database_is_the_bottleneck_and_its_kind_is_by_query_time():
    summary = {"actions": {"lost_fraction": 0.05}}
    v = verdict(_scenario(), summary, _rows({20: 5}, util_app=0.6, util_db=0.99), TIMESERIES_COLUMNS,
                parse_slo("lost_actions<1%"))
    # db time per visitor: pages 2.5 x 0.02 = 0.05 s, submits 0.5 x 0.1 = 0.05 s: a tie goes to the first.
    assert v.bottleneck["tier"] == "database pool"


def test_a_run_within_its_slo_holds_and_warns_when_the_percentiles_hide_failures():
    summary = {"actions": {"lost_fraction": 0.002}, "page_attempt_s": {"answered_fraction": 0.95}}
    v = verdict(_scenario(), summary, _rows({5: 1}), TIMESERIES_COLUMNS, parse_slo("lost_actions<1%"))
    assert v.holds and v.text.startswith("holds")
    assert len(v.warnings) == 1 and "95.0 %" in v.warnings[0]


def test_clock_reads_hours_and_minutes_from_the_start():
    assert [clock(t) for t in (0, 3600, 5160, 90000)] == ["0:00", "1:00", "1:26", "25:00"]


def test_peak_demand_of_a_run_shorter_than_a_bin_is_zero():
    # found by tests/config/test_fuzz.py: a profile binned over 1e-300 s has no bin
    sc = parse_scenario({"run": {"duration_s": 1e-300}, "traffic": {"constant_per_s": 1e9},
                         "site": {"app": {"page_s": 0.0}}})
    assert peak_demand(sc) == 0.0


def test_a_run_with_nothing_to_count_is_not_measured_rather_than_broken():
    summary = {"actions": {"lost_fraction": float("nan")}}
    v = verdict(_scenario(), summary, _rows({}), TIMESERIES_COLUMNS, parse_slo("lost_actions<1%"))
    assert not v.holds and v.text.startswith("not measured: lost_actions<1% had nothing to count")
