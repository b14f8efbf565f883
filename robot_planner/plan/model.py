"""The task plan: a command, its goal facts and a DAG of skill calls on robots.

JSON form (the same in files, on ``/robot_planner/plan`` and from LLMs)::

    {"command": "...", "goal": ["in(red_block,right_bin)"],
     "tasks": [{"id": "t1", "skill": "pick", "robot": "left_arm",
                "args": {"object": "red_block"}, "depends_on": [],
                "constraints": [{"phase": "during", "fact": "holding(left_arm,red_block)",
                                 "question": "Is the red block in the left gripper?",
                                 "expected": true, "period_s": 0.5}]}]}

The models check structure only (types, required keys, no unknown keys). Whether the
names exist, the arguments fit the skill and the dependencies form a DAG is the
validator's job, because it needs the catalogue and the scene.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_COMMAND_LENGTH = 2000
MAX_TASKS = 20_000
TASK_ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"

Phase = Literal["before", "during", "after"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Constraint(_Strict):
    """A fact that must hold before, during or after a task (DoReMi), and how to ask it."""

    phase: Phase
    fact: str = Field(max_length=256)
    question: str = Field(max_length=300, description="the question put to the VQA monitor")
    expected: bool = Field(True, description="the answer that means the fact holds")
    period_s: float = Field(0.5, gt=0.0, le=60.0, description="check period while running")
    kind: Literal["task", "collateral"] = Field(
        "task",
        description="task: about what the task does; collateral: an object the task and "
        "the tasks beside it leave alone stays where it is",
    )


class Task(_Strict):
    """One skill call on one robot, and the tasks that must succeed before it starts."""

    id: str = Field(pattern=TASK_ID_PATTERN)
    skill: str = Field(max_length=64)
    robot: str = Field(max_length=64)
    args: dict[str, Any] = {}
    depends_on: list[str] = []
    constraints: list[Constraint] = []


class TaskPlan(_Strict):
    """A command, the facts that must hold when it is done, and the task DAG."""

    command: str = Field("", max_length=MAX_COMMAND_LENGTH)
    goal: list[str] = []
    tasks: list[Task] = Field(max_length=MAX_TASKS)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-compatible data (all keys present)."""
        return self.model_dump(mode="json")

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def task(self, task_id: str) -> Task:
        """The task with this id (KeyError if none)."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(task_id)

    @property
    def robots(self) -> tuple[str, ...]:
        """Robots in order of first appearance."""
        return tuple(dict.fromkeys(t.robot for t in self.tasks))
