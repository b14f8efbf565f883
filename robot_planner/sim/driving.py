"""How simulated mobile bases drive: paths along the scene's travel lane, a traffic rule
that keeps bases apart, and phases that steer a `SimBase` along a path.

Paths. A base drives from where it stands to a bay of the place (``bays: [x, y, yaw]``)
along straight segments: across to the travel lane (the centre line of the largest floor
area where nothing stands: the logistics cell's aisle), along it, and across into the
bay. It turns on the spot between segments and may drive a segment in reverse, so it
arrives at the bay's heading without turning next to a station (where the arm's pedestal
is within the base's turning circle).

Traffic rule: reservations, all or nothing. Before it moves, a base reserves its whole
path: the path must stay clear (by the base's turning radius) of every other base's
reserved path and of every other base's footprint where it stands. It waits while that
is not so and fails after `BLOCKED_S`; it never holds a reservation while waiting for
another, so bases cannot deadlock each other. A reservation ends when the base arrives
(or its skill ends), after which its footprint alone keeps others out. A bay is claimed
by the base that drives to it and stays claimed while the base is parked there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from robot_planner.sim.skills.motion import Phase, SkillFailure, wait_phase
from robot_planner.sim.truth import BAY_TOLERANCE, BAY_YAW_TOLERANCE

if TYPE_CHECKING:
    from robot_planner.sim.models import SimBase
    from robot_planner.sim.world import SimWorld
    from robot_planner.world.scene import PlaceSpec

#: ``navigate`` succeeds this close (m, rad) to the bay's pose (ground truth calls a
#: base parked within `BAY_TOLERANCE` and `BAY_YAW_TOLERANCE`).
ARRIVE_TOLERANCE = 0.04
ARRIVE_YAW_TOLERANCE = math.radians(3)
#: Clearance (m) kept beyond the bases' turning radius and footprints.
CLEARANCE = 0.05
#: How long (s) a base waits for a free bay or a clear path before it fails.
BLOCKED_S = 60.0
#: Steering gains: heading error (1/s), look-ahead distance (m).
HEADING_GAIN = 2.5
LOOK_AHEAD = 0.35
#: Where a drive to a pose off the bays may meet the lane, along it from straight across
#: (m): the first of these whose turns and legs clear what lies on the floor.
ENTRY_SHIFTS = (0.0, 0.7, -0.7, 1.4, -1.4)
#: Points on a path closer than this (m) are one point.
SAME_POINT = 0.05


@dataclass(frozen=True)
class Leg:
    """One straight segment of a path, driven forwards or in reverse."""

    start: np.ndarray
    end: np.ndarray
    reverse: bool

    @property
    def heading(self) -> float:
        """The base's yaw while it drives this leg."""
        d = self.end - self.start
        yaw = math.atan2(d[1], d[0])
        return math.remainder(yaw + math.pi, math.tau) if self.reverse else yaw

    @property
    def length(self) -> float:
        return float(np.linalg.norm(self.end - self.start))


@dataclass
class Route:
    """A planned drive: the bay it ends in (place, index, pose) and its legs.

    A drive that ends elsewhere than in a bay (`DrivePlanner.drive_to`) has no place
    and bay index (``""``, -1) and says in `target` where it ends, for its messages."""

    place: str
    bay: int
    goal: np.ndarray  # x, y, yaw
    legs: list[Leg] = field(default_factory=list)
    target: str = ""

    @property
    def where(self) -> str:
        """Where it ends, for a message: its target, else the place's bay."""
        return self.target or f"{self.place}'s bay"

    def points(self) -> list[np.ndarray]:
        return [self.legs[0].start, *(leg.end for leg in self.legs)] if self.legs else []


def wrap(angle: float) -> float:
    """An angle in [-pi, pi)."""
    return math.remainder(angle, math.tau)


def floor_areas(world: SimWorld) -> list[PlaceSpec]:
    """The floor areas without bays where nothing is built (the aisle): where bases
    drive, and where what falls off a driving base lands."""
    return [
        spec
        for name, spec in world.scene.places.items()
        if not spec.bays
        and name not in world.containers
        and name not in world.stations
        and name not in world.zones
    ]


