"""What a load test's result says about the real surge: whether it measured the site at all, the load
factor, and the sentence built on it (at most 1/f x staging's capacity when staging held f of the
real rate, at least 1/f x when it did not)."""

from sim.loadtest.meaning import held, meaning, outcome

PLAYED = "This test played 0.144x the real surge's arrival rate (peak 29.4 of 204 visitors/s)"


def _summary(*, factor, arrived=1000, served=None, failed=None, died=0, requests=None, lost=None, errors=0.0,
             kept_up=True, slo=None, by_status=None, by_error=None):
    """A load test's summary.json as the recorder writes it (sim/loadtest/stats.py), with what matters here."""
    failed = round(arrived * lost) if failed is None and lost is not None else (failed or 0)
    served = arrived - failed if served is None else served
    return {"plan": {"load_factor": factor, "played_peak_visitors_per_s": 29.4, "real_peak_visitors_per_s": 204.0},
            "visitors": {"arrived": arrived, "dropped": 0, "served": served, "failed": failed, "died": died,
                         "lost": failed, "lost_fraction": failed / arrived if arrived else float("nan")},
            "requests": {"arrived": 3 * arrived if requests is None else requests, "error_fraction": errors,
                         "by_status": by_status or {}},
            "driver_errors": {"visitors": died, "by_error": by_error or {}},
            "generator": {"kept_up": kept_up}, "slo": slo or []}


def test_staging_held_a_fraction_of_the_peak_so_production_needs_at_most_its_inverse():
    # held 0.144 R: staging's capacity C >= 0.144 R, so the real rate R <= 6.94 C
    assert meaning(_summary(factor=0.144)) == (
        f"{PLAYED}, and staging held it: the production site needs at most 6.94x staging's capacity "
        "(6.94x the load staging was shown to hold), or run the test at the real peak (--match-peak).")


def test_staging_did_not_hold_a_fraction_of_the_peak_so_production_needs_at_least_its_inverse():
    # saturated below 0.144 R: C < 0.144 R, so R > 6.94 C
    assert meaning(_summary(factor=0.144, lost=0.05)) == (
        f"{PLAYED}, and staging did not hold it: the production site needs at least 6.94x staging's capacity; "
        "the real surge would overwhelm a site like it.")


def test_above_and_at_the_real_rate():
    assert "staging held it: a site like staging holds the real surge" in meaning(_summary(factor=1.0))
    assert "did not hold it: the real surge would overwhelm" in meaning(_summary(factor=1.0, lost=0.05))
    # failing at twice the real rate bounds nothing at the real rate
    text = meaning(_summary(factor=2.0, lost=0.05))
    assert "says nothing of the real surge, 0.5x of this load" in text and "at least" not in text
    assert "the load generator fell behind" in meaning(_summary(factor=0.144, kept_up=False))


def test_visitors_dead_in_the_load_generator_make_the_test_invalid_not_a_pass():
    # 78 visitors, each dead of the driver's own error before a request: what locust's --host without
    # http:// once did, reported as "0 % lost"
    s = _summary(factor=0.144, arrived=78, served=0, failed=78, died=78, requests=0,
                 by_error={"TypeError: argument of type 'NoneType' is not iterable": 78})
    assert outcome(s) == {"status": "invalid", "reason": "78 of 78 visitors died of an error in the load generator "
                          "(the first of them: TypeError: argument of type 'NoneType' is not iterable): the figures "
                          "measure the generator, not the site"}
    assert not held(s) and meaning(s).startswith(f"{PLAYED}, but it is invalid: 78 of 78 visitors died")
    # the same summary as written before visitors.died existed: no request for 78 arrivals says it too
    old = {k: v for k, v in s.items() if k != "driver_errors"}
    old["visitors"] = {k: v for k, v in s["visitors"].items() if k != "died"}
    old["visitors"]["failed"] = 0
    assert outcome(old)["status"] == "invalid" and "not one request was sent" in outcome(old)["reason"]
    # a minority dead is counted as lost (and so breaks "held"), the test still measures the site
    few = _summary(factor=0.144, failed=40, died=40)
    assert outcome(few)["status"] == "measured" and not held(few)
    assert outcome(_summary(factor=0.144, failed=501, died=501))["status"] == "invalid"  # 501 of 1000: most


def test_a_site_that_served_nobody_failed_and_a_test_that_sent_nobody_is_invalid():
    dead = _summary(factor=0.144, arrived=120, served=0, failed=120, requests=120, errors=1.0,
                    by_status={"503": 120})
    assert outcome(dead) == {"status": "failed", "reason": "the site served none of its 120 visitors (503 x 120): "
                             "it was down or refused them all, whatever the load"}
    assert "and it failed: the site served none" in meaning(dead) and "at least" not in meaning(dead)
    assert outcome(_summary(factor=0.144, arrived=0))["status"] == "invalid"


def test_held_follows_the_slo_when_one_was_given_else_under_one_percent_lost():
    assert held(_summary(factor=1, lost=0.009, errors=0.009))
    assert not held(_summary(factor=1, lost=0.01))
    assert not held(_summary(factor=1, slo=[{"objective": "p95<2s", "met": False}]))
    assert held(_summary(factor=1, lost=0.5, slo=[{"objective": "p95<2s", "met": True}]))  # the SLO decides
    assert not held({"plan": {"load_factor": 1}})  # nothing measured holds nothing
