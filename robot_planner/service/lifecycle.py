"""A command's life in the planner, ROS-free: queue, plans and their revisions, progress,
cancel, approval, the executor watchdog and the re-plan exchange.

The planner node only adapts: it turns messages into the plain calls below
(`command_text`, `submit`, `on_status_event`, `request_replan`, `cancel`, `approve`, ...),
hands in the outputs as callbacks (publish a plan message, publish a status event, halt
the executor) and calls `expire_approvals` and `watch_executor` from its timers. Keeping
the rules here means every one of them is tested with plain pytest and a fake clock;
this module never imports rclpy or a message package (a test checks it).

Threads: planning may take seconds (an LLM), so plans and re-plans are jobs for one
worker thread (`start`), and callbacks never wait for them. Tests drive the jobs with
`step` instead, one at a time, so they need no sleeps. Every other method may be called
from any thread: one re-entrant lock guards the state, and the status and plan ports are
called under it, so no answer can overtake the event it follows.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty, Queue
from typing import Any

from robot_planner.plan.model import Task
from robot_planner.planning.base import FailedAction, Planner, PlanningError, PlanRequest
from robot_planner.planning.lexicon import UnderstandingError
from robot_planner.planning.readback import readback
from robot_planner.service.action_mapping import NOT_UNDERSTOOD, PLAN_FAILED, CommandProgress
from robot_planner.service.approval import (
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
from robot_planner.service.events import StatusEvent
from robot_planner.service.journal import Journal, read_journal
from robot_planner.service.ports import LogPort, StatusPort
from robot_planner.untrusted import quoted, shown
from robot_planner.world.facts import Fact, FactError, format_facts
from robot_planner.world.scene import Scene

logger = logging.getLogger(__name__)

#: The executor's final states: its event ends the command here too.
EXECUTOR_FINAL = ("done", "failed", "cancelled", "error")
#: Commands whose progress is kept for `state_of` (older ones are read from the journal).
RECENT_COMMANDS = 200
#: How long the planner's own message on the cancel topic may take to come back to it.
OWN_CANCEL_S = 5.0


class Follower:
    """Someone waiting for one command to end (in the node: an `ExecuteCommand` goal).

    `progress` folds in the command's status events; `on_feedback` gets the feedback
    fields on every change before the end, and `ended` is set once the command ended (or
    the lifecycle closed: then `progress.final` is None).
    """

    def __init__(
        self,
        command_id: str,
        on_feedback: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.progress = CommandProgress(command_id)
        self.ended = threading.Event()
        self.on_feedback = on_feedback


@dataclass(frozen=True)
class PlannerSnapshot:
    """What `/diagnostics` reports about the lifecycle (see `planner_health`)."""

    active: str | None
    queued: int
    max_queue: int
    ended: dict[str, int]
    executors_alive: int | None
    executor_gone_s: float | None


class CommandLifecycle:
    """Runs commands one at a time under the queue's policy, from text to outcome.

    Args:
        planner: the planning backend (`plan`, `replan`, `name`); called on the worker.
        scene: the scene (facts are parsed and read back against it).
        queue: the active command and the bounded queue behind it.
        journal: the append-only journal of every accepted command and its outcome.
        approvals: plans held for approval; give it the same clock as this class.
        confirm: never | ambiguous | always (see `needs_approval`).
        executor_timeout_s: how long the executor running a command may be gone before
            the command ends ``interrupted``.
        publish_plan: publishes one plan message ``{"command_id", "revision", "issued",
            "plan" [, "readback"]}`` or ``{..., "error"}``.
        status: publishes one status event.
        send_cancel: halts the executor's running command (the cancel topic); this
            lifecycle will see its own cancel come back on `cancel_all` and ignore it.
        clock: monotonic seconds (watchdog, approval deadlines, own cancels, latency).
        wall_clock: Unix seconds for the stamps in messages.
        log: where lines go (default: this module's logger).
        max_followers: followers (goals) that may wait at once; more are turned away.
    """

    def __init__(
        self,
        *,
        planner: Planner,
        scene: Scene,
        queue: CommandQueue,
        journal: Journal,
        approvals: Approvals,
        confirm: str,
        executor_timeout_s: float,
        publish_plan: Callable[[dict[str, Any]], None],
        status: StatusPort,
        send_cancel: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        log: LogPort = logger,
        max_followers: int | None = None,
    ) -> None:
        self.planner = planner
        self.scene = scene
        self.catalogue = scene.domain.catalogue
        self.queue = queue
        self.journal = journal
        self.approvals = approvals
        self.confirm = confirm
        self.executor_timeout_s = float(executor_timeout_s)
        self.max_followers = max_followers
        self._publish_plan_message = publish_plan
        self._status = status
        self._send_cancel = send_cancel
        self._clock = clock
        self._wall_clock = wall_clock
        self._log = log
        self.state: frozenset[Fact] = scene.initial_facts()
        self.state_from = "scene"
        #: Active commands (planning, awaiting approval or executing) -> plan revision.
        self.revision: dict[str, int] = {}
        #: Commands cancelled while planning: their plan is dropped when it arrives.
        self.cancelled: set[str] = set()
        self.planning: set[str] = set()
        self._lock = threading.RLock()
        self._jobs: Queue[tuple[str, Any] | None] = Queue()
        self._worker: threading.Thread | None = None
        #: Followers by command id; their progress is never dropped while they wait.
        self._followers: dict[str, Follower] = {}
        #: Recent commands' progress from their status events (`state_of`, feedback).
        self._progress: OrderedDict[str, CommandProgress] = OrderedDict()
        #: When this lifecycle sent a cancel itself (one command's halt): that message
        #: must not also drop the queue as an outside cancel does.
        self._own_cancels: deque[float] = deque()
        self._closing = False
        #: The executor(s) seen while the active command ran, and since when they are gone.
        self._watched: tuple[str, frozenset[bytes]] | None = None
        self._gone_since: float | None = None
        #: Executors whose liveliness holds (None: never heard of one).
        self._alive: int | None = None
        #: Commands ended so far, by outcome.
        self._ended: dict[str, int] = {}

    # --- the worker -----------------------------------------------------------------

    def start(self) -> None:
        """Run the plan and re-plan jobs on a worker thread until `close`."""
        self._worker = threading.Thread(target=self._work, name="planner-worker", daemon=True)
        self._worker.start()

    def step(self, timeout: float | None = 0.0) -> bool:
        """Run one waiting job on the calling thread (tests; without `start`): False
        when none came within `timeout` seconds (None: wait for one) or after `close`."""
        try:
            job = self._jobs.get(timeout=timeout) if timeout != 0.0 else self._jobs.get_nowait()
        except Empty:
            return False
        if job is None:
            return False
        self._run(job)
        return True

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            self._run(job)

    def _run(self, job: tuple[str, Any]) -> None:
        kind, payload = job
        try:
            if kind == "plan":
                self._plan(payload)
            else:
                self._replan(*payload)
        except Exception as exc:  # a backend bug must not kill the node
            self._log.error(f"planner worker: {type(exc).__name__}: {exc}")

    # --- commands -------------------------------------------------------------------

    def command_text(self, text: str) -> None:
        """A command message's text (plain, or JSON ``{"id", "text"}``): an approval
        answer while a plan waits, else a command offered under the queue policy."""
        try:
            command = parse_command(text)
        except CommandError as exc:
            self._status("", "error", reason=f"bad command: {exc}")
            return
        if self.answer_words(command) is None:
            self.submit(command)

    def answer_words(self, command: Command) -> str | None:
        """What a "yes"/"no"/"stop" utterance did, or None when `command` is no such
        utterance (it is a command then). The utterance is never planned: while a plan
        waits it decides it; with nothing waiting, "stop"/"cancel"/"no" halts the running
        command (what a person who says "stop" while the robots move wants), and any
        other answer is refused as an answer to nothing (planned, it would end "not
        understood" with a far-fetched did-you-mean). The topic and the action both ask
        here first."""
        approve = answer_of(command.text)
        if approve is None:
            return None
        said = quoted(command.text, 40)
        with self._lock:
            if not self.approvals.pending():
                active = self.queue.active
                if not approve and active is not None:
                    self.cancel(active.id)
                    reason = f"{said!r} is no command: it cancelled command {active.id}"
                else:
                    reason = f"no plan is waiting for approval, so {said!r} answers nothing"
                    reason += " ('yes' or 'no' answers a plan held by `confirm`)"
                self._status(command.id, "rejected", reason=reason, text=command.text)
                return reason
            try:
                decision = self.approvals.decide(
                    "",
                    approve,
                    f"said {said!r}",
                    by=command.source if command.source in ("voice", "topic") else "topic",
                )
            except ApprovalError as exc:  # several wait: the words cannot say which
                reason = f"{exc} (answer {command.id})"
                self._status("", "error", reason=reason)
                return reason
            self._apply(decision, answer_id=command.id)
        verdict = "approved" if decision.approved else "rejected"
        return f"{said!r} is no command: command {decision.command_id} {verdict}"

    def submit(self, command: Command, follower: Follower | None = None) -> str | None:
        """Offer a command (from the topic or a goal) under the queue policy: the one
        path every command takes. Returns why it was turned away, or None.

        A `follower` is registered before the first event about the command goes out,
        so it misses none; it is turned away while closing or when `max_followers`
        already wait (nothing is published then: the caller answers).
        """
        with self._lock:
            if follower is not None:
                if self._closing:
                    return "the planner is shutting down"
                if self.max_followers is not None and len(self._followers) >= self.max_followers:
                    return f"too many goals at once ({len(self._followers)})"
            if (
                command.id in self.revision
                or self.queue.holds(command.id)
                or command.id in self._followers
            ):
                # `duplicate` marks the event as not the running command's own end.
                self._status(command.id, "rejected", reason="duplicate command id", duplicate=True)
                return "duplicate command id"
            previous = self.queue.active
            decision = self.queue.offer(command)
            if decision.action == "reject":
                self.journal.write(
                    command.id, "rejected", text=command.text, reason=decision.reason
                )
                self._status(command.id, "rejected", text=command.text, reason=decision.reason)
                return decision.reason
            if follower is not None:
                self._followers[command.id] = follower
                self._remember(follower.progress)
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
            self._status(command.id, "accepted", **details)
            if held is not None:
                reason = f"pre-empted by {command.id} while awaiting approval"
                self._finish(held.command_id, "cancelled", reason, {"reason": reason})
            if decision.action in ("start", "preempt"):
                self._start(command)
            return None

    def unfollow(self, command_id: str) -> None:
        """The follower of `command_id` stopped waiting (its goal has its result)."""
        with self._lock:
            self._followers.pop(command_id, None)

    def _start(self, command: Command) -> None:
        self.revision[command.id] = 0
        self.planning.add(command.id)
        self._jobs.put(("plan", command))

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
                self._status(command_id, outcome, **announce)
            following = self.queue.finish(command_id)
            if following is not None:
                self._start(following)

    # --- status events and progress -------------------------------------------------

    def on_status_event(self, event: StatusEvent) -> None:
        """Any node's status event (this lifecycle's own come back here too): the
        executor's end of a command ends it here; every event feeds its progress."""
        if event.source == "executor" and event.state in EXECUTOR_FINAL:
            # Journalled before a goal's result goes out: a client that asks the state or
            # reads the journal after its result finds the outcome.
            self._finish(event.command_id, event.state, event.details.get("reason", ""))
        if event.command_id and not event.details.get("duplicate"):
            self._track(event)

    def _remember(self, progress: CommandProgress) -> None:
        self._progress[progress.command_id] = progress
        self._progress.move_to_end(progress.command_id)
        while len(self._progress) > RECENT_COMMANDS:
            oldest = next(iter(self._progress))
            if oldest in self._followers:  # a waiting follower's progress is never dropped
                self._progress.move_to_end(oldest)
                break
            del self._progress[oldest]

    def _track(self, event: StatusEvent) -> None:
        """Fold a status event into its command's progress; a follower gets feedback, and
        is released once the command ended."""
        with self._lock:
            progress = self._progress.get(event.command_id)
            if progress is None:
                progress = CommandProgress(event.command_id)
                self._remember(progress)
            if not progress.update(event):
                return
            follower = self._followers.get(event.command_id)
            feedback = progress.feedback()
        if follower is None:
            return
        if progress.final is not None:
            follower.ended.set()
            return
        if follower.on_feedback is not None:
            follower.on_feedback(feedback)

    # --- cancel ---------------------------------------------------------------------

    def cancel(self, command_id: str) -> bool:
        """Cancel one command as `cancel_all` cancels everything: a waiting one ends at
        once, a planning one when its plan arrives, a running one's robots halt now
        (`send_cancel`). False when it is not active or waiting."""
        with self._lock:
            waiting = self.queue.remove_waiting(command_id)
            if waiting is not None:
                reason = "cancelled before it started"
                self.journal.write(command_id, "cancelled", reason=reason)
                self._status(command_id, "cancelled", reason=reason)
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
            self._own_cancels.append(self._clock())
        self._send_cancel()
        return True

    def cancel_request(self, text: str) -> bool:
        """A request to cancel the command whose id is `text`; logs why nothing happened."""
        command_id = text.strip()
        if not ID_PATTERN.fullmatch(command_id):
            self._log.warning(f"cancel: not a command id: {quoted(command_id, 70)}")
            return False
        if not self.cancel(command_id):
            self._log.info(f"cancel: command {command_id} is not running or waiting")
            return False
        return True

    def cancel_all(self) -> None:
        """A cancel of everything (the cancel topic): the waiting commands end, the running
        one when the executor's halt ends it. The echo of this lifecycle's own
        `send_cancel` (one command's halt) keeps the queue."""
        with self._lock:
            now = self._clock()
            while self._own_cancels and now - self._own_cancels[0] > OWN_CANCEL_S:
                self._own_cancels.popleft()
            if self._own_cancels:  # this lifecycle halted one command: keep the queue
                self._own_cancels.popleft()
                return
            for command in self.queue.drop_waiting():
                self.journal.write(command.id, "cancelled", reason="cancelled before it started")
                self._status(command.id, "cancelled", reason="cancelled before it started")
            active = self.queue.active
            if active is not None and active.id in self.planning:
                # Still planning: nothing moves yet; the plan is dropped when it arrives.
                self.cancelled.add(active.id)
            elif active is not None and self.approvals.drop(active.id) is not None:
                reason = "cancelled while awaiting approval"
                self._finish(active.id, "cancelled", reason, {"reason": reason})

    @property
    def own_cancels(self) -> int:
        """Own cancels not yet seen coming back (0 once they all have)."""
        with self._lock:
            return len(self._own_cancels)

    # --- world state ----------------------------------------------------------------

    def world_state(self, payload: str | dict[str, Any]) -> None:
        """The executor's world state (``{"facts": [...], "source"}``, or its JSON): what
        the next command is planned from. A malformed one is logged and ignored."""
        try:
            data = json.loads(payload) if isinstance(payload, str) else payload
            facts = self.scene.parse_facts(data["facts"])
        except (ValueError, KeyError, TypeError, FactError) as exc:
            self._log.warning(f"ignoring a malformed world state: {exc}")
            return
        with self._lock:
            self.state, self.state_from = facts, str(data.get("source", "executor"))

    def facts(self) -> list[str]:
        """The world state the planner knows, as fact strings."""
        with self._lock:
            return format_facts(self.state)

    # --- planning -------------------------------------------------------------------

    def _plan(self, command: Command) -> None:
        with self._lock:
            if command.id in self.cancelled:
                self.cancelled.discard(command.id)
                reason = "cancelled while planning"
                self._finish(command.id, "cancelled", reason, {"reason": reason})
                return
            state = self.state
        started = self._clock()
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
        latency = self._clock() - started
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
                "since_received_s": round(self._wall_clock() - command.received, 4),
                "state_from": self.state_from,
            }
            guesses = list(getattr(result, "guesses", None) or ())
            if command.source == "voice":
                # The words themselves are the recogniser's best match: a misheard
                # sentence of the grammar ("left region" for "left bin") plans cleanly.
                heard = quoted(command.text)
                guesses.append(f"the words are what the recogniser heard: '{heard}'")
            if needs_approval(self.confirm, result.backend, guesses):
                # Held, not published: the executor never sees it unless approved. The
                # events go out under the lock, so no answer can overtake them.
                shown_guesses = guesses_of(result.backend, guesses)
                pending = self.approvals.hold(
                    command.id, 0, result.plan.to_dict(), said, shown_guesses
                )
                self._status(command.id, "planned", **planned)
                self._status(
                    command.id,
                    "awaiting_approval",
                    readback=said,
                    guesses=shown_guesses,
                    revision=pending.revision,
                    timeout_s=pending.timeout_s,
                    deadline=round(self._wall_clock() + pending.timeout_s, 3),
                    answer=f"robot-planner approve|reject --id {command.id}, or say yes|no",
                )
                return
            # "planned" goes out before the plan: the executor's task events answer the
            # plan, so they cannot come ahead of it (under load they did, and a follower
            # saw task_started before planned, its counts reset by the late "planned").
            self._status(command.id, "planned", **planned)
            self._publish_plan(command.id, 0, result.plan.to_dict())

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
            "issued": round(self._wall_clock(), 6),
        }
        if plan is not None:
            message["plan"] = plan
            if said is not None:
                message["readback"] = said
        else:
            message["error"] = error
        self._publish_plan_message(message)

    # --- approval -------------------------------------------------------------------

    def approve(
        self, command_id: str, approve: bool, reason: str = "", revision: int | None = None
    ) -> tuple[bool, str]:
        """An answer about a held plan (the `ApprovePlan` service): (taken, one line). A
        bad answer is not taken and the plan stays held."""
        try:
            with self._lock:
                decision = self.approvals.decide(
                    command_id, bool(approve), reason, revision=revision, by="service"
                )
                self._apply(decision)
        except ApprovalError as exc:
            self._log.info(f"approval not taken: {exc}")
            return False, str(exc)
        except Exception as exc:  # never a traceback to the caller
            message = f"approval failed: {type(exc).__name__}: {shown(exc, 200)}"
            self._log.error(message)
            return False, message
        verb = "approved" if decision.approved else "rejected"
        return True, f"command {decision.command_id} {verb}"

    def expire_approvals(self) -> None:
        """Reject every held plan whose deadline passed (call it from a timer)."""
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
            self._status(command_id, "approved", **details)
            pending = decision.pending
            self._publish_plan(command_id, pending.revision, pending.plan, said=pending.readback)
            return
        self._finish(command_id, "rejected", decision.reason, details)

    # --- re-planning ----------------------------------------------------------------

    def request_replan(self, payload: str | dict[str, Any]) -> None:
        """The executor's re-plan request (a dict, or its JSON; see docs/ros_interface.md).

        Answered on the plan topic with the next revision, a plan or an error, by the
        worker. A malformed request is an `error` event; one for a command that is not
        active (unknown, or ended) is answered at once with an error, so an executor
        never waits for its time-out; one made at an older revision than the planner's
        (answered already) is ignored.
        """
        try:
            data = json.loads(payload) if isinstance(payload, str) else payload
            command_id = str(data["command_id"])
            asked = data.get("revision")
            asked = None if asked is None else int(asked)
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
            self._status("", "error", reason=f"bad re-plan request: {str(exc)[:300]}")
            return
        with self._lock:
            current = self.revision.get(command_id)
            if current is None:
                self._log.warning(f"re-plan request for inactive command {command_id}")
                error = f"command {command_id} is not active (unknown or ended): not re-planned"
                self._publish_plan(command_id, (asked or 0) + 1, None, error)
                return
            if asked is not None and asked < current:
                self._log.warning(
                    f"[{command_id}] re-plan request at revision {asked} ignored: "
                    f"revision {current} is out already"
                )
                return
        self._jobs.put(("replan", (command_id, request, asked)))

    def _replan(self, command_id: str, request: PlanRequest, asked: int | None = None) -> None:
        try:
            result = self.planner.replan(request)
            plan, error = result.plan.to_dict(), None
            # Beside the plan (not in it: plans have no such key) and in the log.
            said = readback(result.plan, self.scene, self.catalogue)
            self._log.info(f"[{command_id}] re-planned: {said}")
        except Exception as exc:  # always answer: the executor is waiting with robots halted
            plan, said = None, None
            error = str(exc) if isinstance(exc, PlanningError) else f"re-planning failed: {exc!r}"
            self._log.warning(f"[{command_id}] re-plan: {error}")
        with self._lock:
            if command_id not in self.revision:
                return
            if asked is not None and asked < self.revision[command_id]:
                # A repeat of a request answered while this one waited: one answer only.
                self._log.warning(f"[{command_id}] re-plan at revision {asked} dropped: stale")
                return
            self.revision[command_id] += 1
            self._publish_plan(command_id, self.revision[command_id], plan, error, said)

    # --- the executor watchdog ------------------------------------------------------

    def executor_liveliness(self, alive_count: int) -> None:
        """How many executors' liveliness holds (DDS says when one is lost: killed)."""
        with self._lock:
            self._alive = int(alive_count)

    @property
    def executors_alive(self) -> int | None:
        """Executors whose liveliness holds (None: never heard of one)."""
        return self._alive

    def watch_executor(self, executors: frozenset[bytes]) -> None:
        """One watchdog tick with the executors present now (their endpoint ids): end the
        running command ``interrupted`` when the executor that ran it has been gone for
        `executor_timeout_s` (killed, crashed, or restarted: a new executor ignores plans
        made before it started, so the command would otherwise wait forever). Never
        replayed. An executor back before the time-out resets the countdown."""
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
                self._watched = (active.id, executors) if executors else None
                self._gone_since = None
                return
            # Gone: its endpoints left the graph (a clean exit), or no executor's
            # liveliness holds (killed: the graph keeps a dead one for the DDS lease).
            if executors & self._watched[1] and self._alive != 0:
                self._watched = (active.id, self._watched[1] | executors)
                self._gone_since = None
                return
            now = self._clock()
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

    @property
    def watched(self) -> tuple[str, frozenset[bytes]] | None:
        """The command the watchdog follows and its executors' endpoint ids, if armed."""
        return self._watched

    @property
    def gone_since(self) -> float | None:
        """When (`clock`) the watched executor went missing, if it is missing."""
        return self._gone_since

    # --- queries --------------------------------------------------------------------

    def snapshot(self) -> PlannerSnapshot:
        """The numbers `/diagnostics` reports."""
        with self._lock:
            active = self.queue.active
            gone = self._gone_since
            return PlannerSnapshot(
                active=active.id if active is not None else None,
                queued=len(self.queue.waiting),
                max_queue=self.queue.max_queue,
                ended=dict(self._ended),
                executors_alive=self._alive,
                executor_gone_s=None if gone is None else self._clock() - gone,
            )

    def state_of(self, command_id: str = "") -> dict[str, Any]:
        """The `GetState` answer's fields (``state``, ``command_id``, ``message``,
        ``facts``, ``busy``): the planner now ("": the running command, else idle) or
        one command's state and outcome (recent ones from memory, older ones from the
        journal)."""
        command_id = command_id.strip()
        answer: dict[str, Any] = {"command_id": command_id, "message": ""}
        with self._lock:
            active = self.queue.active
            answer["busy"] = active is not None or bool(self.revision)
            answer["facts"] = format_facts(self.state)
            if not command_id:
                progress = self._progress.get(active.id) if active is not None else None
                if active is not None:
                    answer["command_id"] = active.id
                    answer["state"] = progress.state if progress is not None else "accepted"
                    answer["message"] = progress.message if progress is not None else ""
                else:
                    last = next(reversed(self._progress), None)
                    answer["state"], answer["command_id"] = "idle", last or ""
                    if last is not None:
                        ended = self._progress[last]
                        answer["message"] = f"last command {last}: {ended.state}"
                    else:
                        answer["message"] = "no command yet"
                return answer
            if not ID_PATTERN.fullmatch(command_id):
                answer["state"], answer["message"] = "unknown", "not a command id"
                return answer
            progress = self._progress.get(command_id)
            if progress is not None:
                answer["state"], answer["message"] = progress.state, progress.message
                return answer
            if self.queue.holds(command_id):
                answer["state"], answer["message"] = "accepted", "waiting in the queue"
                return answer
        entries = [e for e in read_journal(self.journal.path) if e.get("id") == command_id]
        if entries:
            answer["state"] = str(entries[-1]["state"])
            answer["message"] = quoted(entries[-1].get("reason", ""), 500)
        else:
            answer["state"] = "unknown"
            answer["message"] = f"no command {command_id} is known"
        return answer

    @property
    def closing(self) -> bool:
        """`close` was called: followers stop waiting and no new one is taken."""
        return self._closing

    def close(self) -> None:
        """Release every follower, stop the worker after its current job, close the
        journal."""
        with self._lock:
            self._closing = True
            for follower in self._followers.values():
                follower.ended.set()
        self._jobs.put(None)
        self.journal.close()
