"""surge run --time-scale/--scale/--site models a load test; surge compare lays the two side by side."""

import csv
import json

import numpy as np

from sim.cli import main
from tests.conftest import SCENARIOS

SITE = """[site.app]
instances = 1
workers = 4
queue_limit = 64
page_s = { dist = "exponential", mean = 0.02 }
asset_s = { dist = "exponential", mean = 0.02 }
"""


def test_predicted_and_measured_line_up(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text((SCENARIOS / "gentle.toml").read_text())
    (tmp_path / "site.toml").write_text(SITE)
    flags = ["--time-scale", "240", "--scale", "0.02"]  # 24 h in 6 min would be long: play 1 h of it
    measured, predicted, out = tmp_path / "m", tmp_path / "p", tmp_path / "c"
    assert main(["loadtest", str(scenario), *flags, "--duration-s", "15", "--out", str(measured)]) == 0
    run_scenario = tmp_path / "short.toml"
    run_scenario.write_text(scenario.read_text().replace("duration_s = 86400", "duration_s = 3600"))
    assert main(["run", str(run_scenario), *flags, "--site", str(tmp_path / "site.toml"), "--out", str(predicted)]) == 0
    p = json.loads((predicted / "summary.json").read_text())
    assert p["time_scale"] == 240 and p["scale"] == 0.02
    assert p["requests"]["cdn_hits"] > 0  # --site replaced [site.app] only: the scenario's CDN stays
    assert main(["compare", str(predicted), str(measured), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "predicted vs measured" in text and "p95" in text
    with open(out / "compare.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60  # one hour of 60 s bins
    pred = np.array([float(r["arrivals_predicted"]) for r in rows])
    meas = np.array([float(r["arrivals_measured"]) for r in rows])
    # two independent draws of the same Poisson process: totals within noise of each other
    assert abs(pred.sum() - meas.sum()) < 4 * np.sqrt(pred.sum() + meas.sum())
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_refuses_different_scales(tmp_path, capsys):
    sim, lt = tmp_path / "sim", tmp_path / "lt"
    for folder, summary in ((sim, {"time_scale": 1, "scale": 1}),
                            (lt, {"kind": "loadtest", "plan": {"time_scale": 144, "scale": 0.001}})):
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "timeseries.csv").write_text("bin_start_s,bin_end_s,arrivals\n0,60,1\n")
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o")]) == 2
    assert "same --time-scale and --scale" in capsys.readouterr().err


def test_bad_site_file(tmp_path, capsys):
    (tmp_path / "site.toml").write_text("[site.app]\nworkers = 0\npage_s = 1\n")
    assert main(["run", str(SCENARIOS / "steady.toml"), "--site", str(tmp_path / "site.toml")]) == 2
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'site.toml'}: site.app.workers: must be a whole number >= 1, got 0"


def _folders(tmp_path, sim_scenario, lt_scenario):
    sim, lt = tmp_path / "sim", tmp_path / "lt"
    series = "bin_start_s,bin_end_s,arrivals,completed,p50_s,p95_s,rejected,timed_out\n0,60,1,1,0.1,0.2,0,0\n"
    for folder, summary in ((sim, {"scenario": sim_scenario, "time_scale": 1, "scale": 1}),
                            (lt, {"scenario": lt_scenario, "kind": "loadtest", "plan": {"time_scale": 1, "scale": 1}})):
        folder.mkdir()
        summary["page_response_s"] = {"p50": 0.1, "p95": 0.2}
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "timeseries.csv").write_text(series)
    return sim, lt


def test_compare_refuses_two_different_scenarios_unless_forced(tmp_path, capsys):
    sim, lt = _folders(tmp_path, "gentle", "campaign")
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == (f"LOADTEST_DIR: {lt} is a load test of scenario 'campaign', but {sim} is a run of 'gentle': "
                   "compare the same scenario (or pass --force)\n")
    assert not (tmp_path / "o").exists()
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o"), "--force"]) == 0


def test_a_scenario_named_by_its_path_is_the_same_whichever_way_the_path_is_written(tmp_path, capsys):
    # surge run names an unnamed scenario by the path it was given; the load test by the resolved path
    sim, lt = _folders(tmp_path, "x.toml", str(tmp_path / "x.toml"))
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o")]) == 0


def test_a_folder_whose_files_are_not_utf8_is_one_line(tmp_path, capsys):
    sim, lt = _folders(tmp_path, "gentle", "gentle")
    (lt / "summary.json").write_bytes('{"scenario": "caf\xe9"}'.encode("latin-1"))
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"LOADTEST_DIR: {lt} is not a surge output folder: ")


def test_no_bin_is_dropped_and_disagreement_is_said(tmp_path, capsys):
    sim, lt = _folders(tmp_path, "gentle", "gentle")
    header = "bin_start_s,bin_end_s,arrivals,completed,p50_s,p95_s,rejected,timed_out\n"
    (sim / "timeseries.csv").write_text(header + "".join(f"{i * 60},{i * 60 + 60},100,100,0.1,0.2,0,0\n" for i in range(4)))
    (lt / "timeseries.csv").write_text(header + "".join(f"{i * 60},{i * 60 + 60},100,{c},0.1,0.2,0,0\n"
                                                        for i, c in enumerate([100, 100, 30])))
    assert main(["compare", str(sim), str(lt), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "3 bins paired" in out and "the prediction has 1 bins more" in out
    assert "predicted 400, measured 300" in out  # arrivals over the whole of each run
    assert "page views served: measured below the prediction from 0:02 to 0:03" in out
    with open(tmp_path / "o" / "compare.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and rows[-1]["arrivals_measured"] == "" and rows[-1]["arrivals_predicted"] == "100"
