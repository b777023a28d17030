"""surge advise's --confidence, --draws, --seed and --dask flags: checked before anything runs, one line each, exit 2;
and --dask runs the variants on a Dask cluster to the same figures as in this process."""

import json
import math
import tomllib
import socket

import pytest

from sim.cli import main
from tests.cli.test_advise import TINY


RANGE = """
[uncertain."traffic.constant_per_s"]
dist = "uniform"
low = 5
high = 25
source = "a range for the test"
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _refused(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.2", "nan"])
def test_a_confidence_outside_0_1_is_one_line(value, tiny, tmp_path, capsys):
    err = _refused(["advise", str(tiny), "--confidence", value, "--out", str(tmp_path / "a")], capsys)
    assert err.startswith("--confidence: must be within (0, 1)") and value in err
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("flag", ["--draws", "--seed"])
def test_the_draws_flags_without_confidence_are_one_line(flag, tiny, tmp_path, capsys):
    err = _refused(["advise", str(tiny), flag, "40", "--out", str(tmp_path / "a")], capsys)
    assert err.startswith(f"{flag}: is for --confidence")


def test_a_dask_scheduler_that_cannot_be_reached_is_one_line(tiny, tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    err = _refused(["advise", str(tiny), "--dask", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "a")], capsys)
    assert err.startswith(f"--dask: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}")


def test_advise_on_a_dask_cluster_gives_the_rows_it_gives_here(tmp_path):
    import dask.distributed as distributed  # in the test extras: absent is a broken set-up, not a skip

    from sim.analysis.advise import Session, run_variant

    short = tmp_path / "short.toml"
    short.write_text(TINY.replace("duration_s = 600", "duration_s = 120"))
    out = tmp_path / "there"
    # Workers in this process (threads): the cluster starts in a second; the sweep's test covers worker processes.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address="127.0.0.1:0",
                                  host="127.0.0.1") as cluster:
        assert main(["advise", str(short), "--slo", "lost_actions<1%", "--engine", "fast", "--out", str(out),
                     "--dask", cluster.scheduler_address]) == 0
        ran_there = len(cluster.scheduler.task_prefixes["run_variant"].states) > 0
    assert ran_there
    there = {r["name"]: r for r in json.loads((out / "advise.json").read_text())["rows"]}
    # The same variants run here, one at a time in this process, give the same rows.
    session = Session(tomllib.loads(short.read_text()), str(short), slo="lost_actions<1%", engine="fast")
    for v in [session.variant(())] + [session.variant((m.key,)) for m in session.mitigations[:2]]:
        here = {k: None if isinstance(x, float) and math.isinf(x) else x  # JSON has no infinity: null
                for k, x in run_variant(v, 1, None, "fast").items()}
        assert {k: there[v.name][k] for k in here} == here


def test_confidence_on_a_scenario_without_ranges_is_one_line(tiny, tmp_path, capsys):
    err = _refused(["advise", str(tiny), "--confidence", "0.9", "--out", str(tmp_path / "a")], capsys)
    assert err.startswith(f"{tiny}: uncertain: --confidence needs the plausible surges")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("argv, start", [
    (["--draws", "0"], "--draws: must be within [1, "),
    (["--slo", "p99<2s"], "--slo: surge risk judges lost_actions, lost_visitors, p95, errors; not p99<2s"),
])
def test_bad_draws_and_an_slo_the_draws_cannot_judge_are_one_line(argv, start, tiny, tmp_path, capsys):
    ranged = tmp_path / "ranged.toml"
    ranged.write_text(TINY + RANGE)
    err = _refused(["advise", str(ranged), "--confidence", "0.9", *argv, "--out", str(tmp_path / "a")], capsys)
    assert err.startswith(start)
