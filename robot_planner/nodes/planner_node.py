"""planner_node: commands in, validated plans out; owns each command's life and the journal.

Commands arrive as ``ExecuteCommand`` goals on ``/robot_planner/execute`` (feedback on
every status event of the command, a result with an error code when it ends, cancel halts
the robots) or as text on ``/robot_planner/command`` (text, or JSON ``{"id", "text"}``,
for voice and simple publishers); both take the same path (queue, ids, journal, status).
The node plans with the configured backend in a worker thread (an LLM may take seconds;
callbacks never wait), publishes the validated plan on ``/robot_planner/plan_graph``
(robot_planner_interfaces/Plan, transient local: what the executor and the monitor read;
``/robot_planner/plan`` carries it as JSON for people and tools) and status events on
``/robot_planner/status_events`` (typed; ``/robot_planner/status`` mirrors them as JSON),
and serves re-plan requests from the executor on ``/robot_planner/replan``
(robot_planner_interfaces/ReplanRequest); new commands are planned from the executor's
world state (``/robot_planner/state``, WorldState).
``/robot_planner/get_state`` (GetState) answers the current state or a command's outcome;
``/robot_planner/cancel`` (everything) and ``/robot_planner/cancel_command`` (one id)
cancel. Every accepted command and its outcome go to the journal.

With ``confirm`` set, a command's first plan is held instead of published: an
``awaiting_approval`` status event carries its readback, the guesses it rests on and the
deadline, and ``/robot_planner/approve_plan`` (ApprovePlan) or a command text that is
only "yes"/"go ahead"/"confirm" or "no"/"cancel"/"stop" (typed or spoken) decides it.
Approved, the plan goes to the executor; rejected or unanswered within
``confirm_timeout_s``, the command ends ``rejected``. Re-plans during execution are not
held (the person approved the goal; the robots wait halted for the new plan).

The rules (queue, revisions, progress, cancel, approval, the executor watchdog, the
re-plan exchange) live in the ROS-free `robot_planner.service.lifecycle.CommandLifecycle`;
this node declares the parameters and adapts messages, services, the action and timers.

Health on ``/diagnostics`` once a second (``robot_planner/planner``: queue length,
commands done, backend, executors alive; WARN without an executor or with a full queue,
ERROR when the executor running a command is gone). Parameters are read-only (read at
start-up); ranges and choices show in ``ros2 param describe`` and are checked at start-up.

Parameters:
  scene (str, "tabletop"): scene name or YAML path.
  domain (str, ""): domain name or file ("" = the domain the scene names).
  planner_config (str, ""): planner YAML ("" = the packaged config/planner.yaml).
  backend (str, ""): offline | openai | transformers | auto; "" keeps planner_config's.
  on_new_command (str, "queue"): a command arriving while one runs is queued (bounded),
      preempts the running one, or is rejected; each answered with a status event.
  max_queue (int, 10): commands that may wait; more are rejected with an event.
  journal (str, "~/.ros/robot_planner/journal.jsonl"): the append-only command journal.
  executor_timeout_s (float, 3.0): when the executor running a command disappears
      (killed, crashed, restarted) for this long, the command ends ``interrupted`` in
      the journal and with a status event; it is never replayed.
  confirm (str, ""): never | ambiguous | always: which plans wait for approval
      (ambiguous: an LLM plan, a spoken command, or one the understanding had to
      guess); "" keeps planner_config's (default never).
  confirm_timeout_s (float, 0.0): seconds a plan waits for approval before the command
      is rejected, 1..600; 0 keeps planner_config's (default 30).
"""

from __future__ import annotations

import json
import threading
from typing import Any, get_args

from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from std_msgs.msg import Empty, String

