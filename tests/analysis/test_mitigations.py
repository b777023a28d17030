import math
import tomllib

import pytest

from sim.analysis.mitigations import apply, catalog, sizing
from sim.config.scenario import parse_scenario

TEXT = """
[run]
duration_s = 7200
[traffic]
constant_per_s = 1.0
[[traffic.shares]]
at_s = 1800
visitors = 20000
decay = { kernel = "exponential", half_life_s = 600 }
[visitors]
pages_per_visit = 3
think_s = 10
action_rate = 0.2
[site.app]
instances = 2
workers = 5
page_s = 0.2
submit_s = 0.5
[site.db]
connections = 4
query_s = 0.01
"""


def _table():
    return tomllib.loads(TEXT)


# The sizing worked by hand from TEXT's numbers, with the figures the README's table of mitigations states (its
# waiting-room row): a visitor's app work is 3.2 page views (3 pages + the action page) x (0.2 s + a 0.01 s
# query) + 0.2 submits x (0.5 s + 0.01 s) = 0.774 s, so 2 x 5 = 10 workers serve 10 / 0.774 = 12.92
# visitors/s. The waiting room lets in 75 % of that (Cloudflare's advice), 9.690/s = 581.4 a minute, and
# holds a place for the visit (think times of 10 s between 3.2 page views: 22 s) plus the 300 s session
# (Cloudflare's default): 9.690 x 322 = 3,120.2, so 3,121 places. With 20 workers: 1,162.8 a minute and
# 19.380 x 322 = 6,240.3, so 6,241 places.
WORK_S = 3.2 * (0.2 + 0.01) + 0.2 * (0.5 + 0.01)


def test_the_waiting_room_is_sized_by_littles_law():
    scenario = parse_scenario(_table())
    size = sizing(scenario)
    # app work a visitor: 3.2 page views x (0.2 + 0.01) + 0.2 x (0.5 + 0.01) = 0.774 s; 10 workers serve 12.92/s.
    assert size.capacity_visitors_per_s == pytest.approx(10 / WORK_S) == pytest.approx(12.92, abs=0.005)
    assert size.visit_s == pytest.approx(22.0)
    room = next(m for m in catalog(scenario, size) if m.key == "waiting-room")
    t = apply(_table(), [room])["site"]["waiting_room"]
    assert t["active_limit"] == 3121 == math.ceil(0.75 * 10 / WORK_S * (22 + 300))
    assert t["new_users_per_minute"] == 581.4 and t["session_s"] == 300
    parse_scenario(apply(_table(), [room]))  # a valid scenario


def test_each_mitigation_makes_a_valid_scenario_and_changes_only_its_part():
    table = _table()
    scenario = parse_scenario(table)
    ms = {m.key: m for m in catalog(scenario, sizing(scenario))}
    assert {"workers-x2", "instances-x2", "db-pool-x2", "autoscale", "waiting-room"} <= set(ms)
    assert apply(table, [ms["workers-x2"]])["site"]["app"]["workers"] == 10
    assert apply(table, [ms["db-pool-x2"]])["site"]["db"]["connections"] == 8
    assert apply(table, [ms["instances-x2"]])["site"]["app"]["instances"] == 4
    assert table["site"]["app"]["workers"] == 5  # the original is untouched
    for m in ms.values():
        parse_scenario(apply(table, [m]))
    assert ms["workers-x2"].free and not ms["instances-x2"].free


def test_no_app_tier_no_mitigation_and_no_db_no_pool():
    table = _table()
    del table["site"]["db"]
    keys = {m.key for m in catalog(parse_scenario(table), sizing(parse_scenario(table)))}
    assert "db-pool-x2" not in keys


def test_a_waiting_room_in_a_combination_is_sized_for_the_site_the_others_make():
    scenario = parse_scenario(_table())
    ms = {m.key: m for m in catalog(scenario, sizing(scenario))}
    alone = apply(_table(), [ms["waiting-room"]])["site"]["waiting_room"]
    both = apply(_table(), [ms["waiting-room"], ms["workers-x2"]])["site"]["waiting_room"]  # order does not matter
    # twice the workers serve twice the visitors: twice the admissions, and about twice the places
    assert (alone["new_users_per_minute"], alone["active_limit"]) == (581.4, 3121)
    assert (both["new_users_per_minute"], both["active_limit"]) == (1162.8, 6241)


def test_no_pre_scaling_for_a_post_after_the_run():
    table = _table()
    table["traffic"]["shares"][0]["at_s"] = 9000  # after the run's 7,200 s
    scenario = parse_scenario(table)
    keys = {m.key for m in catalog(scenario, sizing(scenario))}
    assert "autoscale" in keys and "pre-scale" not in keys
    table["traffic"]["shares"][0]["at_s"] = 1800
    scenario = parse_scenario(table)
    pre = next(m for m in catalog(scenario, sizing(scenario, surge_window_s=(1500.0, 9000.0))) if m.key == "pre-scale")
    schedule = apply(table, [pre])["site"]["autoscale"]["schedule"]
    # 1,380 s: 5 minutes and a 120 s boot before the post at 1,800 s; no way back after the run's end
    assert schedule == [{"at_s": 1380.0, "min": schedule[0]["min"]}]
    parse_scenario(apply(table, [pre]))


def test_the_counts_of_instances_are_the_ones_pre_scaling_and_the_plan_use():
    from sim.analysis.mitigations import instance_counts
    from sim.analysis.sizing import PLAN_DEFAULT_SLO, least_workers, workload
    from sim.analysis.slo import parse_slo

    scenario = parse_scenario(_table())
    size = sizing(scenario)
    counts = instance_counts(scenario, size)
    labels = {m.key: m.label for m in catalog(scenario, size)}
    # pre-scaling and autoscaling go up to the count at_target names, the peak's need at 75 % of capacity
    assert labels["pre-scale"] == f"pre-scale to {counts.at_target} before the post"
    assert labels["autoscale"] == f"autoscale 2-{counts.at_target}"
    peak = float(workload(scenario).visitors_per_s.max())
    assert counts.peak_need == math.ceil(peak * WORK_S / (5 * 0.75)) == counts.at_target
    # surge plan's count: its least workers for p95<2s, in instances of 5
    need = least_workers(workload(scenario), parse_slo(PLAN_DEFAULT_SLO)[0])
    assert counts.for_objective == math.ceil(need / 5) and counts.for_objective < counts.at_target