def travel_lane(world: SimWorld) -> tuple[np.ndarray, np.ndarray] | None:
    """The centre line (two end points) of the largest floor area without bays where
    nothing is built (the aisle), or None when the scene has none."""
    floors = floor_areas(world)
    if not floors:
        return None
    spec = max(floors, key=lambda s: s.size[0] * s.size[1])
    center = np.array(spec.center, dtype=float)
    axis = np.array([1.0, 0.0]) if spec.size[0] >= spec.size[1] else np.array([0.0, 1.0])
    half = max(spec.size) / 2
    return center - half * axis, center + half * axis


def _project(point: np.ndarray, lane: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    a, b = lane
    d = b - a
    t = float(np.clip(np.dot(point - a, d) / np.dot(d, d), 0.0, 1.0))
    return a + t * d


def plan_route(
    world: SimWorld, start: np.ndarray, start_yaw: float, place: str, bay: int
) -> Route:
    """Legs from `start` to bay `bay` of `place`: across to the lane, along it, across
    into the bay. Each leg is driven forwards or in reverse: the last one so that the
    base arrives at the bay's heading when it can, the others with the least turning."""
    goal = np.array(world.scene.places[place].bays[bay], dtype=float)
    return route_to(world, start, start_yaw, goal, place, bay)


def route_to(
    world: SimWorld,
    start: np.ndarray,
    start_yaw: float,
    goal: np.ndarray,
    place: str = "",
    bay: int = -1,
    target: str = "",
    entry_shift: float = 0.0,
) -> Route:
    """Legs from `start` to the pose `goal` (x, y, yaw) as `plan_route` drives to a bay:
    across to the lane, along it, across to the goal (nothing across when the goal is on
    the lane), the last leg forwards or in reverse to arrive at the goal's heading.
    `entry_shift` moves the point where it meets the lane along the lane (m): to turn
    there clear of something lying beside the lane."""
    lane = travel_lane(world)
    points = [np.asarray(start, dtype=float)]
    if lane is not None:
        a, b = lane
        entry = _project(points[0], lane) + entry_shift * (b - a) / np.linalg.norm(b - a)
        points += [_project(entry, lane), _project(goal[:2], lane)]
    points.append(goal[:2])
    path = [points[0]]
    for point in points[1:]:
        if np.linalg.norm(point - path[-1]) > SAME_POINT:
            path.append(point)
    if len(path) == 1:  # already there: turn on the spot (if at all)
        return Route(place, bay, goal, [], target)
    legs: list[Leg] = []
    yaw = start_yaw
    for i, (a, b) in enumerate(itertools.pairwise(path)):
        forward = Leg(a, b, reverse=False)
        backward = Leg(a, b, reverse=True)
        # The last leg ends at the bay's heading if it can; the others turn least.
        aim = goal[2] if i == len(path) - 2 else yaw
        leg = min(
            (forward, backward),
            key=lambda leg_: abs(wrap(leg_.heading - aim)),
        )
        legs.append(leg)
        yaw = leg.heading
    return Route(place, bay, goal, legs, target)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    denominator = float(np.dot(d, d))
    t = 0.0 if denominator == 0.0 else float(np.clip(np.dot(p - a, d) / denominator, 0, 1))
    return float(np.linalg.norm(p - (a + t * d)))


def _samples(points: Sequence[np.ndarray], step: float = 0.05) -> list[np.ndarray]:
    """Points every `step` metres along a polyline (its corners included)."""
    out = [points[0]]
    for a, b in itertools.pairwise(points):
        n = max(1, math.ceil(float(np.linalg.norm(b - a)) / step))
        out += [a + (b - a) * (k / n) for k in range(1, n + 1)]
    return out


def _polyline_distance(first: Sequence[np.ndarray], second: Sequence[np.ndarray]) -> float:
    if len(second) == 1:
        return min(
            (_segment_distance(second[0], a, b) for a, b in itertools.pairwise(first)),
            default=float(np.linalg.norm(first[0] - second[0])),
        )
    return min(
        _segment_distance(p, a, b) for p in _samples(first) for a, b in itertools.pairwise(second)
    )


def _footprint_distance(point: np.ndarray, base: SimBase) -> float:
    """Distance from `point` to the rectangle a base covers where it stands."""
    xy, yaw = base.pose()
    c, s = math.cos(yaw), math.sin(yaw)
    d = point - xy
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    gap = np.maximum(np.abs(local) - np.asarray(base.footprint), 0.0)
    return float(np.linalg.norm(gap))


def turning_radius(base: SimBase) -> float:
    """The circle a base sweeps turning on the spot: its footprint's half diagonal."""
    return float(np.hypot(*base.footprint))


class Traffic:
    """Bay claims and path reservations shared by every base of a world."""

    def __init__(self, world: SimWorld):
        self.world = world
        #: (place, bay index) -> the base that claimed it.
        self.bays: dict[tuple[str, int], str] = {}
        #: base -> the points of the path it has reserved.
        self.paths: dict[str, list[np.ndarray]] = {}
        for name in world.bases:  # a base that starts in a bay holds it
            for key in self.bays_at(name):
                self.bays[key] = name

    def bays_at(self, name: str, tolerance: float = BAY_TOLERANCE) -> list[tuple[str, int]]:
        """The bays the base `name` is parked in (position and heading)."""
        xy, yaw = self.world.bases[name].pose()
        return [
            (place, i)
            for place, spec in self.world.scene.places.items()
            for i, bay in enumerate(spec.bays)
            if np.linalg.norm(xy - np.asarray(bay[:2])) <= tolerance
            and abs(wrap(yaw - bay[2])) <= BAY_YAW_TOLERANCE
        ]

    def free_bay(self, name: str, place: str) -> tuple[int | None, str | None]:
        """The nearest bay of `place` no other base has claimed or stands in and whose
        way in nothing lying on the floor blocks (a spilled parcel), if any; else None
        and what lies in the way of the nearest bay that is free but for that."""
        spec: PlaceSpec = self.world.scene.places[place]
        base = self.world.bases[name]
        xy, yaw = base.pose()
        free = []
        for i, bay in enumerate(spec.bays):
            owner = self.bays.get((place, i))
            if owner is not None and owner != name:
                continue
            point = np.asarray(bay[:2], dtype=float)
            others = [b for n, b in self.world.bases.items() if n != name]
            if any(_footprint_distance(point, b) < turning_radius(b) for b in others):
                continue
            lying = self.floor_blocker(base, plan_route(self.world, xy, yaw, place, i), yaw)
            free.append((lying is not None, float(np.linalg.norm(point - xy)), i, lying))
        if not free:
            return None, None
        blocked, _, bay, lying = min(free)
        return (None, lying) if blocked else (bay, None)

    def floor_blocker(self, base: SimBase, route: Route, yaw: float) -> str | None:
        """An object lying on the floor that `base` would run into on `route` from
        heading `yaw`: within its half width (plus `CLEARANCE`) of a leg, or within its
        turning radius where it turns on the spot. Bases push what they drive into, and
        a parcel pushed out of the aisle is in no place."""
        world = self.world
        points = route.points()
        if not points:
            return None
        turns = []  # where the base turns on the spot: start, between legs, in the bay
        headings = [yaw, *(leg.heading for leg in route.legs), float(route.goal[2])]
        for point, (before, after) in zip(points, itertools.pairwise(headings), strict=True):
            if abs(wrap(after - before)) > math.radians(5.0):
                turns.append(point)
        for block in world.blocks:
            pos, _ = world.block_pose(block)
            half = world.block_size[block] / 2
            if pos[2] - half > world.ground + 0.02 or world.holder_of(block) is not None:
                continue  # not lying on the floor (on a table, a tray, in a hand)
            xy = np.asarray(pos[:2], dtype=float)
            if _polyline_distance(points, [xy]) < base.footprint[1] + half + CLEARANCE or any(
                float(np.linalg.norm(xy - t)) < turning_radius(base) + half for t in turns
            ):
                return block
        return None

    def claim_bay(self, name: str, place: str, bay: int) -> None:
        """`name` drives to bay `bay` of `place`: it gives up the bays it held."""
        for key in [k for k, owner in self.bays.items() if owner == name]:
            del self.bays[key]
        self.bays[(place, bay)] = name

    def leave_bays(self, name: str) -> None:
        """`name` drives off to somewhere that is not a bay: it gives up the bays it held."""
        for key in [k for k, owner in self.bays.items() if owner == name]:
            del self.bays[key]

    def blocker(self, name: str, points: list[np.ndarray]) -> str | None:
        """The other base whose reserved path or footprint is in the way of `points`."""
        me = self.world.bases[name]
        radius = turning_radius(me) + CLEARANCE
        for other, base in self.world.bases.items():
            if other == name:
                continue
            reserved = self.paths.get(other)
            if reserved is not None and _polyline_distance(points, reserved) < (
                radius + turning_radius(base) + CLEARANCE
            ):
                return other
            # A moving base (a halted one braking) still covers its stopping distance.
            stopping = base.velocity()[0] ** 2 / (2 * base.max_accel)
            if min(_footprint_distance(p, base) for p in _samples(points)) < radius + stopping:
                return other
        return None

    def reserve(self, name: str, points: list[np.ndarray]) -> str | None:
        """Reserve `points` for `name` when nothing is in the way; else the blocker."""
        blocker = self.blocker(name, points)
        if blocker is None:
            self.paths[name] = points
        return blocker

    def release(self, name: str) -> None:
        """`name` stopped: its path reservation ends, and so does a claim on a bay it
        did not reach (a halted drive)."""
        self.paths.pop(name, None)
        here = set(self.bays_at(name))
        for key in [k for k, owner in self.bays.items() if owner == name and k not in here]:
            del self.bays[key]


class DrivePlanner:
    """Builds phases that drive one base in one world (the bases' `MotionPlanner`)."""

    def __init__(self, world: SimWorld, base: SimBase, traffic: Traffic):
        self.world = world
        self.base = base
        self.traffic = traffic

    # --- phases ----------------------------------------------------------------------

    def wait(self, seconds: float) -> Phase:
        return wait_phase(self.world, seconds)

    def navigate(self, place: str) -> list[Phase]:
        """Claim a free bay of `place`, reserve a path to it, drive it leg by leg
        (turning on the spot between legs), align with the bay, check the arrival."""
        base, traffic, world = self.base, self.traffic, self.world
        name = base.name
        route: dict[str, Route] = {}

        def has_bays() -> None:
            spec = world.scene.places.get(place)
            if spec is None or not spec.bays:
                raise SkillFailure(f"navigate: {place} has no bay to park in")

        def choose_bay() -> str | None:
            bay, lying = traffic.free_bay(name, place)
            if lying is not None:  # it will not move by itself: fail now, say what
                raise SkillFailure(f"navigate: {lying} lies in the way to {place}")
            if bay is None:
                return f"no free bay at {place}"
            traffic.claim_bay(name, place, bay)
            xy, yaw = base.pose()
            route["route"] = plan_route(world, xy, yaw, place, bay)
            return None

        def reserve() -> str | None:
            points = route["route"].points() or [base.pose()[0]]
            blocker = traffic.reserve(name, points)
            return None if blocker is None else f"{blocker} is in the way to {place}"

        return [
            Phase("check place", update=lambda: has_bays() or True),
            self._waiting("wait for a free bay", choose_bay),
            self._waiting("wait for a clear path", reserve),
            # The legs are only known once the bay is chosen: one phase drives them all.
            self._drive_route(lambda: route["route"]),
            self._turn("align", lambda: float(route["route"].goal[2])),
            self._arrive(lambda: route["route"]),
        ]

    def drive_to(self, skill: str, target: str, goal: Callable[[], np.ndarray]) -> list[Phase]:
        """Drive to the pose `goal()` (x, y, yaw) as `navigate` drives to a bay, with no
        bay to claim: wait for a clear path through the travel lane and reserve it, drive
        it leg by leg, turn to the goal's heading, check the arrival. The reservation is
        kept on arrival: the skill works there and releases it (`Traffic.release`) when
        it is done, or the adapter does when the skill ends. It arrives within
        `SAME_POINT` (a goal nearer than that is not driven to, only turned at) and
        `ARRIVE_YAW_TOLERANCE`. Failures are one line naming `skill` and `target` (what
        the pose is, e.g. "the approach to red_parcel")."""
        base, traffic, world = self.base, self.traffic, self.world
        name = base.name
        route: dict[str, Route] = {}

        def reserve() -> str | None:
            xy, yaw = base.pose()
            pose = np.asarray(goal(), dtype=float)
            # Onto the lane where it turns clear of what lies on the floor (the object
            # it is fetching, too), else straight across.
            routes = [
                route_to(world, xy, yaw, pose, target=target, entry_shift=shift)
                for shift in ENTRY_SHIFTS
            ]
            route["route"] = next(
                (r for r in routes if traffic.floor_blocker(base, r, yaw) is None), routes[0]
            )
            blocker = traffic.reserve(name, route["route"].points() or [xy])
            if blocker is not None:
                return f"{blocker} is in the way to {target}"
            traffic.leave_bays(name)
            return None

        def arrived() -> bool:
            pose = route["route"].goal
            xy, yaw = base.pose()
            off = float(np.linalg.norm(pose[:2] - xy))
            turned = abs(wrap(pose[2] - yaw))
            if off > SAME_POINT or turned > ARRIVE_YAW_TOLERANCE:
                raise SkillFailure(
                    f"{skill}: {name} stopped {off * 100:.0f} cm and "
                    f"{math.degrees(turned):.0f}° from {target}"
                )
            return True

        return [
            self._waiting("wait for a clear path", reserve, skill),
            self._drive_route(lambda: route["route"], skill),
            self._turn("align", lambda: float(route["route"].goal[2]), skill),
            Phase("arrive", update=arrived),
        ]

    # --- building blocks -------------------------------------------------------------

    def _waiting(
        self, name: str, blocked: Callable[[], str | None], skill: str = "navigate"
    ) -> Phase:
        """A phase that ends once `blocked()` says nothing is in the way (None), and fails
        with its last reason after `BLOCKED_S` of waiting (the failure names `skill`)."""
        world = self.world
        plan: dict = {}

        def start() -> None:
            plan["t0"] = world.time

        def update() -> bool:
            why = blocked()
            if why is None:
                return True
            if world.time - plan["t0"] > BLOCKED_S:
                raise SkillFailure(f"{skill}: {self.base.name} waited {BLOCKED_S:.0f} s: {why}")
            return False

        return Phase(name, start=start, update=update)

    def _turn(self, name: str, heading: Callable[[], float], skill: str = "navigate") -> Phase:
        """Turn on the spot to `heading()` (within 1°), failing when it takes too long."""
        base, world = self.base, self.world
        plan: dict = {}

        def start() -> None:
            plan["yaw"] = heading()
            plan["t0"] = world.time
            error = abs(wrap(plan["yaw"] - base.pose()[1]))
            plan["limit"] = 2 * error / base.max_turn_rate + 5.0

        def update() -> bool:
            if self._turn_step(plan["yaw"], math.radians(1.0)):
                return True
            if world.time - plan["t0"] > plan["limit"]:
                error = wrap(plan["yaw"] - base.pose()[1])
                raise SkillFailure(
                    f"{skill}: {base.name} could not turn to "
                    f"{math.degrees(plan['yaw']):.0f}° (off by {math.degrees(error):.0f}°)"
                )
            return False

        return Phase(name, start=start, update=update)

    def _drive_route(self, route: Callable[[], Route], skill: str = "navigate") -> Phase:
        """Every leg of the route: turn to the leg's heading, drive it, brake at its end."""
        base, world = self.base, self.world
        state: dict = {}
        phase = Phase("drive")

        def start() -> None:
            state["legs"] = list(route().legs)
            state["index"] = 0
            state["turned"] = False
            total = sum(leg.length for leg in state["legs"])
            expected = total / base.max_speed + len(state["legs"]) * (
                math.pi / base.max_turn_rate + base.max_speed / base.max_accel
            )
            phase.expected_duration = expected
            state["limit"] = 2 * expected + 10.0

        def update() -> bool:
            # The phase's own clock: it stops while the run is held (`SkillRun.hold`).
            if world.time - phase.started_at > state["limit"]:
                xy, _ = base.pose()
                goal = route().goal[:2]
                raise SkillFailure(
                    f"{skill}: {base.name} timed out {np.linalg.norm(goal - xy):.2f} m "
                    f"from {route().where}"
                )
            legs: list[Leg] = state["legs"]
            if state["index"] >= len(legs):
                base.stop()
                return abs(base.velocity()[0]) < 0.01
            leg = legs[state["index"]]
            if not state["turned"]:
                if self._turn_step(leg.heading):
                    state["turned"] = True
                return False
            if self._leg_step(leg):
                state["index"] += 1
                state["turned"] = False
            return False

        phase.start, phase.update = start, update
        return phase

    def _turn_step(self, heading: float, tolerance: float = math.radians(2.0)) -> bool:
        """One step of turning on the spot with a braking profile (no overshoot); True
        once within `tolerance` of `heading` and (nearly) still."""
        base = self.base
        error = wrap(heading - base.pose()[1])
        if abs(error) < tolerance:
            base.drive(0.0, 0.0)
            return abs(base.velocity()[1]) < 0.05
        rate = min(
            base.max_turn_rate,
            math.sqrt(2 * 0.8 * base.max_turn_accel * abs(error)),
            HEADING_GAIN * abs(error),
        )
        base.drive(0.0, math.copysign(rate, error))
        return False

    def _leg_step(self, leg: Leg) -> bool:
        """One step along a leg: speed from the distance left (braking in time), heading
        towards a look-ahead point on the leg; True once stopped at its end."""
        base = self.base
        xy, yaw = base.pose()
        direction = (leg.end - leg.start) / max(leg.length, 1e-9)
        left = float(np.dot(leg.end - xy, direction))
        if abs(left) < 0.01 and abs(base.velocity()[0]) < 0.02:
            base.drive(0.0, 0.0)
            return True
        speed = min(base.max_speed, math.sqrt(2 * 0.8 * base.max_accel * abs(left)), 2 * abs(left))
        speed = math.copysign(speed, left)
        if left > LOOK_AHEAD / 2:
            along = float(np.dot(xy - leg.start, direction))
            aim = leg.start + direction * min(leg.length, max(along, 0.0) + LOOK_AHEAD)
            bearing = math.atan2(aim[1] - xy[1], aim[0] - xy[0])
            wanted = wrap(bearing + math.pi) if leg.reverse else bearing
        else:
            wanted = leg.heading
        turn = HEADING_GAIN * wrap(wanted - yaw)
        base.drive(-speed if leg.reverse else speed, turn)
        return False

    def _arrive(self, route: Callable[[], Route]) -> Phase:
        """Succeed within the arrival tolerances of the bay; else fail with how far off."""
        base, traffic = self.base, self.traffic

        def check() -> bool:
            goal = route().goal
            xy, yaw = base.pose()
            off = float(np.linalg.norm(goal[:2] - xy))
            turned = abs(wrap(goal[2] - yaw))
            traffic.release(base.name)
            if off > ARRIVE_TOLERANCE or turned > ARRIVE_YAW_TOLERANCE:
                raise SkillFailure(
                    f"navigate: {base.name} stopped {off * 100:.0f} cm and "
                    f"{math.degrees(turned):.0f}° from {route().place}'s bay"
                )
            return True

        return Phase("arrive", update=check)