from robot_planner.nodes.common import (
    CANCEL,
    CANCEL_COMMAND,
    COMMAND,
    COMMAND_QOS,
    EXECUTE,
    GET_STATE,
    HEARTBEAT,
    PLAN,
    PLAN_GRAPH,
    REPLAN,
    STATE,
    STATUS_EVENTS,
    STATUS_QOS,
    DiagnosticsPublisher,
    StatusPublisher,
    declare,
    heartbeat_qos,
    latched,
    reliable,
    run_node,
    subscribe,
)
from robot_planner.nodes.health import Health, planner_health
from robot_planner.nodes.typed import (
    plan_msg,
    replan_request_from_msg,
    status_from_msg,
    world_state_from_msg,
)
from robot_planner.planning.config import Backend, load_planner_config, make_planner
from robot_planner.service.action_mapping import command_from_goal, rejected_result
from robot_planner.service.approval import (
    APPROVE_PLAN,
    CONFIRM_MODES,
    MAX_TIMEOUT_S,
    MIN_TIMEOUT_S,
    Approvals,
)
from robot_planner.service.commands import POLICIES as QUEUE_POLICIES
from robot_planner.service.commands import CommandError, CommandQueue
from robot_planner.service.events import EventError
from robot_planner.service.journal import Journal
from robot_planner.service.lifecycle import CommandLifecycle, Follower
from robot_planner.untrusted import shown
from robot_planner.world.scene import load_scene
from robot_planner_interfaces.action import ExecuteCommand
from robot_planner_interfaces.msg import Plan as PlanMsg
from robot_planner_interfaces.msg import ReplanRequest, WorldState
from robot_planner_interfaces.msg import StatusEvent as StatusEventMsg
from robot_planner_interfaces.srv import ApprovePlan, GetState

DEFAULT_JOURNAL = "~/.ros/robot_planner/journal.jsonl"
#: Each waiting goal holds an executor thread (see `executor_threads`): keep it bounded.
MAX_QUEUE = 100


class GoalWatch:
    """An `ExecuteCommand` goal waiting for its command to end: its handle gets the
    follower's feedback."""

    def __init__(self, handle: ServerGoalHandle, command_id: str, node: Node) -> None:
        self.handle = handle
        self.follower = Follower(command_id, self._feedback)
        self._node = node

    def _feedback(self, fields: dict[str, Any]) -> None:
        try:
            self.handle.publish_feedback(ExecuteCommand.Feedback(**fields))
        except Exception as exc:  # the goal ended or the node is shutting down
            self._node.get_logger().debug(f"feedback not published: {exc}")


