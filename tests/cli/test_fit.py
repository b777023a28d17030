"""surge fit: a trace in, a scenario out that the other commands read; bad input is one line, exit 2."""

from datetime import datetime, timedelta

import numpy as np

from sim.cli import main
from sim.config.scenario import load_scenario
from sim.traffic.profile import build_profile
from tests.analysis.fit_spread import synthetic
from tests.conftest import SCENARIOS


def _trace_csv(path, case="second-wave", seed=2):
    edges, mu = synthetic(case)
    y = np.random.default_rng(seed).poisson(mu)
    t0 = datetime(2020, 9, 29, 17, 0)  # an analytics export's ISO times: the clock hour comes from them
    lines = ["hour,visitors"] + [f"{(t0 + timedelta(seconds=float(e))).isoformat()},{c}" for e, c in zip(edges, y)]
    path.write_text("\n".join(lines) + "\n")
    return path, edges, y


def test_fit_writes_a_scenario_that_profile_reads_and_prints_the_table(tmp_path, capsys):
    trace, edges, y = _trace_csv(tmp_path / "last-surge.csv")
    out = tmp_path / "fitted" / "fitted.toml"
    assert main(["fit", str(trace), "--out", str(out), "--like", str(SCENARIOS / "anca-2020.toml")]) == 0
    printed = capsys.readouterr().out
    for words in ("baseline per day", "peak", "share 1", "share 2", "surge visitors", "R^2"):
        assert words in printed
    text = out.read_text()
    assert text.startswith('include = "') and "# Poisson fit" in text and "95 % interval" in text
    assert "[uncertain" in text  # the fitted intervals as ranges, by default
    sc = load_scenario(out)
    assert sc.traffic.start_hour == 17 and sc.run.duration_s == edges[-1] and len(sc.traffic.shares) == 2
    assert sc.site.app.instances == load_scenario(SCENARIOS / "anca-2020.toml").site.app.instances  # from --like
    expected = np.diff(build_profile(sc).cumulative(edges))
    assert abs(expected.sum() - y.sum()) / y.sum() < 0.01  # a Poisson fit keeps the total
    assert main(["profile", str(out)]) == 0


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    trace, _, _ = _trace_csv(tmp_path / "t.csv")
    long = tmp_path / "long.csv"
    long.write_text("t,visitors\n0,5\n2000000,7\n")  # two intervals of 23 d: 46 d, more than a run's month
    cases = [
        (["fit", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "a.toml")], "cannot read trace"),
        (["fit", str(long), "--out", str(tmp_path / "a.toml")], "spans 46.3 d"),
        (["fit", str(trace), "--out", str(tmp_path / "a.toml"), "--start-hour", "25"], "--start-hour"),
        (["fit", str(trace), "--out", str(tmp_path / "a.toml"), "--max-shares", "-2"], "--max-shares"),
        (["fit", str(trace), "--out", str(tmp_path / "a.toml"), "--like", str(tmp_path / "nope.toml")], "nope.toml"),
        (["fit", str(trace), "--out", str(trace / "x.toml")], "--out"),
    ]
    for argv, words in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err


def _figure(printed: str, label: str) -> int:
    return int(printed.split(label, 1)[1].split()[0].replace(",", ""))


def test_fit_of_a_real_burst_says_what_it_is_and_writes_its_ranges(tmp_path, capsys):
    # A window of a real series (scenarios/traces/README.md): 486 and 605 tweets in two 5-minute intervals
    # over a baseline near 40, and no tail.
    out = tmp_path / "burst.toml"
    trace = SCENARIOS / "traces" / "nab-amzn-2015-04-06-burst.csv"
    assert main(["fit", str(trace), "--out", str(out), "--max-shares", "1", "--ranges"]) == 0
    printed = capsys.readouterr().out
    share = printed.split("share 1", 1)[1].split("\n", 1)[0]
    assert "a burst with no tail" in share and "a small share by the evidence: 605 counted" in printed
    assert " d " not in share  # no half-time of days, let alone ten billion of them
    # the headline is what was counted plus what was extrapolated, each on its row; all counted here,
    # and the count lies in the 95 % interval printed for the share's visitors
    counted, extrapolated = _figure(printed, "  counted"), _figure(printed, "  extrapolated")
    assert extrapolated == 0 and _figure(printed, "surge visitors") == counted
    low, high = (int(v.replace(",", "")) for v in share.split("(")[-1].rstrip(")").split(" to "))
    assert low <= counted <= high
    text = out.read_text()
    assert '[uncertain."traffic.shares.0.visitors"]' in text and 'dist = "lognormal"' in text
    assert "surge fit of nab-amzn-2015-04-06-burst.csv: 90 % interval" in text
