"""planner_node: commands in, validated plans out; owns each command's life and the journal.

Commands arrive as ``ExecuteCommand`` goals on ``/robot_planner/execute`` (feedback on
every status event of the command, a result with an error code when it ends, cancel halts
the robots) or as text on ``/robot_planner/command`` (text, or JSON ``{"id", "text"}``,
for voice and simple publishers); both take the same path (queue, ids, journal, status).
The node plans with the configured backend in a worker thread (an LLM may take seconds;
callbacks never wait), publishes the validated plan on ``/robot_planner/plan``
(transient local) and status events on ``/robot_planner/status``, and serves re-plan
requests from the executor on ``/robot_planner/replan``. ``/robot_planner/get_state``
(GetState) answers the current state or a command's outcome; ``/robot_planner/cancel``
(everything) and ``/robot_planner/cancel_command`` (one id) cancel. Every accepted
command and its outcome go to the journal.

With ``confirm`` set, a command's first plan is held instead of published: an
``awaiting_approval`` status event carries its readback, the guesses it rests on and the
deadline, and ``/robot_planner/approve_plan`` (ApprovePlan) or a command text that is
only "yes"/"go ahead"/"confirm" or "no"/"cancel"/"stop" (typed or spoken) decides it.
Approved, the plan goes to the executor; rejected or unanswered within
``confirm_timeout_s``, the command ends ``rejected``. Re-plans during execution are not
held (the person approved the goal; the robots wait halted for the new plan).

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
      (ambiguous: an LLM plan, or one the understanding had to guess); "" keeps
      planner_config's (default never).
  confirm_timeout_s (float, 0.0): seconds a plan waits for approval before the command
      is rejected, 1..600; 0 keeps planner_config's (default 30).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict, deque
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
    REPLAN,
    STATE,
    STATUS,
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
from robot_planner.plan.model import Task
from robot_planner.planning.base import FailedAction, PlanningError, PlanRequest
from robot_planner.planning.config import Backend, load_planner_config, make_planner
from robot_planner.planning.language import UnderstandingError
from robot_planner.planning.readback import readback
from robot_planner.service.action_mapping import (
    NOT_UNDERSTOOD,
    PLAN_FAILED,
    CommandProgress,
    command_from_goal,
    rejected_result,
)
from robot_planner.service.approval import (
    APPROVE_PLAN,
    CONFIRM_MODES,
    MAX_TIMEOUT_S,
    MIN_TIMEOUT_S,
    ApprovalError,
    Approvals,
    Decision,
    answer_of,
    guesses_of,
    needs_approval,
)
from robot_planner.service.commands import (
    ID_PATTERN,
    Command,
    CommandError,
    CommandQueue,
    parse_command,
)
from robot_planner.service.commands import (
    POLICIES as QUEUE_POLICIES,
)
from robot_planner.service.events import EventError, parse_event
from robot_planner.service.journal import Journal, read_journal
from robot_planner.untrusted import quoted, shown
from robot_planner.world.facts import Fact, FactError, format_facts
from robot_planner.world.scene import load_scene
from robot_planner_interfaces.action import ExecuteCommand
from robot_planner_interfaces.srv import ApprovePlan, GetState

DEFAULT_JOURNAL = "~/.ros/robot_planner/journal.jsonl"
#: Each waiting goal holds an executor thread (see `executor_threads`): keep it bounded.
MAX_QUEUE = 100
EXECUTOR_FINAL = ("done", "failed", "cancelled", "error")
#: Commands whose progress is kept for GetState (older ones are read from the journal).
RECENT_COMMANDS = 200
#: How long the planner's own message on the cancel topic may take to come back to it.
OWN_CANCEL_S = 5.0


class GoalWatch:
    """An `ExecuteCommand` goal waiting for its command to end."""

    def __init__(self, handle: ServerGoalHandle, progress: CommandProgress) -> None:
        self.handle = handle
        self.progress = progress
        self.ended = threading.Event()


class PlannerNode(Node):
    """Plans commands one at a time under the `on_new_command` policy."""

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
        self.catalogue = self.scene.domain.catalogue
        planner_config = load_planner_config(config or None)
        if backend:
            planner_config = planner_config.model_copy(update={"backend": backend})
        self.confirm = confirm or planner_config.confirm
        timeout_s = float(confirm_timeout_s) or planner_config.confirm_timeout_s
        try:
            #: Plans held for approval (`confirm`), by command id.
            self.approvals = Approvals(timeout_s=timeout_s)
        except ValueError as exc:
            raise ValueError(f"parameter {exc}") from None
        self.planner = make_planner(planner_config, self.catalogue, self.scene)
        self.queue = CommandQueue(policy, int(max_queue))
        self.journal = Journal(journal)
        self.state: frozenset[Fact] = self.scene.initial_facts()
        self.state_from = "scene"
        #: command id -> the command, while it is active (planning or executing).
        self.revision: dict[str, int] = {}
        self.cancelled: set[str] = set()
        self.planning: set[str] = set()
        self._lock = threading.RLock()
        self._jobs: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        #: Goals by command id, each blocking one executor thread until its command ends
        #: (bounded: more are rejected, so the node's other callbacks always get a thread).
        self._goals: dict[str, GoalWatch] = {}
        self._goal_slots = int(max_queue) + 2
        self.executor_threads = self._goal_slots + 3
        #: Goals whose cancel arrived before their command was known (by goal uuid).
        self._cancel_asked: set[bytes] = set()
        #: Recent commands' progress from their status events (GetState, goal feedback).
        self._progress: OrderedDict[str, CommandProgress] = OrderedDict()
        #: When this node published on the cancel topic itself (one command's halt): its
        #: own message must not also drop the queue as an outside cancel does.
        self._own_cancels: deque[float] = deque()
        self._closing = False

        self.status = StatusPublisher(self, "planner")
        self.plan_pub = self.create_publisher(String, PLAN, latched())
        subscribe(self, String, COMMAND, self._on_command, COMMAND_QOS)
        subscribe(self, String, STATUS, self._on_status, STATUS_QOS)
        subscribe(self, Empty, CANCEL, self._on_cancel, reliable())
        subscribe(self, String, CANCEL_COMMAND, self._on_cancel_command, reliable())
        self.cancel_pub = self.create_publisher(Empty, CANCEL, reliable())
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
        self.create_timer(0.2, self._expire_approvals)
        subscribe(self, String, REPLAN, self._on_replan, reliable())
        subscribe(self, String, STATE, self._on_state, latched())
        self._worker = threading.Thread(target=self._work, name="planner-worker", daemon=True)
        self._worker.start()
        #: The executor(s) seen while the active command ran (publisher GIDs on the
        #: re-plan topic, which only an executor publishes), and since when they are gone.
        self._watched: tuple[str, frozenset[bytes]] | None = None
        self._gone_since: float | None = None
        #: Executors whose DDS liveliness holds (None: no heartbeat seen yet).
        self._alive: int | None = None
        self.create_subscription(
            Empty,
            HEARTBEAT,
            lambda _msg: None,
            heartbeat_qos(),
            event_callbacks=SubscriptionEventCallbacks(liveliness=self._on_liveliness),
        )
        self.create_timer(0.5, self._watch_executor)
        #: Commands ended so far, by outcome (for /diagnostics).
        self._ended: dict[str, int] = {}
        self.diagnostics = DiagnosticsPublisher(self, self.health)
        asks = "" if self.confirm == "never" else f" (within {timeout_s:g} s)"
        self.get_logger().info(
            f"planner ready: backend {self.planner.name}, on_new_command {policy} "
            f"(queue {max_queue}), confirm {self.confirm}{asks}, journal {self.journal.path}"
        )

    # --- commands -------------------------------------------------------------------

    def _on_command(self, msg: String) -> None:
        try:
            command = parse_command(msg.data)
        except CommandError as exc:
            self.status("", "error", reason=f"bad command: {exc}")
            return
        answer = answer_of(command.text)
        if answer is not None and self._answer_by_words(command, answer):
            return
        self._submit(command)

    def _answer_by_words(self, command: Command, approve: bool) -> bool:
        """A "yes"/"no" while a plan waits decides it (the utterance is no command);
        with nothing waiting, False: it is planned, and not understood."""
        with self._lock:
            if not self.approvals.pending():
                return False
            try:
                decision = self.approvals.decide(
                    "",
                    approve,
                    f"said {quoted(command.text, 40)!r}",
                    by=command.source if command.source in ("voice", "topic") else "topic",
                )
            except ApprovalError as exc:  # several wait: the words cannot say which
                self.status("", "error", reason=f"{exc} (answer {command.id})")
                return True
            self._apply(decision, answer_id=command.id)
        return True

    def _submit(self, command: Command, watch: GoalWatch | None = None) -> str | None:
        """Offer a command (from the topic or a goal) under the queue policy: the one
        path every command takes. Returns why it was turned away, or None. A goal's
        `watch` is registered before the first event about it is published."""
        with self._lock:
            if (
                command.id in self.revision
                or self.queue.holds(command.id)
                or command.id in self._goals
            ):
                # `duplicate` marks the event as not the running command's own end.
                self.status(command.id, "rejected", reason="duplicate command id", duplicate=True)
                return "duplicate command id"
            previous = self.queue.active
            decision = self.queue.offer(command)
            if decision.action == "reject":
                self.journal.write(
                    command.id, "rejected", text=command.text, reason=decision.reason
                )
                self.status(command.id, "rejected", text=command.text, reason=decision.reason)
                return decision.reason
            if watch is not None:
                self._goals[command.id] = watch
                self._remember(watch.progress)
            self.journal.write(command.id, "accepted", text=command.text, source=command.source)
            details: dict[str, Any] = {"text": command.text, "source": command.source}
            if decision.action == "queue":
                details["queued"] = decision.position
            held = None
            if decision.action == "preempt" and previous is not None:
                # The executor halts `previous` when it sees this (it follows the status);
                # a plan still waiting for approval never reached it: it ends here.
                details["preempts"] = previous.id
                held = self.approvals.drop(previous.id)
                if held is None:
                    self.cancelled.add(previous.id)
            self.status(command.id, "accepted", **details)
            if held is not None:
                reason = f"pre-empted by {command.id} while awaiting approval"
                self._finish(held.command_id, "cancelled", reason, {"reason": reason})
            if decision.action in ("start", "preempt"):
                self._start(command)
            return None

    def _start(self, command: Command) -> None:
        self.revision[command.id] = 0
        self.planning.add(command.id)
        self._jobs.put(("plan", command))

    def _on_status(self, msg: String) -> None:
        try:
            event = parse_event(msg.data)
        except EventError:
            return
        if event.source == "executor" and event.state in EXECUTOR_FINAL:
            # Journalled before a goal's result goes out: a client that asks GetState or
            # reads the journal after its result finds the outcome.
            self._finish(event.command_id, event.state, event.details.get("reason", ""))
        if event.command_id and not event.details.get("duplicate"):
            self._track(event)

    def _remember(self, progress: CommandProgress) -> None:
        self._progress[progress.command_id] = progress
        self._progress.move_to_end(progress.command_id)
        while len(self._progress) > RECENT_COMMANDS:
            oldest = next(iter(self._progress))
            if oldest in self._goals:  # a waiting goal's progress is never dropped
                self._progress.move_to_end(oldest)
                break
            del self._progress[oldest]

    def _track(self, event: Any) -> None:
        """Fold a status event into its command's progress; a goal's gets feedback, and
        its result once the command ended."""
        with self._lock:
            progress = self._progress.get(event.command_id)
            if progress is None:
                progress = CommandProgress(event.command_id)
                self._remember(progress)
            if not progress.update(event):
                return
            watch = self._goals.get(event.command_id)
            feedback = progress.feedback()
        if watch is None:
            return
        if progress.final is not None:
            watch.ended.set()
            return
        try:
            watch.handle.publish_feedback(ExecuteCommand.Feedback(**feedback))
        except Exception as exc:  # the goal ended or the node is shutting down
            self.get_logger().debug(f"feedback not published: {exc}")

    # --- the ExecuteCommand action ------------------------------------------------------

    def _execute_goal(self, handle: ServerGoalHandle) -> Any:
        """One goal: turned away at once with a REJECTED result, or a command on the
        common path whose end (any final state) is the result. Waits on its own thread."""
        goal = handle.request
        try:
            command = command_from_goal(goal.command, goal.source, goal.id, goal.options_json)
        except CommandError as exc:
            self.get_logger().warning(f"goal rejected: {exc}")
            return self._answer(handle, rejected_result(goal.id, str(exc), self._facts()))
        watch = GoalWatch(handle, CommandProgress(command.id))
        with self._lock:
            if self._closing:
                reason = "the planner is shutting down"
            elif len(self._goals) >= self._goal_slots:
                reason = f"too many goals at once ({len(self._goals)})"
            else:
                reason = self._submit(command, watch)
            if reason is None and bytes(handle.goal_id.uuid) in self._cancel_asked:
                self._cancel_asked.discard(bytes(handle.goal_id.uuid))
                self._cancel_command(command.id)
        if reason is not None:
            self.get_logger().warning(f"[{command.id}] goal rejected: {reason}")
            return self._answer(handle, rejected_result(command.id, reason, self._facts()))
        self.get_logger().info(f"[{command.id}] goal from {shown(goal.source or '?', 32)}")
        while not watch.ended.wait(0.5):
            if self._closing:
                break
        with self._lock:
            self._goals.pop(command.id, None)
        if watch.progress.final is None:
            result = rejected_result(command.id, "the planner stopped", self._facts())
            result.update(final_state="interrupted", error_code=ExecuteCommand.Result.INTERRUPTED)
        else:
            result = watch.progress.result(self._facts())
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
        with self._lock:
            command_id = next((c for c, w in self._goals.items() if w.handle is handle), None)
            if command_id is None:  # its execute callback has not run yet
                self._cancel_asked.add(bytes(handle.goal_id.uuid))
            else:
                self._cancel_command(command_id)
        return CancelResponse.ACCEPT

    def _on_cancel_command(self, msg: String) -> None:
        command_id = msg.data.strip()
        if not ID_PATTERN.fullmatch(command_id):
            self.get_logger().warning(f"cancel: not a command id: {quoted(command_id, 70)}")
            return
        if not self._cancel_command(command_id):
            self.get_logger().info(f"cancel: command {command_id} is not running or waiting")

    def _cancel_command(self, command_id: str) -> bool:
        """Cancel one command as `/robot_planner/cancel` cancels everything: a waiting one
        ends at once, a planning one when its plan arrives, a running one's robots halt
        now (through the executor's cancel). False when it is not active or waiting."""
        with self._lock:
            waiting = self.queue.remove_waiting(command_id)
            if waiting is not None:
                reason = "cancelled before it started"
                self.journal.write(command_id, "cancelled", reason=reason)
                self.status(command_id, "cancelled", reason=reason)
                return True
            if command_id not in self.revision:
                return False
            if self.approvals.drop(command_id) is not None:
                reason = "cancelled while awaiting approval"
                self._finish(command_id, "cancelled", reason, {"reason": reason})
                return True
            active = self.queue.active
            if active is None or active.id != command_id:
                return True  # pre-empted: the executor is halting it already
            if command_id in self.planning:
                self.cancelled.add(command_id)
                return True
            self._own_cancels.append(time.monotonic())
        self.cancel_pub.publish(Empty())
        return True

    def _facts(self) -> list[str]:
        with self._lock:
            return format_facts(self.state)

    def _get_state(self, request: Any, response: Any) -> Any:
        """The planner now (empty id: the running command, else idle) or one command's
        state and outcome (recent ones from memory, older ones from the journal)."""
        command_id = request.command_id.strip()
        with self._lock:
            active = self.queue.active
            response.busy = active is not None or bool(self.revision)
            response.facts = format_facts(self.state)
            if not command_id:
                progress = self._progress.get(active.id) if active is not None else None
                if active is not None:
                    response.command_id = active.id
                    response.state = progress.state if progress is not None else "accepted"
                    response.message = progress.message if progress is not None else ""
                else:
                    last = next(reversed(self._progress), None)
                    response.state, response.command_id = "idle", last or ""
                    if last is not None:
                        ended = self._progress[last]
                        response.message = f"last command {last}: {ended.state}"
                    else:
                        response.message = "no command yet"
                return response
            response.command_id = command_id
            if not ID_PATTERN.fullmatch(command_id):
                response.state, response.message = "unknown", "not a command id"
                return response
            progress = self._progress.get(command_id)
            if progress is not None:
                response.state, response.message = progress.state, progress.message
                return response
            if self.queue.holds(command_id):
                response.state, response.message = "accepted", "waiting in the queue"
                return response
        entries = [e for e in read_journal(self.journal.path) if e.get("id") == command_id]
        if entries:
            response.state = str(entries[-1]["state"])
            response.message = quoted(entries[-1].get("reason", ""), 500)
        else:
            response.state, response.message = "unknown", f"no command {command_id} is known"
        return response

    def health(self) -> Health:
        """This node's `/diagnostics` status (see `planner_health`)."""
        # Executors in the graph (only they publish the heartbeat), unless DDS says their
        # liveliness was lost (killed: the graph keeps a dead one for the DDS lease). The
        # liveliness count alone is not enough: it never changes for an executor in this
        # node's own process.
        alive = 0 if self._alive == 0 else self.count_publishers(HEARTBEAT)
        with self._lock:
            active = self.queue.active
            gone = self._gone_since
            return planner_health(
                backend=self.planner.name,
                active=active.id if active is not None else None,
                queued=len(self.queue.waiting),
                max_queue=self.queue.max_queue,
                ended=dict(self._ended),
                executors_alive=alive,
                executor_gone_s=None if gone is None else time.monotonic() - gone,
            )

    def _on_liveliness(self, info: Any) -> None:
        self._alive = int(info.alive_count)

    def _watch_executor(self) -> None:
        """End the running command `interrupted` when the executor that ran it is gone
        (killed, crashed, or restarted: a new executor ignores plans made before it
        started, so the command would otherwise wait forever). Never replayed."""
        gids = frozenset(
            bytes(info.endpoint_gid) for info in self.get_publishers_info_by_topic(REPLAN)
        )
        with self._lock:
            active = self.queue.active
            if (
                active is None
                or active.id not in self.revision
                or active.id in self.planning
                or self.approvals.holds(active.id)  # no executor has it yet
            ):
                self._watched, self._gone_since = None, None
                return
            if self._watched is None or self._watched[0] != active.id:
                # Arm only once an executor has been seen for this command (nodes under
                # test may run without one).
                self._watched = (active.id, gids) if gids else None
                self._gone_since = None
                return
            # Gone: its endpoints left the graph (a clean exit), or no executor's
            # liveliness holds (killed: the graph keeps a dead one for the DDS lease).
            if gids & self._watched[1] and self._alive != 0:
                self._watched = (active.id, self._watched[1] | gids)
                self._gone_since = None
                return
            now = time.monotonic()
            if self._gone_since is None:
                self._gone_since = now
                return
            if now - self._gone_since < self.executor_timeout_s:
                return
            reason = (
                f"the executor stopped while the command ran (gone for "
                f"{self.executor_timeout_s:g} s); it is not replayed"
            )
            self._watched, self._gone_since = None, None
            self._finish(active.id, "interrupted", reason, {"reason": reason})

    def _finish(
        self, command_id: str, outcome: str, reason: str, announce: dict | None = None
    ) -> None:
        """A command ended: journal it, then (with `announce`, the event's details) say
        so — a follower that sees the event finds it in the journal — then start the
        next waiting one."""
        with self._lock:
            if command_id not in self.revision:
                return
            del self.revision[command_id]
            self._ended[outcome] = self._ended.get(outcome, 0) + 1
            self.planning.discard(command_id)
            self.cancelled.discard(command_id)
            self.journal.write(command_id, outcome, reason=reason)
            if announce is not None:
                self.status(command_id, outcome, **announce)
            following = self.queue.finish(command_id)
            if following is not None:
                self._start(following)

    def _on_cancel(self, _msg: Empty) -> None:
        with self._lock:
            now = time.monotonic()
            while self._own_cancels and now - self._own_cancels[0] > OWN_CANCEL_S:
                self._own_cancels.popleft()
            if self._own_cancels:  # this node halted one command: keep the queue
                self._own_cancels.popleft()
                return
            for command in self.queue.drop_waiting():
                self.journal.write(command.id, "cancelled", reason="cancelled before it started")
                self.status(command.id, "cancelled", reason="cancelled before it started")
            active = self.queue.active
            if active is not None and active.id in self.planning:
                # Still planning: nothing moves yet; the plan is dropped when it arrives.
                self.cancelled.add(active.id)
            elif active is not None and self.approvals.drop(active.id) is not None:
                reason = "cancelled while awaiting approval"
                self._finish(active.id, "cancelled", reason, {"reason": reason})

    def _on_state(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            facts = self.scene.parse_facts(data["facts"])
        except (ValueError, KeyError, TypeError, FactError) as exc:
            self.get_logger().warning(f"ignoring a malformed world state: {exc}")
            return
        with self._lock:
            self.state, self.state_from = facts, str(data.get("source", "executor"))

    # --- re-planning ----------------------------------------------------------------

    def _on_replan(self, msg: String) -> None:
        try:
            data = json.loads(msg.data)
            command_id = str(data["command_id"])
            request = PlanRequest(
                command=str(data["command"]),
                state=self.scene.parse_facts(data["facts"]),
                goal=tuple(
                    self.scene.check_fact(self.scene.domain.parse_fact(g)) for g in data["goal"]
                ),
                completed=tuple(str(c) for c in data.get("completed", ()))[:200],
                failed_task=(
                    Task.model_validate(data["failed_task"]) if data.get("failed_task") else None
                ),
                evidence=str(data.get("evidence", ""))[:2000],
                failures=tuple(
                    FailedAction.from_dict(f) for f in list(data.get("failures") or ())[:100]
                ),
            )
        except (ValueError, KeyError, TypeError, FactError) as exc:
            self.status("", "error", reason=f"bad re-plan request: {str(exc)[:300]}")
            return
        with self._lock:
            if command_id not in self.revision:
                self.get_logger().warning(f"re-plan request for inactive command {command_id}")
                return
        self._jobs.put(("replan", (command_id, request)))

    # --- the worker -----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            kind, payload = job
            try:
                if kind == "plan":
                    self._plan(payload)
                else:
                    self._replan(*payload)
            except Exception as exc:  # a backend bug must not kill the node
                self.get_logger().error(f"planner worker: {type(exc).__name__}: {exc}")

    def _plan(self, command: Command) -> None:
        with self._lock:
            if command.id in self.cancelled:
                self.cancelled.discard(command.id)
                reason = "cancelled while planning"
                self._finish(command.id, "cancelled", reason, {"reason": reason})
                return
            state = self.state
        started = time.perf_counter()
        try:
            result = self.planner.plan(PlanRequest(command.text, state))
        except Exception as exc:  # PlanningError, or a backend bug: the command still ends
            reason = str(exc) if isinstance(exc, PlanningError) else f"planner failed: {exc!r}"
            reason = reason[:500]
            # The offline planner raises PlanningError from the language's
            # UnderstandingError: the goal's result says NOT_UNDERSTOOD.
            kind = NOT_UNDERSTOOD if isinstance(exc.__context__, UnderstandingError) else None
            details = {"reason": reason, "text": command.text, "kind": kind or PLAN_FAILED}
            self._finish(command.id, "error", reason, details)
            return
        latency = time.perf_counter() - started
        with self._lock:
            if command.id in self.cancelled or command.id not in self.revision:
                self.cancelled.discard(command.id)
                if command.id in self.revision:
                    reason = "cancelled while planning"
                    self._finish(command.id, "cancelled", reason, {"reason": reason})
                return
            self.planning.discard(command.id)
            said = readback(result.plan, self.scene, self.catalogue)
            planned = {
                "tasks": len(result.plan.tasks),
                "goal": list(result.plan.goal),
                "readback": said,
                "backend": result.backend,
                "attempts": result.attempts,
                "latency_s": round(latency, 4),
                "since_received_s": round(time.time() - command.received, 4),
                "state_from": self.state_from,
            }
            guesses = list(getattr(result, "guesses", None) or ())
            if needs_approval(self.confirm, result.backend, guesses):
                # Held, not published: the executor never sees it unless approved. The
                # events go out under the lock, so no answer can overtake them.
                shown_guesses = guesses_of(result.backend, guesses)
                pending = self.approvals.hold(
                    command.id, 0, result.plan.to_dict(), said, shown_guesses
                )
                self.status(command.id, "planned", **planned)
                self.status(
                    command.id,
                    "awaiting_approval",
                    readback=said,
                    guesses=shown_guesses,
                    revision=pending.revision,
                    timeout_s=pending.timeout_s,
                    deadline=round(time.time() + pending.timeout_s, 3),
                    answer=f"robot-planner approve|reject --id {command.id}, or say yes|no",
                )
                return
            self._publish_plan(command.id, 0, result.plan.to_dict())
        self.status(command.id, "planned", **planned)

    # --- approval ----------------------------------------------------------------------

    def _approve_plan(self, request: Any, response: Any) -> Any:
        """`ApprovePlan`: an answer about a held plan; a bad one is `accepted=false` and
        one line, and the plan stays held."""
        try:
            with self._lock:
                decision = self.approvals.decide(
                    request.command_id,
                    bool(request.approve),
                    request.reason,
                    revision=int(request.revision),
                    by="service",
                )
                self._apply(decision)
        except ApprovalError as exc:
            response.accepted, response.message = False, str(exc)
            self.get_logger().info(f"approval not taken: {exc}")
            return response
        except Exception as exc:  # never a traceback to the caller
            response.accepted = False
            response.message = f"approval failed: {type(exc).__name__}: {shown(exc, 200)}"
            self.get_logger().error(response.message)
            return response
        verb = "approved" if decision.approved else "rejected"
        response.accepted, response.message = True, f"command {decision.command_id} {verb}"
        return response

    def _expire_approvals(self) -> None:
        with self._lock:
            for decision in self.approvals.expire():
                self._apply(decision)

    def _apply(self, decision: Decision, answer_id: str = "") -> None:
        """Carry out a decision (under the lock): approved, the plan goes to the executor
        and the command goes on as without `confirm`; else the command ends rejected."""
        command_id = decision.command_id
        if command_id not in self.revision:
            return  # ended meanwhile (the lock makes this a safeguard only)
        details: dict[str, Any] = {"by": decision.by}
        if decision.reason:
            details["reason"] = decision.reason
        if answer_id:
            details["answer_id"] = answer_id
        if decision.approved:
            self.journal.write(command_id, "approved", **details)
            self.status(command_id, "approved", **details)
            pending = decision.pending
            self._publish_plan(command_id, pending.revision, pending.plan, said=pending.readback)
            return
        self._finish(command_id, "rejected", decision.reason, details)

    def _replan(self, command_id: str, request: PlanRequest) -> None:
        try:
            result = self.planner.replan(request)
            plan, error = result.plan.to_dict(), None
            # Beside the plan (not in it: plans have no such key) and in the log.
            said = readback(result.plan, self.scene, self.catalogue)
            self.get_logger().info(f"[{command_id}] re-planned: {said}")
        except Exception as exc:  # always answer: the executor is waiting with robots halted
            plan, said = None, None
            error = str(exc) if isinstance(exc, PlanningError) else f"re-planning failed: {exc!r}"
            self.get_logger().warning(f"[{command_id}] re-plan: {error}")
        with self._lock:
            if command_id not in self.revision:
                return
            self.revision[command_id] += 1
            self._publish_plan(command_id, self.revision[command_id], plan, error, said)

    def _publish_plan(
        self,
        command_id: str,
        revision: int,
        plan: dict | None,
        error: str | None = None,
        said: str | None = None,
    ) -> None:
        message: dict[str, Any] = {
            "command_id": command_id,
            "revision": revision,
            "issued": round(time.time(), 6),
        }
        if plan is not None:
            message["plan"] = plan
            if said is not None:
                message["readback"] = said
        else:
            message["error"] = error
        self.plan_pub.publish(String(data=json.dumps(message, separators=(",", ":"))))

    def close(self) -> None:
        with self._lock:
            self._closing = True
            for watch in self._goals.values():
                watch.ended.set()
        self._jobs.put(None)
        self.journal.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(PlannerNode, __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
