"""The recorder's journal: where it is cut and handed over changes nothing, to the last bit.

The event engines append their frequent reports to the journal and ``Recorder.flush``
hands it to the bulk methods every ``_JOURNAL`` page views; counts add as integers and
latencies keep their order and their blocks, so a journal flushed every few page views
must give the same summary and time series as one flushed every 16,384.
"""

import json

from sim.engine import recorder
from sim.engine import simulate
from sim.stats.summary import summarize, timeseries
from tests.engine.test_compiled import _surge


def _outputs(result):
    assert result.error is None and not result.partial
    return json.dumps(summarize(result), sort_keys=True), json.dumps(timeseries(result))


def test_journal_cut_anywhere_gives_the_same_results(monkeypatch):
    scenario = _surge()  # overloaded: 503s, 504s, give-ups, retries, a DB, a CDN, a warm-up
    default = _outputs(simulate(scenario, engine="reference"))
    monkeypatch.setattr(recorder, "_JOURNAL", 7)  # flushed after every 7th page view
    often = _outputs(simulate(scenario, engine="reference"))
    assert often == default
    summary = json.loads(default[0])
    # the scenario reaches the parts the journal carries
    assert summary["requests"]["completed"] > 10_000 and summary["requests"]["cdn_hits"] > 0
    assert summary["requests"]["timed_out"] + summary["requests"]["rejected"] > 0
    assert summary["page_views"]["completed"] < summary["page_views"]["attempted"]
