"""Property: whatever a scenario file holds, ``surge run`` ends in bounded time with exit 0, or exit 2 and one line.

Hypothesis writes scenarios of plausible and absurd values for the main keys (run, traffic,
visitors, site.app, site.db, shares), with ``run.duration_s`` kept small, and runs them in
process through ``sim.cli.main(["run", path])``. Three tests:

- any mix (each key absurd one time in ten): exit 0, or exit 2 with one line; no traceback, no
  other exit code (1 would be a run that broke midway), no hang;
- plausible only (values the docs accept, consistent with each other): every one simulates,
  exit 0 with its summary and verdict printed, and they are counted, so that a loader refusing
  everything fails;
- one absurd value (a negative count, a huge size, inf or nan where a finite number is needed)
  in an otherwise plausible scenario: exit 2, one line naming the file and the key.

Time, measured on a 2-core machine over 3,000 examples: a refused example takes 1-10 ms,
a simulated one (about a quarter of them) up to 0.55 s; 90 % take under 7 ms. So the
``deadline`` is 5 s per example, ten times the slowest and far below a hang (the bugs
this guards against ran for minutes), and 1,000 examples take about 10 s in all, well
under the minute this test may use on a machine several times slower. The 200 plausible
ones (without the quick advice) took 2-7 s on the same machine under load.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main

DEADLINE_MS = 5_000
MAX_EXAMPLES = 1_000
PLAUSIBLE_EXAMPLES = 200

# Values no scenario should get through: each must be refused by a check (or pass harmlessly).
ABSURD_NUMBERS = st.sampled_from([-1.0, -1e300, 0.0, 1e300, math.inf, -math.inf, math.nan, 1e-300, 1e15])
ABSURD_COUNTS = st.sampled_from([-1, 0, 10**9, 2**63 - 1, 10**12])


def _mixed(plausible, absurd):
    """A plausible value nine times in ten, else an absurd one: most examples simulate, each key meets its worst."""
    return st.integers(0, 9).flatmap(lambda i: absurd if i == 0 else plausible)


def _plausible_only(plausible, absurd):
    return plausible


def scenarios(*, absurd: bool = True):
    """Scenario tables: with ``absurd``, each key absurd one time in ten; without, every value plausible and
    the keys consistent with each other (a warm-up shorter than the run, at least one sample), so that each
    must simulate."""
    mostly = _mixed if absurd else _plausible_only

    def dist(low: float, high: float):
        number = st.floats(low, high)
        # a scale parameter (exponential mean, lognormal median, gamma scale) of 0 is no distribution: absurd
        scale = mostly(st.floats(low, high, exclude_min=low == 0), st.just(0.0))
        return st.one_of(
            number,
            st.builds(lambda m: {"dist": "exponential", "mean": m}, mostly(scale, ABSURD_NUMBERS)),
            st.builds(lambda m, s: {"dist": "lognormal", "median": m, "sigma": s},
                      mostly(scale, ABSURD_NUMBERS), mostly(st.floats(0, 2), st.sampled_from([40.0, 100.0, -1.0]))),
            st.builds(lambda a, w: {"dist": "uniform", "low": a, "high": a + w}, number, st.floats(0, high)),
            st.builds(lambda k, s: {"dist": "gamma", "shape": k, "scale": s}, st.floats(0.1, 5), scale),
            st.builds(lambda xs: {"dist": "empirical", "samples": xs},
                      mostly(st.lists(number, min_size=1, max_size=5), st.just([]))),
        )

    def optional(table_strategy):
        return st.one_of(st.none(), table_strategy)

    run = st.fixed_dictionaries({}, optional={
        "duration_s": mostly(st.floats(1, 60), ABSURD_NUMBERS),
        "bin_s": mostly(st.floats(0.5, 30), st.sampled_from([1e-9, 0.0, -1.0])),
        # under a second: shorter than any plausible run (absurd: as long as or longer than it)
        "warmup_s": mostly(st.floats(0, 0.99), st.sampled_from([-1.0, 1e9, 60.0])),
        "seed": mostly(st.integers(0, 2**63 - 1), st.just(-1)),
    })
    share = st.fixed_dictionaries({
        "at_s": mostly(st.floats(0, 60), ABSURD_NUMBERS),
        "followers": mostly(st.floats(0, 1e5), st.sampled_from([1e15, 1e300, -1.0, math.inf])),
        "reach": mostly(st.floats(0, 1), st.sampled_from([1.7, -0.1])),
        "click_through": mostly(st.floats(0, 0.1), st.sampled_from([2.0, math.nan])),
        "decay": st.one_of(
            st.builds(lambda h: {"kernel": "exponential", "half_life_s": h}, mostly(st.floats(1, 3600), ABSURD_NUMBERS)),
            st.builds(lambda f, th: {"kernel": "power_law", "flat_s": f, "theta": th},
                      mostly(st.floats(1, 600), st.sampled_from([0.0, -1.0, math.inf])), st.floats(0.1, 2)),
        ),
    }, optional={"reshare_factor": mostly(st.floats(1, 3), st.sampled_from([100.0, 1e300, 0.5, math.inf]))})
    constant = mostly(st.floats(0, 20), st.sampled_from([1e9, 1e300, -1.0, math.inf]))
    baseline = mostly(st.floats(0, 1e6), st.sampled_from([1e15, -5.0, math.nan]))
    shares = st.lists(share, min_size=1, max_size=2)
    traffic = mostly(
        st.one_of(st.fixed_dictionaries({"constant_per_s": constant}), st.fixed_dictionaries({"baseline_per_day": baseline}),
                  st.fixed_dictionaries({"shares": shares}),
                  st.fixed_dictionaries({"constant_per_s": constant, "shares": shares})),
        st.one_of(st.just({}), st.fixed_dictionaries({"constant_per_s": constant, "baseline_per_day": baseline})),
    )
    retry = st.fixed_dictionaries({
        "probability": mostly(st.floats(0, 1), st.just(1.5)),
        "delay_s": dist(0, 5),
    }, optional={"max": mostly(st.integers(0, 5), ABSURD_COUNTS)})
    visitors = st.fixed_dictionaries({}, optional={
        "pages_per_visit": mostly(st.floats(1, 3), st.sampled_from([0.5, 1e9, math.inf])),
        "requests_per_page": mostly(st.integers(1, 10), ABSURD_COUNTS),
        "think_s": dist(0, 10),
        "action_rate": mostly(st.floats(0, 1), st.just(1.2)),
        "patience_s": st.one_of(dist(0.01, 30), st.just(math.inf)),
        "retry": retry,
    })
    app = st.fixed_dictionaries({"page_s": dist(0, 0.5)}, optional={
        "instances": mostly(st.integers(1, 4), ABSURD_COUNTS),
        "workers": mostly(st.integers(1, 8), ABSURD_COUNTS),
        "queue_limit": mostly(st.integers(0, 100), st.sampled_from([math.inf, 1e300, -1.0])),
        "balancer": mostly(st.sampled_from(["round_robin", "least_connections", "random"]), st.just("fastest")),
        "asset_s": dist(0, 0.05),
        "timeout_s": mostly(st.floats(0.1, 30), st.sampled_from([math.inf, 0.0])),
        "drop_abandoned": st.booleans(),
    })
    db = st.fixed_dictionaries({"connections": mostly(st.integers(1, 8), ABSURD_COUNTS), "query_s": dist(0, 0.05)},
                               optional={"queries_per_page": mostly(st.integers(0, 3), ABSURD_COUNTS)})

    @st.composite
    def tables(draw) -> dict:
        table: dict = {}
        for name, strategy in (("run", run), ("traffic", mostly(traffic, st.none())), ("visitors", optional(visitors))):
            value = draw(strategy)
            if value is not None:
                table[name] = value
        site = {}
        app_table = draw(optional(app))
        if app_table is not None:
            site["app"] = app_table
            db_table = draw(optional(db))
            if db_table is not None:
                site["db"] = db_table
        if site:
            table["site"] = site
        table.setdefault("run", {}).setdefault("duration_s", draw(st.floats(1, 60)))  # small unless drawn absurd
        return table

    return tables()


# -- a TOML writer for the tables above (numbers, strings, booleans, lists, tables) ----------------
def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def to_toml(table: dict, prefix: str = "") -> str:
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict) and not ("dist" in value or "kernel" in value):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value) and key == "shares":
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_value(value)}")
    out = "\n".join(lines) + "\n"
    for key, value in tables:
        name = f"{prefix}{key}"
        if isinstance(value, list):
            for item in value:
                out += f"\n[[{name}]]\n" + to_toml(item)
        else:
            out += f"\n[{name}]\n" + to_toml(value, f"{name}.")
    return out


def _run(table: dict, folder: str, *flags: str) -> tuple[int, str, str, Path]:
    """``surge run`` on the table: exit code, stdout, stderr, the file's path."""
    path = Path(folder) / "fuzz.toml"
    path.write_text(to_toml(table))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", str(path), *flags])
    return code, out.getvalue(), err.getvalue(), path


