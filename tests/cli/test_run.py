import csv
import json
import math

import pytest
import simpy

from sim.cli import main
from sim.stats.summary import TIMESERIES_COLUMNS

SMALL = """
name = "small"
[run]
duration_s = 900
warmup_s = 60
seed = 9
bin_s = 60
[traffic]
constant_per_s = 3.0
[[traffic.shares]]
at_s = 300
followers = 1e5
reach = 0.2
click_through = 0.05
reshare_factor = 1.2
decay = { kernel = "exponential", half_life_s = 120 }
[visitors]
pages_per_visit = 1.5
requests_per_page = 10
think_s = { dist = "exponential", mean = 5 }
action_rate = 0.2
patience_s = { dist = "lognormal", median = 3, sigma = 1 }
[visitors.retry]
probability = 0.5
delay_s = 2
max = 2
[site.cdn]
hit_ratio = 0.8
html_hit_ratio = 0
[site.app]
instances = 2
workers = 2
queue_limit = 20
balancer = "least_connections"
page_s = { dist = "exponential", mean = 0.2 }
asset_s = { dist = "exponential", mean = 0.01 }
submit_s = { dist = "exponential", mean = 0.5 }
timeout_s = 10
[site.db]
connections = 2
query_s = { dist = "exponential", mean = 0.02 }
queries_per_page = 1
queries_per_submit = 3
"""

AUTOSCALE = """
[site.autoscale]
metric = "utilization"
target = 0.5
period_s = 15
warmup_s = 30
min = 2
max = 8
step = 2
cooldown_s = 120
[site.waiting_room]
active_limit = 150
session_s = 30
queue_patience_s = { dist = "exponential", mean = 60 }
"""

SUMMARY_KEYS = [
    "visitors.arrived", "visitors.served", "visitors.abandoned", "visitors.failed", "requests.arrived",
    "requests.completed", "requests.rejected", "requests.timed_out", "requests.abandoned", "wait_s.mean",
    "wait_s.p50", "wait_s.p95", "wait_s.p99", "response_s.mean", "response_s.p50", "response_s.p95",
    "response_s.p99", "actions.attempted", "actions.completed", "actions.lost", "utilization.app",
    "utilization.db", "in_system.app",
]


def _get(summary, dotted):
    for part in dotted.split("."):
        summary = summary[part]
    return summary


def test_run_writes_summary_timeseries_and_plots(write_scenario, tmp_path, capsys):
    path = write_scenario(SMALL + AUTOSCALE)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "visitors lost" in text and "actions lost" in text and "p95" in text
    summary = json.loads((out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert isinstance(_get(summary, key), (int, float)), key
    assert summary["partial"] is False
    with open(out / "timeseries.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == TIMESERIES_COLUMNS and len(rows) == 15
    assert sum(int(r["arrivals"]) for r in rows) >= summary["visitors"]["arrived"]
    assert max(float(r["instances"]) for r in rows) > 2  # the surge made it scale out
    for name in ("latency.png", "throughput.png", "queue.png", "instances.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def _height_px(path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[1]


def test_figures_zoom_to_the_surge_with_the_whole_run_below(write_scenario, tmp_path):
    # The share at 300 s of a 900 s run decays (half-life 120 s) long before the end: each figure shows its
    # window above a whole-run panel, 1.6 in taller at 110 dpi (176 px) than the same run without the share,
    # which is drawn whole (latency.png and throughput.png: queue.png's panels also follow what waited).
    out, flat = tmp_path / "out", tmp_path / "flat"
    assert main(["run", str(write_scenario(SMALL)), "--out", str(out)]) == 0
    no_share = SMALL[:SMALL.index("[[traffic.shares]]")] + SMALL[SMALL.index("[visitors]"):]
    assert main(["run", str(write_scenario(no_share)), "--out", str(flat)]) == 0
    for name in ("latency.png", "throughput.png"):
        assert _height_px(out / name) - _height_px(flat / name) == 176, name


def test_replications_add_confidence_half_widths(write_scenario, tmp_path):
    path = write_scenario(SMALL)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--replications", "3", "--seed", "4"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replications"] == 3 and summary["seed"] == 4
    for key in SUMMARY_KEYS:
        ci = _get(summary, key + "_ci")
        assert ci is None or ci >= 0, key  # null where a figure is undefined
    assert summary["visitors"]["arrived_ci"] > 0


@pytest.mark.parametrize("argv, message", [
    (["--replications", "0"], "--replications: must be >= 1, got 0"),
    (["--seed", "-1"], "--seed: must be >= 0, got -1"),
    (["--time-scale", "1e-9"], "--time-scale: makes run.duration_s = 900 last 9e+11 s, more than 2.6784e+06 "
                               "(surge's limit, see docs/scenario-format.md#limits), got 1e-09"),
    (["--slo", "p95<2"], "--slo: 'p95<2': a time needs a unit, s or ms"),
])
def test_bad_flags(write_scenario, capsys, argv, message):
    path = write_scenario(SMALL)
    assert main(["run", str(path), *argv]) == 2
    assert capsys.readouterr().err.strip() == message


def test_interrupt_midway_still_writes_partial_results(write_scenario, tmp_path, monkeypatch, capsys):
    path = write_scenario(SMALL)
    real_run = simpy.Environment.run
    calls = {"n": 0}

    def run_then_interrupt(self, until=None):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_run(self, until)

    monkeypatch.setattr(simpy.Environment, "run", run_then_interrupt)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--engine", "reference"]) == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and 0 < summary["end_s"] < 900
    assert summary["visitors"]["arrived"] > 0
    assert "PARTIAL" in capsys.readouterr().out


def test_interrupt_midway_on_the_default_engine_still_writes_partial_results(write_scenario, tmp_path, monkeypatch,
                                                                             capsys):
    from sim.engine.compiled import driver as fast_jit

    path = write_scenario(SMALL)
    real = fast_jit._Loop.run_until
    calls = {"n": 0}

    def run_then_interrupt(self, until, next_window):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(self, until, next_window)

    monkeypatch.setattr(fast_jit._Loop, "run_until", run_then_interrupt)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 130  # auto: the compiled loop
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True and 0 < summary["end_s"] < 900
    assert summary["visitors"]["arrived"] > 0 and calls["n"] == 5
    assert "PARTIAL" in capsys.readouterr().out


def test_a_scenario_without_app_counts_requests(write_scenario, capsys):
    path = write_scenario("[run]\nduration_s = 60\n[traffic]\nconstant_per_s = 2\n")
    assert main(["run", str(path)]) == 0
    assert "no [site.app]" in capsys.readouterr().err


def test_replications_are_bounded(write_scenario, capsys):
    path = write_scenario(SMALL)
    assert main(["run", str(path), "--replications", "1000000000"]) == 2  # spawning 1e9 seeds would not end
    assert capsys.readouterr().err == ("--replications: must be <= 1000 (surge's limit, see "
                                       "docs/scenario-format.md#limits), got 1000000000\n")
