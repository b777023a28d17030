"""The advice's console sentences: the quick advice's line, its cost and why counts of instances differ."""

from __future__ import annotations

from sim.analysis.mitigations import TARGET_UTILIZATION, InstanceCounts
from sim.output.text import clock, cost_text

__all__ = ["instances_why", "quick_advice_lines", "QUICK_COST_BASIS"]

# Why the quick advice's cost of a schedule can differ from surge advise's for the same mitigation.
QUICK_COST_BASIS = ("estimated: the quick run's instance-hours, then the raised minimum's to the surge's end; "
                    "surge advise measures the whole run, the scale-down after the surge included")


def instances_why(counts: InstanceCounts, *, fewer: str | None = None, plan: bool = True) -> str:
    """Each command's count of instances and the question it answers; ``fewer``: a simulated variant that
    meets the SLO with fewer instances than pre-scaling's, named; ``plan``: with surge plan's count."""
    target = f"{100 * TARGET_UTILIZATION:.0f} % of capacity"
    out = f"pre-scale and autoscale size {counts.at_target} " + (
        f"(the busiest 10 s at {target}, no queue)" if counts.at_target == counts.peak_need
        else f"(twice the site's {counts.now}; {counts.peak_need} would run the busiest 10 s at {target})")
    if plan:
        out += "; surge plan " + (f"{counts.for_objective} for {counts.objective}" if counts.for_objective is not None
                                  else f"none for {counts.objective}") + " at that 10 s (Erlang C)"
    out += "; a simulated run can meet a loss SLO with fewer (judged over the whole run: queues absorb a short peak)"
    return out + (f"; here {fewer} does" if fewer else "")


def quick_advice_lines(got: dict, advise_cmd: str) -> list[str]:
    """``surge run``'s lines for its quick advice (:func:`sim.analysis.advise.quick_advice`'s result): the
    cheapest fix and its cost, and where it adds instances, why other commands count other numbers."""
    if not got["cheapest"]:
        best = got["rows"][0]["name"] if got["rows"] else None
        return [f"no single mitigation meets the SLO in a quick look ({got['elapsed_s']:.0f} s)"
                + (f"; the best alone: {best}" if best else "") + f": {advise_cmd} tries combinations"]
    head = f"quick advice: each mitigation alone, to {clock(got['until_s'])}, {got['elapsed_s']:.0f} s"
    cost = cost_text(got["cheapest_cost"], got["price_per_instance_hour"])
    basis = f", {QUICK_COST_BASIS}" if got["cheapest_scheduled"] else ""
    out = [f"cheapest fix ({head}): {got['cheapest']} (cost {cost}{basis}); {advise_cmd} compares them all"]
    if not got["cheapest_free"]:
        out.append(f"how many instances: {instances_why(InstanceCounts(**got['instances']))}")
    return out
