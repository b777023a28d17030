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

ROOM = "[site.waiting_room]\nactive_limit = 10\nsession_s = 30\n"

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
    (ROOM + "new_users_per_minute = 0\n", "site.waiting_room.new_users_per_minute: must be > 0 (inf allowed), got 0.0"),
    (ROOM + "new_users_per_minute = -5\n", "site.waiting_room.new_users_per_minute: must be > 0 (inf allowed), got -5.0"),
    (ROOM + 'queueing_method = "lifo"\n',
     "site.waiting_room.queueing_method: must be one of fifo, random, reject, got 'lifo'"),
    (ROOM + 'queueing_method = "passthrough"\n', "site.waiting_room.queueing_method: must be one of fifo, random, reject"),
    (ROOM + "refresh_s = 0\n", "site.waiting_room.refresh_s: must be > 0 (inf allowed), got 0.0"),
    (ROOM + "refresh_s = 0.1\n", "site.waiting_room.refresh_s: must be >= 1 (surge's limit, see "
                                  "docs/scenario-format.md#limits), got 0.1"),
    # missing and conflicting keys
    (SHARE.replace("followers = 1e6\n", ""), "traffic.shares[0].followers: is required"),
    (SHARE.replace("at_s = 0", "at_s = 0\nvisitors = 5e5"), "traffic.shares[0].followers: cannot be given together with visitors"),
    (SHARE.replace("followers = 1e6\nreach = 0.2\nclick_through = 0.01\n", "visitors = -1\n"),
     "traffic.shares[0].visitors: must be >= 0"),
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
        '[traffic]\nconstant_per_s = 1\n'
        '[visitors]\nthink_s = { dist = "empirical", samples = [1, 2, 6] }\n'
        'patience_s = inf\n'
        '[visitors.retry]\nprobability = 0.5\ndelay_s = { dist = "gamma", shape = 2, scale = 1.5 }\n'))
    assert sc.visitors.think_s == Empirical(samples=(1, 2, 6)) and sc.visitors.think_s.mean == 3
    assert sc.visitors.patience_s == Constant(value=math.inf)
    assert sc.visitors.retry.delay_s == Gamma(shape=2.0, scale=1.5) and sc.visitors.retry.max == 3


def test_waiting_room_keys_and_their_defaults(write_scenario):
    """The defaults are the room as it was: no admission gap, FIFO, a reload every 20 s (an assumption)."""
    plain = load_scenario(write_scenario("[traffic]\nconstant_per_s = 1\n" + ROOM)).site.waiting_room
    assert (plain.new_users_per_minute, plain.queueing_method, plain.refresh_s) == (math.inf, "fifo", 20.0)
    assert plain.admission_gap_s == 0.0 and plain.active_limit == 10 and plain.session_s == Constant(value=30.0)
    room = load_scenario(write_scenario(
        "[traffic]\nconstant_per_s = 1\n" + ROOM
        + 'new_users_per_minute = 40\nqueueing_method = "random"\nrefresh_s = inf\n')).site.waiting_room
    assert (room.queueing_method, room.refresh_s, room.admission_gap_s) == ("random", math.inf, 1.5)
    reject = load_scenario(write_scenario("[traffic]\nconstant_per_s = 1\n" + ROOM + 'queueing_method = "reject"\n'))
    assert reject.site.waiting_room.queueing_method == "reject"


def test_configuration_is_frozen_and_keyword_only():
    sc = load_scenario(SCENARIOS / "anca-2020.toml")
    with pytest.raises(AttributeError):
        sc.run.seed = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Lognormal(3.0, 1.0)  # type: ignore[misc]


# -- what cannot run is refused before it runs: one line, exit 2, in well under a second ------------
APP = "[site.app]\npage_s = 0.1\n"
FLOW = "[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 2\n"
AUTOSCALE = "[site.autoscale]\ntarget = 0.5\nmax = 4\n"
RESHARE = SHARE.replace("decay = {", "reshare_factor = 1e300\ndecay = {")

SCHEDULE = "[[site.autoscale.schedule]]\nat_s = {}\nmin = {}\n"

