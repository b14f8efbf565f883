"""`PyBulletRobotAdapter`: the `RobotAdapter` protocol on a `SimWorld`.

Skills are looked up by catalogue name in the sim-skill registry
(`robot_planner.sim.skills.registry`); a task's arguments are checked against the
implementation's declared names before any motion. `advance(dt)` steps the physics
``dt / time_step`` times; before each step every running skill advances one step, so
every robot moves in the same simulated instants. Arms get a `MotionPlanner`, mobile
bases a `DrivePlanner` (with the `Traffic` rule they share), and a mobile manipulator (a
base with an arm on it) a `MobilePlanner` holding one of each. Failures come back with a
reason: ``IK unreachable``, ``grasp missed``, ``object slipped``, ``placement failed``,
``navigate: ...`` (and the executor adds timeouts).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from robot_planner.adapters.base import AdapterError, SkillState, SkillStatus
from robot_planner.sim.disturbances import DisturbanceConfig, Disturbances
from robot_planner.sim.driving import DrivePlanner, Traffic
from robot_planner.sim.skills import (
    SIM_SKILLS,
    MotionPlanner,
    Phase,
    SharedWorkspace,
    SkillRun,
)
from robot_planner.sim.truth import ground_truth
from robot_planner.sim.world import SimWorld
from robot_planner.untrusted import shown
from robot_planner.world.facts import Fact

log = logging.getLogger(__name__)


class MobilePlanner:
    """The planners of a mobile manipulator: `drive` for its base (a `DrivePlanner`) and
    `motion` for its arm (a `MotionPlanner`). The skills of its kind get this; the
    skills it shares with plain bases (``navigate``, ``wait``) are delegated to the
    base's planner."""

    def __init__(self, drive: DrivePlanner, motion: MotionPlanner):
        self.drive = drive
        self.motion = motion
        self.world = drive.world

    def navigate(self, place: str) -> list[Phase]:
        return self.drive.navigate(place)

    def wait(self, seconds: float) -> Phase:
        return self.drive.wait(seconds)

    def retreat_and_release(self) -> list[Phase]:
        """The arm gives shared places back (an idle robot's yield)."""
        return self.motion.retreat_and_release()


