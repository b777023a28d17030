"""The figures README.md prints, pinned: the default run, its profile, `surge advise` and the mitigation examples.

Each command runs as a user runs it: ``python -m sim`` (the ``surge`` command) from the
repository's root, the scenario path as the README writes it, outputs under tmp_path. Two
kinds of check:

* the figures, as literals copied from the README (the section is named beside each), against
  what the command prints, to the printed precision: one seed makes a run bit-for-bit
  repeatable, so a printed figure either reproduces exactly or the model changed;
* the README's printed blocks against what the commands print, line by line, so a README
  line that no longer matches fails even where no literal here covers it.

Wall-time figures (the quick advice's "9 s") measure a machine, not the model: they are
matched as "a whole number of seconds". A figure changed on purpose changes here and in
the README in one commit.
"""

from __future__ import annotations

import csv
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.readme_output import (WALL_TIME, assert_shown_in_order, number, printed_blocks, printed_figures,
                                 readme_section, surge)

# --- the default scenario: `surge run scenarios/anca-2020.toml` -------------------------------------------

# Where a run's verdict gives times, its SLO's bracket says from what (the post: scenarios/anca-2020.toml's first share)
TIMES = "; times h:mm from the run's start; the post at 1:00"
# README "Simulate the site under the surge", the printed block: its first five lines, as printed
DEFAULT_HEAD = [
    "does not hold: 12 % of actions lost between 1:00 and 1:26 (broken: lost_actions<1%); bottleneck: pages at the "
    "app tier (pages 54 %, form submits 35 %, asset requests 11 % of its work)  " f"[SLO lost_actions<1%{TIMES}]",
    "warning: only 89.1 % of page views and submits were answered: the completed pages' percentiles "
    "(page_response_s) leave out the 10.9 % that failed",
    "peak: the busiest 10 s offer 4.2x the work the site's 8 workers can do (the utilization below is the run's "
    "average)",
    "cheapest fix (quick advice: each mitigation alone, to 1:56, N s): pre-scale to 12 before the post "
    "(cost 3.42 at 0.10 per instance-hour, estimated: the quick run's instance-hours, then the raised minimum's to "
    "the surge's end; surge advise measures the whole run, the scale-down after the surge included); surge advise "
    "scenarios/anca-2020.toml --slo \"lost_actions<1%\" --out DIR compares them all",
    "how many instances: pre-scale and autoscale size 12 (the busiest 10 s at 75 % of capacity, no queue); surge "
    "plan 9 for p95<2s at that 10 s (Erlang C); a simulated run can meet a loss SLO with fewer (judged over the "
    "whole run: queues absorb a short peak)",
]
# The line after them: the quick look over anca-2020's [uncertain] ranges (the fluid model on 20 seeded draws,
# deterministic: a change of the ranges, the design or the fluid model moves it)
DEFAULT_QUICK_RISK = (
    "over the plausible surges ([uncertain] ranges), a quick look (the fluid model on 20 draws, scaled to this "
    "run): lost_actions<1% holds in 5 of 20; surge risk scenarios/anca-2020.toml --slo \"lost_actions<1%\" --out "
    "DIR gives the probability with its 95 % interval")
# README "Simulate the site under the surge", the printed block: the five figure lines
DEFAULT_FIGURES = {
    "visitors arrived": "985,208",
    "visitors lost": "79,727 (8.1 %): 5,392 gave up, 74,335 got errors",
    "actions lost": "6,085 (12.2 %)",
    "completed pages p50 / p95 / p99": "69 ms / 799 ms / 1.45 s",
    "every attempt p50 / p95 / p99": "75 ms / unanswered / unanswered (89.1 % answered)",
    "errors": "227,804 rejected (503), 0 timed out (504), 10,245 abandoned while queued; 4.0 % of origin requests",
}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory) -> str:
    """`surge run scenarios/anca-2020.toml`, with its quick advice, as the README's block shows it."""
    return surge("run", "scenarios/anca-2020.toml", "--out", str(tmp_path_factory.mktemp("anca-2020")))


def test_the_default_runs_verdict_warning_peak_and_quick_advice(default_run):
    head = [WALL_TIME.sub(", N s): ", line) for line in default_run.splitlines()[:5]]
    assert head == DEFAULT_HEAD


