"""`robot-planner bringup | say | status | cancel | approve | reject`: the ROS side of the
command line.

`bringup` starts the node executables of `robot_planner.bringup` as child processes (for
pip-only installs, where `ros2 launch` does not exist): one prefixed log stream, Ctrl-C
forwarded to every node, and a non-zero exit as soon as a node dies. `say`, `status`
and `cancel` talk to a running system over DDS (same `ROS_DOMAIN_ID`): `say` sends an
`ExecuteCommand` goal to the planner and follows its feedback (Ctrl-C cancels it),
`status` asks the planner's `GetState` service (or follows the status events), `cancel`
cancels goals and commands, `approve`/`reject` answer a plan that waits for approval
(the planner's `confirm`) through its `ApprovePlan` service.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from robot_planner import bringup

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
EXIT_OF = {"done": 0, "failed": 1, "cancelled": 1, "interrupted": 1, "error": 2, "rejected": 2}
STOP_GRACE_S = 10.0
#: At most this long to find the planner (its action server or service) before saying so.
DISCOVERY_S = 10.0
#: After Ctrl-C: how long the goal's CANCELLED result may take (the robots halt at once).
CANCEL_WAIT_S = 15.0
#: How long `say --wait` waits, after the result, for the executor's final status event
#: (returned at once when it is there; else the result alone is printed).
FINAL_EVENT_WAIT_S = 10.0


class RosCliError(Exception):
    """One line for the user, exit code 2."""


# --- bringup -------------------------------------------------------------------------


def _executable(spec: bringup.NodeSpec) -> list[str]:
    """The node's console script (venv bin, colcon's lib/<package>, PATH), else
    `python -m module` (the same code)."""
    here = Path(sys.executable).parent
    for candidate in (
        here / spec.executable,
        Path(sys.prefix) / "lib" / bringup.PACKAGE / spec.executable,
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which(spec.executable)
    return [found] if found else [sys.executable, "-m", spec.module]


def _overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """`--set NODE.PARAM=VALUE` options, by node."""
    by_node: dict[str, dict[str, str]] = {}
    names = {spec.name for spec in (*bringup.NODES, bringup.RECORDER)}
    for item in items:
        key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or not param:
            raise RosCliError(f"--set {item!r}: expected NODE.PARAM=VALUE")
        if node not in names:
            raise RosCliError(
                f"--set {item!r}: unknown node {node!r} ({', '.join(sorted(names))})"
            )
        by_node.setdefault(node, {})[param] = value
    return by_node


def _pump(name: str, stream: Any, width: int, lock: threading.Lock) -> None:
    prefix = f"[{name}]".ljust(width + 2)
    for line in iter(stream.readline, ""):
        with lock:
            sys.stdout.write(f"{prefix} {line}" if line.endswith("\n") else f"{prefix} {line}\n")
            sys.stdout.flush()
    stream.close()


def cmd_bringup(args: argparse.Namespace) -> int:
    values = {
        "config": args.config or "",
        "planner_backend": args.planner_backend or "",
        "monitor_mode": args.monitor_mode or "",
        "voice": args.voice,
        "scene": args.scene or "",
        "record": args.record or "",
    }
    profile = "hardware" if args.config is not None or args.hardware else "sim"
    try:
        processes = bringup.processes(profile, values)
    except ValueError as exc:
        raise RosCliError(str(exc)) from None
    extra = _overrides(args.set or [])
    env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
    width = max(len(p.spec.name) for p in processes)
    lock = threading.Lock()
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = threading.Event()

    def stop(*_: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            argv = process.argv(_executable(process.spec), extra.get(process.spec.name))
            child = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                env=env,
                start_new_session=True,  # Ctrl-C reaches the nodes through us, once
            )
            children.append((process.spec.name, child))
            threading.Thread(
                target=_pump, args=(process.spec.name, child.stdout, width, lock), daemon=True
            ).start()
        with lock:
            print(
                f"[bringup] {profile} profile, parameters {processes[0].params_file}; started "
                + ", ".join(f"{n} (pid {c.pid})" for n, c in children),
                flush=True,
            )
        died: tuple[str, int] | None = None
        while not stopping.is_set() and died is None:
            for name, child in children:
                code = child.poll()
                if code is not None:
                    died = (name, code)
                    break
            stopping.wait(0.2)
        if died is not None:
            with lock:
                print(
                    f"[bringup] {died[0]} exited with code {died[1]}; stopping the other nodes",
                    flush=True,
                )
        return _stop_all(children, lock) if died is None else (_stop_all(children, lock) or 1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for _, child in children:
            if child.poll() is None:
                child.kill()


def _stop_all(children: list[tuple[str, subprocess.Popen]], lock: threading.Lock) -> int:
    """SIGINT every running node, wait, then kill; 0 if all stopped cleanly."""
    for _, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    status = 0
    for name, child in children:
        try:
            code = child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
            with lock:
                print(
                    f"[bringup] {name} did not stop within {STOP_GRACE_S:g} s; killed", flush=True
                )
        if code not in (0, -signal.SIGINT, 130):
            status = 1
    with lock:
        print("[bringup] all nodes stopped", flush=True)
    return status


# --- say / status / cancel -----------------------------------------------------------


class _Client:
    """A short-lived rclpy node for the CLI, spun in bounded loops."""

    def __init__(self, name: str):
        try:
            import rclpy
            from rclpy.executors import SingleThreadedExecutor
        except ImportError as exc:
            raise RosCliError(f"ROS 2 (rclpy) is not available: {exc}") from None
        self.rclpy = rclpy
        self.context = rclpy.Context()
        # Not sys.argv (the default): the CLI's own arguments are no ROS arguments, and
        # rclpy cannot even encode one that is not UTF-8 (a file name, say).
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, done: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, deadline - time.monotonic())))
        return bool(done())

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def _status_subscription(client: _Client, received: list) -> Any:
    """Status events (typed, ``/robot_planner/status_events``) appended to `received`."""
    from robot_planner.nodes.common import STATUS_EVENTS, STATUS_QOS
    from robot_planner.nodes.typed import status_from_msg
    from robot_planner.service.events import EventError

    StatusEvent = _interfaces().msg.StatusEvent

    def on_status(msg: Any) -> None:
        with contextlib.suppress(EventError):
            received.append(status_from_msg(msg))

    return client.node.create_subscription(StatusEvent, STATUS_EVENTS, on_status, STATUS_QOS)


def cmd_say(args: argparse.Namespace) -> int:
    """Publish a command (text, or a WAV file for the voice node) and optionally follow it."""
    from robot_planner.service.commands import CommandError, new_command_id, parse_command

    if (args.text is None) == (args.audio is None):
        raise RosCliError("give either the command TEXT or --audio FILE.wav")
    if args.timeout <= 0:
        raise RosCliError("--timeout must be positive")
    command = pcm = None
    if args.audio is not None:
        from robot_planner.speech.recognizer import SpeechError, read_wav

        if args.id:
            raise RosCliError("--id cannot be used with --audio (the voice node names it)")
        try:
            pcm, _ = read_wav(args.audio)
        except SpeechError as exc:
            raise RosCliError(str(exc)) from None
    else:
        try:
            payload = json.dumps({"text": args.text, "id": args.id or new_command_id()})
            command = parse_command(payload)
        except CommandError as exc:
            raise RosCliError(str(exc)) from None
    if pcm is None:
        return _say_goal(args, command)
    from std_msgs.msg import UInt8MultiArray

    from robot_planner.nodes.common import AUDIO, STATUS_EVENTS, reliable

    # Speech goes to the voice node, which names the command: it is followed on the
    # status topic.
    client = _Client("robot_planner_say")
    try:
        events: list = []
        _status_subscription(client, events)
        publisher = client.node.create_publisher(UInt8MultiArray, AUDIO, reliable(4))
        started = time.monotonic()
        discovery = min(args.timeout, DISCOVERY_S)

        def ready() -> bool:
            return (
                publisher.get_subscription_count() > 0
                and client.node.count_publishers(STATUS_EVENTS) > 0
            )

        if not client.spin_until(ready, discovery):
            raise RosCliError(
                f"no voice node is listening on {AUDIO} after {discovery:g} s "
                "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
            )
        client.spin_until(lambda: False, 0.3)  # let the status publishers match us too
        heard = len(events)
        publisher.publish(UInt8MultiArray(data=pcm))
        first = _voice_answer(client, events, heard, args.timeout - (time.monotonic() - started))
        if not args.quiet:
            print(_progress(first), file=sys.stderr, flush=True)
        if first.state == "error":
            print(first.to_json())
            return EXIT_BAD_INPUT
        if first.state == "not_understood":  # speech, but not a whole command: nothing sent
            print(first.to_json())
            return EXIT_FAILED
        command_id = first.command_id
        if not args.wait:
            client.spin_until(lambda: False, 0.2)
            print(command_id)
            return EXIT_OK
        seen = 0
        final = None

        def finished() -> bool:
            nonlocal seen, final
            for event in events[seen:]:
                if event.details.get("answer_id") == command_id:
                    # The utterance answered a plan waiting for approval ("yes"): that
                    # decision is its end, reported under the command it decided.
                    if not args.quiet:
                        print(_progress(event), file=sys.stderr, flush=True)
                    final = event
                elif event.command_id == command_id and event.state != "transcript":
                    if not args.quiet:
                        print(_progress(event), file=sys.stderr, flush=True)
                    if event.final and not (event.state == "error" and event.source == "voice"):
                        final = event
            seen = len(events)
            return final is not None

        remaining = args.timeout - (time.monotonic() - started)
        if not client.spin_until(finished, max(0.0, remaining)):
            last = next((e.state for e in reversed(events) if e.command_id == command_id), None)
            print(
                f"error: timed out after {args.timeout:g} s waiting for command {command_id} "
                f"(last state: {last or 'none'})",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        print(final.to_json())
        if final.details.get("answer_id") == command_id:
            return EXIT_OK
        return EXIT_OF.get(final.state, EXIT_FAILED)
    finally:
        client.close()


def _say_goal(args: argparse.Namespace, command: Any) -> int:
    """`say TEXT`: an ExecuteCommand goal; feedback lines on stderr, with --wait the result
    (beside the command's final status event) on stdout. Ctrl-C cancels the goal."""
    from rclpy.action import ActionClient

    from robot_planner.nodes.common import EXECUTE, STATUS_EVENTS
    from robot_planner.service.action_mapping import CODE_NAMES

    ExecuteCommand = _interfaces().action.ExecuteCommand
    client = _Client("robot_planner_say")
    try:
        action = ActionClient(client.node, ExecuteCommand, EXECUTE)
        events: list = []
        status_sub = _status_subscription(client, events) if args.wait else None
        discovery = min(args.timeout, DISCOVERY_S)
        started = time.monotonic()
        if not client.spin_until(action.server_is_ready, discovery):
            raise RosCliError(
                f"no planner serves {EXECUTE} after {discovery:g} s "
                "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
            )
        if status_sub is not None:  # the final event's details; the result alone will do
            client.spin_until(
                lambda: (
                    status_sub.get_publisher_count() >= client.node.count_publishers(STATUS_EVENTS)
                ),
                1.0,
            )
        feedback: list = []
        shown: list[str] = [""]

        def on_feedback(msg: Any) -> None:
            feedback.append(msg.feedback)
            line = _feedback_line(msg.feedback)
            if msg.feedback.state == "awaiting_approval":
                # The status event (--wait follows them) also has the guesses and the time
                # limit; the planner sends the feedback after it, so it is usually here.
                asked = [
                    e
                    for e in events
                    if e.command_id == command.id and e.state == msg.feedback.state
                ]
                line = _progress(asked[-1]) if asked else line
            # A task's phases come by the dozen and feedback does not name the phase:
            # one line while nothing else changes.
            same = line.partition(" ")[2] == shown[0].partition(" ")[2]  # but the time
            if not args.quiet and not (msg.feedback.state == "task_phase" and same):
                print(line, file=sys.stderr, flush=True)
            shown[0] = line

        goal = ExecuteCommand.Goal(command=command.text, source="cli", id=command.id)
        sent = action.send_goal_async(goal, feedback_callback=on_feedback)
        if not client.spin_until(sent.done, discovery):
            raise RosCliError(f"the planner did not answer the goal within {discovery:g} s")
        handle = sent.result()
        if handle is None or not handle.accepted:
            raise RosCliError("the planner refused the goal")
        answer = handle.get_result_async()
        if not args.wait:
            # A goal turned away (busy, duplicate id) answers at once; an accepted one
            # sends its first feedback.
            client.spin_until(lambda: answer.done() or bool(feedback), discovery)
            if not answer.done() or answer.result().result.final_state != "rejected":
                print(command.id)
                return EXIT_OK
        cancelled = False
        # Ctrl-C sets a flag the spin loop checks. A KeyboardInterrupt is not enough: one
        # raised while rclpy's executor runs a callback (the feedback printer, say) did
        # not always reach this frame (seen on CI: the command ran on to its end).
        interrupted = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
        try:
            remaining = args.timeout - (time.monotonic() - started)
            if not client.spin_until(
                lambda: answer.done() or interrupted.is_set(), max(0.0, remaining)
            ):
                last = feedback[-1].state if feedback else "none"
                print(
                    f"error: timed out after {args.timeout:g} s waiting for command "
                    f"{command.id} (last state: {last}); it goes on: "
                    f"`robot-planner cancel --id {command.id}` stops it",
                    file=sys.stderr,
                )
                return EXIT_BAD_INPUT
            if interrupted.is_set() and not answer.done():
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            cancelled = True
            print(f"cancelling command {command.id} ...", file=sys.stderr, flush=True)
            handle.cancel_goal_async()
            if not client.spin_until(answer.done, CANCEL_WAIT_S):
                print(
                    f"error: no result {CANCEL_WAIT_S:g} s after cancelling {command.id}",
                    file=sys.stderr,
                )
                return EXIT_FAILED
        finally:
            signal.signal(signal.SIGINT, previous)
        response = answer.result()
        result = response.result
        fields = {
            "success": result.success,
            "final_state": result.final_state,
            "error_code": result.error_code,
            "error": CODE_NAMES.get(result.error_code, str(result.error_code)),
            "message": result.message,
            "final_facts": list(result.final_facts),
            "id": result.id,
            "goal_status": _GOAL_STATUS.get(response.status, str(response.status)),
        }

        def final_event() -> Any:
            return next(
                (
                    e
                    for e in events
                    if e.command_id == command.id and e.final and e.source != "voice"
                ),
                None,
            )

        if args.wait and not cancelled:
            # The executor's final event is published before the result goes out, but
            # on another channel: on a loaded machine it can arrive seconds later, and
            # the events before it (task_cancelled after a halt) with it.
            client.spin_until(lambda: final_event() is not None, FINAL_EVENT_WAIT_S)
        elif args.wait:
            client.spin_until(lambda: final_event() is not None, 0.5)
        if args.wait and not args.quiet:
            # Feedback and the result travel apart; a state whose feedback had not come
            # when the result did is shown from its status event, so none goes missing.
            shown_states = {f.state for f in feedback}
            for missed in events:
                if (
                    missed.command_id == command.id
                    and missed.source != "voice"
                    and not missed.final
                    and missed.state not in shown_states
                ):
                    print(_progress(missed), file=sys.stderr, flush=True)
                    shown_states.add(missed.state)
        if not args.quiet:
            line = f"{time.time():.3f} {'result':>8} {result.final_state:<15} {result.message}"
            print(line.rstrip(), file=sys.stderr, flush=True)
        event = final_event() if args.wait else None
        document = (
            event.model_dump()
            if event is not None
            else {
                "command_id": result.id or command.id,
                "state": result.final_state,
                "time": round(time.time(), 6),
                "source": "planner",
                "details": {"reason": result.message, "facts": list(result.final_facts)},
            }
        )
        document["result"] = fields
        print(json.dumps(document, separators=(",", ":"), default=str))
        return EXIT_OF.get(result.final_state, EXIT_FAILED)
    finally:
        client.close()


#: action_msgs/GoalStatus values.
_GOAL_STATUS = {
    0: "unknown",
    1: "accepted",
    2: "executing",
    3: "canceling",
    4: "succeeded",
    5: "canceled",
    6: "aborted",
}


def _interfaces() -> Any:
    """The robot_planner_interfaces package, or one line saying how to get it."""
    try:
        import robot_planner_interfaces.action
        import robot_planner_interfaces.msg
        import robot_planner_interfaces.srv
    except ImportError as exc:
        raise RosCliError(
            f"robot_planner_interfaces is not installed ({exc}): run `make setup`, or "
            "source a colcon workspace that built it"
        ) from None
    return robot_planner_interfaces


def _feedback_line(feedback: Any) -> str:
    """One progress line per feedback message, in `_progress`'s columns."""
    state = feedback.state
    brief = ""
    if state in ("planned", "replanned"):
        brief = f"{feedback.tasks_total} task(s)"
        if feedback.readback:
            brief += f": {feedback.readback}"
    elif state.startswith(("task_", "progress_")) or state == "verifying":
        running = ", ".join(feedback.running_tasks)
        brief = f"{feedback.tasks_done}/{feedback.tasks_total} done"
        if running:
            brief += f", running {running}"
    elif state in ("replanning", "misalignment"):
        brief = f"{feedback.replans} re-plan(s) so far"
    elif state == "awaiting_approval":
        brief = _how_to_answer(feedback.id, feedback.readback)
    return f"{time.time():.3f} {'planner':>8} {state:<15} {brief}".rstrip()


def _how_to_answer(command_id: str, readback: str, details: dict | None = None) -> str:
    """The awaiting_approval line: what would be done, the guesses, how to answer."""
    details = details or {}
    brief = readback or "(no readback)"
    guesses = details.get("guesses")
    if isinstance(guesses, list) and guesses:
        brief += " [guessed: " + "; ".join(str(g) for g in guesses[:3]) + "]"
    within = details.get("timeout_s")
    limit = f" within {within:g} s" if isinstance(within, (int, float)) else ""
    return (
        f"{brief} -- approve{limit}: robot-planner approve --id {command_id} "
        f"(or reject --id {command_id}; or say yes / no)"
    )


def _voice_answer(client: _Client, events: list, since: int, timeout: float) -> Any:
    """The voice node's answer to the audio just sent: a transcript or an error."""
    answer: list = []

    def answered() -> bool:
        if not answer:
            answer.extend(
                e
                for e in events[since:]
                if e.source == "voice" and e.state in ("transcript", "not_understood", "error")
            )
        return bool(answer)

    if not client.spin_until(answered, max(0.0, timeout)):
        raise RosCliError(f"the voice node did not answer within {timeout:.0f} s")
    return answer[0]


def _progress(event: Any) -> str:
    details = event.details
    brief = ""
    if event.state.startswith("task_"):
        brief = f"{details.get('task', '')} {details.get('phase', '')}".strip()
    elif event.state in ("failed", "error", "rejected", "cancelled", "replanning"):
        brief = str(details.get("reason", ""))[:160]
    elif event.state == "planned":
        brief = f"{details.get('tasks')} task(s) by {details.get('backend')}"
        if details.get("readback"):
            brief += f": {details['readback']}"
    elif event.state == "replanned" and details.get("readback"):
        brief = f"{details.get('tasks')} task(s): {details['readback']}"
    elif event.state == "awaiting_approval":
        brief = _how_to_answer(event.command_id, str(details.get("readback", "")), details)
    elif event.state == "approved":
        brief = f"by {details.get('by', '?')}" + (
            f": {details['reason']}" if details.get("reason") else ""
        )
    elif event.state == "transcript":
        brief = f"{details.get('text', '')!r} (decoded in {details.get('decode_s')} s)"
    elif event.state == "not_understood":
        brief = f"best guess {details.get('guess', '')!r}: not a whole command, not sent"
    elif event.state == "misalignment":
        brief = f"{details.get('fact')} ({details.get('evidence', '')})"
    elif event.state.startswith("progress_"):
        still = details.get("stalled_s")
        brief = f"{details.get('robot', '?')} in {details.get('task', '?')}'s " + (
            f"{details.get('phase', '')}" + (f", stood {still} s" if still is not None else "")
        )
    return f"{event.time:.3f} {event.source:>8} {event.state:<15} {brief}".rstrip()


def _get_state(client: _Client, command_id: str, timeout: float) -> Any:
    """The planner's GetState answer, or a RosCliError when no planner answers."""
    from robot_planner.nodes.common import GET_STATE

    GetState = _interfaces().srv.GetState
    service = client.node.create_client(GetState, GET_STATE)
    if not client.spin_until(service.service_is_ready, timeout):
        raise RosCliError(
            f"no planner serves {GET_STATE} after {timeout:g} s "
            "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
        )
    answer = service.call_async(GetState.Request(command_id=command_id))
    if not client.spin_until(answer.done, timeout) or answer.result() is None:
        raise RosCliError(f"the planner did not answer {GET_STATE} within {timeout:g} s")
    return answer.result()


def _state_document(state: Any) -> dict[str, Any]:
    return {
        "state": state.state,
        "command_id": state.command_id,
        "busy": state.busy,
        "message": state.message,
        "facts": list(state.facts),
    }


def cmd_status(args: argparse.Namespace) -> int:
    """Without --follow (or --timeout/--until-final): one answer from GetState, the
    current state or one command's outcome. With them: the status events as they come."""
    from robot_planner.service.events import FINAL_STATES

    streaming = args.follow or args.timeout or args.until_final
    if not streaming or args.command:
        client = _Client("robot_planner_status")
        try:
            state = _get_state(client, args.command or "", args.service_timeout)
        except RosCliError:
            if not streaming:
                raise
            state = None  # following the events needs no service
        finally:
            client.close()
        if state is not None and (not streaming or (args.command and state.state in FINAL_STATES)):
            document = _state_document(state)
            if args.brief:
                print(f"{state.command_id or '-'} {state.state}: {state.message}".rstrip())
            else:
                print(json.dumps(document, separators=(",", ":")))
            if state.state == "unknown":
                return EXIT_BAD_INPUT
            return EXIT_OF.get(state.state, EXIT_OK) if args.command else EXIT_OK
    client = _Client("robot_planner_status")
    events: list = []
    _status_subscription(client, events)
    shown = 0
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        while deadline is None or time.monotonic() < deadline:
            client.executor.spin_once(timeout_sec=0.1)
            for event in events[shown:]:
                if args.command and event.command_id != args.command:
                    continue
                print(_progress(event) if args.brief else event.to_json(), flush=True)
                if args.until_final and event.final and args.command:
                    return EXIT_OF.get(event.state, EXIT_FAILED)
            shown = len(events)
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    if args.id:
        return _cancel_one(args)
    from std_msgs.msg import Empty

    from robot_planner.nodes.common import CANCEL, reliable

    client = _Client("robot_planner_cancel")
    try:
        goals = _cancel_all_goals(client, min(args.timeout, 2.0))
        publisher = client.node.create_publisher(Empty, CANCEL, reliable())
        if not client.spin_until(lambda: publisher.get_subscription_count() > 0, args.timeout):
            raise RosCliError(
                f"nothing is listening on {CANCEL} after {args.timeout:g} s "
                "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
            )
        client.spin_until(lambda: publisher.get_subscription_count() >= 2, 0.5)
        publisher.publish(Empty())
        client.spin_until(lambda: False, 0.2)
        cancelling = "" if goals is None else f"; {goals} goal(s) cancelling"
        print(f"cancel sent to {publisher.get_subscription_count()} node(s){cancelling}")
        return EXIT_OK
    finally:
        client.close()


def _cancel_all_goals(client: _Client, timeout: float) -> int | None:
    """Cancel every ExecuteCommand goal (the action's cancel service with a zero goal id
    and stamp: all goals); their results say CANCELLED. None when no server answers."""
    from action_msgs.srv import CancelGoal

    from robot_planner.nodes.common import EXECUTE

    service = client.node.create_client(CancelGoal, f"{EXECUTE}/_action/cancel_goal")
    if not client.spin_until(service.service_is_ready, timeout):
        return None
    answer = service.call_async(CancelGoal.Request())
    if not client.spin_until(answer.done, timeout) or answer.result() is None:
        return None
    return len(answer.result().goals_canceling)


def _cancel_one(args: argparse.Namespace) -> int:
    """`cancel --id ID`: that command only (a goal's or a text command's), then its end."""
    from std_msgs.msg import String

    from robot_planner.nodes.common import CANCEL_COMMAND, reliable
    from robot_planner.service.commands import ID_PATTERN
    from robot_planner.service.events import FINAL_STATES

    if not ID_PATTERN.fullmatch(args.id):
        raise RosCliError("--id must be 1-64 characters of [A-Za-z0-9_.:-]")
    client = _Client("robot_planner_cancel")
    try:
        before = _get_state(client, args.id, args.timeout)
        if before.state == "unknown":
            raise RosCliError(f"no command {args.id} is known to the planner")
        if before.state in FINAL_STATES:
            print(f"command {args.id} already ended: {before.state}")
            return EXIT_FAILED
        publisher = client.node.create_publisher(String, CANCEL_COMMAND, reliable())
        if not client.spin_until(lambda: publisher.get_subscription_count() > 0, args.timeout):
            raise RosCliError(f"nothing is listening on {CANCEL_COMMAND} after {args.timeout:g} s")
        publisher.publish(String(data=args.id))
        ended: list = []

        def over() -> bool:
            state = _get_state(client, args.id, args.timeout)
            if state.state in FINAL_STATES:
                ended.append(state)
            return bool(ended)

        if not client.spin_until(over, CANCEL_WAIT_S):
            raise RosCliError(f"command {args.id} did not end within {CANCEL_WAIT_S:g} s")
        print(f"command {args.id}: {ended[0].state} ({ended[0].message})")
        return EXIT_OK if ended[0].state == "cancelled" else EXIT_FAILED
    finally:
        client.close()


def cmd_answer(args: argparse.Namespace) -> int:
    """`approve` / `reject`: answer a plan that waits for approval (no --id: the one that
    waits; none or several: one line, exit 2)."""
    from robot_planner.service.approval import APPROVE_PLAN
    from robot_planner.service.commands import ID_PATTERN

    approve = bool(args.approve)
    if args.id is not None and not ID_PATTERN.fullmatch(args.id):
        raise RosCliError("--id must be 1-64 characters of [A-Za-z0-9_.:-]")
    if args.timeout <= 0:
        raise RosCliError("--timeout must be positive")
    ApprovePlan = _interfaces().srv.ApprovePlan
    client = _Client("robot_planner_approve" if approve else "robot_planner_reject")
    try:
        service = client.node.create_client(ApprovePlan, APPROVE_PLAN)
        if not client.spin_until(service.service_is_ready, args.timeout):
            raise RosCliError(
                f"no planner serves {APPROVE_PLAN} after {args.timeout:g} s "
                "(is `robot-planner bringup` running with the same ROS_DOMAIN_ID?)"
            )
        # Only a command's first plan (revision 0) is ever held: re-plans do not ask.
        request = ApprovePlan.Request(
            command_id=args.id or "", revision=0, approve=approve, reason=args.reason or ""
        )
        answer = service.call_async(request)
        if not client.spin_until(answer.done, args.timeout) or answer.result() is None:
            raise RosCliError(
                f"the planner did not answer {APPROVE_PLAN} within {args.timeout:g} s"
            )
        response = answer.result()
        if not response.accepted:
            raise RosCliError(response.message or "the planner did not take the answer")
        print(response.message)
        return EXIT_OK
    finally:
        client.close()


def add_parsers(sub: Any) -> None:
    """The ROS subcommands, added to the main parser's subparsers."""
    from robot_planner.cli.common import utf8_text  # not at the top: cli imports this module

    p = sub.add_parser("bringup", help="start the ROS 2 nodes (no `ros2 launch` needed)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--sim", action="store_true", help="simulation profile (the default)")
    where.add_argument(
        "--hardware", action="store_true", help="hardware profile (robot_launch.py's)"
    )
    where.add_argument(
        "--config",
        type=utf8_text("--config"),  # passed to the nodes as a ROS argument: UTF-8 only
        help="a ROS 2 parameter file for every node (hardware)",
    )
    p.add_argument("--planner-backend", choices=["offline", "openai", "transformers", "auto"])
    p.add_argument("--monitor-mode", choices=["on", "after-skill", "off"])
    p.add_argument("--voice", choices=["true", "false"], default="true", help="voice node")
    p.add_argument(
        "--scene",
        type=utf8_text("--scene"),  # passed to the nodes as a ROS argument: UTF-8 only
        help="scene name or file for every node, e.g. logistics (default: the config's)",
    )
    p.add_argument(
        "--record",
        metavar="FILE.mcap",
        type=utf8_text("--record"),
        help="record the planner's topics, status, plan and camera (JPEG) to an MCAP file "
        "for Foxglove; closed properly on Ctrl-C",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="NODE.PARAM=VALUE",
        type=utf8_text("--set"),
        help="override one parameter, e.g. executor.drop_prob=0.3 (repeatable)",
    )
    p.set_defaults(func=cmd_bringup)

    p = sub.add_parser("say", help="publish a command; --wait follows it to the end")
    p.add_argument(
        "text",
        nargs="?",
        type=utf8_text("the command"),
        help="the command, e.g. 'put the red block in the right bin'",
    )
    p.add_argument(
        "--audio",
        metavar="FILE.wav",
        help="speak instead: publish a WAV on /robot_planner/audio for the voice node",
    )
    p.add_argument("--wait", action="store_true", help="print the final status event")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds (with --wait)")
    p.add_argument("--id", type=utf8_text("--id"), help="command id (default: generated)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_say)

    p = sub.add_parser(
        "status",
        help="the planner's state now, or a command's outcome (--follow: status events)",
    )
    p.add_argument(
        "--command", type=utf8_text("--command"), help="this command's state or outcome only"
    )
    p.add_argument("--brief", action="store_true", help="one short line per answer or event")
    p.add_argument("--follow", action="store_true", help="print status events as they come")
    p.add_argument("--timeout", type=float, default=0.0, help="follow for S seconds")
    p.add_argument("--until-final", action="store_true", help="follow until --command ends")
    p.add_argument(
        "--service-timeout", type=float, default=5.0, help="seconds to find the planner"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "cancel", help="cancel every goal and command (halts the robots), or --id ID only"
    )
    p.add_argument("--id", type=utf8_text("--id"), help="cancel this command only")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to find the nodes")
    p.set_defaults(func=cmd_cancel)

    for name, verb in (("approve", "run"), ("reject", "drop")):
        p = sub.add_parser(
            name,
            help=f"{verb} a plan that waits for approval (planner confirm: always|ambiguous)",
        )
        p.add_argument(
            "--id",
            type=utf8_text("--id"),
            help="the command (default: the one waiting; none or several: exit 2)",
        )
        p.add_argument(
            "--reason", type=utf8_text("--reason"), help="why (journalled; shown on reject)"
        )
        p.add_argument("--timeout", type=float, default=5.0, help="seconds to find the planner")
        p.set_defaults(func=cmd_answer, approve=name == "approve")
