"""``surge profile SCENARIO --compare TRACE.csv``: the profile against an observed trace."""

import csv
import json

import numpy as np
import pytest

from sim.cli import main
from sim.config.scenario import load_scenario
from sim.traffic.profile import build_profile
from tests.conftest import SCENARIOS

GENTLE = SCENARIOS / "gentle.toml"  # 24 h, one exponential share at 2 h


def write_trace(path, *, hours: float = 24, interval_s: float = 3600, seed: int = 5):
    """The scenario's own expected visitors per interval, with Poisson noise; returns the counts written."""
    profile = build_profile(load_scenario(GENTLE))
    edges = np.arange(0.0, hours * 3600 + 1, interval_s)
    counts = np.random.default_rng(seed).poisson(np.diff(profile.cumulative(edges)))
    with open(path, "w") as f:
        f.write("start,visitors\n")
        f.writelines(f"{t:g},{c}\n" for t, c in zip(edges[:-1], counts))
    return counts


def test_compare_prints_writes_csv_png_and_json(tmp_path, capsys):
    trace, out = tmp_path / "trace.csv", tmp_path / "out"
    counts = write_trace(trace)
    assert main(["profile", str(GENTLE), "--compare", str(trace), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for words in ("observed visitors", "expected visitors", "observed / expected", "R\u00b2 of the counts",
                  "Poisson deviance", "peak interval, observed", "peak interval, expected",
                  "24 intervals (1 h each)", "compare.csv, compare.png"):
        assert words in text, words
    assert "overlap" not in text  # the trace is within the run
    with open(out / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["t_start_s", "t_end_s", "observed", "expected"]
    assert [float(r["observed"]) for r in rows] == list(counts)
    assert [float(r["t_start_s"]) for r in rows] == [3600.0 * i for i in range(24)]
    assert float(rows[-1]["t_end_s"]) == 86400
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "profile.png").exists() and (out / "profile.csv").exists()
    fig = json.loads((out / "profile.json").read_text())
    assert "visitors_total" in fig and "peak_rate_per_s" in fig  # the profile's keys stay as they were
    c = fig["compare"]
    assert c["trace"] == str(trace) and c["intervals"] == 24 and c["truncated_to_run"] is False
    assert c["observed_total"] == float(counts.sum())
    assert c["expected_total"] == pytest.approx(fig["visitors_total"], rel=1e-9)
    assert c["r_squared"] > 0.99 and 0.2 < c["poisson_deviance_per_interval"] < 3
    assert c["peak_observed_at_s"] == c["peak_expected_at_s"] == 7200  # the share's hour
    assert sum(float(r["expected"]) for r in rows) == pytest.approx(c["expected_total"], rel=1e-9)


def test_compare_without_out_prints_only(tmp_path, capsys, monkeypatch):
    trace = tmp_path / "trace.csv"
    write_trace(trace)
    monkeypatch.chdir(tmp_path)
    assert main(["profile", str(GENTLE), "--compare", str(trace)]) == 0
    assert "observed / expected" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.csv"]


def test_a_trace_past_the_run_is_compared_over_the_overlap_and_says_so(tmp_path, capsys):
    trace, out = tmp_path / "trace.csv", tmp_path / "out"
    write_trace(trace, hours=36)
    assert main(["profile", str(GENTLE), "--compare", str(trace), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "the trace runs to 36 h, past the run's 24 h: compared only the overlap" in text
    with open(out / "compare.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 24
    c = json.loads((out / "profile.json").read_text())["compare"]
    assert c["truncated_to_run"] is True and (c["intervals"], c["trace_intervals"]) == (24, 36)


def test_a_missing_trace_exits_2_with_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    out = tmp_path / "out"
    assert main(["profile", str(GENTLE), "--compare", str(missing), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert str(missing) in captured.err and captured.err.startswith("--compare: ")
    assert not out.exists()  # refused before any work


@pytest.mark.parametrize("text, words", [
    ("start,visitors\n0,12\n3600,many\n", "line 3: visitors must be a number"),
    ("start,visitors\n0,12\n", "needs a header and at least 2 rows"),
    ("start,visitors\n0,12\n90000,5\n", "no interval to compare"),  # the first interval ends after the 24 h run
])
def test_a_bad_trace_exits_2_with_one_line_naming_it(tmp_path, capsys, text, words):
    trace, out = tmp_path / "bad.csv", tmp_path / "out"
    trace.write_text(text)
    assert main(["profile", str(GENTLE), "--compare", str(trace), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not out.exists()  # refused before any work
    err = captured.err
    assert err.count("\n") == 1 and str(trace) in err and words in err, err
