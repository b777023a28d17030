from sim.config.scenario import parse_scenario
from sim.engine import simulate
from sim.engine.compiled import layout
from sim.vocabulary import COUNTS, ENDS, LEVELS, OUTCOMES, TOTALS

# Totals and counters the recorder keeps of its own (arrivals come in bulk, not from an engine's events).
RECORDER_TOTALS = {"visitors.arrived", "actions.attempted", "requests.unmodelled"}
RECORDER_COUNTS = {"arrivals"}

# A small site that loses visitors every way: a short backlog (503s), a balancer timeout (504s),
# impatient visitors, retries, a database, a waiting room that turns visitors away, a signature queue.
SITE = {"run": {"duration_s": 300, "warmup_s": 30, "seed": 5, "bin_s": 60},
        "traffic": {"constant_per_s": 6.0},
        "visitors": {"pages_per_visit": 2, "requests_per_page": 3, "action_rate": 0.3, "patience_s": 2.0,
                     "retry": {"probability": 0.5, "max": 1, "delay_s": 1.0}},
        "site": {"app": {"instances": 1, "workers": 1, "page_s": 0.3, "asset_s": 0.05, "queue_limit": 8,
                         "timeout_s": 1.0},
                 "db": {"connections": 1, "query_s": 0.05},
                 "cdn": {"hit_ratio": 0.5, "landing_ttl_s": 5},
                 "waiting_room": {"active_limit": 40, "session_s": 30, "queueing_method": "reject"},
                 "signature_queue": {"writers": 1}}}


def test_every_name_a_run_records_is_declared_once_in_the_vocabulary():
    sc = parse_scenario(SITE)
    for engine in ("reference", "fast"):
        rec = simulate(sc, engine=engine).recorder
        assert set(rec.totals) <= set(TOTALS) | RECORDER_TOTALS, engine
        assert set(rec.series.counter_names) <= set(COUNTS) | RECORDER_COUNTS, engine
        assert tuple(rec.levels) == LEVELS
        # the run met the words it is checked against: not a vacuous subset
        assert {"requests.rejected", "requests.timed_out", "visitors.failed", "signatures.written"} <= set(rec.totals)
    # the outcome and end names are the recorder's keys
    assert {f"requests.{OUTCOMES[k]}" for k in range(2, len(OUTCOMES))} <= set(TOTALS)
    assert {f"visitors.{name}" for name in ENDS.values()} <= set(TOTALS)
    # the compiled loop's counter rows and total columns are the vocabulary's, in its order
    assert (layout.C_WR_REFRESHES, layout.T_SQ_WRITTEN) == (len(COUNTS) - 1, len(TOTALS) - 1)
