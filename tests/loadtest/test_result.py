"""A load test's summary, built in one place from what its drivers measured: whether the site held is
decided once (the SLO verdicts, or ``HELD_WITHOUT_SLO``), its meaning and its exit code follow from it,
and the measurements handed from the locust file to ``surge loadtest`` summarise to the same figures."""

from __future__ import annotations

import pytest

from sim.config.scenario import load_scenario
from sim.loadtest.meaning import HELD_WITHOUT_SLO, held
from sim.loadtest.options import LoadTestOptions
from sim.loadtest.result import Measured, exit_code, summarize, timeseries_rows
from sim.loadtest.schedule import LoadPlan
from sim.loadtest.stats import LOADTEST_COLUMNS, LoadRecorder
from tests.conftest import SCENARIOS

# steady: 9 visitors/s; x 100 in time and x 0.05 in size = 45 visitors per wall second, for 2 s: 90 planned
PLAN = LoadPlan(load_scenario(SCENARIOS / "steady.toml"), time_scale=100, scale=0.05, duration_s=2, assets="none")


def _measured(*, served: int, failed: int, lag_s: float = 0.001, aborted: str | None = None) -> Measured:
    """``served + failed`` one-page visitors over the plan's 2 s, each answered in 20 ms or with a 503."""
    edges, _ = PLAN.target_per_bin()
    rec = LoadRecorder(edges_s=edges, time_scale=PLAN.time_scale)
    rec.started_unix_s = 1.8e9  # a test's start (nan, never equal to itself, when none was played)
    n = served + failed
    for i in range(n):
        t = 2.0 * i / n
        rec.count("arrivals", t)
        rec.count("page_views", t)
        ok = i < served
        rec.request(t, response_s=0.02, status="200" if ok else "503", document=True, lag_s=lag_s)
        rec.count("completed" if ok else "visitors_failed", t)
        if ok:
            rec.count("visitors_served", t)
        rec.loop_lag.add(lag_s)
    return Measured(recorder=rec, drivers=1, complete=True, ownership=None, aborted=aborted)


def test_held_is_decided_once_and_the_meaning_and_the_exit_code_follow_it():
    fine = summarize(_measured(served=90, failed=0), PLAN, LoadTestOptions())
    assert fine["slo"] == [] and fine["held"] is True and held(fine)
    assert "staging held it" in fine["meaning"] and exit_code(fine) == 0
    # without --slo, 5 % of visitors lost breaks HELD_WITHOUT_SLO: not held, said so, yet no objective to fail
    lossy = summarize(_measured(served=85, failed=5), PLAN, LoadTestOptions())
    assert "lost_visitors<1%" in HELD_WITHOUT_SLO
    assert lossy["visitors"]["lost_fraction"] == pytest.approx(5 / 90)
    assert lossy["held"] is False and "did not hold it" in lossy["meaning"] and exit_code(lossy) == 0
    # with --slo, the objectives decide, whatever the 1 % rule says
    lenient = summarize(_measured(served=85, failed=5), PLAN, LoadTestOptions(slo="errors<10%"))
    assert lenient["slo"] == [{"objective": "errors<10%", "value": pytest.approx(5 / 90), "met": True}]
    assert lenient["held"] is True and "staging held it" in lenient["meaning"] and exit_code(lenient) == 0
    strict = summarize(_measured(served=90, failed=0), PLAN, LoadTestOptions(slo="p50<10ms"))
    assert strict["held"] is False and exit_code(strict) == 1


def test_the_exit_code_says_the_first_thing_that_applies():
    # the brake before all; nothing measured before the generator's lag; the lag before a broken objective
    lagging = summarize(_measured(served=90, failed=0, lag_s=0.5), PLAN, LoadTestOptions(slo="p50<10ms"))
    assert lagging["generator"]["kept_up"] is False and exit_code(lagging) == 4
    dead = summarize(_measured(served=0, failed=90, lag_s=0.5), PLAN, LoadTestOptions())
    assert dead["outcome"]["status"] == "failed" and exit_code(dead) == 1
    braked = summarize(_measured(served=0, failed=90, aborted="error rate 100%"), PLAN, LoadTestOptions())
    assert braked["partial"] is True and exit_code(braked) == 3


def test_the_measurements_handed_over_summarise_to_the_same_figures():
    measured = _measured(served=80, failed=10)
    handed = Measured.from_json(measured.to_json())
    options = LoadTestOptions(slo="errors<1%")
    assert summarize(handed, PLAN, options) == summarize(measured, PLAN, options)
    assert timeseries_rows(handed, PLAN) == timeseries_rows(measured, PLAN)
    assert len(timeseries_rows(measured, PLAN)[0]) == len(LOADTEST_COLUMNS)
    # what only surge knows is added where the summary is built, and a stop by a signal makes it partial
    stopped = summarize(handed, PLAN, options, demo_site={"signatures_stored": 0}, stopped="interrupted")
    assert stopped["partial"] is True and stopped["stopped"] == "interrupted"
    assert stopped["demo_site"] == {"signatures_stored": 0}
