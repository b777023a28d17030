"""The one dispatcher: which engine runs a scenario, and how a refusal reads."""

import json

import pytest

import sim
from sim.cli import main
from sim.config.scenario import parse_scenario
from sim.engine import ENGINES, pick_engine, simulate
from sim.engine.dispatch import engine_named
from sim.errors import ConfigError, NotModelled

BASE = {
    "run": {"duration_s": 200.0, "seed": 2, "bin_s": 20},
    "traffic": {"constant_per_s": 3.0},
    "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0},
    "site": {"app": {"instances": 1, "workers": 4, "page_s": {"dist": "exponential", "mean": 1.0}}},
}


def _scenario(**site):
    return parse_scenario({**BASE, "site": {**BASE["site"], **site}}, path="x.toml")


def test_engines_are_listed_once():
    assert ENGINES == ("auto", "reference", "fast")
    assert sim.ENGINES is ENGINES
    assert [engine_named(n).name for n in ENGINES[1:]] == ["reference", "fast"]


def test_auto_picks_fast_where_it_models_the_scenario_else_reference():
    assert pick_engine(_scenario()) == "fast"
    assert pick_engine(_scenario(waiting_room={"active_limit": 5, "session_s": 30})) == "fast"
    assert pick_engine(_scenario(autoscale={"target": 0.6, "max": 3})) == "fast"
    assert pick_engine(_scenario(), "reference") == "reference"


@pytest.fixture
def autoscale_not_modelled(monkeypatch):
    """The fast engine models every part of a scenario today: its refusal is checked on a part it is told to refuse."""
    import sim.engine.fast

    monkeypatch.setattr(sim.engine.fast, "NOT_MODELLED", ("site.autoscale",))


def test_a_refusal_is_typed_and_carries_the_key(autoscale_not_modelled):
    scaled = _scenario(autoscale={"target": 0.6, "max": 3})
    with pytest.raises(NotModelled) as refused:
        simulate(scaled, engine="fast")
    err = refused.value
    assert isinstance(err, ConfigError) and err.key == "site.autoscale" and err.engine == "fast"
    assert str(err) == "x.toml: site.autoscale: is not modelled by --engine fast; use --engine reference"
    assert simulate(scaled).engine == "reference"  # auto falls back, and says which engine ran


def test_an_unknown_engine_names_the_flag():
    with pytest.raises(ConfigError, match=r"^--engine: must be one of auto, reference, fast, got 'quick'$"):
        simulate(_scenario(), engine="quick")


def test_surge_run_prints_and_records_the_engine(write_scenario, tmp_path, capsys):
    steady = write_scenario("[run]\nduration_s = 200\nbin_s = 20\n[traffic]\nconstant_per_s = 3\n"
                            "[visitors]\npages_per_visit = 1\nrequests_per_page = 1\naction_rate = 0\n"
                            "[site.app]\ninstances = 1\nworkers = 4\npage_s = 1.0\n", name="steady.toml")
    for engine, expected in (("auto", "fast"), ("reference", "reference")):
        out = tmp_path / engine
        assert main(["run", str(steady), "--engine", engine, "--out", str(out)]) == 0
        assert f"simulated on the {expected} engine" in capsys.readouterr().out
        assert json.loads((out / "summary.json").read_text())["engine"] == expected


def test_sweep_refuses_fast_on_a_part_it_does_not_model(write_scenario, tmp_path, capsys, autoscale_not_modelled):
    scaled = write_scenario("[run]\nduration_s = 200\n[traffic]\nconstant_per_s = 3\n[site.app]\nworkers = 4\npage_s = 1.0\n"
                            "[site.autoscale]\ntarget = 0.6\nmax = 3\n", name="scaled.toml")
    code = main(["sweep", str(scaled), "--vary", "site.app.workers=4:5", "--engine", "fast", "--out", str(tmp_path)])
    assert code == 2
    assert "scaled.toml: site.autoscale: is not modelled by --engine fast; use --engine reference" in \
        capsys.readouterr().err