REFUSED = [
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(300, 2) + SCHEDULE.format(120, 3),
     "site.autoscale.schedule[1].at_s: must be > schedule[0].at_s (300): entries sorted by at_s, each once, got 120"),
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(300, 2) + SCHEDULE.format(300, 3),
     "site.autoscale.schedule[1].at_s: must be > schedule[0].at_s (300)"),
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(300, 5), "site.autoscale.schedule[0].min: must be <= max (4), got 5"),
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(300, 0), "site.autoscale.schedule[0].min: must be a whole number >= 1"),
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(-1, 2), "site.autoscale.schedule[0].at_s: must be >= 0 and finite"),
    (FLOW + APP + AUTOSCALE + SCHEDULE.format(600, 2),
     "site.autoscale.schedule[0].at_s: must be < run.duration_s (600), got 600"),
    (FLOW + APP + AUTOSCALE + "".join(SCHEDULE.format(i, 2) for i in range(101)),
     "site.autoscale.schedule: the number of entries must be <= 100 (surge's limit"),
    ("", "traffic: no traffic: give traffic.constant_per_s, baseline_per_day, shares or a trace"),
    ("[run]\nduration_s = 60\n" + APP, "traffic: no traffic:"),
    (FLOW + '[site.app]\npage_s = { dist = "lognormal", median = 1, sigma = 100 }\n',
     "site.app.page_s: must have a finite mean, got Lognormal(median=1.0, sigma=100.0) (mean inf)"),
    (RESHARE + APP, "traffic.shares[0].reshare_factor: must be <= 1e+06 (surge's limit, see "
                    "docs/scenario-format.md#limits), got 1e+300"),
    (FLOW + "[site.app]\nworkers = 9223372036854775807\npage_s = 0.1\n",
     "site.app.workers: must be <= 10000 (surge's limit, see docs/scenario-format.md#limits), "
     "got 9223372036854775807"),
    (FLOW + "[site.app]\ninstances = 100000000\npage_s = 0.1\n", "site.app.instances: must be <= 1000"),
    (FLOW + "[site.app]\nqueue_limit = 1e300\npage_s = 0.1\n", "site.app.queue_limit: must be <= 1e+09"),
    (FLOW + APP + AUTOSCALE.replace("max = 4", "max = 100000000"), "site.autoscale.max: must be <= 1000 (surge's limit"),
    (FLOW + APP + AUTOSCALE + "period_s = 1e-9\n",
     "site.autoscale.period_s: must give at most 100000 evaluations over run.duration_s = 600 (surge's limit, "
     "see docs/scenario-format.md#limits), got 1e-09 (6e+11 evaluations)"),
    ("[run]\nduration_s = 86400\nbin_s = 0.0864\n[traffic]\nconstant_per_s = 1\n",
     "run.bin_s: must give at most 100000 bins over duration_s = 86400"),
    ("[run]\nduration_s = 1e9\nbin_s = 1e5\n[traffic]\nconstant_per_s = 1\n", "run.duration_s: must be <= 2.6784e+06"),
    (SHARE.replace("followers = 1e6", "followers = 1e15") + APP, "traffic.shares[0].followers: must be <= 1e+10"),
    (FLOW + "[visitors.retry]\nprobability = 1\ndelay_s = 0.01\nmax = 1000000000\n" + APP,
     "visitors.retry.max: must be <= 100 (surge's limit"),
    (FLOW + "[visitors]\npages_per_visit = 1e6\n", "visitors.pages_per_visit: must be <= 100"),
    (FLOW + "[visitors]\nrequests_per_page = 1000000000000\n", "visitors.requests_per_page: must be <= 1000"),
    (FLOW + "[visitors]\npages_per_visit = 50\nrequests_per_page = 100\n",
     "visitors.requests_per_page: pages_per_visit x requests_per_page must be <= 1000"),
    (FLOW + APP + "[site.db]\nconnections = 1000000\nquery_s = 0.01\n", "site.db.connections: must be <= 10000"),
    (FLOW + APP + "[site.db]\nconnections = 2\nquery_s = 0.01\nqueries_per_page = 1000000000\n",
     "site.db.queries_per_page: must be <= 100"),
    (FLOW.replace("[traffic]", "[visitors]\npages_per_visit = 50\n[traffic]") + APP
     + "[site.db]\nconnections = 2\nquery_s = 0.01\nqueries_per_page = 50\n",
     "site.db.queries_per_page: visitors.pages_per_visit x the queries of a page or submit must be <= 1000"),
    ("[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 1e9\n" + APP,
     "traffic: expects 6e+11 visitors over run.duration_s = 600, more than the 1e+08 a run may simulate"),
]


def test_a_schedule_is_read_in_order(write_scenario):
    sc = load_scenario(write_scenario(FLOW + APP + AUTOSCALE + SCHEDULE.format(0, 2) + SCHEDULE.format(120.5, 4)
                                      + SCHEDULE.format(300, 1)))
    assert [(e.at_s, e.min) for e in sc.site.autoscale.schedule] == [(0.0, 2), (120.5, 4), (300.0, 1)]
    assert load_scenario(write_scenario(FLOW + APP + AUTOSCALE)).site.autoscale.schedule == ()
    hundred = FLOW + APP + AUTOSCALE + "".join(SCHEDULE.format(i, 2) for i in range(100))
    assert len(load_scenario(write_scenario(hundred)).site.autoscale.schedule) == 100  # the limit itself passes


