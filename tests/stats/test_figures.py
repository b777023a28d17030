"""The registry of figures: it is the one list the SLO parser, the term lists, the columns and the docs agree with."""

import re
from pathlib import Path

import pytest

from sim.analysis.advise import QUICK_TERMS
from sim.analysis.screen import RISK_TERMS
from sim.analysis.sizing import PLANNABLE
from sim.analysis.slo import METRICS, parse_slo
from sim.loadtest.stats import LOADTEST_COLUMNS
from sim.output.summary import metric_text
from sim.stats.figures import (COMPLETED, EVERY_ATTEMPT, REGISTRY, Figure, columns, figure, place, slo_lines,
                               slo_terms, terms_where)
from sim.stats.summary import TIMESERIES_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (ROOT / "docs" / "outputs.md").read_text()

_UNIT_TEXT = {"s": "s or ms", "fraction": "%"}


def slo_table() -> str:
    """docs/outputs.md's table of SLO terms, as the registry gives it."""
    lines = ["| term | limit in | judged on (`summary.json`) | over | quick advice, `surge risk` | `surge plan` |",
             "|---|---|---|---|---|---|"]
    for f in slo_terms():
        lines.append(f"| `{f.name}` | {_UNIT_TEXT[f.unit]} | `{f.key}`: {f.label} | {f.basis or '-'} | "
                     f"{'yes' if f.quick else '-'} | {'sizes for it' if f.plannable else '-'} |")
    return "\n".join(lines)


def section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:] if end < 0 else text[start:end]


def test_the_docs_table_of_slo_terms_is_the_registrys():
    assert slo_table() in OUTPUTS, "docs/outputs.md, '## SLO terms': replace the table with\n" + slo_table()


def test_the_docs_timeseries_table_names_the_registrys_columns_in_order():
    table = section(OUTPUTS, "## `timeseries.csv`")
    named = [name for line in table.splitlines() if line.startswith("| `")
             for name in re.findall(r"`([a-z_0-9]+)`", line.split("|")[1])]
    assert named == TIMESERIES_COLUMNS
    load = section(OUTPUTS, "## A load test's folder")
    assert [c for c in columns(model=False, loadtest=True) if f"`{c}`" not in load] == []


def test_the_docs_summary_table_holds_every_slo_terms_figure():
    table = section(OUTPUTS, "## `summary.json`")
    keys = set()
    for cell in (line.split("|")[1] for line in table.splitlines() if line.startswith("| `")):
        for name in re.findall(r"`([a-z_0-9.{},*]+)`", cell):
            m = re.fullmatch(r"(.+)\.\{(.+)\}", name)
            keys |= {f"{m.group(1)}.{x}" for x in m.group(2).split(",")} if m else {name}
    # dropped_fraction is a load test's: docs/outputs.md names it in that section
    missing = [f.key for f in slo_terms() if f.key not in keys and f.key.split(".")[-1] not in OUTPUTS]
    assert missing == []


def test_the_readmes_list_of_slo_terms_names_each_term():
    readme = (ROOT / "README.md").read_text()
    passage = readme[readme.index("SLO terms: "):]
    passage = passage[:passage.index("(`sim/analysis/slo.py`)")]
    named = set(re.findall(r"`([a-z_0-9]+)`", passage))
    assert named >= set(METRICS) and {n for n in named if n in METRICS or n.endswith(tuple("0123456789"))} \
        <= set(METRICS)


def test_the_term_lists_come_from_the_registry():
    assert list(METRICS) == [f.name for f in REGISTRY if f.slo]
    assert QUICK_TERMS == RISK_TERMS == ("lost_actions", "lost_visitors", "p95", "errors")
    assert PLANNABLE == ("p50", "p95", "p99", "wait_p50", "wait_p95", "wait_p99")
    assert terms_where("quick") == QUICK_TERMS
    assert LOADTEST_COLUMNS[:len(TIMESERIES_COLUMNS)] == TIMESERIES_COLUMNS


@pytest.mark.parametrize("term", [f.name for f in slo_terms()])
def test_each_term_parses_is_judged_where_the_registry_says_and_reads_in_its_unit(term):
    f = figure(term)
    (objective,) = parse_slo(f"{term}<2s" if f.unit == "s" else f"{term}<2%")
    assert objective.limit == (2.0 if f.unit == "s" else 0.02)
    assert objective.value(place({term: 0.5})) == 0.5  # place() puts a value where the objective reads it
    assert metric_text(objective.text, 0.5) == ("500 ms" if f.unit == "s" else "50.0 %")


def test_latency_terms_say_over_what_they_are_taken():
    assert figure("p95").basis == EVERY_ATTEMPT and figure("completed_p95").basis == COMPLETED
    assert figure("p95").described == "page response p95 (every attempt)"


def test_a_figure_draws_the_limits_of_the_objectives_given_and_no_others():
    given = parse_slo("lost_actions<1%")
    assert slo_lines(given, ("page_attempt_s", "page_response_s")) == []
    assert slo_lines(given, ("actions.lost_fraction",)) == [(0.01, "SLO lost_actions<1%")]
    both = parse_slo("p95<2s,completed_p99<3s,wait_p95<1s")
    assert slo_lines(both, ("page_attempt_s", "page_response_s")) == [
        (2.0, "SLO p95<2s (every attempt)"), (3.0, "SLO completed_p99<3s (completed pages)")]


@pytest.mark.parametrize("bad, word", [({"unit": "furlong"}, "unit"), ({"basis": "some"}, "basis"),
                                       ({"key": None, "column": None}, "summary key"),
                                       ({"slo": True, "key": None, "column": "x"}, "SLO term"),
                                       ({"quick": 1}, "quick advice"), ({"quick": -1, "slo": True}, "quick")])
def test_a_bad_entry_is_refused_naming_what_is_wrong(bad, word):
    good = {"name": "x", "unit": "s", "label": "x", "source": "x", "key": "x.y"}
    with pytest.raises(ValueError, match=word):
        Figure(**{**good, **bad})
