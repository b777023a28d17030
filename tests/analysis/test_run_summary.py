"""A run's summary, built in one place: the figures of the complete replications, how it ran, its verdict."""

import dataclasses
import math
import tomllib

import pytest

from sim.analysis.run_summary import RunSummary, Settings, mean_rows, summarize_runs, with_quick
from sim.analysis.slo import evaluate, parse_slo
from sim.config.scenario import parse_scenario
from sim.engine import replication_seeds, simulate

# Ten minutes of a small site at half load: a run of a fraction of a second on the fast engine.
SITE = """
[run]
duration_s = 600
bin_s = 60
seed = 5
[traffic]
constant_per_s = 4.0
[visitors]
pages_per_visit = 2
requests_per_page = 1
action_rate = 0.5
[site.app]
instances = 1
workers = 4
page_s = 0.2
submit_s = 0.4
"""


@pytest.fixture(scope="module")
def two_runs():
    scenario = parse_scenario(tomllib.loads(SITE))
    results = [simulate(scenario, engine="fast", seed_seq=s) for s in replication_seeds(5, 2)]
    return scenario, results


def test_the_summary_json_holds_the_figures_how_it_ran_and_the_verdict(two_runs):
    scenario, results = two_runs
    objectives = parse_slo("p95<2s,lost_actions<1%")
    summary = summarize_runs(scenario, results, objectives=objectives,
                             settings=Settings(replications_requested=2, seed=5, engine="fast"))
    out = summary.to_dict()
    assert out["replications"] == 2 and out["replications_requested"] == 2 and out["replications_complete"] == 2
    assert (out["seed"], out["engine"], out["time_scale"], out["scale"], out["partial"]) == (5, "fast", 1.0, 1.0,
                                                                                              False)
    assert "arrived_ci" in out["visitors"]  # the mean over replications, with its half-width
    # the slo list and the verdict's terms are the objectives judged on the same figures
    judged = evaluate(objectives, out)
    assert out["slo"] == [{"objective": o.text, "value": v, "met": m} for o, v, m in judged]
    assert out["verdict"]["slo"] == "p95<2s,lost_actions<1%" and out["verdict"]["holds"] == all(m for _, _, m in judged)
    assert out["verdict"]["peak_demand_x"] == pytest.approx(summary.peak_demand_x)
    assert len(summary.rows) == 10 and "quick_advice" not in out["verdict"]
    quick = with_quick(summary, advice={"cheapest": None}, risk=None).to_dict()
    # a quick look that ran with nothing to judge is null; one that did not run has no key
    assert quick["verdict"]["quick_advice"] == {"cheapest": None} and quick["verdict"]["quick_risk"] is None
    assert "quick_risk" not in with_quick(summary, advice={}).to_dict()["verdict"]


def test_a_stopped_replication_is_left_out_of_the_means(two_runs):
    scenario, results = two_runs
    stopped = dataclasses.replace(results[0], partial=True)
    summary = summarize_runs(scenario, [stopped, results[1]], objectives=parse_slo("lost_actions<1%"),
                             settings=Settings(replications_requested=2, seed=5, engine="fast"))
    assert isinstance(summary, RunSummary) and summary.replications_complete == 1 and not summary.partial
    assert summary.figures["visitors"]["arrived"] == results[1].recorder.totals["visitors.arrived"]


def test_rows_are_averaged_cell_by_cell_and_an_all_nan_cell_stays_nan():
    rows = mean_rows([[[0.0, 1.0, math.nan]], [[0.0, 3.0, math.nan]]])
    assert rows[0][:2] == [0.0, 2.0] and math.isnan(rows[0][2])


@pytest.mark.parametrize("bad, word", [({"replications_requested": 0}, "replications_requested"),
                                       ({"time_scale": 0.0}, "time_scale")])
def test_settings_refuse_what_no_run_can_be(bad, word):
    with pytest.raises(ValueError, match=word):
        Settings(**{"replications_requested": 1, "seed": 1, "engine": "fast", **bad})