@pytest.mark.parametrize("text, message", REFUSED, ids=[m[:60] for _, m in REFUSED])
def test_what_cannot_run_is_refused_before_it_runs(text, message, write_scenario, capsys):
    import time

    path = write_scenario(text)
    started = time.perf_counter()
    assert main(["run", str(path)]) == 2
    took = time.perf_counter() - started
    captured = capsys.readouterr()
    err = captured.err.rstrip("\n")
    assert captured.out == "" and "\n" not in err and "Traceback" not in err
    assert err.startswith(f"{path}: ") and message in err, err
    assert took < 5  # refused up front, not after allocating or running


@pytest.mark.parametrize("command", ["run", "profile", "plan"])
def test_a_reshare_factor_beyond_the_limit_is_refused_by_every_command(command, write_scenario, capsys):
    path = write_scenario(RESHARE + APP)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}: traffic.shares[0].reshare_factor: must be <= 1e+06")


def _latin1(path, text: str) -> None:
    path.write_bytes(text.encode("latin-1"))


@pytest.mark.parametrize("where", ["scenario", "include", "trace", "--site"])
def test_a_file_that_is_not_utf8_is_one_line_naming_it(where, tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    argv = ["run", str(scenario)]
    body = "[run]\nduration_s = 60\n[traffic]\nconstant_per_s = 1\n"
    if where == "scenario":
        _latin1(scenario, "# café\n" + body)
        expected = f"{scenario}: is not UTF-8 text (byte 0xe9 on line 1): save it as UTF-8"
    elif where == "include":
        _latin1(tmp_path / "site.toml", "# café\n[site.app]\npage_s = 0.1\n")
        scenario.write_text('include = "site.toml"\n' + body)
        expected = f"{scenario}: include: {tmp_path / 'site.toml'} is not UTF-8 text (byte 0xe9 on line 1)"
    elif where == "trace":
        _latin1(tmp_path / "t.csv", "start,visitors\n0,1\n60,2\n# été\n")
        scenario.write_text('[run]\nduration_s = 60\n[traffic]\ntrace = "t.csv"\n')
        expected = f"{scenario}: traffic.trace: trace {tmp_path / 't.csv'} is not UTF-8 text (byte 0xe9 on line 4)"
    else:
        _latin1(tmp_path / "site.toml", "[site.app]\n# café\npage_s = 0.1\n")
        scenario.write_text(body)
        argv += ["--site", str(tmp_path / "site.toml")]
        expected = f"--site: {tmp_path / 'site.toml'} is not UTF-8 text (byte 0xe9 on line 2)"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and err.startswith(expected), err


def test_a_trace_saved_with_a_byte_order_mark_is_read(tmp_path):
    (tmp_path / "t.csv").write_bytes("\ufeffstart,visitors\n0,10\n60,20\n".encode("utf-8"))
    (tmp_path / "s.toml").write_text('[run]\nduration_s = 120\n[traffic]\ntrace = "t.csv"\n')
    assert load_scenario(tmp_path / "s.toml").traffic.trace.endswith("t.csv")


def test_a_huge_but_finite_lognormal_mean_is_inf_not_an_overflow():
    assert Lognormal(median=1.0, sigma=100.0).mean == math.inf
    assert Lognormal(median=2.0, sigma=1.0).mean == pytest.approx(2.0 * math.exp(0.5))


def test_the_visitor_bound_is_above_what_the_profile_expects():
    from sim.config.scenario import expected_visitors_bound
    from sim.traffic.profile import build_profile

    for name in ("anca-2020", "gentle", "campaign", "steady"):
        sc = load_scenario(SCENARIOS / f"{name}.toml")
        expected = build_profile(sc).expected_visitors()
        assert expected <= expected_visitors_bound(sc) * (1 + 1e-9), name


def test_a_share_sized_by_its_visitors_brings_exactly_them(write_scenario):
    path = write_scenario(SHARE.replace("followers = 1e6\nreach = 0.2\nclick_through = 0.01\n",
                                        "visitors = 5e5\nreshare_factor = 2\n"))
    share = load_scenario(path).traffic.shares[0]
    assert share.expected_visitors == 5e5 and share.direct_clicks == 2.5e5 and share.branching_ratio == 0.5


@pytest.mark.parametrize("path", sorted(SCENARIOS.rglob("*.toml")), ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_every_shipped_scenario_loads(path):
    # anca-2020 and every scenarios/mitigations/ example are simulated in tests/test_readme_figures.py
    assert load_scenario(path).name
