"""The fast engine against the reference: same seed, same results; refusals name the key.

Both engines run the model's callbacks (``sim.engine._Model``), the reference on simpy
and the fast one on a plain heap; with continuous service and patience distributions
no two events share an instant by chance, so the schedulers must agree event for
event and the summaries must be equal to the last bit. A scheduler that broke ties
differently, rounded times differently or dropped an event would show here.
"""

import json
import math

import pytest

from sim.cli import main
from sim.engine import simulate
from sim.errors import ConfigError
from sim.fast import fast_supported, simulate_fast
from sim.results import summarize, timeseries
from sim.scenario import parse_scenario
from tests.conftest import SCENARIOS


def _mmc(**app):
    return parse_scenario({
        "run": {"duration_s": 1_500.0, "warmup_s": 100.0, "seed": 11, "bin_s": 50},
        "traffic": {"constant_per_s": 9.5},
        "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0,
                     "patience_s": app.pop("patience_s", math.inf)},
        "site": {"app": {"instances": 1, "workers": 10, "page_s": {"dist": "exponential", "mean": 1.0}, **app}},
    })


def _gentle_short():
    import tomllib

    with open(SCENARIOS / "gentle.toml", "rb") as fh:
        table = tomllib.load(fh)
    table["run"] = {"duration_s": 5400, "warmup_s": 300, "seed": 3, "bin_s": 60}
    table["traffic"]["shares"][0]["at_s"] = 900
    table["visitors"]["retry"] = {"probability": 0.6, "delay_s": {"dist": "exponential", "mean": 4.0}, "max": 2}
    # A slower site than gentle.toml's, so that the surge overloads it: 503s, 504s, abandonment.
    table["site"]["app"].update(balancer="least_connections", drop_abandoned=True, instances=2, workers=1,
                                queue_limit=20, timeout_s=3,
                                page_s={"dist": "lognormal", "median": 0.3, "sigma": 0.5})
    return parse_scenario(table, path=str(SCENARIOS / "gentle.toml"))


def _same(a, b):
    sa, sb = summarize(a), summarize(b)
    assert json.dumps(sa, sort_keys=True) == json.dumps(sb, sort_keys=True)
    assert json.dumps(timeseries(a)) == json.dumps(timeseries(b))
    return sa


def test_mmc_same_as_reference():
    sc = _mmc()
    s = _same(simulate(sc), simulate_fast(sc))
    assert s["requests"]["completed"] > 10_000 and s["wait_s"]["mean"] > 0  # a loaded queue, not an idle one


def test_mmck_with_patience_same_as_reference():
    sc = _mmc(queue_limit=5, patience_s={"dist": "exponential", "mean": 2.0}, drop_abandoned=True)
    s = _same(simulate(sc), simulate_fast(sc))
    assert s["requests"]["rejected"] > 0 and s["requests"]["abandoned"] > 0


def test_multi_tier_surge_same_as_reference():
    """Journeys, think times, CDN, asset bundles, DB pool, 503s, 504s, patience, retries, a balancer."""
    sc = _gentle_short()
    s = _same(simulate(sc), simulate_fast(sc))
    r = s["requests"]
    assert s["visitors"]["retries"] > 0 and r["rejected"] > 0 and r["abandoned"] > 0 and r["cdn_hits"] > 0
    assert r["timed_out"] > 0 and s["actions"]["completed"] > 0 and s["utilization"]["db"] > 0


def test_other_seed_other_results():
    """The comparison above can fail: another seed gives another summary."""
    a = _mmc()
    b = parse_scenario({**_table(a), "run": {"duration_s": 1_500.0, "warmup_s": 100.0, "seed": 12, "bin_s": 50}})
    assert summarize(simulate_fast(a)) != summarize(simulate_fast(b))


def _table(sc):
    return {"traffic": {"constant_per_s": 9.5},
            "visitors": {"pages_per_visit": 1, "requests_per_page": 1, "action_rate": 0},
            "site": {"app": {"instances": 1, "workers": 10, "page_s": {"dist": "exponential", "mean": 1.0}}}}


@pytest.mark.parametrize("section, table", [
    ("waiting_room", {"active_limit": 10, "session_s": 60}),
    ("autoscale", {"target": 0.6, "max": 4}),
])
def test_refuses_what_it_does_not_model(section, table):
    sc = _mmc()
    raw = {"run": {"duration_s": 100.0, "seed": 1}, **_table(sc)}
    raw["site"][section] = table
    sc = parse_scenario(raw)
    assert fast_supported(sc).startswith(f"site.{section}:")
    with pytest.raises(ConfigError, match=f"site.{section}: is not modelled by --engine fast"):
        simulate_fast(sc)
    assert fast_supported(_mmc()) is None


def test_cli_engine_fast_and_refusal(tmp_path, capsys):
    steady = (SCENARIOS / "steady.toml").read_text().replace("duration_s = 3600", "duration_s = 400")
    (tmp_path / "steady.toml").write_text(steady)
    (tmp_path / "room.toml").write_text(steady + "\n[site.waiting_room]\nactive_limit = 5\nsession_s = 30\n")
    for engine in ("reference", "fast"):
        assert main(["run", str(tmp_path / "steady.toml"), "--engine", engine]) == 0
    assert main(["run", str(tmp_path / "room.toml"), "--engine", "fast"]) == 2
    assert "room.toml: site.waiting_room: is not modelled by --engine fast" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "room.toml"), "--engine", "reference"]) == 0