class PyBulletRobotAdapter:
    """Drives the robots (arms and mobile bases) of a `SimWorld` through catalogue skills.

    Args:
        world: the simulated world.
        disturbances: seeded disturbances to apply (none by default).
        self_check: skills verify their own grasp and placement and fail on a slip. Turn
            it off to model blind skills (DoReMi's benchmark), where only a monitor can
            notice that a block was lost.
    """

    def __init__(
        self,
        world: SimWorld,
        disturbances: DisturbanceConfig | None = None,
        self_check: bool = True,
    ):
        self.world = world
        self.self_check = self_check
        self.workspace = SharedWorkspace(world)
        # An arm mounted on a base works beside the base, wherever it drives, not over the
        # places its base parks at: only the fixed arms share those.
        self.workspace.shared = {
            place
            for place in self.workspace.shared
            if sum(
                place in world.scene.robots[name].reach
                for name in world.arms
                if name not in world.bases
            )
            > 1
        }
        self.traffic = Traffic(world)
        # A base drives while it holds a reserved path: drive disturbances measure it.
        self.disturbances = Disturbances(
            world, disturbances or DisturbanceConfig(), self.traffic.paths
        )
        self.planners: dict[str, MotionPlanner | DrivePlanner | MobilePlanner] = {
            name: MotionPlanner(world, arm, self_check, self.workspace)
            for name, arm in world.arms.items()
        }
        for name, base in world.bases.items():
            drive = DrivePlanner(world, base, self.traffic)
            arm_planner = self.planners.get(name)
            self.planners[name] = (
                drive if arm_planner is None else MobilePlanner(drive, arm_planner)  # type: ignore[arg-type]
            )
        # The registered skills that run on some robot of this world (on its kind or on a
        # parent kind: a fetcher is a base, so it navigates as bases do).
        kinds = {k for kind in world.robot_kinds.values() for k in self._kinds(kind)}
        self.supported_skills = frozenset(
            name for name, skill in SIM_SKILLS.items() if kinds & set(skill.robot_kinds)
        )
        self._ids = itertools.count()
        self._runs: dict[int, SkillRun] = {}
        self._active: dict[int, SkillRun] = {}
        #: Called after every physics step (e.g. a recorder taking frames on time).
        self.step_hooks: list[Callable[[], None]] = []

    def _kinds(self, kind: str) -> tuple[str, ...]:
        """`kind` and its parent kinds in the domain (a skill for one runs on it)."""
        return self.world.scene.domain.ancestors(kind)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Disturbance events so far (the executor reports its own)."""
        return self.disturbances.events

    # --- RobotAdapter ----------------------------------------------------------------

    def start_skill(self, robot: str, skill: str, args: Mapping[str, Any]) -> Hashable:
        if robot not in self.world.robot_kinds:
            raise AdapterError(f"unknown robot '{robot}'")
        if skill not in self.supported_skills:
            raise AdapterError(f"unknown skill '{shown(skill)}'")
        implementation = SIM_SKILLS[skill]
        kind = self.world.robot_kinds[robot]
        if not set(self._kinds(kind)) & set(implementation.robot_kinds):
            raise AdapterError(
                f"{robot} is a {kind}; {skill} runs on: {', '.join(implementation.robot_kinds)}"
            )
        implementation.check_args(args)
        for handle_, run_ in list(self._active.items()):
            if run_.robot == robot and "yield" in run_.tags:  # a new task takes over
                run_.cancel(self.world.time)
                self.world.robots[robot].hold_still()
                self._active.pop(handle_, None)
        busy = [r for r in self._active.values() if r.robot == robot]
        if busy:
            raise AdapterError(f"{robot} is busy with {busy[0].skill}")
        scene = self.world.scene
        spec = scene.domain.catalogue.skills.get(skill)
        for key, arg in spec.args.items() if spec is not None else ():
            name = args.get(key)
            if arg.is_name and name is not None and scene.kind_of(str(name)) is None:
                raise AdapterError(f"unknown {key} '{name}'")
        phases = implementation.phases(self.planners[robot], args)
        run = SkillRun(robot, skill, dict(args), phases, started_at=self.world.time)
        handle = next(self._ids)
        self._runs[handle] = run
        self._active[handle] = run
        self.disturbances.on_skill_start(run)
        return handle

    def poll(self, handle: Hashable) -> SkillStatus:
        run = self._run(handle)
        return SkillStatus(run.state, run.progress, run.reason, run.phase)

    def cancel(self, handle: Hashable) -> None:
        run = self._run(handle)
        if run.state is SkillState.RUNNING:
            run.cancel(self.world.time)
            self.world.robots[run.robot].hold_still()
            self._retire(handle, run)

    def read_state(self) -> frozenset[Fact]:
        return ground_truth(self.world)

    def now(self) -> float:
        return self.world.time

    def advance(self, dt: float) -> None:
        steps = max(1, round(dt / self.world.config.time_step))
        for _ in range(steps):
            self.step()

    # --- stepping ------------------------------------------------------------------

    def step(self) -> None:
        """One physics step with every running skill advanced first."""
        self._clear_shared_workspace()
        active = list(self._active.items())
        self.disturbances.before_step([run for _, run in active])
        now = self.world.time
        for handle, run in active:
            run.step(now)
            if run.state is not SkillState.RUNNING:
                self._retire(handle, run)
        self.world.step()
        for hook in self.step_hooks:
            hook()

    def _retire(self, handle: int, run: SkillRun) -> None:
        self._active.pop(handle, None)
        if run.robot in self.world.bases:
            # A base that stopped (arrived, failed, halted) reserves no path any more;
            # where it stands keeps the others out.
            self.world.bases[run.robot].stop()
            self.traffic.release(run.robot)
        # An arm halted over a shared place keeps its lock until it has left the place,
        # so the other arm cannot move into it.
        if (
            run.robot in self.world.arms
            and self.workspace.place_at(self.world.arms[run.robot].tool_pose()[0][:2]) is None
        ):
            self.workspace.release_all(run.robot)
        if run.state is SkillState.FAILED:
            log.info("%s %s failed: %s", run.robot, run.skill, run.reason)
        self.disturbances.on_skill_end(run, run.state is SkillState.SUCCEEDED)

    def _clear_shared_workspace(self) -> None:
        """Idle arms give shared places back: at once when already outside them, or by
        retreating to their own side when another arm is waiting to get in."""
        owners = set(self.workspace.owner.values())
        if not owners:
            return
        busy = {r.robot for r in self._active.values()}
        waiting = any(r.phase == "wait for shared workspace" for r in self._active.values())
        for robot in owners - busy:
            tool = self.world.arms[robot].tool_pose()[0][:2]
            if self.workspace.place_at(tool) is None:
                self.workspace.release_all(robot)
            elif waiting:
                phases = self.planners[robot].retreat_and_release()
                run = SkillRun(
                    robot, "yield", {}, phases, started_at=self.world.time, tags={"yield"}
                )
                self._active[-next(self._ids) - 1] = run
                log.info("%s retreats from the shared workspace for a waiting arm", robot)

    def _run(self, handle: Hashable) -> SkillRun:
        run = self._runs.get(handle)  # type: ignore[arg-type]
        if run is None:
            raise AdapterError(f"unknown skill handle {handle!r}")
        return run

    def running(self) -> list[SkillRun]:
        return list(self._active.values())
