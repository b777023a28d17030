"""``surge export``'s pure core: a load plan's arrival-rate profile as other load-test tools' own configuration.

The same time-compressed, scaled rate the locust replay plays (``sim.loadtest.schedule.LoadPlan``), as
an open-model configuration of k6 (``ramping-arrival-rate``), Artillery (``config.phases``), Gatling's
JavaScript SDK (``injectOpen``), JMeter (the Open Model Thread Group) or a CSV of the rate per second,
with the journey's paths from ``[loadtest.site]``. This package owns the fit of straight stages to the
rate (``stages``), the journey the scripts walk (``journey``), the header every file carries (``common``)
and one renderer per format; it returns text and never writes a file or prints (``sim.cli.export`` does).
"""

from __future__ import annotations

from sim.errors import ConfigError, check_url
from sim.loadtest.export.artillery import ArtilleryPhase, artillery_phases, artillery_ramp_arrivals, render_artillery
from sim.loadtest.export.common import DEFAULT_HOST, Export
from sim.loadtest.export.csv_rates import per_second, render_csv
from sim.loadtest.export.gatling import gatling_steps, render_gatling
from sim.loadtest.export.jmeter import jmeter_schedule, render_jmeter
from sim.loadtest.export.journey import Journey, journey_of, median_s
from sim.loadtest.export.k6 import k6_stages, k6_time_unit_s, render_k6
from sim.loadtest.export.stages import (MAX_STAGES, RATE_TOLERANCE, VISITORS_TOLERANCE, Stage, StageFit, fit_stages,
                                        plan_visitors, whole_second_steps)
from sim.loadtest.schedule import LoadPlan

__all__ = ["FORMATS", "export", "Export", "DEFAULT_HOST", "Stage", "StageFit", "fit_stages", "whole_second_steps",
           "plan_visitors", "Journey", "journey_of", "median_s", "k6_stages", "k6_time_unit_s", "ArtilleryPhase",
           "artillery_phases", "artillery_ramp_arrivals", "gatling_steps", "jmeter_schedule", "per_second",
           "RATE_TOLERANCE", "VISITORS_TOLERANCE", "MAX_STAGES"]

FORMATS = ("k6", "artillery", "gatling", "jmeter", "csv")
DEFAULT_MAX_VUS = 10_000  # as surge loadtest's --max-concurrent-visitors


def export(plan: LoadPlan, fmt: str, *, host: str = DEFAULT_HOST, max_stages: int = MAX_STAGES,
           max_vus: int = DEFAULT_MAX_VUS) -> Export:
    """The plan as ``fmt``'s text (one of ``FORMATS``), its traffic aimed at ``host``."""
    if fmt not in FORMATS:
        raise ConfigError("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    check_url("--host", host)
    if not (isinstance(max_vus, int) and max_vus >= 1):
        raise ConfigError("--max-concurrent-visitors", f"must be a whole number >= 1, got {max_vus!r}")
    fit = fit_stages(plan, max_stages=max_stages)
    journey = journey_of(plan)
    if fmt == "k6":
        return render_k6(plan, fit, journey, host=host, max_vus=max_vus)
    if fmt == "artillery":
        return render_artillery(plan, fit, journey, host=host, steps=whole_second_steps(fit, plan))
    if fmt == "gatling":
        return render_gatling(plan, fit, journey, host=host, steps=whole_second_steps(fit, plan))
    if fmt == "jmeter":
        return render_jmeter(plan, fit, journey, host=host)
    return render_csv(plan, fit, journey, host=host)
