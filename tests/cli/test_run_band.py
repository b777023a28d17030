"""surge run of a calibrated site: the prediction band in summary.json, on the console, in the report."""

import csv
import json

import sim.engine.dispatch as dispatch
from sim.cli import main
from sim.output.summary import pct_text, time_text
from tests.analysis.band_case import HIGH, LOW, SCENARIO, SITE, calibrated


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_scenario_including_a_calibrated_site_reports_its_band_everywhere(tmp_path, capsys):
    calibrated(tmp_path)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.toml"), "--no-advise", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    s = json.loads((out / "summary.json").read_text())
    band = s["prediction_band"]
    assert band["capacity_at_ends_per_s"] == [HIGH, LOW] and band["partial"] is False
    fast, slow = band["page_response_s"]["p95"]
    assert fast < s["page_response_s"]["p95"] < slow
    # beside the point figures, in the console's own formats
    assert f"band p95 {time_text(fast)} to {time_text(slow)}, p99 " in printed.out
    lost = band["visitors"]["lost_fraction"]
    assert f"({pct_text(s['visitors']['lost_fraction'])}; band {pct_text(lost[0])} to {pct_text(lost[1])})" \
        in printed.out
    assert "prediction band (fast to slow)" in printed.out and "prediction band: the slow end" in printed.err
    # each end's time series beside the run's, in its columns and bins (surge compare reads them)
    point = _rows(out / "timeseries.csv")
    for end in ("fast", "slow"):
        rows = _rows(out / f"timeseries_band_{end}.csv")
        assert list(rows[0]) == list(point[0]) and len(rows) == len(point)
        assert [r["arrivals"] for r in rows] == [r["arrivals"] for r in point]  # the same visitors
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "<h2>Prediction band</h2>" in page and f"slow end ({LOW:.2f}/s)" in page
    assert f"<td>page response p95 (completed pages)</td><td class=\"n\">{time_text(fast)}</td>" in page


def test_run_site_with_a_calibration_gives_the_band_and_a_run_without_one_does_not(tmp_path, capsys):
    (tmp_path / "site.toml").write_text(SITE)
    (tmp_path / "plain.toml").write_text(SCENARIO.replace('include = "site.toml"\n', "")
                                         + "[site.app]\nworkers = 3\npage_s = 0.06\n")
    assert main(["run", str(tmp_path / "plain.toml"), "--no-advise", "--out", str(tmp_path / "a")]) == 0
    printed = capsys.readouterr().out
    assert "; band " not in printed and "prediction band" not in printed
    assert "prediction_band" not in json.loads((tmp_path / "a" / "summary.json").read_text())
    assert not list((tmp_path / "a").glob("timeseries_band_*"))
    assert main(["run", str(tmp_path / "plain.toml"), "--site", str(tmp_path / "site.toml"), "--no-advise",
                 "--out", str(tmp_path / "b")]) == 0
    band = json.loads((tmp_path / "b" / "summary.json").read_text())["prediction_band"]
    assert band["capacity_per_s"] == 46.7 and len(band["page_response_s"]["p95"]) == 2


def test_ctrl_c_during_the_band_keeps_what_was_computed_marked_partial(tmp_path, capsys, monkeypatch):
    calibrated(tmp_path)
    simulate, calls = dispatch.simulate, []

    def interrupted_at_the_slow_end(scenario, **kw):
        calls.append(scenario.site.app.page_s.mean)
        if len(calls) == 3:  # the point, the fast end, then Ctrl-C as the slow end starts
            raise KeyboardInterrupt
        return simulate(scenario, **kw)

    monkeypatch.setattr(dispatch, "simulate", interrupted_at_the_slow_end)
    code = main(["run", str(tmp_path / "s.toml"), "--no-advise", "--out", str(tmp_path / "o")])
    assert code == 130
    err = capsys.readouterr().err
    assert "the prediction band stopped early (interrupted); its figures are partial" in err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["partial"] is False and s["prediction_band"]["partial"] is True
    fast, slow = s["prediction_band"]["page_response_s"]["p95"]
    assert fast < s["page_response_s"]["p95"] and slow is None
    assert main(["report", str(tmp_path / "o")]) == 0
    page = (tmp_path / "o" / "report.html").read_text()
    assert "The band is partial" in page and "PARTIAL: stopped early" in page
