"""[uncertain."dotted.key"] tables: their laws, and every refusal naming the file, the table and the value."""

import math

import numpy as np
import pytest
from scipy import stats

from sim.config.scenario import load_scenario, parse_scenario, read_scenario_table
from sim.config.uncertain import UncertainInput, point_table, read_uncertain
from sim.errors import ConfigError
from tests.conftest import ROOT

BASE = """
[traffic]
constant_per_s = 1.0
[[traffic.shares]]
at_s = 10
followers = 1e6
reach = 0.2
click_through = 0.01
decay = { kernel = "exponential", half_life_s = 600 }
[visitors]
think_s = { dist = "lognormal", median = 15.0, sigma = 1.0 }
[site.app]
instances = 2
page_s = 0.05
"""


def _write(tmp_path, extra: str):
    path = tmp_path / "s.toml"
    path.write_text(BASE + extra)
    return str(path)


def _error(tmp_path, extra: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_scenario(_write(tmp_path, extra))
    return str(err.value)


U = np.array([0.001, 0.05, 0.25, 0.5, 0.75, 0.95, 0.999])


def test_each_law_is_its_inverse_cdf():
    """value_at against scipy's own quantile functions (exact formulas: agreement to rounding)."""
    cases = [
        (UncertainInput(key="k", dist="uniform", low=2, high=5, source="s"), stats.uniform(2, 3)),
        (UncertainInput(key="k", dist="loguniform", low=0.001, high=0.05, source="s"), stats.loguniform(0.001, 0.05)),
        (UncertainInput(key="k", dist="triangular", low=1, mode=2, high=5, source="s"), stats.triang(0.25, 1, 4)),
    ]
    for item, law in cases:
        np.testing.assert_allclose(item.value_at(U), law.ppf(U), rtol=1e-12)
    # a lognormal from its 90 % range: its 5th and 95th percentiles are p05 and p95
    item = UncertainInput(key="k", dist="lognormal", p05=7.5, p95=30, source="s")
    assert item.value_at(0.05) == pytest.approx(7.5, rel=1e-9)
    assert item.value_at(0.95) == pytest.approx(30, rel=1e-9)
    assert item.value_at(0.5) == pytest.approx(15, rel=1e-9)  # geometric middle
    assert isinstance(item.value_at(0.5), float)


def test_whole_number_keys_draw_whole_numbers(tmp_path):
    path = _write(tmp_path, '[uncertain."site.app.instances"]\ndist = "uniform"\nlow = 1\nhigh = 6\nsource = "a"\n')
    (item,) = load_scenario(path).uncertain
    assert item.integer
    values = item.value_at(np.linspace(0.01, 0.99, 50))
    assert values.dtype.kind == "i" and values.min() == 1 and values.max() == 6
    assert isinstance(item.value_at(0.5), int)


def test_the_central_case_is_unchanged_and_a_draw_sets_the_key(tmp_path):
    extra = '[uncertain."traffic.shares.0.click_through"]\ndist = "loguniform"\nlow = 0.001\nhigh = 0.05\nsource = "x"\n'
    path = _write(tmp_path, extra)
    with_ranges = load_scenario(path)
    without = parse_scenario(read_scenario_table(_write(tmp_path, "")))
    assert with_ranges.traffic == without.traffic and with_ranges.site == without.site
    table = read_scenario_table(path)
    drawn = parse_scenario(point_table(table, {"traffic.shares.0.click_through": 0.04}))
    assert drawn.traffic.shares[0].click_through == 0.04 and drawn.uncertain == ()
    assert table["traffic"]["shares"][0]["click_through"] == 0.01  # the table itself is left as it was


@pytest.mark.parametrize("extra, says", [
    ('[uncertain."run.seed"]\ndist = "uniform"\nlow = 1\nhigh = 5\nsource = "a"\n',
     'uncertain."run.seed": cannot be uncertain'),
    ('[uncertain."traffic.shares.3.reach"]\ndist = "uniform"\nlow = 0.1\nhigh = 0.2\nsource = "a"\n',
     'uncertain."traffic.shares.3.reach": cannot be varied: traffic.shares has no item 3'),
    ('[uncertain."traffic.shares.0.reshare_factor"]\ndist = "uniform"\nlow = 1\nhigh = 2\nsource = "a"\n',
     "cannot be varied: the scenario gives no traffic.shares.0.reshare_factor"),
    ('[uncertain."traffic.shares.0.decay"]\ndist = "uniform"\nlow = 1\nhigh = 2\nsource = "a"\n',
     "cannot be varied: it is not a number in the scenario"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.3\nhigh = 0.5\nsource = "a"\n',
     "the scenario's value 0.2 (the central case) must lie within [low, high] = [0.3, 0.5]"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.1\nhigh = 1.5\nsource = "a"\n',
     "its greatest value 1.5 makes the scenario invalid: traffic.shares[0].reach: must be within [0, 1]"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "normal"\nlow = 0.1\nhigh = 0.5\nsource = "a"\n',
     'uncertain."traffic.shares.0.reach".dist: must be one of uniform, loguniform, triangular, lognormal'),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.1\nhigh = 0.5\n',
     'uncertain."traffic.shares.0.reach".source: is required'),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.1\nhihg = 0.5\nsource = "a"\n',
     "hihg: unknown key (did you mean 'high'?)"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.5\nhigh = 0.1\nsource = "a"\n',
     ".high: must be > low (0.5), got 0.1"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "loguniform"\nlow = 0\nhigh = 0.5\nsource = "a"\n',
     ".low: must be > 0 for a loguniform range"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "triangular"\nlow = 0.1\nhigh = 0.5\nsource = "a"\n',
     ".mode: is required for dist = 'triangular'"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "lognormal"\np05 = 0.3\np95 = 0.1\nsource = "a"\n',
     ".p95: must be > p05 > 0"),
    ('[uncertain."traffic.shares.0.reach"]\ndist = "uniform"\nlow = 0.1\nhigh = 0.5\np05 = 0.2\nsource = "a"\n',
     ".p05: is not used by dist = 'uniform'"),
    ('[uncertain."visitors.think_s.median"]\ndist = "uniform"\nlow = 10\nhigh = 20\nsource = "  "\n',
     ".source: must say where the range comes from"),
    ('[uncertain]\n"traffic.shares.0.reach" = 0.3\n', "must be a table with dist, its numbers and source"),
])
def test_a_bad_table_is_one_line_naming_the_file_the_table_and_the_value(tmp_path, extra, says):
    message = _error(tmp_path, extra)
    assert message.startswith(str(tmp_path / "s.toml") + ": ")
    assert says in message
    assert "\n" not in message


