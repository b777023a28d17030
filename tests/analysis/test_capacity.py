"""Sweeps: flags, common random numbers, determinism across --jobs, and the Erlang C staffing answer."""

import json

import numpy as np
import pytest

from sim.analysis import theory
from sim.analysis.capacity import least_capacity, load_table, parse_vary, plan_points
from sim.analysis.runner import run_points
from sim.cli import main
from sim.errors import ConfigError
from sim.analysis.slo import parse_slo
from tests.conftest import SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")


def test_vary_forms():
    assert parse_vary("site.app.instances=1:4").values == (1, 2, 3, 4)
    assert parse_vary("site.app.workers=2:10:4").values == (2, 6, 10)
    assert parse_vary("traffic.shares.0.followers=50e6,188e6").values == (50e6, 188e6)
    log = parse_vary("traffic.constant_per_s=log:1:100:3").values
    assert log == pytest.approx((1, 10, 100))


@pytest.mark.parametrize("spec, message", [
    ("site.app.instances", "write KEY=VALUES"),
    ("site.app.instances=4:1", "LAST >= FIRST"),
    ("site.app.instances=a,b", "'a' is not a number"),
    ("site.app.instances=log:0:10:3", "log ranges need"),
])
def test_bad_vary_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_vary(spec)


@pytest.mark.parametrize("spec, message", [
    ("site.app.instancs=1:3", "site.app.instancs = 1: unknown key (did you mean 'instances'?)"),
    ("site.app.workers=0:2", "site.app.workers = 0: must be a whole number >= 1"),
    ("traffic.shares.3.followers=1,2", "has no item 3"),
    ("site.app.balancer=1,2", "is not a number in the scenario"),
])
def test_bad_keys_fail_before_anything_runs(spec, message, capsys, tmp_path):
    scenario = STEADY if "shares" not in spec and "balancer" not in spec else str(SCENARIOS / "anca-2020.toml")
    assert main(["sweep", scenario, "--vary", spec, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("--vary: ") and message in err and "\n" not in err
    assert not (tmp_path / "s").exists()


def _short(tmp_path, text_replace=()):
    text = (SCENARIOS / "steady.toml").read_text().replace("duration_s = 3600", "duration_s = 900")
    for a, b in text_replace:
        text = text.replace(a, b)
    path = tmp_path / "short.toml"
    path.write_text(text)
    return str(path)


def test_results_do_not_depend_on_jobs_and_visitors_are_common(tmp_path):
    scenario = _short(tmp_path)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        assert main(["sweep", scenario, "--vary", "site.app.workers=9:12", "--jobs", jobs,
                     "--replications", "2", "--engine", "reference", "--out", str(out)]) == 0
        outs.append((out / "sweep.csv").read_text())
    assert outs[0] == outs[1]
    rows = outs[0].splitlines()
    header = rows[0].split(",")
    arrived = {r.split(",")[header.index("visitors.arrived")] for r in rows[1:]}
    assert len(arrived) == 1  # the same visitors meet every capacity


@pytest.fixture(scope="module")
def steady_sweep():
    points = plan_points(load_table(STEADY), STEADY, [parse_vary("site.app.workers=9:14")])
    return run_points(points, replications=4, seed=None, engine="reference", jobs=2, dask_address=None,
                      progress=lambda *_: None)


# (t, epsilon) chosen where theory separates c* - 1 and c* clearly (P(wait > t) / epsilon >= 2 and <= 0.65)
@pytest.mark.parametrize("t_s, eps, slo", [(1.0, 0.5, "wait_p50<=1s"), (0.7, 0.05, "wait_p95<=0.7s"),
                                           (1.5, 0.01, "wait_p99<=1.5s")])
def test_least_workers_matches_erlang_c(steady_sweep, t_s, eps, slo):
    (answer,) = least_capacity(steady_sweep, "site.app.workers", [], parse_slo(slo))
    assert answer["least"] == theory.min_servers_erlang_c(9.0, 1.0, wait_s=t_s, max_p=eps)


def test_more_workers_never_raise_p95_beyond_the_band(steady_sweep):
    rows = sorted(steady_sweep, key=lambda r: r["values"]["site.app.workers"])
    p95 = np.array([r["figures"]["page_response_s.p95"] for r in rows])
    ci = np.array([r["figures"]["page_response_s.p95_ci"] for r in rows])
    assert np.all(p95[1:] <= p95[:-1] + ci[1:] + ci[:-1])
    assert p95[0] > 2 * p95[-1]  # and the curve does fall: 9 workers at 9 erlangs is unstable


def test_sweep_command_marks_least_capacity(tmp_path, capsys):
    scenario = _short(tmp_path)
    out = tmp_path / "sw"
    assert main(["sweep", scenario, "--vary", "site.app.workers=10:13", "--vary", "traffic.constant_per_s=6,9",
                 "--slo", "wait_p95<=0.7s", "--jobs", "2", "--engine", "reference", "--out", str(out)]) == 0
    meta = json.loads((out / "sweep.json").read_text())
    assert meta["points"] == 8 and meta["partial"] is False
    least = {item["surge"]["traffic.constant_per_s"]: item["least"] for item in meta["least_capacity"]}
    assert least[9] == 12 and least[6] == 10
    text = capsys.readouterr().out
    assert "site.app.workers = 12" in text
    for name in ("p95.png", "lost_visitors.png", "lost_actions.png", "sweep.csv", "scenario.toml"):
        assert (out / name).exists()


def test_dask_cluster_gives_the_same_answer(tmp_path):
    import dask.distributed as distributed  # in the test extras: absent is a broken set-up, not a skip
    scenario = _short(tmp_path)
    local = tmp_path / "local"
    assert main(["sweep", scenario, "--vary", "site.app.workers=10:11", "--jobs", "1", "--engine", "reference",
                 "--out", str(local)]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                                  host="127.0.0.1") as cluster:
        remote = tmp_path / "dask"
        assert main(["sweep", scenario, "--vary", "site.app.workers=10:11", "--dask", cluster.scheduler_address,
                     "--engine", "reference", "--out", str(remote)]) == 0
    assert (local / "sweep.csv").read_text() == (remote / "sweep.csv").read_text()


# -- sizes checked before anything is built -----------------------------------------------------
def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


def test_a_huge_range_is_counted_before_a_value_is_made():
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"1e\+09 values is too many \(at most 10000"):
        parse_vary("site.app.workers=1:1000000000")
    took = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < 0.5 and peak < 1_000_000  # not 5.7 GB of values and then a MemoryError
    with pytest.raises(ConfigError, match="values is too many"):
        parse_vary("site.app.workers=log:1:100:20000")
    with pytest.raises(ConfigError, match="a range needs finite FIRST, LAST and STEP"):
        parse_vary("site.app.workers=1:inf")
    with pytest.raises(ConfigError, match="'nan' is not a number"):
        parse_vary("traffic.constant_per_s=1,nan")
    assert parse_vary("site.app.queue_limit=10,inf").values == (10, float("inf"))  # inf is a value, not a range


def test_the_points_of_a_sweep_are_counted_before_they_are_made(capsys, tmp_path):
    err = _one_line_exit_2(["sweep", STEADY, "--vary", "site.app.workers=1:200", "--vary",
                            "traffic.constant_per_s=1:100", "--out", str(tmp_path / "s")], capsys)
    assert err.startswith("--vary: 200 x 100 = 20000 points is too many (at most 10000")
    assert not (tmp_path / "s").exists()


def test_a_point_with_more_visitors_than_a_run_may_simulate_is_refused(capsys, tmp_path):
    err = _one_line_exit_2(["sweep", STEADY, "--vary", "traffic.constant_per_s=9,1e7", "--out", str(tmp_path / "s")],
                           capsys)
    assert err.startswith("--vary: traffic (at traffic.constant_per_s = 10000000.0): expects 3.6e+10 visitors")


def test_sweep_points_resolve_include_like_surge_run(tmp_path, capsys):
    (tmp_path / "site.toml").write_text("[site.app]\nworkers = 10\npage_s = { dist = \"exponential\", mean = 1.0 }\n")
    (tmp_path / "s.toml").write_text('include = "site.toml"\nname = "inc"\n[run]\nduration_s = 600\nseed = 3\n'
                                     "[traffic]\nconstant_per_s = 9.0\n")
    table = load_table(str(tmp_path / "s.toml"))
    assert table["site"]["app"]["workers"] == 10 and "include" not in table
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "s.toml"), "--vary", "site.app.workers=10:11", "--jobs", "1",
                 "--out", str(out)]) == 0
    assert json.loads((out / "sweep.json").read_text())["points"] == 2
    capsys.readouterr()
    (tmp_path / "site.toml").write_bytes("# caf\xe9\n".encode("latin-1"))
    err = _one_line_exit_2(["sweep", str(tmp_path / "s.toml"), "--vary", "site.app.workers=10:11",
                            "--out", str(out)], capsys)
    assert err.startswith(f"{tmp_path / 's.toml'}: include: {tmp_path / 'site.toml'} is not UTF-8 text")
