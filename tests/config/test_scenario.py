"""Bad input: one line on stderr naming file, key and value; exit code 2; no traceback."""

import math

import pytest

from sim.cli import main
from sim.config.distributions import Constant, Empirical, Gamma, Lognormal
from sim.config.scenario import load_scenario
from tests.conftest import SCENARIOS

SHARE = """
[[traffic.shares]]
at_s = 0
followers = 1e6
reach = 0.2
click_through = 0.01
decay = { kernel = "exponential", half_life_s = 3600 }
"""

BAD = [
    # unknown keys, with the closest valid key suggested
    ("[run]\nduraton_s = 10\n", "run.duraton_s: unknown key (did you mean 'duration_s'?)"),
    ("[trafic]\n", "trafic: unknown key (did you mean 'traffic'?)"),
    (SHARE.replace("reach", "reech"), "traffic.shares[0].reech: unknown key (did you mean 'reach'?)"),
    # wrong types
    ('[run]\nduration_s = "long"\n', "run.duration_s: must be a number, got a string 'long'"),
    ("[run]\nseed = 1.5\n", "run.seed: must be a whole number, got float 1.5"),
    ("[visitors]\nthink_s = \"slow\"\n", "visitors.think_s: must be a number or a { dist = ... } table"),
    ("[traffic]\nshares = 3\n", "traffic.shares: must be a list, got int 3"),
    ("run = 5\n", "run: must be a table, got int 5"),
    # out of range
    (SHARE + SHARE.replace("reach = 0.2", "reach = 1.7"), "traffic.shares[1].reach: must be within [0, 1], got 1.7"),
    ("[traffic]\nbaseline_per_day = -5\n", "traffic.baseline_per_day: must be >= 0 and finite, got -5.0"),
    ("[traffic]\nconstant_per_s = inf\n", "traffic.constant_per_s: must be >= 0 and finite, got inf"),
    ("[visitors]\naction_rate = 1.2\n", "visitors.action_rate: must be within [0, 1], got 1.2"),
    (SHARE.replace("click_through = 0.01", "click_through = -0.1"), "traffic.shares[0].click_through: must be within [0, 1]"),
    (SHARE.replace("decay = {", "reshare_factor = 0.5\ndecay = {"), "traffic.shares[0].reshare_factor: must be >= 1"),
    ('[visitors]\npatience_s = { dist = "lognormal", median = -3, sigma = 1 }\n', "visitors.patience_s.median: must be > 0"),
    ('[visitors]\npatience_s = { dist = "weibull" }\n', "visitors.patience_s.dist: must be one of"),
    ('[visitors]\nthink_s = { dist = "exponential", mean = 1, sd = 2 }\n', "visitors.think_s.sd: unknown key"),
    ("[site.cdn]\nhit_ratio = 1.5\n", "site.cdn.hit_ratio: must be within [0, 1], got 1.5"),
    ("[run]\nduration_s = 10\nwarmup_s = 20\n", "run.warmup_s: must be < duration_s (10), got 20.0"),
    ("[traffic]\nhourly_weights = [1, 2]\nbaseline_per_day = 1\n", "traffic.hourly_weights: must hold 24 weights, got 2"),
    # missing and conflicting keys
    (SHARE.replace("followers = 1e6\n", ""), "traffic.shares[0].followers: is required"),
    ("[traffic]\nbaseline_per_day = 1\nconstant_per_s = 1\n", "traffic.constant_per_s: cannot be given together with baseline_per_day"),
    ('[traffic]\ntrace = "missing.csv"\n', "traffic.trace: cannot read trace"),
    # not TOML
    ("[run\nduration_s = 1\n", "not valid TOML"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m[:50] for _, m in BAD])
def test_bad_input_is_one_line_naming_file_key_and_value(text, message, write_scenario, capsys):
    path = write_scenario(text)
    assert main(["profile", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.rstrip("\n")
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"{path}: ")
    assert message in err


def test_missing_file(tmp_path, capsys):
    assert main(["profile", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nope.toml'}: no such file\n"


@pytest.mark.parametrize("argv", [["profile"], ["nonsense"], ["profile", "x.toml", "--bogus"]])
def test_bad_flags_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


@pytest.mark.parametrize("name", ["anca-2020", "gentle", "campaign", "steady"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    assert sc.name == name


def test_distributions_from_tables(write_scenario):
    sc = load_scenario(write_scenario(
        '[visitors]\nthink_s = { dist = "empirical", samples = [1, 2, 6] }\n'
        'patience_s = inf\n'
        '[visitors.retry]\nprobability = 0.5\ndelay_s = { dist = "gamma", shape = 2, scale = 1.5 }\n'))
    assert sc.visitors.think_s == Empirical(samples=(1, 2, 6)) and sc.visitors.think_s.mean == 3
    assert sc.visitors.patience_s == Constant(value=math.inf)
    assert sc.visitors.retry.delay_s == Gamma(shape=2.0, scale=1.5) and sc.visitors.retry.max == 3


def test_configuration_is_frozen_and_keyword_only():
    sc = load_scenario(SCENARIOS / "anca-2020.toml")
    with pytest.raises(AttributeError):
        sc.run.seed = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Lognormal(3.0, 1.0)  # type: ignore[misc]