def test_the_default_runs_quick_look_over_the_ranges(default_run):
    assert default_run.splitlines()[5] == DEFAULT_QUICK_RISK


def test_the_default_runs_figures(default_run):
    figures = printed_figures(default_run)
    assert {label: figures.get(label) for label in DEFAULT_FIGURES} == DEFAULT_FIGURES


def test_the_readme_block_is_what_surge_run_prints(default_run):
    (block,) = printed_blocks(readme_section("Simulate the site under the surge"))
    assert_shown_in_order(block, default_run.splitlines(), "'Simulate the site under the surge' block")


# --- the profile: `surge profile scenarios/anca-2020.toml` ------------------------------------------------

# README "The traffic profile", "For the default scenario: a baseline of 0.35 visitors/s (30,000 a day) peaks at
# about 200 visitors/s five minutes after the post, ~1 M visitors over 48 h, ~93 M HTTP requests of which ~6 M
# reach the origin", printed by `surge profile` as:
PROFILE = {
    "baseline rate": "0.347 visitors/s",
    "peak rate": "204 visitors/s at 1:05 from the run's start",
    "visitors": "985,365",
    "HTTP requests": "93,166,289",
    "origin requests (CDN misses)": "5,968,850",
}
POST_AT_S = 3600  # scenarios/anca-2020.toml: traffic.shares[0].at_s, the post


@pytest.fixture(scope="module")
def profile_printed() -> str:
    """Without --out it prints the same and writes nothing (tests/cli/test_main.py checks what --out writes)."""
    return surge("profile", "scenarios/anca-2020.toml")


def test_the_profiles_figures(profile_printed):
    assert profile_printed.splitlines()[0] == "anca-2020: expected over 48 h"
    figures = printed_figures(profile_printed)
    assert {label: figures.get(label) for label in PROFILE} == PROFILE


def test_the_readme_profile_sentence_rounds_what_surge_profile_prints(profile_printed):
    sentence = re.search(r"For the default scenario: (.*?)\n\n", readme_section("The traffic profile"), re.S).group(1)
    sentence = " ".join(sentence.split())
    m = re.fullmatch(r"a baseline of ([\d.]+) visitors/s \(([\d,]+) a day\) peaks at about (\d+) visitors/s (\w+) "
                     r"minutes after the post, ~(\d+) M visitors over (\d+) h, ~(\d+) M HTTP requests of which "
                     r"~(\d+) M reach the origin\.", sentence)
    assert m, f"README 'The traffic profile': the sentence changed shape: {sentence}"
    baseline, per_day, peak, minutes, visitors_m, hours, requests_m, origin_m = m.groups()
    figures = printed_figures(profile_printed)
    rate = number(figures["baseline rate"])
    assert f"{rate:.2f}" == baseline and number(per_day) == round(rate * 86400, -3)
    at_h, at_min = re.search(r" at (\d+):(\d\d) from the run's start$", figures["peak rate"]).groups()
    peak_at_s = 3600 * int(at_h) + 60 * int(at_min)
    assert round(number(figures["peak rate"]), -2) == int(peak)
    assert {"five": 5}[minutes] * 60 == peak_at_s - POST_AT_S
    assert profile_printed.splitlines()[0] == f"anca-2020: expected over {hours} h"
    for label, millions in (("visitors", visitors_m), ("HTTP requests", requests_m),
                            ("origin requests (CDN misses)", origin_m)):
        assert round(number(figures[label]) / 1e6) == int(millions), label


# --- `surge advise scenarios/anca-2020.toml --slo "lost_actions<1%"` ---------------------------------------

ADVISE_HEADER = ["#", "mitigation", "meets SLO", "lost visitors", "lost actions", "p95", "errors", "inst-h added",
                 "cost at 0.10/inst-h", "bottleneck"]
