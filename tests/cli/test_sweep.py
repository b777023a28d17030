"""surge sweep's flags: checked at the top of the command, one line each, exit 2, before any point runs."""

import socket
import time

import pytest

from sim.cli import main
from sim.config.limits import max_processes
from tests.conftest import SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")


def _refused(argv, capsys) -> str:
    started = time.perf_counter()
    assert main(["sweep", STEADY, "--vary", "site.app.workers=10:11", *argv]) == 2
    took = time.perf_counter() - started
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert took < 10  # DASK_CONNECT_TIMEOUT_S at most, not the 30 s Dask waits
    return err.strip()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_a_dask_scheduler_that_cannot_be_reached_is_one_line(tmp_path, capsys):
    port = _closed_port()
    err = _refused(["--dask", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "s")], capsys)
    assert err.startswith(f"--dask: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 5 s:")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:abc", "tcp://:8786", "127.0.0.1"])
def test_a_dask_address_that_is_not_one_is_one_line(address, tmp_path, capsys):
    err = _refused(["--dask", address, "--out", str(tmp_path / "s")], capsys)
    assert err == f"--dask: must be a scheduler address like tcp://127.0.0.1:8786, got {address!r}"


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "999"], f"--jobs: must be within [1, {max_processes()}] (the cores), got 999"),
    (["--jobs", "0"], f"--jobs: must be within [1, {max_processes()}] (the cores), got 0"),
    (["--replications", "100000"], "--replications: must be <= 1000 (surge's limit, see "
                                   "docs/scenario-format.md#limits), got 100000"),
])
def test_sizes_given_as_flags_are_bounded(argv, message, tmp_path, capsys):
    assert _refused([*argv, "--out", str(tmp_path / "s")], capsys) == message


def test_an_out_that_is_a_file_is_refused_before_any_point_runs(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    err = _refused(["--out", str(tmp_path / "taken")], capsys)
    assert err == f"--out: cannot write to {tmp_path / 'taken'}: it is a file, not a folder"


def test_site_file_replaces_the_scenarios_site_at_every_point(tmp_path, capsys):
    """As surge run --site: 20 workers from the file instead of steady.toml's 10 halve the utilization."""
    scenario = tmp_path / "steady.toml"
    scenario.write_text((SCENARIOS / "steady.toml").read_text().replace("duration_s = 3600", "duration_s = 1200"))
    site = tmp_path / "site.toml"
    site.write_text('[site.app]\ninstances = 1\nworkers = 20\npage_s = { dist = "exponential", mean = 1.0 }\n')
    import json

    utilization = {}
    for name, extra in (("own", []), ("file", ["--site", str(site)])):
        out = tmp_path / name
        assert main(["sweep", str(scenario), "--vary", "traffic.constant_per_s=9", "--jobs", "1",
                     "--out", str(out), *extra]) == 0
        header, row = (out / "sweep.csv").read_text().splitlines()[:2]
        utilization[name] = float(dict(zip(header.split(","), row.split(",")))["utilization.app"])
        assert json.loads((out / "sweep.json").read_text())["partial"] is False
    # offered load 9 erlangs: 0.9 of 10 workers, 0.45 of 20 (within a few % over 900 s of arrivals)
    assert abs(utilization["own"] - 0.9) < 0.06 and abs(utilization["file"] - 0.45) < 0.03


def test_a_site_file_with_other_sections_is_refused(tmp_path, capsys):
    site = tmp_path / "site.toml"
    site.write_text("[run]\nduration_s = 10\n")
    err = _refused(["--site", str(site), "--out", str(tmp_path / "o")], capsys)
    assert err == f"--site: {site} must hold only a [site] section, got ['run']"

