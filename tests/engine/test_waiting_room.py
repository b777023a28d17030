"""The waiting room in tiny worlds: exact sequences of (event, time)."""

import math

import numpy as np
import simpy

from sim.config.distributions import Constant
from sim.config.scenario import parse_scenario
from sim.config.site import WaitingRoomConfig
from sim.engine.clock import SimpyClock
from sim.engine.recorder import Recorder
from sim.engine.reference.waiting_room import GAVE_UP, LET_IN, TURNED_AWAY, WaitingRoom


class Log:
    """A recorder that writes down the room's levels and its visitors' reloads, and when."""

    def __init__(self, env):
        self.env, self.levels, self.reloads = env, [], []

    def waiting_room_levels(self, t, active, waiting):
        self.levels.append((t, active, waiting))

    def waiting_room_refreshes(self, joined_s, left_s, refresh_s):
        k = 1
        while joined_s + k * refresh_s < left_s:
            self.reloads.append(joined_s + k * refresh_s)
            k += 1


def _world(**config):
    env = simpy.Environment()
    log = Log(env)
    cfg = WaitingRoomConfig(**{"session_s": Constant(value=10.0), **config})
    room = WaitingRoom(SimpyClock(env), cfg, np.random.default_rng(0), log)
    seen = []

    def admitted(tag, how):
        seen.append((tag, how, env.now))

    def arrive(tag, at):
        env.timeout(at).callbacks.append(lambda _ev: room.enter(tag, admitted))

    def journey_ends(at):
        env.timeout(at).callbacks.append(lambda _ev: room.leave())

    return env, room, log, seen, arrive, journey_ends


def test_admissions_are_spaced_by_the_gap_and_a_free_place_waits_for_it():
    # 30 new users a minute: one every 2 s; two places; sessions of 10 s after the journey ends.
    env, room, log, seen, arrive, journey_ends = _world(active_limit=2, new_users_per_minute=30, refresh_s=5)
    for tag, at in (("a", 0), ("b", 0), ("c", 1), ("d", 5)):
        arrive(tag, at)
    journey_ends(3)  # a place frees at 13
    journey_ends(4)  # and another at 14, inside the gap after c's admission at 13: d waits for 15
    env.run()
    assert seen == [("a", LET_IN, 0), ("b", LET_IN, 2), ("c", LET_IN, 13), ("d", LET_IN, 15)]
    assert log.levels == [(0, 1, 0), (0, 1, 1), (1, 1, 2), (2, 2, 1), (5, 2, 2), (13, 2, 1), (14, 1, 1),
                          (15, 2, 0)]
    assert log.reloads == [6, 11, 10]  # c's page reloaded at 6 and 11 (left at 13), d's at 10 (left at 15)
    assert room.active == 2 and room.waiting == 0 and not room.gate_pending


def test_the_gap_event_lets_in_one_and_books_the_next_while_places_are_free():
    env, room, log, seen, arrive, _ = _world(active_limit=5, new_users_per_minute=60)  # one a second
    for tag in "abcd":
        arrive(tag, 0.5)
    env.run()
    assert seen == [("a", LET_IN, 0.5), ("b", LET_IN, 1.5), ("c", LET_IN, 2.5), ("d", LET_IN, 3.5)]


def test_a_visitor_who_gives_up_frees_no_place_and_is_skipped():
    env, room, log, seen, arrive, journey_ends = _world(active_limit=1, queue_patience_s=Constant(value=4.0),
                                                        refresh_s=3)
    for tag, at in (("a", 0), ("b", 1), ("c", 2)):
        arrive(tag, at)
    journey_ends(0)  # a's place frees at 10: b gave up at 5, c at 6
    env.run()
    assert seen == [("a", LET_IN, 0), ("b", GAVE_UP, 5), ("c", GAVE_UP, 6)]
    assert log.reloads == [4, 5]  # b's page at 4 (gave up at 5), c's at 5 (gave up at 6)
    assert log.levels[-1] == (10, 0, 0)


