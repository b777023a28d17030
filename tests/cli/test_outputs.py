"""Every command's --out is created and proven writable before any work (sim/cli/outputs.py, sim/files.py)."""

import json
import time

import pytest

from sim.cli import main
from tests.conftest import SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")


def _folders(tmp_path):
    """A run folder and a load-test folder of the same scenario, as surge compare reads them."""
    sim, lt = tmp_path / "sim", tmp_path / "lt"
    series = "bin_start_s,bin_end_s,arrivals,completed,p50_s,p95_s,rejected,timed_out\n0,60,1,1,0.1,0.2,0,0\n"
    for folder, summary in ((sim, {"scenario": "steady", "time_scale": 1, "scale": 1,
                                   "page_response_s": {"p50": 0.1, "p95": 0.2}}),
                            (lt, {"scenario": "steady", "kind": "loadtest", "plan": {"time_scale": 1, "scale": 1},
                                  "page_response_s": {"p50": 0.1, "p95": 0.2}})):
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "timeseries.csv").write_text(series)
    return sim, lt


COMMANDS = {
    "run": lambda tmp, out: ["run", STEADY, "--out", out],
    "profile": lambda tmp, out: ["profile", STEADY, "--out", out],
    "sweep": lambda tmp, out: ["sweep", STEADY, "--vary", "site.app.workers=10:11", "--out", out],
    "loadtest": lambda tmp, out: ["loadtest", STEADY, "--host", "http://127.0.0.1:9", "--out", out],
    "calibrate": lambda tmp, out: ["calibrate", "--host", "http://127.0.0.1:9", "--out", out + "/site.toml"],
    "compare": lambda tmp, out: ["compare", *map(str, _folders(tmp)), "--out", out],
    "report": lambda tmp, out: ["report", str(_folders(tmp)[0]), "--out", out + "/report.html"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_out_with_a_file_in_the_way_is_refused_before_any_work(command, tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    started = time.perf_counter()
    assert main(COMMANDS[command](tmp_path, str(taken))) == 2
    took = time.perf_counter() - started
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was run, printed or written
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"--out: cannot write to {taken}") and err.endswith("it is a file, not a folder"), err
    assert took < 5 and taken.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["run", "profile", "sweep", "compare"])
def test_an_out_that_cannot_be_created_is_refused(command, tmp_path, capsys):
    assert main(COMMANDS[command](tmp_path, "/proc/surge-cannot-be-here")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("--out: cannot write to /proc/surge-cannot-be-here: ")


def test_a_good_out_is_created_before_the_run(tmp_path, monkeypatch, capsys):
    import sim.cli.run as run_command

    out = tmp_path / "a" / "b"
    seen = {}

    def simulate_replications(*args, **kwargs):
        seen["out_exists"] = out.is_dir()
        raise KeyboardInterrupt  # stop here: the folder was made before any simulating

    monkeypatch.setattr(run_command, "simulate_replications", simulate_replications)
    with pytest.raises(KeyboardInterrupt):
        run_command.run(run_command_args(STEADY, out))
    assert seen == {"out_exists": True} and list(out.iterdir()) == []  # the write check left nothing behind


def run_command_args(scenario, out):
    from sim.cli import build_parser

    return build_parser().parse_args(["run", scenario, "--out", str(out)])