# README "What must we add? `surge advise`", the printed table: the rows it shows, as printed
ADVISE_SHOWN = [
    ["1", "static landing page + signature queue (5 writers)", "yes", "0.11 %", "0.58 %", "97 ms", "0.35 %", "0",
     "0.00"],
    ["2", "pre-scale to 12 before the post", "yes", "0.02 %", "0.04 %", "184 ms", "0.00 %", "36", "3.58"],
    ["3", "workers x2 (4 -> 8) + instances x2 (2 -> 4)", "yes", "0.29 %", "0.60 %", "397 ms", "0.30 %", "96", "9.60"],
    ["4", "instances x4 (2 -> 8)", "yes", "0.44 %", "0.97 %", "628 ms", "0.36 %", "288", "28.80"],
    ["5", "workers x2 (4 -> 8) + static landing page", "no", "0.31 %", "1.69 %", "193 ms", "0.97 %", "0", "0.00",
     "form submits at the app tier"],
    ["13", "autoscale 2-12", "no", "3.55 %", "5.09 %", "2.47 s", "1.89 %", "4", "0.41", "pages at the app tier"],
    ["16", "static landing page", "no", "1.32 %", "6.67 %", "660 ms", "3.85 %", "0", "0.00",
     "form submits at the app tier"],
    ["19", "waiting room (Little's law)", "no", "11.6 %", "11.8 %", "318 ms", "0.00 %", "0", "0.00",
     "waiting room admissions"],
    ["20", "as is", "no", "8.09 %", "12.2 %", "failed", "4.04 %", "0", "0.00", "pages at the app tier"],
]
# README "What must we add? `surge advise`": "21 variants"; the ranking (the README shows rows 1-5, 13, 16, 19, 20)
ADVISE_RANKING = [
    "static landing page + signature queue (5 writers)", "pre-scale to 12 before the post",
    "workers x2 (4 -> 8) + instances x2 (2 -> 4)", "instances x4 (2 -> 8)", "workers x2 (4 -> 8) + static landing page",
    "static landing page + instances x2 (2 -> 4)", "workers x2 (4 -> 8) + autoscale 2-12",
    "static landing page + autoscale 2-12", "instances x3 (2 -> 6)",
    "workers x2 (4 -> 8) + signature queue (5 writers)",
    "signature queue (5 writers) + instances x2 (2 -> 4)", "signature queue (5 writers) + autoscale 2-12",
    "autoscale 2-12", "workers x2 (4 -> 8)", "instances x2 (2 -> 4)", "static landing page", "cache landing HTML 10 s",
    "signature queue (5 writers)", "waiting room (Little's law)", "as is", "db pool x2 (10 -> 20)",
]


@pytest.fixture(scope="module")
def advise_printed(tmp_path_factory) -> str:
    """As the README runs it, on 2 cores (--jobs changes nothing in the result: each variant meets the same
    visitors)."""
    return surge("advise", "scenarios/anca-2020.toml", "--slo", "lost_actions<1%", "--jobs", "2",
                  "--out", str(tmp_path_factory.mktemp("advise")))


def _advise_rows(printed: str) -> tuple[list[str], list[list[str]]]:
    lines = printed.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("#   mitigation"))
    rows = [re.split(r"\s{2,}", line) for line in lines[at + 1:] if re.match(r"\d+ ", line)]
    return re.split(r"\s{2,}", lines[at]), rows


def test_surge_advise_rows_and_ranking(advise_printed):
    header, rows = _advise_rows(advise_printed)
    assert "anca-2020: 21 variants, SLO lost_actions<1%, same visitors in each" in advise_printed.splitlines()
    assert header == ADVISE_HEADER
    assert [row[1] for row in rows] == ADVISE_RANKING
    by_rank = {row[0]: row for row in rows}
    assert [by_rank[shown[0]] for shown in ADVISE_SHOWN] == ADVISE_SHOWN


def test_what_the_readme_says_the_advise_table_says(advise_printed):
    """README, below the table: no single mitigation meets the SLO for free; pre-scaling meets it for 36 instance-hours
    where autoscaling does not; the landing page off the origin, then the signature queue, meet it at no cost."""
    _, rows = _advise_rows(advise_printed)
    alone = [row for row in rows if " + " not in row[1] and row[1] != "as is"]
    assert not [row for row in alone if row[2] == "yes" and row[8] == "0.00"]
    by_name = {row[1]: row for row in rows}
    assert by_name["pre-scale to 12 before the post"][2:3] + by_name["pre-scale to 12 before the post"][7:8] == \
        ["yes", "36"]
    assert by_name["autoscale 2-12"][2] == "no"
    assert rows[0][1] == "static landing page + signature queue (5 writers)" and rows[0][2] == "yes"