def test_read_uncertain_names_the_file_and_gives_nothing_for_a_scenario_without_ranges(tmp_path):
    assert read_uncertain(read_scenario_table(_write(tmp_path, "")), "s.toml") == ()
    table = read_scenario_table(_write(tmp_path, '[uncertain."run.seed"]\ndist="uniform"\nlow=1\nhigh=5\nsource="a"\n'))
    with pytest.raises(ConfigError, match=r'^s\.toml: uncertain\."run\.seed": cannot be uncertain'):
        read_uncertain(table, "s.toml")


def test_anca_2020_gives_each_range_a_source_and_keeps_its_central_case():
    path = ROOT / "scenarios" / "anca-2020.toml"
    scenario = load_scenario(path)
    keys = {u.key for u in scenario.uncertain}
    assert {"traffic.shares.0.click_through", "traffic.shares.0.reshare_factor", "visitors.action_rate",
            "visitors.patience_s.median"} <= keys
    assert all(u.source.strip() for u in scenario.uncertain)
    assert scenario.traffic.shares[0].click_through == 0.02 and scenario.visitors.action_rate == 0.05
    for u in scenario.uncertain:
        low, high = u.ends
        assert low < high and math.isfinite(high)


def test_an_included_files_ranges_apply_to_the_values_it_still_gives(tmp_path):
    """A scenario written over an included one (as surge fit --like writes it): a range about a value the including
    file replaces is dropped, the others kept."""
    base = _write(tmp_path, '[uncertain."traffic.shares.0.click_through"]\ndist = "loguniform"\nlow = 0.001\n'
                            'high = 0.05\nsource = "x"\n[uncertain."site.app.instances"]\ndist = "uniform"\nlow = 1\n'
                            'high = 4\nsource = "y"\n')
    top = tmp_path / "top.toml"
    top.write_text('include = "s.toml"\n[[traffic.shares]]\nat_s = 60\nvisitors = 5000\n'
                   'decay = { kernel = "exponential", half_life_s = 600 }\n')
    assert [u.key for u in load_scenario(top).uncertain] == ["site.app.instances"]
    assert [u.key for u in load_scenario(base).uncertain] == ["traffic.shares.0.click_through", "site.app.instances"]
