"""The instant plan against theory and against the simulation."""

import pytest

from sim.analysis import theory
from sim.analysis.capacity import least_capacity, load_table, parse_vary, plan_points
from sim.analysis.runner import run_points
from sim.cli import main
from sim.analysis.sizing import least_workers, workload
from sim.config.scenario import load_scenario
from sim.analysis.slo import parse_slo
from tests.conftest import SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")


def test_workload_of_steady_is_the_textbook_queue():
    load = workload(load_scenario(STEADY))
    assert load.requests_per_visitor == 1 and load.work_s == pytest.approx(1.0)
    assert load.visitors_per_s.max() == pytest.approx(9.0)


@pytest.mark.parametrize("slo, t_s, eps", [("wait_p95<=0.7s", 0.7, 0.05), ("wait_p99<=1.5s", 1.5, 0.01)])
def test_plan_and_sweep_agree_on_least_workers(slo, t_s, eps):
    (objective,) = parse_slo(slo)
    planned = least_workers(workload(load_scenario(STEADY)), objective)
    assert planned == theory.min_servers_erlang_c(9.0, 1.0, wait_s=t_s, max_p=eps)
    points = plan_points(load_table(STEADY), STEADY, [parse_vary(f"site.app.workers={planned - 1}:{planned + 1}")])
    rows = run_points(points, replications=4, seed=None, engine="reference", jobs=2, dask_address=None,
                      progress=lambda *_: None)
    (answer,) = least_capacity(rows, "site.app.workers", [], [objective])
    assert answer["least"] == planned


def test_plan_command(capsys, tmp_path):
    assert main(["plan", str(SCENARIOS / "anca-2020.toml"), "--slo", "p95<2s"]) == 0
    out = capsys.readouterr().out
    assert "least workers for p95<2s" in out and "visitors who give up" in out
    assert main(["plan", STEADY, "--slo", "errors<1%"]) == 2
    assert "--slo: the plan sizes for" in capsys.readouterr().err


def test_a_site_the_visitors_give_no_work_needs_one_worker(tmp_path):
    path = tmp_path / "zero.toml"
    path.write_text("[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 10\n[site.app]\npage_s = 0\n")
    load = workload(load_scenario(path))
    assert load.work_s == 0
    assert least_workers(load, parse_slo("p95<2s")[0]) == 1  # not a ZeroDivisionError


def test_the_fluid_model_ends_when_its_queue_drains_below_the_floats_resolution():
    """Draw 17 of signature-queue.toml's ranges drains its queue to 3e-323: a step of 0 s, which
    never ended its bin. It must finish (a thread, so a regression fails here instead of hanging)."""
    import threading

    from sim.analysis.risk import plan_draws, read_uncertain
    from sim.analysis.screen import draw_figures
    from sim.config.scenario import parse_scenario, read_scenario_table

    path = str(SCENARIOS / "mitigations" / "signature-queue.toml")
    table = read_scenario_table(path)
    seed = parse_scenario(table, path=path).run.seed
    point = plan_draws(table, path, read_uncertain(table, path), slo="lost_actions<1%", draws=20, seed=seed)[17]
    got = {}
    worker = threading.Thread(target=lambda: got.update(draw_figures(point)), daemon=True)
    worker.start()
    worker.join(30)  # about 0.4 s when it ends
    assert not worker.is_alive() and 0 <= got["lost_actions_fraction"] <= 1
