"""The simulation on tiny histories whose answers are worked out by hand: fixed drive and scene
times, calls spaced so some must wait or go police-only."""

from __future__ import annotations

import math

from server.planner.simulation import Call, Outcome, Setup, replicate

DRIVE, SCENE, FREED = 10.0, 30.0, 20.0  # minutes: a team is busy 40 minutes per call


def fixed(wait_limit: float, teams: int, duty=None) -> Setup:
    return Setup(
        wait_limit=wait_limit,
        travel=lambda rng, here, call: DRIVE,
        scene=lambda rng, call: (SCENE, FREED),
        duty=duty or [(0.0, teams)],
    )


def calls_at(*minutes: float) -> list[Call]:
    return [Call(at=m, call_type="DOWN", area="BELLTOWN", slot=0) for m in minutes]


def test_one_team_reaches_calls_it_is_free_for_and_sends_police_alone_to_the_one_between():
    # Busy 0-40; the call at 20 finds no team and no wait is allowed; free again for 50.
    outcomes = replicate(calls_at(0, 20, 50), fixed(wait_limit=0, teams=1), seed=1)
    assert outcomes == [
        Outcome(True, 10.0, 40.0, 20.0),
        Outcome(False),
        Outcome(True, 10.0, 40.0, 20.0),
    ]


def test_a_call_held_within_the_wait_limit_is_reached_by_the_team_that_clears():
    # The team clears at 40; the call at 30 waited 10 minutes, then 10 more to drive: 20.
    outcomes = replicate(calls_at(0, 30), fixed(wait_limit=15, teams=1), seed=1)
    assert [o.reached for o in outcomes] == [True, True]
    assert outcomes[1].wait == 20.0


def test_a_call_not_taken_by_its_wait_limit_goes_police_only():
    # Held from 20 to 35; the team clears only at 40.
    outcomes = replicate(calls_at(0, 20), fixed(wait_limit=15, teams=1), seed=1)
    assert [o.reached for o in outcomes] == [True, False]


def test_the_longest_waiting_call_is_taken_first():
    # Both calls wait for the team clearing at 40: the one from 25 first (on scene 50, busy
    # until 80), the one from 35 is past its limit (35 + 30 = 65 < 80) and goes police-only.
    outcomes = replicate(calls_at(0, 25, 35), fixed(wait_limit=30, teams=1), seed=1)
    assert [o.reached for o in outcomes] == [True, True, False]
    assert outcomes[1].wait == 25.0


def test_two_teams_take_two_calls_at_once_and_the_third_goes_police_only():
    outcomes = replicate(calls_at(0, 5, 10, 41), fixed(wait_limit=0, teams=2), seed=1)
    assert [o.reached for o in outcomes] == [True, True, False, True]


def test_a_team_going_off_duty_finishes_its_call_and_takes_no_other():
    # One team until minute 30, none after: the call at 0 is served to the end (40), the call
    # at 35 finds no one on duty.
    setup = fixed(wait_limit=10, teams=1, duty=[(0.0, 1), (30.0, 0)])
    outcomes = replicate(calls_at(0, 35), setup, seed=1)
    assert outcomes[0] == Outcome(True, 10.0, 40.0, 20.0)
    assert outcomes[1] == Outcome(False)


def test_a_team_coming_on_duty_takes_a_waiting_call():
    # No team at 0; one from minute 5: the call at 2 waited 3 minutes, then drove 10.
    setup = fixed(wait_limit=10, teams=0, duty=[(0.0, 0), (5.0, 1)])
    outcomes = replicate(calls_at(2), setup, seed=1)
    assert outcomes[0].reached and outcomes[0].wait == 13.0


def test_a_team_drives_from_its_base_and_then_from_its_last_call():
    # Along a meridian a degree of latitude is 111.195 km (mean earth radius 6371 km).
    km_per_degree = 2 * math.pi * 6371 / 360
    base = (47.60, -122.33)
    first = Call(at=0, call_type="DOWN", area="A", slot=0, position=(47.62, -122.33))
    second = Call(at=100, call_type="DOWN", area="A", slot=0, position=(47.63, -122.33))

    def road(rng, here, call):  # 1.5 x straight line at 30 km/h = 0.5 km a minute
        return abs(call.position[0] - here[0]) * km_per_degree * 1.5 / 0.5

    setup = Setup(
        wait_limit=0,
        travel=road,
        scene=lambda rng, call: (SCENE, FREED),
        duty=[(0.0, 1)],
        bases=[base],
    )
    outcomes = replicate([first, second], setup, seed=1)
    assert math.isclose(outcomes[0].wait, 0.02 * km_per_degree * 3, rel_tol=1e-9)
    assert math.isclose(outcomes[1].wait, 0.01 * km_per_degree * 3, rel_tol=1e-9)


def test_the_nearest_free_team_is_sent():
    north, south = (47.70, -122.33), (47.50, -122.33)
    call = Call(at=0, call_type="DOWN", area="A", slot=0, position=(47.52, -122.33))
    setup = Setup(
        wait_limit=0,
        travel=lambda rng, here, c: 1.0 if here == south else 99.0,
        scene=lambda rng, c: (SCENE, FREED),
        duty=[(0.0, 2)],
        bases=[north, south],
    )
    assert replicate([call], setup, seed=1)[0].wait == 1.0


def test_the_same_seed_gives_the_same_outcomes_and_another_seed_other_draws():
    def draw(rng, call):
        return (rng.uniform(10, 60), 0.0)

    setup = Setup(wait_limit=5, travel=lambda rng, h, c: 5.0, scene=draw, duty=[(0.0, 1)])
    history = calls_at(*range(0, 600, 20))
    assert replicate(history, setup, seed=3) == replicate(history, setup, seed=3)
    assert replicate(history, setup, seed=3) != replicate(history, setup, seed=4)