def test_what_the_readme_says_of_costs_and_counts_of_instances(advise_printed, default_run):
    """README, below the table: the quick advice costs pre-scaling at 3.42 where surge advise says 3.58; pre-scaling's
    12 instances, surge plan's 9 for p95<2s and instances x4's 8 that meet lost_actions<1% (0.97 %)."""
    _, rows = _advise_rows(advise_printed)
    assert {row[1]: row[8] for row in rows}["pre-scale to 12 before the post"] == "3.58"
    assert "pre-scale to 12 before the post (cost 3.42 at 0.10 per instance-hour, estimated" in default_run
    (line,) = [line for line in advise_printed.splitlines() if line.startswith("how many instances: ")]
    assert line.startswith("how many instances: pre-scale and autoscale size 12 (the busiest 10 s at 75 % of capacity")
    assert "; surge plan 9 for p95<2s at that 10 s" in line and line.endswith("; here instances x4 (2 -> 8) does")
    assert {row[1]: row[4] for row in rows}["instances x4 (2 -> 8)"] == "0.97 %"


def test_the_readme_advise_table_is_what_surge_advise_prints(advise_printed):
    (block,) = printed_blocks(readme_section("What must we add? `surge advise`"))
    assert_shown_in_order(block, advise_printed.splitlines(), "'What must we add?' table")


# --- the examples in scenarios/mitigations/: `surge run scenarios/mitigations/NAME.toml` --------------------

# README "What must we add? `surge advise`", the table of examples: each one's verdict line and the figure lines
# the table's columns come from (visitors lost, actions lost, page p50 / p95 / p99, instances mean / max), as printed
EXAMPLES = {
    "cache-landing": (
        "does not hold: 6.7 % of actions lost between 1:01 and 1:15 (broken: lost_actions<1%); bottleneck: form "
        "submits at the app tier (form submits 58 %, pages 23 %, asset requests 19 % of its work)  "
        f"[SLO lost_actions<1%{TIMES}]",
        ["12,911 (1.3 %): 559 gave up, 12,352 got errors", "3,324 (6.7 %)", "70 ms / 1.18 s / 2.06 s", "2 / 2"]),
    "cache-and-workers": (
        "does not hold: 1.8 % of actions lost between 1:01 and 1:08 (broken: lost_actions<1%); bottleneck: form "
        "submits at the app tier (form submits 58 %, pages 23 %, asset requests 19 % of its work)  "
        f"[SLO lost_actions<1%{TIMES}]",
        ["3,026 (0.3 %): 79 gave up, 2,947 got errors", "879 (1.8 %)", "68 ms / 1.14 s / 2.04 s", "2 / 2"]),
    "db-pool-x2": (
        "does not hold: 12 % of actions lost between 1:00 and 1:26 (broken: lost_actions<1%); bottleneck: pages at "
        "the app tier (pages 54 %, form submits 35 %, asset requests 11 % of its work)  " f"[SLO lost_actions<1%{TIMES}]",
        ["79,727 (8.1 %): 5,392 gave up, 74,335 got errors", "6,085 (12.2 %)", "69 ms / 799 ms / 1.45 s", "2 / 2"]),
    "autoscale": (
        "does not hold: 5.1 % of actions lost between 1:00 and 1:06 (broken: lost_actions<1%); bottleneck: pages at "
        "the app tier (pages 54 %, form submits 35 %, asset requests 11 % of its work)  " f"[SLO lost_actions<1%{TIMES}]",
        ["34,991 (3.6 %): 2,316 gave up, 32,675 got errors", "2,529 (5.1 %)", "64 ms / 667 ms / 1.40 s", "2.08 / 12"]),
    "instances-x4": (
        "holds (0.97 % of actions lost, between 1:01 and 1:07)  " f"[SLO lost_actions<1%{TIMES}]",
        ["4,362 (0.4 %): 1,500 gave up, 2,862 got errors", "482 (1.0 %)", "64 ms / 546 ms / 1.43 s", "8 / 8"]),
    "pre-scale": (
        "holds (0.038 % of actions lost, between 1:01 and 4:42)  " f"[SLO lost_actions<1%{TIMES}]",
        ["148 (0.0 %): 120 gave up, 28 got errors", "19 (0.0 %)", "62 ms / 182 ms / 1.37 s", "2.75 / 12"]),
    "signature-queue": (
        "does not hold: 9.3 % of actions lost between 1:00 and 1:13 (broken: lost_actions<1%); bottleneck: pages at "
        "the app tier (pages 82 %, asset requests 17 % of its work)  " f"[SLO lost_actions<1%{TIMES}]",
        ["62,122 (6.3 %): 2,287 gave up, 59,835 got errors", "4,643 (9.3 %)", "62 ms / 525 ms / 694 ms", "2 / 2"]),
    "static-landing": (
        "does not hold: 6.7 % of actions lost between 1:00 and 1:16 (broken: lost_actions<1%); bottleneck: form "
        "submits at the app tier (form submits 58 %, pages 23 %, asset requests 19 % of its work)  "
        f"[SLO lost_actions<1%{TIMES}]",
        ["12,993 (1.3 %): 606 gave up, 12,387 got errors", "3,314 (6.7 %)", "70 ms / 1.20 s / 2.09 s", "2 / 2"]),
    "waiting-room": (
        "does not hold: 4.6 % of actions lost between 1:03 and 1:26 (broken: lost_actions<1%); bottleneck: the "
        "waiting room's admissions (its queue, not the site, holds visitors)  " f"[SLO lost_actions<1%{TIMES}]",
        ["44,347 (4.5 %): 44,323 gave up, 24 got errors", "2,269 (4.6 %)", "62 ms / 173 ms / 1.37 s", "2 / 2"]),
    "workers-x2": (
        "does not hold: 6.1 % of actions lost between 1:00 and 1:10 (broken: lost_actions<1%); bottleneck: pages at "
        "the app tier (pages 54 %, form submits 35 %, asset requests 11 % of its work)  " f"[SLO lost_actions<1%{TIMES}]",
        ["33,141 (3.4 %): 825 gave up, 32,316 got errors", "3,010 (6.1 %)", "65 ms / 443 ms / 1.37 s", "2 / 2"]),
}
FIGURE_LABELS = ["visitors lost", "actions lost", "completed pages p50 / p95 / p99", "app instances mean / max"]


