import csv
import json

import pytest

from sim.cli import build_parser, main
from sim.traffic.journey import per_visitor
from sim.config.scenario import load_scenario
from tests.conftest import SCENARIOS

PROFILE_KEYS = ["baseline_rate_per_s", "peak_rate_per_s", "peak_at_s", "visitors_total", "page_views_total",
                "requests_total", "origin_requests_total"]


def test_profile_writes_csv_json_and_png(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["profile", str(SCENARIOS / "anca-2020.toml"), "--out", str(out), "--log"]) == 0
    text = capsys.readouterr().out
    assert "peak rate" in text and "origin requests" in text
    fig = json.loads((out / "profile.json").read_text())
    for key in PROFILE_KEYS:
        assert isinstance(fig[key], float), key
    with open(out / "profile.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 48 * 60
    assert sum(float(r["visitors"]) for r in rows) == pytest.approx(fig["visitors_total"], rel=1e-4)
    assert (out / "profile.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_totals_in_three_units():
    sc = load_scenario(SCENARIOS / "anca-2020.toml")
    per = per_visitor(sc)
    v = sc.visitors
    assert per.page_views == pytest.approx(v.pages_per_visit + v.action_rate)
    assert per.requests == pytest.approx(per.page_views * 70 + v.action_rate)
    # dynamic HTML misses, assets hit 95 %, submits always reach the origin
    assert per.origin_requests == pytest.approx(per.page_views * (1 + 69 * 0.05) + v.action_rate)


def test_every_subcommand_has_complete_help(capsys):
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    sub_actions = [a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name, parser in sub_actions.choices.items():
        assert name in top
        assert main([name, "--help"]) == 0
        text = capsys.readouterr().out
        for action in parser._actions:
            assert action.help, f"{name} {action.dest} has no help"
            for flag in action.option_strings:
                assert flag in text


def test_profile_without_out_prints_only(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["profile", str(SCENARIOS / "steady.toml")]) == 0
    assert "32,400" in capsys.readouterr().out  # 9 visitors/s for an hour
    assert list(tmp_path.iterdir()) == []
