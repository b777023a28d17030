"""Times of the surge, costs and numbers as the console prints them."""

from sim.analysis import verdict
from sim.output.text import clock, cost_text, from_start, post_note, price_text


def test_a_time_reads_hours_and_minutes_from_the_run_start():
    assert [clock(t) for t in (0, 3600, 3900, 5160, 90000, -300)] == ["0:00", "1:00", "1:05", "1:26", "25:00",
                                                                         "-0:05"]
    assert from_start(3900) == "1:05 from the run's start"


def test_the_basis_names_the_post():
    class Share:
        def __init__(self, at_s):
            self.at_s = at_s

    assert post_note([Share(5400.0), Share(3600.0)]) == "times h:mm from the run's start; the post at 1:00"
    assert post_note([]) == "times h:mm from the run's start"


def test_the_verdicts_times_read_as_every_other():
    # The verdict's text (kept in summary.json, built below the output layer) and the console agree to the minute,
    # across the half-minute rounding edges and past a day.
    times = [30 * k + d for k in range(0, 2 * 60 * 50) for d in (-0.001, 0.0, 0.001)]
    assert [verdict.clock(t) for t in times if t >= 0] == [clock(t) for t in times if t >= 0]


def test_a_cost_carries_the_price_it_counts_instance_hours_at():
    assert cost_text(3.58, 0.1) == "3.58 at 0.10 per instance-hour"
    assert cost_text(0.0, 0.0416) == "0.00 at 0.0416 per instance-hour"
    assert price_text(1.5) == "1.50"
