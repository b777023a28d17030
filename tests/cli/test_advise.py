import json

import pytest

from sim.cli import main

# 20 visitors/s, each a landing page of 0.1 s (exponential) and, for 30 %, an action page and a submit of
# 0.1 s each: 32 requests/s,
# 3.2 busy workers on average. As it is (2 workers, a backlog of 20) an M/M/2/22 turns away 37.5 % of
# them; with 4 workers at 80 % an M/M/4/24 turns away 0.14 % (sim.analysis.theory.mmck_blocking), well
# within the SLO's 1 %: free, and first in the ranking.
TINY = """
name = "tiny"
[run]
duration_s = 600
seed = 4
bin_s = 60
[traffic]
constant_per_s = 20.0
[visitors]
action_rate = 0.3
[site.app]
instances = 1
workers = 2
queue_limit = 20
page_s = { dist = "exponential", mean = 0.1 }
submit_s = { dist = "exponential", mean = 0.1 }
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_advise_ranks_the_variants_and_each_variant_file_runs_to_the_same_figures(tiny, tmp_path, capsys):
    out = tmp_path / "advice"
    code = main(["advise", str(tiny), "--slo", "lost_actions<1%", "--out", str(out), "--jobs", "1",
                 "--engine", "reference"])
    printed = capsys.readouterr().out
    assert code == 0
    doc = json.loads((out / "advise.json").read_text())
    rows = doc["rows"]
    by_name = {r["mitigation"]: r for r in rows}
    base = by_name["as is"]
    assert not base["meets_slo"] and base["lost_actions_fraction"] > 0.01
    x2 = next(r for r in rows if r["keys"] == ["workers-x2"])
    assert x2["meets_slo"] and x2["cost"] == 0.0
    # Ranked: those meeting the SLO first, by cost; the free workers x2 comes before any paid fix.
    meets = [r["meets_slo"] for r in rows]
    assert meets == sorted(meets, reverse=True)
    assert rows[0]["cost"] == 0.0 and rows[0]["meets_slo"]
    assert [r["cost"] for r in rows if r["meets_slo"]] == sorted(r["cost"] for r in rows if r["meets_slo"])
    for key in ("mitigation", "meets_slo", "lost_actions_fraction", "lost_visitors_fraction", "p95_s", "cost",
                "scenario"):
        assert all(key in r for r in rows)
    assert doc["cheapest"] == rows[0]["mitigation"]
    assert (out / "advise.png").stat().st_size > 10_000
    assert "as it is: does not hold" in printed and "cheapest that meets the SLO" in printed
    # surge run on a variant's file gives the figures advise reported for it (same seed, same visitors).
    run_out = tmp_path / "run"
    assert main(["run", x2["scenario"], "--out", str(run_out), "--engine", "fast"]) == 0
    summary = json.loads((run_out / "summary.json").read_text())
    assert summary["actions"]["lost_fraction"] == x2["lost_actions_fraction"]
    assert summary["visitors"]["lost_fraction"] == x2["lost_visitors_fraction"]
    assert summary["verdict"]["holds"] is True


def test_advise_refuses_a_bad_price_and_a_site_without_an_app_tier(tiny, tmp_path, capsys):
    assert main(["advise", str(tiny), "--price-per-instance-hour", "-1", "--out", str(tmp_path / "a")]) == 2
    assert "--price-per-instance-hour" in capsys.readouterr().err
    bare = tmp_path / "bare.toml"
    bare.write_text(TINY.split("[site.app]")[0])
    assert main(["advise", str(bare), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "bare.toml" in err and "site.app" in err and err.count("\n") == 1
