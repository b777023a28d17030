"""The fluid model's abandoned visitors against the simulation's, and the simulation's run-to-run spread.

    .venv/bin/python tests/analysis/fluid_spread.py 10

Runs replications 0..R-1 of ``anca-2020`` (``run.seed``'s replication seeds, as ``surge run
--replications R`` does) and prints each one's abandoned visitors, their mean and standard
deviation, and the fluid model's figure (``surge plan``'s) beside them: the figures the
tolerance in ``test_fluid.py`` comes from.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def anca():
    from sim.config.scenario import load_scenario
    from tests.conftest import SCENARIOS

    return load_scenario(SCENARIOS / "anca-2020.toml")


def fluid_abandoned(scenario) -> float:
    """Visitors who give up, as ``surge plan`` predicts them (the fluid model)."""
    from sim.analysis.sizing import fluid_losses, workload

    app, v = scenario.site.app, scenario.visitors
    return fluid_losses(workload(scenario), servers=app.instances * app.workers,
                        queue_limit=app.queue_limit * app.instances, patience_mean_s=v.patience_s.mean,
                        retry_probability=v.retry.probability, patience_s=v.patience_s).visitors_abandoned


def simulated_abandoned(scenario, replications: int):
    """Each replication's visitors who gave up, replications 0..R-1 of the scenario's seed."""
    from sim.engine import simulate
    from sim.engine.dispatch import replication_seeds
    from sim.stats.summary import summarize

    for seed_seq in replication_seeds(scenario.run.seed, replications):
        yield summarize(simulate(scenario, seed_seq=seed_seq))["visitors"]["abandoned"]


def main(replications: int) -> None:
    scenario = anca()
    fluid = fluid_abandoned(scenario)
    runs = []
    for i, n in enumerate(simulated_abandoned(scenario, replications)):
        runs.append(n)
        print(f"replication {i}: {n} abandoned", flush=True)
    x = np.array(runs, dtype=float)
    sd = x.std(ddof=1) if len(x) > 1 else float("nan")
    print(f"simulation: mean {x.mean():.1f}, sd {sd:.1f} ({sd / x.mean():.2%}), sd of the mean "
          f"{sd / len(x) ** 0.5:.1f}")
    print(f"fluid model: {fluid:.1f}, {fluid / x.mean() - 1:+.2%} of the simulation's mean")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    main(int(sys.argv[1]))