def test_reject_turns_away_who_cannot_enter_at_once_even_at_the_instant_a_place_frees():
    env, room, log, seen, arrive, journey_ends = _world(active_limit=1, queueing_method="reject",
                                                        session_s=Constant(value=3.0))
    for tag, at in (("a", 0), ("b", 1), ("c", 4), ("d", 5), ("e", 6)):
        arrive(tag, at)
    journey_ends(2)  # a's place frees at 5, scheduled after d's arrival at 5: d comes first and is turned away
    env.run()
    assert seen == [("a", LET_IN, 0), ("b", TURNED_AWAY, 1), ("c", TURNED_AWAY, 4), ("d", TURNED_AWAY, 5),
                    ("e", LET_IN, 6)]
    assert log.levels == [(0, 1, 0), (5, 0, 0), (6, 1, 0)] and log.reloads == []


def test_reject_with_a_gap_turns_away_who_comes_inside_it():
    env, room, log, seen, arrive, _ = _world(active_limit=5, queueing_method="reject", new_users_per_minute=60)
    for tag, at in (("a", 0), ("b", 0.5), ("c", 1.0), ("d", 1.75), ("e", 2.0)):
        arrive(tag, at)
    env.run()
    assert seen == [("a", LET_IN, 0), ("b", TURNED_AWAY, 0.5), ("c", LET_IN, 1.0), ("d", TURNED_AWAY, 1.75),
                    ("e", LET_IN, 2.0)]


def test_random_lets_in_the_waiting_visitor_the_rooms_stream_picks():
    env, room, log, seen, arrive, journey_ends = _world(active_limit=1, queueing_method="random")
    for tag, at in (("a", 0), ("b", 1), ("c", 2), ("d", 3)):
        arrive(tag, at)
    journey_ends(4)  # a's place frees at 14
    env.run()
    u = np.random.default_rng(0).random()  # the one pick: among b, c, d waiting in that order
    assert seen[0] == ("a", LET_IN, 0) and seen[1] == ("bcd"[min(int(u * 3), 2)], LET_IN, 14) and len(seen) == 2


def test_reloads_are_counted_at_their_own_times_after_the_warmup():
    sc = parse_scenario({"run": {"duration_s": 100.0, "warmup_s": 30.0, "bin_s": 20}, "traffic": {"constant_per_s": 1}})
    rec = Recorder(sc)
    rec.waiting_room_refreshes(12.0, 61.0, 10.0)  # reloads at 22, 32, 42, 52 (62 is after they left)
    rec.waiting_room_refreshes(50.0, 60.0, 10.0)  # none: the first would come as they leave
    rec.waiting_room_refreshes(50.0, 90.0, math.inf)  # none
    rec.finish(100.0)
    assert rec.series.counter("waiting_room_refreshes").tolist() == [0, 2, 2, 0, 0]
    assert rec.totals["waiting_room.refreshes"] == 3  # 32, 42, 52: after the warm-up


def test_reloads_a_bin_at_a_time_are_the_reloads_one_by_one():
    """Counted per bin from the first reload at or after each edge: the same counts as placing every
    reload in its bin, on waits that cross many bins and reloads that fall on edges (joined at 0, 0.1 ...)."""
    sc = parse_scenario({"run": {"duration_s": 3600.0, "warmup_s": 700.0, "bin_s": 60}, "traffic": {"constant_per_s": 1}})
    rng = np.random.default_rng(5)
    cases = [(0.0, 3600.0, 20.0), (0.1, 3599.9, 3.0), (7.0, 3600.0, 60.0), (59.0, 61.0, 1.0), (0.0, 1.0, 1.0)]
    cases += [(j, j + w, r) for j, w, r in zip(rng.uniform(0, 1800, 200), rng.exponential(900, 200),
                                               rng.choice([1.0, 2.5, 7.0, 20.0, 60.0, 0.1 * 30], 200))]
    bulk, one_by_one = Recorder(sc), Recorder(sc)
    expected_total = 0
    for joined, left, r in cases:
        left = min(left, 3600.0)
        bulk.waiting_room_refreshes(joined, left, r)
        k = np.arange(1, int((left - joined) / r) + 3)
        times = joined + k * r
        times = times[times < left]
        one_by_one.count_many("waiting_room_refreshes", times)
        expected_total += int(np.count_nonzero(times >= 700.0))
    bulk.finish(3600.0)
    one_by_one.finish(3600.0)
    counts = bulk.series.counter("waiting_room_refreshes")
    assert counts.tolist() == one_by_one.series.counter("waiting_room_refreshes").tolist() and counts.sum() > 10_000
    assert bulk.totals["waiting_room.refreshes"] == expected_total
