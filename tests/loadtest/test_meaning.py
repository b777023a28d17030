"""What a load test's result says about the real surge: the load factor and the sentence built on it."""

from sim.loadtest.meaning import held, meaning


def _summary(*, factor, lost=0.0, errors=0.0, kept_up=True, slo=None):
    return {"plan": {"load_factor": factor, "played_peak_visitors_per_s": 29.4, "real_peak_visitors_per_s": 204.0},
            "visitors": {"lost_fraction": lost}, "requests": {"error_fraction": errors},
            "generator": {"kept_up": kept_up}, "slo": slo or []}


def test_a_pass_at_a_fraction_of_the_peak_says_how_much_more_capacity_production_needs():
    text = meaning(_summary(factor=0.144))
    assert text == ("This test played 0.144x the real surge's arrival rate (peak 29.4 of 204 visitors/s), and "
                    "staging held it: the production site needs at least 6.94x staging's capacity, or run the test "
                    "at the real peak (--match-peak).")


def test_a_failure_a_full_scale_pass_and_a_generator_that_fell_behind_say_so():
    assert "did not hold it" in meaning(_summary(factor=0.144, lost=0.05))
    assert "staging held it: a site like staging holds the real surge" in meaning(_summary(factor=1.0))
    assert "the load generator fell behind" in meaning(_summary(factor=0.144, kept_up=False))


def test_held_follows_the_slo_when_one_was_given_else_under_one_percent_lost():
    assert held(_summary(factor=1, lost=0.009, errors=0.009))
    assert not held(_summary(factor=1, lost=0.01))
    assert not held(_summary(factor=1, slo=[{"objective": "p95<2s", "met": False}]))
    assert held(_summary(factor=1, lost=0.5, slo=[{"objective": "p95<2s", "met": True}]))  # the SLO decides
    assert not held({"plan": {"load_factor": 1}})  # nothing measured holds nothing
