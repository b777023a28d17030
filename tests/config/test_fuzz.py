"""Property: whatever a scenario file holds, ``surge run`` ends in bounded time with exit 0, or exit 2 and one line.

Hypothesis writes scenarios of plausible and absurd values for the main keys (run, traffic,
visitors, site.app, site.db, shares), with ``run.duration_s`` kept small, and runs them in
process through ``sim.cli.main(["run", path])``. An absurd value (a negative count, a huge
size, inf or nan where a finite number is needed) must be refused by the checks, before
anything runs, in one line on stderr; a plausible scenario must simulate and exit 0. No
traceback, no other exit code (1 would be a run that broke midway), no hang.

Time, measured on a 2-core machine over 3,000 examples: a refused example takes 1-10 ms,
a simulated one (about a quarter of them) up to 0.55 s; 90 % take under 7 ms. So the
``deadline`` is 5 s per example, ten times the slowest and far below a hang (the bugs
this guards against ran for minutes), and 1,000 examples take about 10 s in all, well
under the minute this test may use on a machine several times slower.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli import main

DEADLINE_MS = 5_000
MAX_EXAMPLES = 1_000

# Values no scenario should get through: each must be refused by a check (or pass harmlessly).
ABSURD_NUMBERS = st.sampled_from([-1.0, -1e300, 0.0, 1e300, math.inf, -math.inf, math.nan, 1e-300, 1e15])
ABSURD_COUNTS = st.sampled_from([-1, 0, 10**9, 2**63 - 1, 10**12])


def mostly(plausible, absurd):
    """A plausible value nine times in ten, else an absurd one: most examples simulate, each key meets its worst."""
    return st.integers(0, 9).flatmap(lambda i: absurd if i == 0 else plausible)


def _dist(low: float, high: float):
    number = st.floats(low, high)
    return st.one_of(
        number,
        st.builds(lambda m: {"dist": "exponential", "mean": m}, mostly(number, ABSURD_NUMBERS)),
        st.builds(lambda m, s: {"dist": "lognormal", "median": m, "sigma": s},
                  mostly(number, ABSURD_NUMBERS), mostly(st.floats(0, 2), st.sampled_from([40.0, 100.0, -1.0]))),
        st.builds(lambda a, w: {"dist": "uniform", "low": a, "high": a + w}, number, st.floats(0, high)),
        st.builds(lambda k, s: {"dist": "gamma", "shape": k, "scale": s}, st.floats(0.1, 5), number),
        st.builds(lambda xs: {"dist": "empirical", "samples": xs}, st.lists(number, max_size=5)),
    )


def _optional(table_strategy):
    return st.one_of(st.none(), table_strategy)


RUN = st.fixed_dictionaries({}, optional={
    "duration_s": mostly(st.floats(1, 60), ABSURD_NUMBERS),
    "bin_s": mostly(st.floats(0.5, 30), st.sampled_from([1e-9, 0.0, -1.0])),
    "warmup_s": mostly(st.floats(0, 5), st.sampled_from([-1.0, 1e9])),
    "seed": mostly(st.integers(0, 2**63 - 1), st.just(-1)),
})

SHARE = st.fixed_dictionaries({
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

CONSTANT = mostly(st.floats(0, 20), st.sampled_from([1e9, 1e300, -1.0, math.inf]))
BASELINE = mostly(st.floats(0, 1e6), st.sampled_from([1e15, -5.0, math.nan]))
SHARES = st.lists(SHARE, min_size=1, max_size=2)
TRAFFIC = mostly(
    st.one_of(st.fixed_dictionaries({"constant_per_s": CONSTANT}), st.fixed_dictionaries({"baseline_per_day": BASELINE}),
              st.fixed_dictionaries({"shares": SHARES}),
              st.fixed_dictionaries({"constant_per_s": CONSTANT, "shares": SHARES})),
    st.one_of(st.just({}), st.fixed_dictionaries({"constant_per_s": CONSTANT, "baseline_per_day": BASELINE})),
)

RETRY = st.fixed_dictionaries({
    "probability": mostly(st.floats(0, 1), st.just(1.5)),
    "delay_s": _dist(0, 5),
}, optional={"max": mostly(st.integers(0, 5), ABSURD_COUNTS)})

VISITORS = st.fixed_dictionaries({}, optional={
    "pages_per_visit": mostly(st.floats(1, 3), st.sampled_from([0.5, 1e9, math.inf])),
    "requests_per_page": mostly(st.integers(1, 10), ABSURD_COUNTS),
    "think_s": _dist(0, 10),
    "action_rate": mostly(st.floats(0, 1), st.just(1.2)),
    "patience_s": st.one_of(_dist(0.01, 30), st.just(math.inf)),
    "retry": RETRY,
})

APP = st.fixed_dictionaries({"page_s": _dist(0, 0.5)}, optional={
    "instances": mostly(st.integers(1, 4), ABSURD_COUNTS),
    "workers": mostly(st.integers(1, 8), ABSURD_COUNTS),
    "queue_limit": mostly(st.integers(0, 100), st.sampled_from([math.inf, 1e300, -1.0])),
    "balancer": st.sampled_from(["round_robin", "least_connections", "random", "fastest"]),
    "asset_s": _dist(0, 0.05),
    "timeout_s": mostly(st.floats(0.1, 30), st.sampled_from([math.inf, 0.0])),
    "drop_abandoned": st.booleans(),
})

DB = st.fixed_dictionaries({"connections": mostly(st.integers(1, 8), ABSURD_COUNTS), "query_s": _dist(0, 0.05)},
                           optional={"queries_per_page": mostly(st.integers(0, 3), ABSURD_COUNTS)})


@st.composite
def scenarios(draw) -> dict:
    table: dict = {}
    for name, strategy in (("run", RUN), ("traffic", mostly(TRAFFIC, st.none())), ("visitors", _optional(VISITORS))):
        value = draw(strategy)
        if value is not None:
            table[name] = value
    site = {}
    app = draw(_optional(APP))
    if app is not None:
        site["app"] = app
        db = draw(_optional(DB))
        if db is not None:
            site["db"] = db
    if site:
        table["site"] = site
    table.setdefault("run", {}).setdefault("duration_s", draw(st.floats(1, 60)))  # small unless drawn absurd
    return table


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


@settings(max_examples=MAX_EXAMPLES, deadline=DEADLINE_MS, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_any_scenario_runs_or_is_refused_in_one_line(table):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(to_toml(table))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run", str(path)])
    text = err.getvalue()
    assert "Traceback" not in text
    assert code in (0, 2), (code, text, path.name)
    if code == 2:
        assert text.count("\n") == 1 and text.startswith(f"{path}: "), text


def test_the_writer_writes_what_the_reader_reads():
    import tomllib

    table = {"run": {"duration_s": 1.5}, "traffic": {"shares": [{"at_s": 0.0, "decay": {"kernel": "exponential",
                                                                                          "half_life_s": 1.0}}]},
             "site": {"app": {"page_s": {"dist": "exponential", "mean": math.inf}, "workers": 2}}}
    assert tomllib.loads(to_toml(table)) == table
