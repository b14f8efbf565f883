"""Skill argument types: one spec asked by the schema, the validator, bindings and DART.

An argument is either a *name* of something in the scene (its type is a domain type or a
list of them: any of) or a primitive value (``number``, ``integer``, ``string``,
``boolean``). Everything that needs to know what a value may be -- the JSON Schema given
to LLMs, the plan validator, the hardware bindings and the DART importer -- asks the
`ArgSpec` here instead of keeping its own table.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, field_validator

if TYPE_CHECKING:
    from robot_planner.world.scene import Scene

#: The primitive argument types and the JSON Schema type each maps to.
PRIMITIVES = ("number", "integer", "string", "boolean")
MAX_STRING_ARG = 200


class ArgSpec(BaseModel):
    """One typed skill argument: a scene name of some domain types, or a primitive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str | tuple[str, ...]
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None

    @field_validator("type")
    @classmethod
    def _not_empty(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if isinstance(value, tuple):
            if not value:
                raise ValueError("an argument type list is empty")
            if len(value) == 1:
                return value[0]
            if any(v in PRIMITIVES for v in value):
                raise ValueError("a type list may only name domain types")
        return value

    # --- what the argument is -----------------------------------------------------------

    @property
    def is_name(self) -> bool:
        """True when the value is the name of something in the scene."""
        return self.type not in PRIMITIVES

    @property
    def types(self) -> tuple[str, ...]:
        """The domain types a name argument admits (empty for primitives)."""
        if not self.is_name:
            return ()
        return self.type if isinstance(self.type, tuple) else (self.type,)

    @property
    def label(self) -> str:
        """How the type is shown to people and LLMs: ``block / bin / zone``."""
        return " / ".join(self.types) if self.is_name else str(self.type)

    # --- checking and converting values -------------------------------------------------

    def names(self, scene: Scene) -> list[str]:
        """Every scene name this argument admits, in scene order."""
        return [
            n for n in (*scene.names, *scene.robots) if any(scene.is_a(n, t) for t in self.types)
        ]

    def problem(self, value: Any, scene: Scene) -> str | None:
        """Why `value` is not acceptable here, or None."""
        if self.is_name:
            label = self.label
            if not isinstance(value, str):
                return f"expected the name of a {label}, got {type(value).__name__}"
            kind = scene.kind_of(value)
            if kind is None:
                return f"unknown {label} '{value[:60]}'"
            if not any(scene.is_a(value, t) for t in self.types):
                return f"'{value}' is a {kind}, expected a {label}"
            return None
        if self.type in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"expected a {self.type}, got {type(value).__name__}"
            if isinstance(value, int) and abs(value) > 10**15:
                return "number is too large"
            if self.type == "integer" and not isinstance(value, int):
                return f"expected an integer, got {value!r}"
            if not math.isfinite(value):
                return f"expected a finite number, got {value!r}"
            if self.minimum is not None and value < self.minimum:
                return f"{value} is below the minimum {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"{value} is above the maximum {self.maximum:g}"
            return None
        if self.type == "boolean":
            return None if isinstance(value, bool) else f"expected true/false, got {value!r}"
        if not isinstance(value, str):
            return f"expected a string, got {type(value).__name__}"
        if len(value) > MAX_STRING_ARG:
            return f"string longer than {MAX_STRING_ARG} characters"
        return None

    def coerce(self, value: Any) -> Any:
        """Turn text from a loosely typed source (DART keywords, YAML) into this type's
        value where that is unambiguous; anything else is returned unchanged, for
        `problem` to reject."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if self.type in ("number", "integer"):
            for parse in (int, float):
                try:
                    return parse(text)
                except ValueError:
                    continue
            return value
        if self.type == "boolean" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        return text

    def json_schema(self, scene: Scene) -> dict[str, Any]:
        """The JSON Schema of this argument in `scene` (names become an enum)."""
        schema: dict[str, Any]
        if self.is_name:
            schema = {"type": "string", "enum": self.names(scene)}
        else:
            schema = {"type": self.type}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        if self.description:
            schema["description"] = self.description
        return schema

    def value_kind(self) -> str:
        """The Python-level kind of a value: ``str`` for names, else the primitive's."""
        return {"number": "float", "integer": "int", "boolean": "bool"}.get(str(self.type), "str")
