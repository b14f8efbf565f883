"""The composition root: one place that builds a runnable system from a scene and options.

A *system* is the robots (a `RobotAdapter`), how to look at them (a camera `observe`
and the monitor's VQA backend), where re-planning takes its facts from, and the
`Supervisor` that runs commands on them. `build_sim_system` builds it on a PyBullet
world (world + adapter + disturbances + camera + VQA); `build_system` wraps robots the
caller already has (hardware bindings, scripted robots). `robot-planner run`, the
executor node and every benchmark build through here, so the pieces are wired the same
way everywhere (as `nav2_bringup` composes Nav2, rather than each node rebuilding it).

Only a simulated system has a `Simulation`: the simulator's ground truth and the
oracle VQA that reads it. They are for reports and scoring, never for the system's own
decisions, which come from `believed_state` (what the system perceives or its robots
report). The simulator is imported only when a simulated system is built, so hardware
bring-up never loads PyBullet.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from robot_planner.adapters.base import RobotAdapter
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor import backends
from robot_planner.monitor.base import VqaBackend, VqaError
from robot_planner.monitor.config import MonitorConfig
from robot_planner.monitor.observability import Observability
from robot_planner.planning.base import Planner
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.observation import Observation
from robot_planner.world.scene import Scene

if TYPE_CHECKING:
    from robot_planner.sim.disturbances import DisturbanceConfig
    from robot_planner.sim.world import SimWorld

log = logging.getLogger(__name__)

#: Monitor settings for a system watched by no in-process monitor (the executor node,
#: whose monitor is another node; speed benchmarks).
UNMONITORED = MonitorConfig(mode="off")

ReplanState = Literal["perception", "robot state"]


@dataclass(frozen=True)
class SystemOptions:
    """Everything that shapes a system besides its scene and catalogue.

    Attributes:
        seed: simulation seed (start layout jitter, disturbances).
        gui: open a PyBullet window (needs a display).
        renderer: camera renderer, ``tiny`` or ``egl``.
        disturbances: simulated drops and displacements (None: none).
        self_check: simulated skills check their own grasp and placement; False models
            blind skills, where only a monitor notices a lost block.
        monitor: monitor mode, VQA backend and thresholds (`UNMONITORED` for none).
        camera: the scene camera the monitor looks through.
        camera_size: the monitor's frame size (width, height); None keeps the scene's.
        replan_state: re-plan from perceived facts (when the backend can estimate them)
            or from the robots' own state.
        score_vqa: score every VQA answer against the simulator's oracle (benchmarks).
        max_replans: re-plans in a row without progress (no plan shorter than the
            shortest so far) before giving up; never more than 3x this in all.
        period_s: tick period (seconds of robot time).
    """

    seed: int = 0
    gui: bool = False
    renderer: str = "tiny"
    disturbances: DisturbanceConfig | None = None
    self_check: bool = True
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    camera: str = "overhead"
    camera_size: tuple[int, int] | None = (320, 240)
    replan_state: ReplanState = "perception"
    score_vqa: bool = False
    max_replans: int = 5
    period_s: float = 0.05

    def __post_init__(self) -> None:
        if self.replan_state not in ("perception", "robot state"):
            raise ValueError(
                f"replan_state must be 'perception' or 'robot state', not {self.replan_state!r}"
            )
        if not self.period_s > 0:
            raise ValueError(f"period_s must be positive, not {self.period_s!r}")
        if self.max_replans < 0:
            raise ValueError(f"max_replans must not be negative, not {self.max_replans!r}")


class Simulation:
    """The simulator behind a simulated system: what only a simulator can know.

    Used for ground truth in reports, the oracle VQA backend and benchmark scoring; the
    system's own decisions never read it.
    """

    def __init__(self, world: SimWorld):
        self.world = world

    def ground_truth(self) -> frozenset[Fact]:
        """The facts that hold in the simulated world right now."""
        from robot_planner.sim.truth import ground_truth

        return ground_truth(self.world)

    def oracle(self) -> VqaBackend:
        """A VQA backend answering from ground truth (evaluation only)."""
        from robot_planner.sim.oracle import OracleVqa

        return OracleVqa(self.world)

    def close(self) -> None:
        self.world.close()


@dataclass
class RobotSystem:
    """A built system: robots, camera, monitor, and how to supervise a command on them.

    Attributes:
        adapter: the robots, as the supervisor drives them.
        vqa: the monitor's VQA backend, or None when the in-process monitor is off.
        observe: renders an `Observation` now (None without a camera or monitor).
        estimate_state: facts from perception, for re-planning; None means the robots'
            own state (`adapter.read_state`).
        observability: what the monitor's perceiver cannot observe in the scene (its
            facts are reported as uncheckable, not asked); None without a monitor.
        simulation: the simulator (ground truth, oracle); None on hardware.
    """

    scene: Scene
    catalogue: Catalogue
    options: SystemOptions
    adapter: RobotAdapter
    vqa: VqaBackend | None = None
    observe: Callable[[], Observation] | None = None
    estimate_state: Callable[[], frozenset[Fact]] | None = None
    observability: Observability | None = None
    simulation: Simulation | None = None

    @property
    def state_source(self) -> str:
        """Where `believed_state` comes from: ``perception`` or ``robot state``."""
        return "perception" if self.estimate_state is not None else "robot state"

    def believed_state(self) -> frozenset[Fact]:
        """What the system itself takes to hold now: the perceived facts when re-planning
        uses perception, else the robots' own state. Its verdict on a command is checked
        against this, never against the simulator. A perception failure falls back to
        the robots' state (logged), as a re-plan would not be possible either."""
        if self.estimate_state is not None:
            try:
                return self.estimate_state()
            except VqaError as exc:
                log.warning("perception failed (%s); using the robots' own state", exc)
        return self.adapter.read_state()

    def ground_truth(self) -> frozenset[Fact] | None:
        """The simulator's facts (None on hardware, where there is no ground truth)."""
        return self.simulation.ground_truth() if self.simulation is not None else None

    def supervisor(self, planner: Planner, **overrides: Any) -> Supervisor:
        """A `Supervisor` for one command on this system; `overrides` are passed on to
        it (listeners, an external monitor, a state estimator of the caller's)."""
        kwargs: dict[str, Any] = {
            "estimate_state": self.estimate_state,
            "observability": self.observability,
            "scene": self.scene,
            "detector_config": self.options.monitor.detector(),
            "max_replans": self.options.max_replans,
            "period_s": self.options.period_s,
        }
        kwargs.update(overrides)
        return Supervisor(planner, self.adapter, self.catalogue, self.vqa, self.observe, **kwargs)

    def with_adapter(self, adapter: RobotAdapter) -> RobotSystem:
        """The same system driven through `adapter` (a wrapper such as `PacedAdapter`
        around this one's robots)."""
        return dataclasses.replace(self, adapter=adapter)

    def close(self) -> None:
        """Release the simulator (hardware adapters are closed by their owner)."""
        if self.simulation is not None:
            self.simulation.close()

    def __enter__(self) -> RobotSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_display(gui: bool) -> None:
    # PyBullet's GUI aborts the whole process when X is missing; refuse first instead.
    from robot_planner.sim.world import SimError

    if gui and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise SimError("--gui needs a display, and DISPLAY is not set (run headless instead)")


