import math
import tomllib

from scipy.optimize import brentq

from sim.analysis.confidence import PRUNE_MARGIN, advise_with_confidence
from sim.analysis.risk import assess
from tests.cli.test_advise import TINY, mmck_blocking_fraction
from tests.cli.test_advise_confidence import RANGE


# Visitors whose landing page comes from the CDN and who read two more pages on average (geometric),
# back to back, at the app: 2 workers serve 20 visitors/s. The surge's rate is uncertain, 5-60/s.
PAGES = """
name = "pages"
[run]
duration_s = 200
seed = 4
bin_s = 60
[traffic]
constant_per_s = 30.0
[visitors]
pages_per_visit = 3
[site.cdn]
hit_ratio = 1.0
html_hit_ratio = 0.0
landing_ttl_s = inf
[site.app]
instances = 1
workers = 2
queue_limit = 20
page_s = { dist = "exponential", mean = 0.05 }
[uncertain."traffic.constant_per_s"]
dist = "uniform"
low = 5
high = 60
source = "a range for the test"
"""


def _advise(text: str, tmp_path, **kw):
    path = tmp_path / "s.toml"
    path.write_text(text)
    table = tomllib.loads(text)
    rows, variants, stopped = advise_with_confidence(table, str(path), slo="lost_actions<1%" if "action_rate" in text
                                                     else "lost_visitors<1%", confidence=0.9, engine="fast", **kw)
    assert stopped is None
    return rows, {v.index: v for v in variants}, table, str(path)


def test_a_variant_that_fails_a_milder_than_most_central_case_is_ruled_out_and_truly_holds_less_often(tmp_path):
    # The scenario of tests/cli/test_advise.py (an M/M/2/22 of visitors, 0.16 s of work each), its rate
    # uniform over 5-25/s, 20/s central. The design is a Latin hypercube: in one dimension one draw in each
    # of the 64 equal slices of the range, so exactly 48 are at or below the central 20/s.
    rows, variants, table, path = _advise(TINY + RANGE, tmp_path, draws=64, jobs=1)
    base = next(r for r in rows if not r["keys"])
    assert not base["meets_slo"] and base["assessed"] == "ruled out"
    assert base["probability_holds_bound"] == 48 / 64 and base["probability_holds"] is None
    # What it rules out is right: the site as it is loses over 1 % above the rate where an M/M/2/22 turns
    # away 1 % (11.15/s), so it holds in (11.15 - 5) / 20 = 31 % of the surges, below the bound and P.
    knee = brentq(lambda r: mmck_blocking_fraction(2, 22, 0.16 * r) - 0.01, 1.0, 25.0)
    theory = (knee - 5) / 20
    assert theory <= base["probability_holds_bound"] < 0.9 - PRUNE_MARGIN
    held = assess(variants[base["index"]].table, path, slo="lost_actions<1%", draws=64, engine="fast")
    assert held.probability_holds_ci[0] <= theory <= held.probability_holds_ci[1] < 0.9
    # The landing page cached holds in every surge (its origin takes the actions only): free, first, and the
    # walk stops there: nothing paid is assessed.
    first = rows[0]
    assert first["keys"] == ["cache-landing"] and first["meets_confidence"] and first["cost"] == 0
    assert first["probability_holds"] >= 0.9 and first["draws"] == 64
    assert all(r["assessed"] == "no" for r in rows if r["cost"] > 0)


def test_the_walk_assesses_cheapest_first_on_the_same_surges_and_stops_at_the_first_that_holds_often_enough(tmp_path):
    rows, variants, table, path = _advise(PAGES, tmp_path, draws=40, jobs=1)
    first = rows[0]
    assert first["meets_confidence"] and first["probability_holds"] >= 0.9 and first["cost"] > 0
    assessed = [r for r in rows if r["assessed"] == "assessed"]
    cheaper = [r for r in rows if (r["cost"], len(r["keys"])) < (first["cost"], len(first["keys"]))]
    # Every cheaper variant was judged and falls short of 0.9; nothing dearer was assessed.
    assert cheaper and all(r["assessed"] in ("assessed", "ruled out") and not r["meets_confidence"] for r in cheaper)
    assert all(r["probability_holds"] < 0.9 for r in cheaper if r["assessed"] == "assessed")
    assert {r["index"] for r in assessed} == {r["index"] for r in cheaper if r["assessed"] == "assessed"} | {first["index"]}
    assert all(r["assessed"] == "no" for r in rows if r["cost"] > first["cost"])
    # Ranked: the answer, then the others assessed by probability of holding.
    ps = [r["probability_holds"] for r in rows if r["assessed"] == "assessed"]
    assert ps == sorted(ps, reverse=True)
    # More capacity never holds less often on the same surges (common random numbers): the as-is site's
    # surges that hold are a subset of those with twice the workers. The walk may rule the as-is site out on
    # its probe (no probability then), so both are assessed in full below either way.
    base, x2 = (next(r for r in rows if r["keys"] == k) for k in ([], ["workers-x2"]))
    assert base["assessed"] in ("assessed", "ruled out") and x2["assessed"] == "assessed"
    if base["assessed"] == "assessed":
        assert base["probability_holds"] <= x2["probability_holds"]
    one = assess(variants[base["index"]].table, path, slo="lost_visitors<1%", draws=40, engine="fast")
    two = assess(variants[x2["index"]].table, path, slo="lost_visitors<1%", draws=40, engine="fast")
    inputs = [[d["inputs"] for d in r.draws] for r in (one, two)]
    assert inputs[0] == inputs[1] and len(inputs[0]) == 40
    holds = [{d["index"] for d in r.draws if d["holds"]} for r in (one, two)]
    assert holds[0] <= holds[1] and not math.isnan(one.probability_holds)
    assert one.probability_holds <= two.probability_holds and one.probability_holds < 0.9  # short, as the walk said


def test_the_probe_is_the_draw_just_below_the_share_in_severity_and_ties_leave_no_bound():
    import numpy as np

    from sim.analysis.confidence import Surges

    n = 20
    values = tuple({"traffic.constant_per_s": float(i)} for i in range(n))
    seeds = tuple(np.random.SeedSequence(1).spawn(n))
    scores = np.array([(7 * i) % n for i in range(n)], dtype=float)  # severities 0..19, shuffled over the draws
    surges = Surges(values=values, seeds=seeds, scores=scores, central_score=9.0, path="s.toml", slo="lost_visitors<1%")
    assert surges.milder(surges.central_score) == 10 / 20  # severities 0..9 are no worse than the central case
    point, bound = surges.probe({"traffic": {"constant_per_s": 1.0}}, 0.85)
    # 0.85 x 20 = 17: the 17th mildest (severity 16); failing it, a variant holds in at most the 16 milder.
    assert scores[point.index] == 16 and bound == 16 / 20
    assert point.values == values[point.index] and point.seed_seq is seeds[point.index]
    assert point.table["traffic"]["constant_per_s"] == values[point.index]["traffic.constant_per_s"]
    tied = Surges(values=values, seeds=seeds, scores=np.minimum(scores, 12.0), central_score=9.0, path="s.toml",
                  slo="lost_visitors<1%")
    _, bound = tied.probe({"traffic": {"constant_per_s": 1.0}}, 0.85)
    assert bound == 19 / 20  # 8 draws tie at the top: failing one says nothing of the other 7
