"""surge: a traffic-surge simulator for advocacy websites.

The flow, one subpackage a step (``docs/architecture.md`` draws it):
``config`` (a scenario file, validated) -> ``traffic`` (the profile, arrivals, journeys)
-> ``engine`` (the model run on the reference or the fast engine, into a recorder)
-> ``stats`` (histograms, series, the summary) -> ``analysis`` (theory, sizing, SLOs,
sweeps, calibration) and ``loadtest`` (the load test's pure parts) -> ``output`` (tables,
plots, the report) -> ``cli`` (the ``surge`` command).

The public API::

    import sim
    scenario = sim.load_scenario("scenarios/steady.toml")
    profile = sim.build_profile(scenario)          # rate_per_s(t), cumulative(t), totals
    result = sim.simulate(scenario, engine="auto")  # one run; replication 0 of run.seed
    summary = sim.summarize(result)                 # the figures of summary.json
    rows = sim.sweep("scenarios/steady.toml", ["site.app.workers=9:14"])
"""

from sim.analysis.capacity import SweepPoint, sweep
from sim.config.scenario import Scenario, load_scenario, parse_scenario
from sim.engine import ENGINES, RunResult, simulate, simulate_replications
from sim.errors import ConfigError, NotModelled
from sim.stats.summary import summarize, timeseries
from sim.traffic.profile import build_profile

__all__ = [
    "ConfigError", "NotModelled", "RunResult", "Scenario", "ENGINES",
    "load_scenario", "parse_scenario", "build_profile", "simulate", "simulate_replications",
    "summarize", "timeseries", "sweep", "SweepPoint",
]
