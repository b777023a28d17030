import numpy as np
import pytest

from sim.traffic.arrivals import sample_arrivals
from sim.errors import ConfigError
from sim.traffic.profile import build_profile
from sim.config.scenario import load_scenario
from sim.config.trace import read_trace


def _write(tmp_path, rows, header="start,visitors"):
    path = tmp_path / "trace.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_trace_replays_back_to_its_own_counts(tmp_path, write_scenario):
    counts = [120, 80, 4000, 2500, 900, 300]
    _write(tmp_path, [f"{600 * i},{c}" for i, c in enumerate(counts)])
    sc = load_scenario(write_scenario('[run]\nduration_s = 3600\n[traffic]\ntrace = "trace.csv"\n'))
    profile = build_profile(sc)
    edges, expected = profile.binned(600)
    assert np.allclose(expected, counts, rtol=1e-12)
    arrivals = sample_arrivals(profile, np.random.default_rng(4))
    observed, _ = np.histogram(arrivals, edges)
    z = (observed - np.asarray(counts)) / np.sqrt(counts)
    assert np.max(np.abs(z)) < 4.5
    assert profile.summary().peak_rate_per_s == pytest.approx(4000 / 600)


def test_iso_timestamps_and_uneven_intervals(tmp_path):
    path = _write(tmp_path, ["2020-09-29T17:00:00,10", "2020-09-29T17:30:00,50", "2020-09-29T19:30:00,20"],
                  header="time,visits")
    trace = read_trace(path)
    assert list(trace.edges_s) == [0, 1800, 9000, 16_200]
    assert float(trace.cumulative(1800 + 3600)) == pytest.approx(10 + 25)  # half of the 2 h interval
    assert float(trace.rate_per_s(-1)) == 0 and float(trace.rate_per_s(16_200)) == 0


@pytest.mark.parametrize("rows, message", [
    (["0,10"], "at least 2 rows"),
    (["0,10", "60,-3"], "line 3: visitors must be >= 0"),
    (["0,10", "60,many"], "line 3: visitors must be a number"),
    (["0,10", "0,5"], "line 3: start must increase"),
    (["0,10", "yesterday,5"], "line 3: start must be seconds or an ISO 8601 time"),
    (["0,10", "60"], "line 3: needs 2 columns"),
])
def test_bad_trace_rows_are_named(tmp_path, rows, message):
    with pytest.raises(ConfigError, match=message):
        read_trace(_write(tmp_path, rows))