@settings(max_examples=MAX_EXAMPLES, deadline=DEADLINE_MS, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_any_scenario_runs_or_is_refused_in_one_line(table):
    with tempfile.TemporaryDirectory() as folder:
        code, _, text, path = _run(table, folder)
    assert "Traceback" not in text
    assert code in (0, 2), (code, text, path.name)
    if code == 2:
        assert text.count("\n") == 1 and text.startswith(f"{path}: "), text


def test_every_plausible_scenario_simulates():
    """Every plausible scenario simulates: exit 0, its summary and verdict printed. All of them, not a fraction: the
    strategy draws only values the docs accept, consistent with each other. Counted, so that a loader
    refusing everything, or a strategy drawing nothing, fails rather than passes."""
    simulated = []
    with tempfile.TemporaryDirectory() as folder:  # first, once: the engine loads its compiled code
        assert _run({"run": {"duration_s": 1.0}, "traffic": {"constant_per_s": 1.0}}, folder, "--no-advise")[0] == 0

    @settings(max_examples=PLAUSIBLE_EXAMPLES, deadline=DEADLINE_MS, suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios(absurd=False))
    def one(table):
        with tempfile.TemporaryDirectory() as folder:
            code, printed, text, path = _run(table, folder, "--no-advise")  # the run, not the advice
        assert code == 0, (text, to_toml(table))
        # its summary printed, with one verdict (writing the files and figures is tested elsewhere)
        verdicts = [line for line in printed.splitlines() if line.startswith(("holds", "does not hold", "not measured"))]
        assert "visitors arrived" in printed and len(verdicts) == 1, printed
        simulated.append(table)

    one()
    assert len(simulated) >= PLAUSIBLE_EXAMPLES


# One absurd value in an otherwise plausible scenario: refused in one line naming the file and the key.
ABSURD = [
    (("run", "duration_s"), -1.0), (("run", "duration_s"), math.inf), (("run", "duration_s"), 1e15),
    (("run", "bin_s"), 0.0), (("run", "warmup_s"), 1e9), (("run", "seed"), -1),
    (("traffic", "constant_per_s"), -1.0), (("traffic", "constant_per_s"), math.nan),
    (("traffic", "baseline_per_day"), 1e300),
    (("visitors", "pages_per_visit"), 0.5), (("visitors", "requests_per_page"), 10**9),
    (("visitors", "action_rate"), 1.2), (("visitors", "think_s"), -1.0),
    (("site", "app", "workers"), 0), (("site", "app", "workers"), 2**63 - 1), (("site", "app", "instances"), -1),
    (("site", "app", "queue_limit"), -1.0), (("site", "app", "page_s"), math.inf),
    (("site", "app", "timeout_s"), 0.0),
]


@pytest.mark.parametrize("absurd", ABSURD, ids=lambda a: f"{'.'.join(a[0])}={a[1]!r}" if isinstance(a, tuple) else None)
@settings(max_examples=5, deadline=DEADLINE_MS, suppress_health_check=[HealthCheck.too_slow])
@given(table=scenarios(absurd=False))
def test_one_absurd_value_is_refused_in_one_line_naming_it(table, absurd):
    keys, value = absurd
    if keys[0] == "traffic":
        table["traffic"] = {keys[-1]: value}  # alone: a second rate key would be refused for itself
    else:
        node = table
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        if keys[0] == "site":
            node.setdefault("page_s", 0.01)
        node[keys[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        code, _, text, path = _run(table, folder)
    assert code == 2, (code, text, to_toml(table))
    # the key, or its table where the check is on the table's total (traffic: the visitors it expects)
    assert text.count("\n") == 1 and text.startswith(f"{path}: ") and (keys[-1] in text or keys[-2] in text), text


def test_the_writer_writes_what_the_reader_reads():
    import tomllib

    table = {"run": {"duration_s": 1.5}, "traffic": {"shares": [{"at_s": 0.0, "decay": {"kernel": "exponential",
                                                                                          "half_life_s": 1.0}}]},
             "site": {"app": {"page_s": {"dist": "exponential", "mean": math.inf}, "workers": 2}}}
    assert tomllib.loads(to_toml(table)) == table
