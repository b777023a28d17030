import pytest

from sim.analysis.sizing import workload
from sim.analysis.verdict import work_by_kind
from sim.config.scenario import parse_scenario
from sim.traffic.journey import origin_work

SITE = {"run": {"duration_s": 600}, "traffic": {"constant_per_s": 10.0},
        "visitors": {"pages_per_visit": 3, "requests_per_page": 5, "action_rate": 0.2},
        "site": {"app": {"instances": 1, "workers": 8, "page_s": 0.1, "asset_s": 0.01, "submit_s": 0.3},
                 "db": {"connections": 4, "query_s": 0.05, "queries_per_page": 1, "queries_per_submit": 2},
                 "cdn": {"hit_ratio": 0.9, "html_hit_ratio": 0.5}}}


def _scenario(cdn=None, **site):
    table = {**SITE, "site": {**SITE["site"], **site}}
    if cdn:
        table["site"]["cdn"] = {**SITE["site"]["cdn"], **cdn}
    return parse_scenario(table)


def test_origin_work_by_kind_as_the_engines_model_it():
    w = origin_work(_scenario())
    # 3.2 page views (3 pages, the action page): half their HTML misses the edge; 4 assets each, 10 % miss
    assert w.pages.requests == pytest.approx(1.6) and w.pages.app_s == pytest.approx(0.1 + 0.05)
    assert w.submits.requests == pytest.approx(0.2) and w.submits.app_s == pytest.approx(0.3 + 2 * 0.05)
    assert w.assets.requests == pytest.approx(3.2 * 4 * 0.1) and w.assets.app_s == pytest.approx(0.01)
    assert w.db_s(w.submits) == pytest.approx(0.2 * 2 * 0.05)
    # The landing page under a TTL comes from the edge: one page view in 3.2 leaves the origin.
    assert origin_work(_scenario(cdn={"landing_ttl_s": 10})).pages.requests == pytest.approx(2.2 * 0.5)
    # A queued signature: the submit holds its worker for ack_s; a writer still makes its 2 queries.
    queued = origin_work(_scenario(signature_queue={"writers": 1, "ack_s": 0.02}))
    assert queued.submits.app_s == pytest.approx(0.02) and queued.submits.queries == 2


@pytest.mark.parametrize("site", [{}, {"signature_queue": {"writers": 1}}], ids=["plain", "signature queue"])
@pytest.mark.parametrize("cdn", [None, {"landing_ttl_s": 10}], ids=["no TTL", "landing TTL"])
def test_the_plan_and_the_verdict_count_the_same_work(site, cdn):
    sc = _scenario(cdn=cdn, **site)
    load = workload(sc)
    app_work = sum(w for k, w in work_by_kind(sc).items() if not k.startswith("db."))
    assert load.requests_per_visitor * load.work_s == pytest.approx(app_work, rel=1e-12)