def _monitoring(
    system: RobotSystem,
    observe: Callable[[], Observation] | None,
    vqa: VqaBackend | None,
    look: Callable[[], Observation] | None = None,
) -> RobotSystem:
    """`system` with its monitor wired: the VQA backend (the injected one, else the one
    `options.monitor` names), the camera, perception for re-planning (from `look`, an
    observation with every camera's view, when given), and what that perceiver cannot
    observe."""
    options = system.options
    if options.monitor.mode == "off" or observe is None:
        return system
    simulation = system.simulation
    oracle = simulation.oracle if simulation is not None else None
    backend = vqa or backends.make_vqa(
        options.monitor.vqa, scene=system.scene, config=options.monitor, oracle=oracle
    )
    # Asked of the perceiver itself (a scoring wrapper does not pass `blind_spots` on).
    observability = Observability.of(backend, system.scene)
    observability.log_report()
    if options.score_vqa and backend.name != "oracle":
        if simulation is None:
            raise ValueError("score_vqa needs a simulator's ground truth to score against")
        from robot_planner.monitor.oracle import ScoredVqa

        backend = ScoredVqa(backend, simulation.oracle())
    estimate = None
    if options.replan_state == "perception" and hasattr(backend, "estimate_facts"):

        def estimate() -> frozenset[Fact]:
            return backend.estimate_facts((look or observe)())

    return dataclasses.replace(
        system,
        vqa=backend,
        observe=observe,
        estimate_state=estimate,
        observability=observability,
    )


def build_sim_system(
    scene: Scene,
    catalogue: Catalogue,
    options: SystemOptions | None = None,
    *,
    vqa: VqaBackend | None = None,
) -> RobotSystem:
    """A simulated system: a PyBullet world of `scene`, its arms as a robot adapter with
    the options' disturbances, and (unless the monitor is off) the overhead camera and
    the VQA backend. Close it (or use it as a context manager) to free the world.

    Args:
        scene: the world to simulate.
        catalogue: the skills.
        options: seed, disturbances, monitor settings, ...
        vqa: a backend to use instead of the one the monitor settings name (tests).

    Raises:
        SimError: the simulation could not start (no display for `gui`, bad geometry,
            unknown camera).
        VqaError: the VQA backend could not start.
    """
    from robot_planner.sim.adapter import PyBulletRobotAdapter
    from robot_planner.sim.world import SimWorld

    options = options or SystemOptions()
    _check_display(options.gui)
    world = SimWorld(scene, seed=options.seed, gui=options.gui, renderer=options.renderer)
    try:
        adapter = PyBulletRobotAdapter(world, options.disturbances, options.self_check)
        system = RobotSystem(scene, catalogue, options, adapter, simulation=Simulation(world))
        observe = look = None
        if options.monitor.mode != "off":
            size = options.camera_size or (None, None)
            camera = world.camera(options.camera, *size)

            def observe() -> Observation:
                return world.observe(camera)

            # Re-planning looks through every camera of the scene: one more render per
            # estimate, only while the robots stand halted.
            views = [world.camera(n, *size) for n in scene.cameras if n != options.camera]
            if views:

                def look() -> Observation:
                    return world.observe(camera, views)

        return _monitoring(system, observe, vqa, look)
    except BaseException:
        world.close()
        raise


def build_system(
    scene: Scene,
    catalogue: Catalogue,
    adapter: RobotAdapter,
    options: SystemOptions | None = None,
    *,
    observe: Callable[[], Observation] | None = None,
    vqa: VqaBackend | None = None,
) -> RobotSystem:
    """A system on robots the caller already has (hardware bindings, scripted robots).

    The in-process monitor runs only with a camera (`observe`); without one, monitoring
    is left to a monitor node. There is no simulator, hence no ground truth and no
    oracle.

    Raises:
        VqaError: the VQA backend could not start (the oracle cannot, here).
    """
    options = options or SystemOptions()
    if options.disturbances is not None:
        raise ValueError("disturbances are simulated: they need build_sim_system")
    system = RobotSystem(scene, catalogue, options, adapter)
    return _monitoring(system, observe, vqa)
