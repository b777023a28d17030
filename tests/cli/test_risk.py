"""surge risk: what it prints and writes, the report's section, and its refusals (one line, exit 2)."""

import json

from sim.cli import main
from tests.conftest import ROOT, SCENARIOS

CASE = str(ROOT / "tests" / "analysis" / "risk_case.toml")


def test_surge_risk_prints_the_probability_and_writes_risk_json_the_figures_and_a_report(tmp_path, capsys):
    out = tmp_path / "risk"
    assert main(["risk", CASE, "--slo", "lost_actions<1%", "--draws", "40", "--jobs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    risk = json.loads((out / "risk.json").read_text())
    p, (lo, hi) = risk["probability_holds"], risk["probability_holds_ci"]
    assert 0 <= lo <= p <= hi <= 1 and risk["draws_count"] == 40 and not risk["partial"]
    assert risk["simulated"] + risk["screened"] == 40
    assert f"holds in {100 * p:.0f} % of the plausible surges (95 % interval {100 * lo:.0f}-{100 * hi:.0f} %)" \
        in printed
    assert {"probability_holds", "probability_holds_ci", "draws", "sensitivities", "slo", "seed",
            "lost_actions_fraction", "lost_visitors_fraction", "uncertain"} <= set(risk)
    draw = risk["draws"][0]
    assert set(draw["inputs"]) == {"traffic.shares.0.click_through", "visitors.action_rate",
                                   "visitors.patience_s.median"}
    assert draw["how"] in ("simulated", "screened") and isinstance(draw["holds"], bool)
    # the share of draws that hold is the probability printed
    assert sum(d["holds"] for d in risk["draws"]) / 40 == p
    assert risk["sensitivities"][0]["key"] == "traffic.shares.0.click_through"  # the surge's size matters most
    assert "median" in printed and "partial rank correlation" in printed
    for name in ("risk.png", "sensitivity.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "Will it hold? Over the plausible surges" in page and f"<strong>{100 * p:.0f} %</strong>" in page
    assert "traffic.shares.0.click_through" in page and "test range" in page  # the ranges and their sources


def test_a_scenario_without_ranges_is_one_line_exit_2(tmp_path, capsys):
    assert main(["risk", str(SCENARIOS / "steady.toml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steady.toml: uncertain: no [uncertain" in err
    assert not (tmp_path / "o").exists()


def test_bad_flags_are_one_line_exit_2(tmp_path, capsys):
    for argv, says in ((["--draws", "0"], "--draws: must be within [1,"),
                       (["--slo", "p99<1s"], "--slo: surge risk judges lost_actions, lost_visitors, p95, errors"),
                       (["--jobs", "0"], "--jobs: must be within"),
                       (["--dask", "nonsense:x"], "--dask: must be a scheduler address")):
        assert main(["risk", CASE, "--out", str(tmp_path / "o"), *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err