@pytest.fixture(scope="module")
def examples_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mitigations")


@pytest.fixture(scope="module")
def examples_printed(examples_out) -> dict[str, str]:
    """Every example, two at a time (the machine's 2 cores; each run is one process). --no-advise: the table shows
    the run's own verdict and figures, which the quick advice after them does not change."""
    out = examples_out
    names = sorted(p.stem for p in (ROOT / "scenarios" / "mitigations").glob("*.toml"))

    def run(name: str) -> str:
        return surge("run", f"scenarios/mitigations/{name}.toml", "--no-advise", "--out", str(out / name))

    with ThreadPoolExecutor(max_workers=2) as pool:
        printed = dict(zip(names, pool.map(run, names)))
    return printed


def _percent(count: int, total: int) -> str:
    """A fraction as surge advise's table prints one: two decimals under 10 %, one from there."""
    x = 100 * count / total
    return f"{x:.2f} %" if x < 10 else f"{x:.1f} %"


def _table_row(printed: str) -> tuple[str, list[str], str | None]:
    """The README's table row for a run's output: the verdict as the table words it, its figure cells and the
    bottleneck (None where it holds). The lost fractions are the printed counts over the printed totals, to the
    advise table's precision (a run's own lines round them to 0.1 %, which would show 0.04 % as 0.0 %)."""
    verdict = printed.splitlines()[0]
    m = re.match(r"(holds|does not hold)(?::| \() ?([\d.]+) % of actions lost,? between (\d+:\d\d) and (\d+:\d\d)",
                 verdict)
    assert m, verdict
    holds = m.group(1) == "holds"
    head = f"holds: {m.group(2)} % lost" if holds else f"does not hold: {m.group(2)} % lost {m.group(3)}-{m.group(4)}"
    bottleneck = None if holds else re.search(r"; bottleneck: (.+?) \(", verdict).group(1)
    fig = printed_figures(printed)
    arrived = int(number(fig["visitors arrived"]))
    actions_attempted = int(re.fullmatch(r"[\d,]+ of ([\d,]+) attempted", fig["actions completed"]).group(1)
                            .replace(",", ""))
    cells = [_percent(int(number(fig["visitors lost"])), arrived),
             _percent(int(number(fig["actions lost"])), actions_attempted),
             fig["completed pages p50 / p95 / p99"], fig["app instances mean / max"]]
    return head, cells, bottleneck


