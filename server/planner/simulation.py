"""The discrete-event simulation (SimPy): eligible calls replayed against a scenario's teams.

A call arrives at its recorded time. The nearest free team on duty takes it; with none free, the
dispatcher holds it up to the wait limit, and the first team to clear takes the longest-waiting
call. A call still unheld at the limit goes police-only ("no CARE team available"). A team drives
from where it is (its base, or its last call), stays on scene for a time drawn from the
program's history, and is free again where that call was. When fewer teams are on duty, free
teams go off first and busy ones as they clear; a team coming on duty starts at its base.

Pure Python over plain values: no database, so it runs the same in a test, a command or a page.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import simpy

Position = tuple[float, float] | None  # (latitude, longitude), or unknown


@dataclass(frozen=True)
class Call:
    at: float  # minutes from the start of the history
    call_type: str
    area: str
    slot: int  # local quarter-hour of the week, 0 = Monday 00:00
    position: Position = None
    measured: float | None = None  # minutes the history recorded to the first unit arriving


@dataclass(frozen=True)
class Outcome:
    reached: bool
    wait: float | None = None  # minutes from the call to a CARE team on scene
    busy: float = 0.0  # minutes a team spent on it, driving and on scene
    police_freed: float = 0.0  # minutes of police time handed over to CARE


# (rng, from, call) -> minutes of driving; (rng, call) -> (minutes on scene, police minutes freed)
Travel = Callable[[random.Random, Position, Call], float]
Scene = Callable[[random.Random, Call], tuple[float, float]]


@dataclass(frozen=True)
class Setup:
    wait_limit: float
    travel: Travel
    scene: Scene
    # (minute, teams on duty from then on), in time order; the first at or before the first call.
    duty: Sequence[tuple[float, int]]
    bases: Sequence[Position] = ()  # where team i starts its shift (cycled)


@dataclass
class _Team:
    number: int
    position: Position
    on_duty: bool = True


@dataclass
class _Dispatch:
    """The dispatcher's state in one replication."""

    env: simpy.Environment
    setup: Setup
    rng: random.Random
    outcomes: list[Outcome | None]
    free: list[_Team] = field(default_factory=list)
    spots: list[Position] = field(default_factory=list)  # the free teams' positions, in step
    waiting: deque = field(default_factory=deque)  # (index, call) in arrival order
    teams_made: int = 0
    on_duty: int = 0
    wanted: int = 0

    def base(self) -> Position:
        bases = self.setup.bases
        return bases[self.teams_made % len(bases)] if bases else None

    def arrive(self, index: int, call: Call) -> None:
        if self.free:
            self.send(self.nearest(call), index, call)
            return
        self.waiting.append((index, call))
        limit = self.env.timeout(self.setup.wait_limit)
        limit.callbacks.append(lambda _: self.give_up(index, call))

    def give_up(self, index: int, call: Call) -> None:
        if self.outcomes[index] is None:  # nobody came free in time: police only
            self.waiting.remove((index, call))
            self.outcomes[index] = Outcome(reached=False)

    def nearest(self, call: Call) -> _Team:
        """The free team nearest in a straight line (the longest free where none is placed).
        Squared degrees rank as well as metres over a city, and a comprehension keeps this
        cheap with a hundred teams free."""
        spots = self.spots
        if call.position is None or None in spots:
            spots.pop(0)
            return self.free.pop(0)
        y, x = call.position
        away = [(a - y) * (a - y) + (b - x) * (b - x) for a, b in spots]
        best = away.index(min(away))
        spots.pop(best)
        return self.free.pop(best)

    def send(self, team: _Team, index: int, call: Call) -> None:
        drive = self.setup.travel(self.rng, team.position, call)
        scene, freed = self.setup.scene(self.rng, call)
        wait = self.env.now - call.at + drive
        self.outcomes[index] = Outcome(True, wait, drive + scene, freed)
        # A bare timeout with a callback, not a process: a third of the events per call.
        cleared = self.env.timeout(drive + scene)
        cleared.callbacks.append(lambda _: self.clear(team, call.position))

    def clear(self, team: _Team, where: Position) -> None:
        if where is not None:
            team.position = where
        self.release(team)

    def release(self, team: _Team) -> None:
        if self.on_duty > self.wanted:  # the shift has shrunk: this team goes off
            self.on_duty -= 1
            team.on_duty = False
        elif self.waiting:
            index, call = self.waiting.popleft()
            self.send(team, index, call)
        else:
            self.free.append(team)
            self.spots.append(team.position)

    def roster(self):
        for at, teams in self.setup.duty:
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            self.wanted = teams
            while self.free and self.on_duty > self.wanted:
                self.spots.pop()
                self.free.pop().on_duty = False
                self.on_duty -= 1
            while self.on_duty < self.wanted:
                team = _Team(self.teams_made, self.base())
                self.teams_made += 1
                self.on_duty += 1
                self.release(team)

    def calls(self, calls: Sequence[Call]):
        for index, call in enumerate(calls):
            if call.at > self.env.now:
                yield self.env.timeout(call.at - self.env.now)
            self.arrive(index, call)


def replicate(calls: Sequence[Call], setup: Setup, seed: int) -> list[Outcome]:
    """One replication: what happened to each call (in the order given, which is time order)."""
    env = simpy.Environment()
    dispatch = _Dispatch(env, setup, random.Random(seed), [None] * len(calls))
    env.process(dispatch.roster())
    # The roster's first change and the first call share minute 0: the roster goes first.
    env.process(dispatch.calls(calls))
    env.run()
    return dispatch.outcomes  # type: ignore[return-value]
