"""A command's execution on the robots, ROS-free: the plan queue, cancel and pre-emption,
the re-plan exchange with the planner, the perceived state and the execution thread.

The executor node only adapts: it turns messages into the plain calls below
(`plan_message`, `cancel_all`, `status_event`, `misalignment`, `perception`), hands in
the outputs as callables (publish a status event, a re-plan request, the world state, a
tree snapshot) and starts the execution thread (`start`). Keeping the rules here means
each one is tested with plain pytest, scripted robots and a clock that follows robot
time; this module never imports rclpy or a message package (a test checks it).

Threads: plans run one at a time on the execution thread, which also lets robot time
pass while idle (so sensors keep publishing); tests call `run_once` instead. Messages
arrive on other threads: they only queue work, record facts or ask the running
supervisor to stop, and set `wake` so the execution thread acts at once.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from robot_planner.execution.executor import PlanExecutor
from robot_planner.execution.supervisor import Supervisor
from robot_planner.monitor.detector import Misalignment
from robot_planner.plan.model import TaskPlan
from robot_planner.plan.validation import validate_plan
from robot_planner.planning.base import PlanningError, PlanRequest, PlanResult
from robot_planner.service.events import StatusEvent
from robot_planner.service.ports import LogPort, StatusPort
from robot_planner.service.wire import RUN_FINAL, status_of
from robot_planner.system import RobotSystem
from robot_planner.world.facts import Fact, format_facts

logger = logging.getLogger(__name__)

#: How often (clock seconds) a tree snapshot is published while a plan runs.
TREE_PERIOD_S = 0.5
#: A plan issued more than this before start-up is a latched one from an earlier run:
#: it is never replayed (the slack allows for clocks a little apart).
STALE_PLAN_S = 1.0


@dataclass(frozen=True)
class ExecutionSettings:
    """The executor's parameters that shape a command's run.

    Attributes:
        monitored: a monitor node watches (misalignments come through `misalignment`,
            perceived facts through `perception`); the supervisor then waits `verify_s`
            after the last task for the goal check, and phases are published.
        verify_s: how long to wait for the monitor's goal check after the plan.
        max_command_s: robot-time limit per command.
        replan_timeout_s: how long (clock seconds) to wait for the planner's re-plan.
        perception_timeout_s: how long (robot seconds) to wait for a fresh perceived state
            before re-planning from the robots' own state instead.
    """

    monitored: bool = False
    verify_s: float = 1.5
    max_command_s: float = 600.0
    replan_timeout_s: float = 30.0
    perception_timeout_s: float = 1.0


@dataclass
class RunningCommand:
    """The command whose plan runs now, and the plan revision it runs."""

    id: str
    revision: int
    command: str
    plan: TaskPlan


@dataclass(frozen=True)
class ExecutorSnapshot:
    """What `/diagnostics` reports about execution (see `executor_health`)."""

    running: str | None
    adapter_errors: int
    last_error_age_s: float | None
    last_error: str


class RemotePlanner:
    """The planner node seen from the execution thread: `replan` publishes a request and
    waits (letting robot time pass, so sensors keep publishing) for the answer."""

    name = "remote"

    def __init__(self, service: ExecutionService) -> None:
        self.service = service

    def plan(self, request: PlanRequest) -> PlanResult:
        raise PlanningError("the executor does not plan new commands")

    def replan(self, request: PlanRequest) -> PlanResult:
        return self.service.request_replan(request)


class ExecutionService:
    """Runs the plans the planner publishes, one command at a time, on `system`.

    Args:
        system: the robots (their adapter already paced by the caller) and how to
            supervise a command on them; its `options.period_s` is the tick period.
        settings: see `ExecutionSettings`.
        status: publishes one status event.
        publish_replan: publishes one re-plan request ``{"command_id", "revision",
            "command", "facts", "goal", "completed", "failed_task", "evidence",
            "failures"}``; the planner answers with the next plan revision.
        publish_state: publishes the robots' state ``{"facts", "source"}``.
        publish_tree: publishes a tree snapshot (text).
        wake: set whenever work arrives, so a paced adapter's wait for the wall clock ends
            at once (give the adapter the same event).
        clock: monotonic seconds (perception freshness, re-plan deadline, tree period).
        started: Unix seconds this executor started; plans issued before it are stale.
        wall_clock: Unix seconds (`started` when not given).
        disturbances: the simulated disturbances so far, reported with a command's end
            (None on hardware).
        log: where lines go (default: this module's logger).
    """

    def __init__(
        self,
        *,
        system: RobotSystem,
        settings: ExecutionSettings,
        status: StatusPort,
        publish_replan: Callable[[dict[str, Any]], None],
        publish_state: Callable[[dict[str, Any]], None],
        publish_tree: Callable[[str], None],
        wake: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
        wall_clock: Callable[[], float] = time.time,
        disturbances: Callable[[], list[Any]] | None = None,
        log: LogPort = logger,
    ) -> None:
        self.system = system
        self.adapter = system.adapter
        self.scene = system.scene
        self.catalogue = system.catalogue
        self.settings = settings
        self.period_s = float(system.options.period_s)
        self._status = status
        self._publish_replan = publish_replan
        self._publish_state = publish_state
        self._publish_tree_text = publish_tree
        self.wake = wake if wake is not None else threading.Event()
        self._clock = clock
        self.started = wall_clock() if started is None else started
        self._disturbances = disturbances
        self._log = log

        self._lock = threading.Lock()
        self._plans: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._seen: set[str] = set()
        #: Answers to re-plan requests, by (command id, revision).
        self._replies: dict[tuple[str, int], dict[str, Any]] = {}
        self._replies_lock = threading.Lock()
        self._replan_readback = ""  # the planner node's words for the latest re-plan
        #: The newest perceived facts and when (clock) they arrived.
        self._perception: tuple[float, frozenset[Fact]] | None = None
        self.current: RunningCommand | None = None
        self.supervisor: Supervisor | None = None
        self._phases: dict[str, str] = {}
        #: The running plan's executor (its tree), and when its snapshot was published.
        self._executor: PlanExecutor | None = None
        self._tree_at = 0.0
        self._adapter_errors = 0
        self._last_error: tuple[float, str] | None = None
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None

    # --- messages in (any thread) ---------------------------------------------------

    def plan_message(self, message: str | dict[str, Any]) -> None:
        """A plan message ``{"command_id", "revision", "issued", "plan" | "error",
        "readback"}`` (or its JSON): revision 0 queues a command (once per id), a later
        revision answers a re-plan request. A plan latched before this executor started
        is ignored, a malformed message is an ``error`` event."""
        try:
            data = json.loads(message) if isinstance(message, str) else dict(message)
            command_id, revision = str(data["command_id"]), int(data["revision"])
            issued = float(data.get("issued", 0.0))
        except (ValueError, KeyError, TypeError) as exc:
            self._status("", "error", reason=f"malformed plan message: {str(exc)[:200]}")
            return
        if issued < self.started - STALE_PLAN_S:
            # A latched plan from before this executor started: never replay it.
            self._log.info(f"ignoring plan for {command_id} issued before start-up")
            return
        if revision > 0:
            with self._replies_lock:
                self._replies[(command_id, revision)] = data
            self.wake.set()
            return
        if command_id in self._seen:
            return
        self._seen.add(command_id)
        self._plans.put(data)
        self.wake.set()

    def cancel_all(self) -> None:
        """Halt the running command and cancel every plan that did not start."""
        with self._lock:
            supervisor, current = self.supervisor, self.current
        if supervisor is not None:
            supervisor.cancel("cancelled by request")
            self.wake.set()
            self._log.warning(f"cancel: halting {current.id if current else ''}")
        self._drain("cancelled by request")

    def _drain(self, reason: str) -> None:
        """Plans that arrived but did not start are cancelled too."""
        while True:
            try:
                data = self._plans.get_nowait()
            except queue.Empty:
                return
            if data is not None:
                self._status(data["command_id"], "cancelled", reason=reason)

    def status_event(self, event: StatusEvent) -> None:
        """Another node's status event: a command that pre-empts the running one halts
        it; so does the monitor failing under ``on_vqa_error: fail``."""
        preempts = event.details.get("preempts") if event.state == "accepted" else None
        if preempts:
            with self._lock:
                supervisor, current = self.supervisor, self.current
            if supervisor is not None and current is not None and current.id == preempts:
                supervisor.cancel(f"preempted by {event.command_id}")
                self.wake.set()
        if event.state == "monitor_degraded" and event.details.get("policy") == "fail":
            # The monitor node's VQA failed and the policy is to fail safe: stop now.
            with self._lock:
                supervisor, current = self.supervisor, self.current
            if supervisor is not None and current is not None and current.id == event.command_id:
                reason = str(event.details.get("reason", "monitor failed"))[:300]
                supervisor.cancel(f"halted: {reason} (on_vqa_error: fail)", failed=True)
                self.wake.set()

    def misalignment(
        self,
        command_id: str,
        revision: int,
        found: Misalignment,
        facts: frozenset[Fact] | None = None,
    ) -> bool:
        """The monitor's finding about `command_id`'s plan `revision`, with the facts it
        perceived then (None: its backend estimates none). Only one about the running
        plan revision halts it; returns whether it was taken."""
        with self._lock:
            supervisor, current = self.supervisor, self.current
        if supervisor is None or current is None:
            return False
        if current.id != command_id or current.revision != revision:
            return False  # about a plan that is no longer running
        if facts is not None:
            self._perception = (self._clock(), facts)
        supervisor.report(found)
        self.wake.set()
        return True

    def perception(self, facts: frozenset[Fact]) -> None:
        """Facts the monitor perceived in a camera frame (re-planning starts from them)."""
        self._perception = (self._clock(), facts)

    # --- the execution thread -------------------------------------------------------

    def start(self) -> None:
        """Run `run_once` on the execution thread until `close`."""
        self.thread = threading.Thread(target=self._run, name="execution", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.run_once():
            pass

    def run_once(self) -> bool:
        """Run the next plan to its end, or let one idle tick of robot time pass (sensors
        publish meanwhile). False once closing."""
        if self._stop.is_set():
            return False
        try:
            data = self._plans.get_nowait()
        except queue.Empty:
            try:
                self.adapter.advance(self.period_s)  # idle: time passes, sensors publish
            except Exception as exc:
                if self._stop.is_set():
                    return False
                self._log.error(f"robot adapter: {type(exc).__name__}: {exc}")
                self._adapter_errors += 1
                self._last_error = (self._clock(), f"{type(exc).__name__}: {exc}")
                self._stop.wait(self.period_s)
            return True
        if data is None:
            return False
        try:
            self._execute(data)
        except Exception as exc:  # never let one command kill the robots' thread
            self._log.error(f"execution failed: {type(exc).__name__}: {exc}")
            self._status(data.get("command_id", ""), "error", reason=f"executor: {exc}")
        finally:
            with self._lock:
                self.supervisor, self.current = None, None
            self.publish_state()
        return True

    def _execute(self, data: dict[str, Any]) -> None:
        command_id = data["command_id"]
        if "plan" not in data:
            self._status(command_id, "error", reason=str(data.get("error", "no plan")))
            return
        state = self.adapter.read_state()
        report = validate_plan(data["plan"], self.catalogue, self.scene, state)
        if not report.ok or report.plan is None:
            reason = "; ".join(report.errors[:5]) or "invalid plan"
            self._status(command_id, "error", reason=f"plan rejected by the executor: {reason}")
            return
        plan: TaskPlan = report.plan
        supervisor = self.system.supervisor(
            RemotePlanner(self),
            estimate_state=self._estimate_state,
            listeners=[lambda event: self._forward(command_id, event)],
            external_monitor=self.settings.monitored,
            verify_s=float(self.settings.verify_s),
            on_tick=self._on_tick,
        )
        with self._lock:
            self.current = RunningCommand(command_id, 0, plan.command, plan)
            self.supervisor = supervisor
            self._phases = {}
            self._executor = None
            self._tree_at = 0.0
            self._replan_readback = ""
        self._log.info(f"[{command_id}] executing {len(plan.tasks)} task(s)")
        supervisor.run(plan.command, plan, float(self.settings.max_command_s))
        # The final statuses of the last tree that ran (the outcome's status event was
        # forwarded by the listener).
        if self._executor is not None:
            self._publish_tree(self._executor)

    def _forward(self, command_id: str, event: dict[str, Any]) -> None:
        """A supervisor event as a status event (the ones `wire.STATE_OF` names)."""
        published = status_of(event)
        if published is None:
            return
        state, details = published
        name = event.get("event", "")
        with self._lock:
            current = self.current
        if current is not None:
            details["revision"] = current.revision
        if name == "replanned" and self._replan_readback:
            details["readback"] = self._replan_readback  # the planner node's words
        if state in RUN_FINAL:
            details["facts"] = format_facts(self.adapter.read_state())
            if self._disturbances is not None:
                details["disturbances"] = self._disturbances()[-20:]
        self._status(command_id, state, **details)

    def _on_tick(self, executor: PlanExecutor) -> None:
        """After every tick: task phases as status events (for the monitor), and a tree
        snapshot every `TREE_PERIOD_S`."""
        self._executor = executor
        for task_id, record in executor.ledger.records.items():
            if record.phase and self._phases.get(task_id) != record.phase:
                self._phases[task_id] = record.phase
                current = self.current
                if self.settings.monitored and current is not None:
                    self._status(
                        current.id,
                        "task_phase",
                        task=task_id,
                        phase=record.phase,
                        revision=current.revision,
                    )
        if self._clock() - self._tree_at > TREE_PERIOD_S and self.supervisor is not None:
            self._publish_tree(executor)

    def _publish_tree(self, executor: PlanExecutor) -> None:
        import py_trees

        self._tree_at = self._clock()
        text = py_trees.display.unicode_tree(executor.root, show_status=True)
        self._publish_tree_text(text)

    def _estimate_state(self) -> frozenset[Fact]:
        """Perceived facts newer than this call (the monitor's), waiting up to
        `perception_timeout_s` of robot time; else the robots' own state, with a warning."""
        asked = self._clock()
        limit = float(self.settings.perception_timeout_s)
        if self.settings.monitored:
            waited = 0.0
            while waited <= limit:
                seen = self._perception
                if seen is not None and seen[0] >= asked:
                    return seen[1]
                self.adapter.advance(self.period_s)
                waited += self.period_s
            self._log.warning(
                "no fresh perception from the monitor; re-planning from the robots' state"
            )
        return self.adapter.read_state()

    def request_replan(self, request: PlanRequest) -> PlanResult:
        """Publish a re-plan request and wait for the planner's answer (robot time keeps
        passing, with the robots halted); a cancel ends the wait."""
        with self._lock:
            current, supervisor = self.current, self.supervisor
        if current is None or supervisor is None:
            raise PlanningError("no command is running")
        revision = current.revision + 1
        message = {
            "command_id": current.id,
            "revision": current.revision,
            "command": request.command,
            "facts": format_facts(request.state),
            "goal": [str(g) for g in request.goal or ()],
            "completed": list(request.completed),
            "failed_task": request.failed_task.model_dump(mode="json")
            if request.failed_task
            else None,
            "evidence": request.evidence,
            "failures": [f.to_dict() for f in request.failures],
        }
        self._status(current.id, "replanning", reason=request.evidence[:300])
        self._publish_replan(message)
        timeout = float(self.settings.replan_timeout_s)
        deadline = self._clock() + timeout
        key = (current.id, revision)
        while self._clock() < deadline:
            with self._replies_lock:
                reply = self._replies.pop(key, None)
            if reply is not None:
                break
            if supervisor._cancel_reason is not None:
                raise PlanningError(supervisor._cancel_reason)
            self.adapter.advance(self.period_s)
        else:
            raise PlanningError(f"no re-plan from the planner node within {timeout} s")
        # The planner counts a revision for every answer, an error too: so must we, or
        # the next request (after the arms clear the view) waits for an answer it has.
        with self._lock:
            if self.current is not None:
                self.current.revision = revision
        if "plan" not in reply:
            raise PlanningError(str(reply.get("error", "re-planning failed"))[:500])
        report = validate_plan(reply["plan"], self.catalogue, self.scene, request.state)
        if not report.ok or report.plan is None:
            raise PlanningError(f"re-plan rejected by the executor: {report.errors[:3]}")
        self._phases = {}
        self._replan_readback = str(reply.get("readback", ""))[:300]
        return PlanResult(report.plan, "remote")

    # --- state out ------------------------------------------------------------------

    def publish_state(self) -> None:
        """Publish the robots' own state (the planner plans the next command from it)."""
        self._publish_state(
            {"facts": format_facts(self.adapter.read_state()), "source": "executor"}
        )

    def snapshot(self) -> ExecutorSnapshot:
        """The running command and the adapter's errors, for `/diagnostics`."""
        with self._lock:
            current = self.current
        error = self._last_error
        return ExecutorSnapshot(
            running=current.id if current is not None else None,
            adapter_errors=self._adapter_errors,
            last_error_age_s=None if error is None else self._clock() - error[0],
            last_error=error[1] if error is not None else "",
        )

    def close(self, timeout: float = 5.0) -> None:
        """Halt the running command and end the execution thread (waits `timeout`)."""
        self._stop.set()
        self.wake.set()
        with self._lock:
            if self.supervisor is not None:
                self.supervisor.cancel("executor shutting down")
        self._plans.put(None)
        if self.thread is not None:
            self.thread.join(timeout=timeout)