def _readme_example_rows() -> dict[str, list[str]]:
    """The README's table of examples: its name (``anca-2020`` for the scenario as it is) -> its cells."""
    section = readme_section("What must we add? `surge advise`")
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| (?:`([a-z0-9-]+)`[^|]*|\((anca-2020) as it is\)) \|(.*)\|$", line)
        if m:
            rows[m.group(1) or m.group(2)] = [c.strip() for c in m.group(3).split("|")]
    return rows


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_simulated(examples_printed, name):
    verdict, figures = EXAMPLES[name]
    printed = examples_printed[name]
    assert printed.splitlines()[0] == verdict
    fig = printed_figures(printed)
    assert [fig.get(label) for label in FIGURE_LABELS] == figures
    # the same visitors as the default scenario (its seed), all on the compiled engine
    assert fig["visitors arrived"] == DEFAULT_FIGURES["visitors arrived"]
    assert re.search(r": 48 h simulated on the fast engine$", printed, flags=re.M)


def test_every_example_is_in_the_readme_table_and_pinned_here():
    shipped = {p.stem for p in (ROOT / "scenarios" / "mitigations").glob("*.toml")}
    assert set(_readme_example_rows()) == shipped | {"anca-2020"}
    assert set(EXAMPLES) == shipped


# Words in the table beyond the verdict and the bottleneck, each checked by a test below
TABLE_NOTES = {
    "db-pool-x2": "as it is: the database is not the bottleneck",
    "autoscale": "it scales after the peak",
    "waiting-room": "visitors who give up in the room",
}


def test_the_readme_table_of_examples_is_what_surge_run_prints(examples_printed, default_run):
    readme = _readme_example_rows()
    for name, printed in {"anca-2020": default_run, **examples_printed}.items():
        head, cells, bottleneck = _table_row(printed)
        verdict = head + (f"; {bottleneck}" if bottleneck else "") + (f" ({TABLE_NOTES[name]})" if name in TABLE_NOTES
                                                                     else "")
        assert readme[name] == [verdict, *cells], f"README's table of examples, row {name}: now {[verdict, *cells]}"


def test_a_bigger_database_pool_changes_nothing(examples_printed, default_run):
    """README table, db-pool-x2: "as it is: the database is not the bottleneck"."""
    utilization = "utilization app / db (run mean)"
    pool_x2, as_it_is = printed_figures(examples_printed["db-pool-x2"]), printed_figures(default_run)
    assert {k: v for k, v in pool_x2.items() if k != utilization} == \
        {k: v for k, v in as_it_is.items() if k != utilization}
    # the same queries on twice the connections: the pool's utilization halves, the app tier's stays
    assert (as_it_is[utilization], pool_x2[utilization]) == ("10.8 % / 0.8 %", "10.8 % / 0.4 %")
    assert "bottleneck: pages at the app tier" in default_run.splitlines()[0]


def test_the_autoscaler_scales_after_the_peak(examples_printed, examples_out):
    """README table, autoscale: "it scales after the peak": through the busiest minute the site still has its 2
    instances, and the 12th boots when the arrivals are down to less than two thirds of that minute's."""
    with open(examples_out / "autoscale" / "timeseries.csv") as fh:
        rows = [(int(r["arrivals"]), float(r["instances"])) for r in csv.DictReader(fh)]
    busiest = max(range(len(rows)), key=lambda i: rows[i][0])
    assert rows[busiest][1] == 2
    first_at_max = next(i for i, (_, instances) in enumerate(rows) if instances == 12)
    assert first_at_max > busiest and rows[first_at_max][0] < 2 / 3 * rows[busiest][0]


def test_in_the_waiting_room_visitors_give_up_instead_of_failing(examples_printed, examples_out):
    """README table, waiting-room: "visitors who give up in the room": of the 44,347 visitors lost, 44,298 gave up
    in the room (summary.json), 24 got errors."""
    import json

    visitors = json.loads((examples_out / "waiting-room" / "summary.json").read_text())["visitors"]
    assert (visitors["lost"], visitors["abandoned_in_waiting_room"], visitors["failed"]) == (44347, 44298, 24)