class PlannerNode(Node):
    """Plans commands one at a time under the `on_new_command` policy (the rules live in
    `CommandLifecycle`; this node adapts messages, parameters and timers to it)."""

    def __init__(self, name: str = "planner", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        from robot_planner.resources import scene_path

        scene = declare(self, "scene", "tabletop", "scene name or YAML path")
        domain = declare(self, "domain", "", "domain name or file ('' = the scene's)")
        config = declare(self, "planner_config", "", "planner YAML ('' = packaged)")
        backend = declare(
            self,
            "backend",
            "",
            "planning backend ('' = planner_config's)",
            choices=("", *get_args(Backend)),
        )
        policy = declare(
            self,
            "on_new_command",
            "queue",
            "what a command arriving while one runs does",
            choices=QUEUE_POLICIES,
        )
        max_queue = declare(
            self,
            "max_queue",
            10,
            "commands that may wait behind the active one",
            limits=(0, MAX_QUEUE),
        )
        journal = declare(self, "journal", DEFAULT_JOURNAL, "append-only command journal path")
        self.executor_timeout_s = declare(
            self,
            "executor_timeout_s",
            3.0,
            "executor gone this long: the command is interrupted",
            limits=(0.1, 3600.0),
        )
        confirm = declare(
            self,
            "confirm",
            "",
            "which plans wait for approval to run",
            choices=("", *CONFIRM_MODES),
            constraints="'' = planner_config's",
        )
        confirm_timeout_s = declare(
            self,
            "confirm_timeout_s",
            0.0,
            "seconds a plan waits for approval, then rejected",
            limits=(0.0, MAX_TIMEOUT_S),
            constraints=f"{MIN_TIMEOUT_S:g}..{MAX_TIMEOUT_S:g}; 0 = planner_config's",
        )

        self.scene = load_scene(scene_path(scene), domain=domain or None)
        planner_config = load_planner_config(config or None)
        if backend:
            planner_config = planner_config.model_copy(update={"backend": backend})
        self.confirm = confirm or planner_config.confirm
        timeout_s = float(confirm_timeout_s) or planner_config.confirm_timeout_s
        try:
            approvals = Approvals(timeout_s=timeout_s)
        except ValueError as exc:
            raise ValueError(f"parameter {exc}") from None
        self.planner = make_planner(planner_config, self.scene.domain.catalogue, self.scene)
        #: Goals (by goal id) whose command is known, each blocking one executor thread
        #: until its command ends (bounded: more are rejected, so the node's other
        #: callbacks always get a thread).
        self._goals: dict[bytes, str] = {}
        #: Goals whose cancel arrived before their command was known.
        self._cancel_asked: set[bytes] = set()
        self._goal_lock = threading.Lock()
        goal_slots = int(max_queue) + 2
        self.executor_threads = goal_slots + 3

        self.status = StatusPublisher(self, "planner")
        #: The plans the executor and the monitor read (typed: a tool can draw the DAG).
        self.plan_graph_pub = self.create_publisher(PlanMsg, PLAN_GRAPH, latched())
        #: The same plans as JSON, a mirror for people and tools; no node reads it.
        self.plan_pub = self.create_publisher(String, PLAN, latched())
        self.cancel_pub = self.create_publisher(Empty, CANCEL, reliable())
        self.lifecycle = CommandLifecycle(
            planner=self.planner,
            scene=self.scene,
            queue=CommandQueue(policy, int(max_queue)),
            journal=Journal(journal),
            approvals=approvals,
            confirm=self.confirm,
            executor_timeout_s=float(self.executor_timeout_s),
            publish_plan=self._publish_plan,
            status=self.status,
            send_cancel=lambda: self.cancel_pub.publish(Empty()),
            log=self.get_logger(),
            max_followers=goal_slots,
        )
        lifecycle = self.lifecycle
        subscribe(self, String, COMMAND, self._on_command, COMMAND_QOS)
        subscribe(self, StatusEventMsg, STATUS_EVENTS, self._on_status, STATUS_QOS)
        subscribe(self, Empty, CANCEL, self._on_cancel, reliable())
        subscribe(self, String, CANCEL_COMMAND, self._on_cancel_command, reliable())
        # Goals wait in their execute callback (reentrant group, own threads) while the
        # status events that drive their feedback arrive in the default group.
        goals = ReentrantCallbackGroup()
        self.action_server = ActionServer(
            self,
            ExecuteCommand,
            EXECUTE,
            execute_callback=self._execute_goal,
            cancel_callback=self._on_goal_cancel,
            callback_group=goals,
        )
        self.create_service(GetState, GET_STATE, self._get_state, callback_group=goals)
        self.create_service(ApprovePlan, APPROVE_PLAN, self._approve_plan, callback_group=goals)
        self.create_timer(0.2, lifecycle.expire_approvals)
        subscribe(self, ReplanRequest, REPLAN, self._on_replan, reliable())
        subscribe(self, WorldState, STATE, self._on_state, latched())
        lifecycle.start()
        self.create_subscription(
            Empty,
            HEARTBEAT,
            lambda _msg: None,
            heartbeat_qos(),
            event_callbacks=SubscriptionEventCallbacks(
                liveliness=lambda info: lifecycle.executor_liveliness(info.alive_count)
            ),
        )
        self.create_timer(0.5, self._watch_executor)
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        asks = "" if self.confirm == "never" else f" (within {timeout_s:g} s)"
        self.get_logger().info(
            f"planner ready: backend {self.planner.name}, on_new_command {policy} "
            f"(queue {max_queue}), confirm {self.confirm}{asks}, "
            f"journal {lifecycle.journal.path}"
        )

    # --- messages in and out --------------------------------------------------------

    # Named callbacks, not lambdas: `subscribe` logs a callback's failure by its name.
    def _on_command(self, msg: String) -> None:
        self.lifecycle.command_text(msg.data)

    def _on_status(self, msg: StatusEventMsg) -> None:
        try:
            event = status_from_msg(msg)
        except EventError:
            return
        self.lifecycle.on_status_event(event)

    def _on_cancel(self, _msg: Empty) -> None:
        self.lifecycle.cancel_all()

    def _on_cancel_command(self, msg: String) -> None:
        self.lifecycle.cancel_request(msg.data)

    def _on_replan(self, msg: ReplanRequest) -> None:
        self.lifecycle.request_replan(replan_request_from_msg(msg))

    def _on_state(self, msg: WorldState) -> None:
        self.lifecycle.world_state(world_state_from_msg(msg))

    def _publish_plan(self, message: dict[str, Any]) -> None:
        self.plan_graph_pub.publish(plan_msg(message))
        self.plan_pub.publish(String(data=json.dumps(message, separators=(",", ":"))))

    def _watch_executor(self) -> None:
        """The watchdog's tick: the executors are the publishers on the re-plan topic
        (only an executor publishes there), by endpoint id."""
        gids = frozenset(
            bytes(info.endpoint_gid) for info in self.get_publishers_info_by_topic(REPLAN)
        )
        self.lifecycle.watch_executor(gids)

    # The watchdog's and the cancel echo's state, as tests of this node read it.
    @property
    def _watched(self) -> tuple[str, frozenset[bytes]] | None:
        return self.lifecycle.watched

    @property
    def _gone_since(self) -> float | None:
        return self.lifecycle.gone_since

    @property
    def _own_cancels(self) -> int:
        return self.lifecycle.own_cancels

    # --- the ExecuteCommand action ------------------------------------------------------

    def _execute_goal(self, handle: ServerGoalHandle) -> Any:
        """One goal: turned away at once with a REJECTED result, or a command on the
        common path whose end (any final state) is the result. Waits on its own thread."""
        goal = handle.request
        lifecycle = self.lifecycle
        try:
            command = command_from_goal(goal.command, goal.source, goal.id, goal.options_json)
        except CommandError as exc:
            self.get_logger().warning(f"goal rejected: {exc}")
            return self._answer(handle, rejected_result(goal.id, str(exc), lifecycle.facts()))
        answered = lifecycle.answer_words(command)  # "yes"/"stop": never planned
        if answered is not None:
            self.get_logger().info(f"[{command.id}] {answered}")
            return self._answer(handle, rejected_result(command.id, answered, lifecycle.facts()))
        watch = GoalWatch(handle, command.id, self)
        uuid = bytes(handle.goal_id.uuid)
        with self._goal_lock:
            reason = lifecycle.submit(command, watch.follower)
            if reason is None:
                self._goals[uuid] = command.id
                if uuid in self._cancel_asked:
                    self._cancel_asked.discard(uuid)
                    lifecycle.cancel(command.id)
        if reason is not None:
            self.get_logger().warning(f"[{command.id}] goal rejected: {reason}")
            return self._answer(handle, rejected_result(command.id, reason, lifecycle.facts()))
        self.get_logger().info(f"[{command.id}] goal from {shown(goal.source or '?', 32)}")
        progress = watch.follower.progress
        while not watch.follower.ended.wait(0.5):
            if lifecycle.closing:
                break
        with self._goal_lock:
            self._goals.pop(uuid, None)
            lifecycle.unfollow(command.id)
        if progress.final is None:
            result = rejected_result(command.id, "the planner stopped", lifecycle.facts())
            result.update(final_state="interrupted", error_code=ExecuteCommand.Result.INTERRUPTED)
        else:
            result = progress.result(lifecycle.facts())
        return self._answer(handle, result)

    def _answer(self, handle: ServerGoalHandle, fields: dict[str, Any]) -> Any:
        """End the goal (succeeded, canceled when its client asked, else aborted) with
        the result `fields`."""
        try:
            if fields["success"]:
                handle.succeed()
            elif handle.is_cancel_requested:
                handle.canceled()
            else:
                handle.abort()
        except Exception as exc:  # a state the goal can no longer leave (shutdown)
            self.get_logger().debug(f"goal state not set: {exc}")
        return ExecuteCommand.Result(**fields)

    def _on_goal_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        """A goal's client cancels: its command is cancelled like any other (a waiting
        one dropped, the running one's robots halted); the result says CANCELLED."""
        uuid = bytes(handle.goal_id.uuid)
        with self._goal_lock:
            command_id = self._goals.get(uuid)
            if command_id is None:  # its execute callback has not run yet
                self._cancel_asked.add(uuid)
            else:
                self.lifecycle.cancel(command_id)
        return CancelResponse.ACCEPT

    # --- services -------------------------------------------------------------------

    def _get_state(self, request: Any, response: Any) -> Any:
        """`GetState`: the fields `CommandLifecycle.state_of` decides."""
        for key, value in self.lifecycle.state_of(request.command_id).items():
            setattr(response, key, value)
        return response

    def _approve_plan(self, request: Any, response: Any) -> Any:
        """`ApprovePlan`: an answer about a held plan; a bad one is `accepted=false` and
        one line, and the plan stays held."""
        response.accepted, response.message = self.lifecycle.approve(
            request.command_id, bool(request.approve), request.reason, int(request.revision)
        )
        return response

    def health(self) -> Health:
        """This node's `/diagnostics` status (see `planner_health`)."""
        now = self.lifecycle.snapshot()
        # Executors in the graph (only they publish the heartbeat), unless DDS says their
        # liveliness was lost (killed: the graph keeps a dead one for the DDS lease). The
        # liveliness count alone is not enough: it never changes for an executor in this
        # node's own process.
        alive = 0 if now.executors_alive == 0 else self.count_publishers(HEARTBEAT)
        return planner_health(
            backend=self.planner.name,
            active=now.active,
            queued=now.queued,
            max_queue=now.max_queue,
            ended=now.ended,
            executors_alive=alive,
            executor_gone_s=now.executor_gone_s,
        )

    def close(self) -> None:
        self.lifecycle.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(PlannerNode, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
