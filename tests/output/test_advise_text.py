"""The advice's console sentences: the cost with its price and basis, and why counts of instances differ."""

from dataclasses import asdict

from sim.analysis.mitigations import InstanceCounts
from sim.output.advise_text import QUICK_COST_BASIS, instances_why, quick_advice_lines

COUNTS = InstanceCounts(now=2, workers_per_instance=4, peak_need=12, at_target=12, objective="p95<2s",
                        for_objective=9)
CMD = "surge advise s.toml --slo \"lost_actions<1%\" --out DIR"


def _got(**kw):
    return {"until_s": 6960.0, "elapsed_s": 13.2, "cheapest": "pre-scale to 12 before the post",
            "cheapest_cost": 3.42, "price_per_instance_hour": 0.1, "cheapest_scheduled": True,
            "cheapest_free": False, "instances": asdict(COUNTS), "rows": [], **kw}


def test_each_count_says_what_it_answers():
    text = instances_why(COUNTS, fewer="instances x4 (2 -> 8)")
    assert text.startswith("pre-scale and autoscale size 12 (the busiest 10 s at 75 % of capacity, no queue); "
                           "surge plan 9 for p95<2s at that 10 s (Erlang C); ")
    assert text.endswith("; here instances x4 (2 -> 8) does")
    floor = InstanceCounts(now=2, workers_per_instance=4, peak_need=1, at_target=4, objective="p95<2s",
                           for_objective=None)
    assert instances_why(floor, plan=False).startswith(
        "pre-scale and autoscale size 4 (twice the site's 2; 1 would run the busiest 10 s at 75 % of capacity); "
        "a simulated run")


def test_the_quick_advice_says_its_cost_of_a_schedule_is_estimated():
    first, second = quick_advice_lines(_got(), CMD)
    assert first == ("cheapest fix (quick advice: each mitigation alone, to 1:56, 13 s): pre-scale to 12 before the "
                     f"post (cost 3.42 at 0.10 per instance-hour, {QUICK_COST_BASIS}); {CMD} compares them all")
    assert second == f"how many instances: {instances_why(COUNTS)}"
    # a free fix: measured cost, no instances to explain
    (only,) = quick_advice_lines(_got(cheapest="static landing page", cheapest_cost=0.0, cheapest_scheduled=False,
                                      cheapest_free=True), CMD)
    assert "(cost 0.00 at 0.10 per instance-hour);" in only
