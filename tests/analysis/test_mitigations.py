import math
import tomllib

import pytest

from sim.analysis.mitigations import (LANDING_TTL_S, SESSION_S, TARGET_UTILIZATION, apply, catalog, sizing)
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


def test_the_waiting_room_is_sized_by_littles_law():
    scenario = parse_scenario(_table())
    size = sizing(scenario)
    # app work a visitor: 3.2 page views x (0.2 + 0.01) + 0.2 x (0.5 + 0.01) = 0.774 s; 10 workers serve 12.92/s.
    work = 3.2 * 0.21 + 0.2 * 0.51
    assert size.capacity_visitors_per_s == pytest.approx(10 / work)
    assert size.visit_s == pytest.approx(2.2 * 10)  # think times between 3.2 page views
    room = next(m for m in catalog(scenario, size) if m.key == "waiting-room")
    t = apply(_table(), [room])["site"]["waiting_room"]
    rate = TARGET_UTILIZATION * 10 / work
    assert t["active_limit"] == math.ceil(rate * (22 + SESSION_S))
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
    assert both["new_users_per_minute"] == pytest.approx(2 * alone["new_users_per_minute"], abs=0.1)
    work = 3.2 * 0.21 + 0.2 * 0.51
    assert both["active_limit"] == math.ceil(TARGET_UTILIZATION * 20 / work * (22 + SESSION_S))


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
    assert schedule == [{"at_s": 1800 - 120 - 300, "min": schedule[0]["min"]}]  # no way back after the run's end
    parse_scenario(apply(table, [pre]))
