"""Hardware bindings: which ROS 2 action runs each catalogue skill, and how its goal is filled.

The bindings file (``config/hardware_bindings.yaml``) is untrusted data, so goals are
filled by a small template language, never by ``eval``:

* literals: numbers, booleans, strings (``frame_id: world``);
* ``"{object}"``: exactly one placeholder keeps the argument's own type (a number stays
  a number); placeholders inside a longer string are substituted as text
  (``"/{robot}/pick"``, ``"{robot}_hand"``); ``{{``/``}}`` are literal braces;
  the names are ``robot`` and the skill's catalogue arguments;
* world-model lookups, as a mapping: ``{position: target}`` is ``[x, y, z]`` in the scene
  frame (bins and zones: their centre on their surface; blocks: the centre of the cube
  where the adapter's belief puts it), ``{position: target, axis: x}`` one coordinate,
  ``{size: object}`` a block's edge in metres; ``{pose: place}`` the pose of a place's bay
  (where a mobile robot parks: x, y on the floor, yaw), which a ``geometry_msgs/Pose``
  field takes whole, ``{pose: place, part: yaw}`` one part of it, ``bay: N`` or
  ``bay: robot`` which bay;
* lists of the above (``[0.0, 0.0, "{seconds}"]``).

Goal fields are dotted paths into the goal message (``pose.position.x``). Everything that
can be checked without ROS is checked when the file is loaded (`load_bindings`) or
compiled against the catalogue (`compile_bindings`); the message-level checks (field
names, field types, result and feedback fields) run when the action type is imported
(`resolve_action`), which imports only message packages, never rclpy. So a typo is a
one-line error at start-up instead of a failed goal at the first command.
"""

from __future__ import annotations

import importlib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from robot_planner.world.argtypes import ArgSpec
from robot_planner.world.catalogue import Catalogue
from robot_planner.world.facts import Fact
from robot_planner.world.loading import ConfigError, load_yaml_model
from robot_planner.world.scene import Scene

#: ``pkg/action/Type`` as rosidl names it (package lower_snake_case, type CamelCase).
ACTION_TYPE_RE = re.compile(r"^([a-z][a-z0-9_]*)/action/([A-Z][A-Za-z0-9]*)$")
_ACTION_NAME_RE = re.compile(r"^[~/]?[A-Za-z0-9_{}]+(/[A-Za-z0-9_{}]+)*$")
_FIELD_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
_AXES = {"x": 0, "y": 1, "z": 2}
_LOOKUPS = ("position", "size", "pose")
#: Parts of a bay's pose: numbers, a Point ([x, y, 0]) or a Quaternion ([x, y, z, w]).
POSE_PARTS = ("x", "y", "yaw", "position", "orientation")
#: Catalogue argument types whose values name things in the scene.
FIBONACCI = "test_msgs/action/Fibonacci"


class BindingError(ConfigError):
    """Bindings that cannot drive the robots; the message is one line naming the problem."""


# --- the template language ----------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A literal: number, boolean or string."""

    value: bool | int | float | str


@dataclass(frozen=True)
class Placeholder:
    """``"{name}"`` alone: the argument's value with its own type."""

    name: str


@dataclass(frozen=True)
class Text:
    """A string with placeholders substituted as text."""

    parts: tuple[str | Placeholder, ...]


@dataclass(frozen=True)
class Lookup:
    """A world-model lookup: a place's or block's position (or one axis), a block's size,
    a place's bay pose (or one part of it)."""

    what: Literal["position", "size", "pose"]
    arg: str
    axis: int | None = None  # position: one coordinate
    part: str | None = None  # pose: one of POSE_PARTS (None: the whole pose)
    bay: int | Literal["robot"] = 0  # pose: which of the place's bays

    def __str__(self) -> str:
        extra = ""
        if self.axis is not None:
            extra += f", axis: {'xyz'[self.axis]}"
        if self.part is not None:
            extra += f", part: {self.part}"
        if self.bay != 0:
            extra += f", bay: {self.bay}"
        return f"{{{self.what}: {self.arg}{extra}}}"


@dataclass(frozen=True)
class Items:
    """A list of templates (no nesting: ROS fields hold flat arrays)."""

    items: tuple[Value | Placeholder | Text | Lookup, ...]


Template = Value | Placeholder | Text | Lookup | Items


def parse_template(raw: Any, *, in_list: bool = False) -> Template:
    """Parse one YAML goal value; raise `ValueError` saying what is wrong with it."""
    if isinstance(raw, bool | int | float) and not isinstance(raw, str):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ValueError(f"{raw} is not a finite number")
        return Value(raw)
    if isinstance(raw, str):
        return _parse_text(raw)
    if isinstance(raw, dict):
        return _parse_lookup(raw)
    if isinstance(raw, list):
        if in_list:
            raise ValueError("lists cannot be nested (ROS message fields are flat arrays)")
        return Items(tuple(parse_template(item, in_list=True) for item in raw))  # type: ignore[misc]
    if raw is None:
        raise ValueError("empty value")
    raise ValueError(f"unsupported value of type {type(raw).__name__}")


def _parse_text(raw: str) -> Value | Placeholder | Text:
    parts: list[str | Placeholder] = []
    literal = ""
    pos = 0
    for match in _TOKEN_RE.finditer(raw):
        literal += raw[pos : match.start()]
        token = match.group(0)
        if token in ("{{", "}}"):
            literal += token[0]
        elif match.group(1) is not None:
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(Placeholder(match.group(1)))
        else:
            raise ValueError(
                f"'{raw}' has an unmatched '{token}' (placeholders look like {{object}}; "
                "write {{ or }} for a literal brace)"
            )
        pos = match.end()
    literal += raw[pos:]
    if literal:
        parts.append(literal)
    if not any(isinstance(p, Placeholder) for p in parts):
        return Value("".join(str(p) for p in parts))
    if len(parts) == 1:
        return parts[0]  # type: ignore[return-value]
    return Text(tuple(parts))


def _parse_lookup(raw: dict) -> Lookup:
    keys = set(raw)
    what = keys & set(_LOOKUPS)
    if len(what) != 1 or keys - {*_LOOKUPS, "axis", "part", "bay"}:
        raise ValueError(
            f"a mapping must be a lookup, {{position: ARG}}, {{position: ARG, axis: x}}, "
            f"{{size: ARG}} or {{pose: ARG}} (with part: or bay:); got keys "
            f"{sorted(map(str, keys))} (nested fields use dotted names such as "
            "pose.position.x)"
        )
    kind = what.pop()
    arg = raw[kind]
    if not isinstance(arg, str) or not _FIELD_RE.match(arg):
        raise ValueError(f"{kind} takes an argument name such as 'target', got {arg!r}")
    axis = None
    if "axis" in raw:
        if kind != "position" or raw["axis"] not in _AXES:
            raise ValueError("axis (x, y or z) only goes with position")
        axis = _AXES[raw["axis"]]
    part = raw.get("part")
    if "part" in raw and (kind != "pose" or part not in POSE_PARTS):
        raise ValueError(f"part ({', '.join(POSE_PARTS)}) only goes with pose")
    bay = raw.get("bay", 0)
    if "bay" in raw:
        valid = bay == "robot" or (isinstance(bay, int) and not isinstance(bay, bool) and bay >= 0)
        if kind != "pose" or not valid:
            raise ValueError("bay (an index from 0, or robot) only goes with pose")
    return Lookup(kind, arg, axis, part, bay)  # type: ignore[arg-type]


def placeholders(template: Template) -> list[str]:
    """The names a template refers to (placeholders and lookup arguments)."""
    if isinstance(template, Placeholder):
        return [template.name]
    if isinstance(template, Text):
        return [p.name for p in template.parts if isinstance(p, Placeholder)]
    if isinstance(template, Lookup):
        return [template.arg]
    if isinstance(template, Items):
        return [n for item in template.items for n in placeholders(item)]
    return []


def describe_template(template: Template) -> str:
    if isinstance(template, Value):
        return repr(template.value)
    if isinstance(template, Placeholder):
        return f'"{{{template.name}}}"'
    if isinstance(template, Text):
        text = "".join(p if isinstance(p, str) else f"{{{p.name}}}" for p in template.parts)
        return f'"{text}"'
    if isinstance(template, Lookup):
        return str(template)
    return "[" + ", ".join(describe_template(i) for i in template.items) + "]"


# --- static kinds of values ---------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """What a template produces: a scalar (bool/int/float/str) or a list of them."""

    scalar: Literal["bool", "int", "float", "str", "pose", "none"]
    length: int | None = None  # None: a scalar; otherwise a list of this many scalars

    def __str__(self) -> str:
        names = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}
        if self.scalar == "pose":
            return "a pose (position and orientation)"
        if self.length is None:
            name = names.get(self.scalar, self.scalar)
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
        if self.length == 0:
            return "an empty list"
        return f"a list of {self.length} {names.get(self.scalar, self.scalar)}s"


def _scalar_kind(template: Template, arg_types: Mapping[str, ArgSpec]) -> str:
    if isinstance(template, Value):
        value = template.value
        if isinstance(value, bool):
            return "bool"
        return "int" if isinstance(value, int) else "float" if isinstance(value, float) else "str"
    if isinstance(template, Placeholder):
        return "str" if template.name == "robot" else arg_types[template.name].value_kind()
    if isinstance(template, Text):
        return "str"
    raise AssertionError(f"not a scalar template: {template}")


def kind_of(template: Template, arg_types: Mapping[str, ArgSpec]) -> Kind:
    """The static kind of a template whose names were checked against `arg_types`."""
    if isinstance(template, Lookup):
        if template.what == "position" and template.axis is None:
            return Kind("float", 3)
        if template.what == "pose":
            lists = {"position": 3, "orientation": 4}
            if template.part is None:
                return Kind("pose")
            return Kind("float", lists.get(template.part))
        return Kind("float")
    if isinstance(template, Items):
        kinds = []
        for item in template.items:
            kind = kind_of(item, arg_types)
            if kind.length is not None or kind.scalar == "pose":
                raise ValueError("a lookup giving a list or a pose cannot be an item of a list")
            kinds.append(kind.scalar)
        if not kinds:
            return Kind("none", 0)
        unique = set(kinds)
        if unique == {"int", "float"}:
            return Kind("float", len(kinds))
        if len(unique) > 1:
            raise ValueError(f"the list mixes {' and '.join(sorted(unique))} values")
        return Kind(kinds[0], len(kinds))  # type: ignore[arg-type]
    return Kind(_scalar_kind(template, arg_types))  # type: ignore[arg-type]


# --- the configuration file ---------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResultCheck(_Strict):
    """A condition on the action's result, on top of the terminal status SUCCEEDED."""

    field: str = Field(description="dotted path of a result field, e.g. success")
    equals: StrictBool | StrictInt | StrictFloat | StrictStr | None = None
    min_length: int | None = Field(None, ge=0, description="the field holds this many items")

    @field_validator("field")
    @classmethod
    def _dotted(cls, value: str) -> str:
        _check_path(value)
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> ResultCheck:
        given = {"equals", "min_length"} & self.model_fields_set
        if len(given) != 1:
            raise ValueError("a result check takes exactly one of equals, min_length")
        if "equals" in given and self.equals is None:
            raise ValueError("equals needs a value")
        return self

    def describe(self) -> str:
        if self.min_length is not None:
            return f"{self.field} has at least {self.min_length} items"
        return f"{self.field} == {self.equals!r}"


class SkillBinding(_Strict):
    """How one catalogue skill runs: a ROS 2 action, or locally in the adapter (``local``)."""

    action_type: str | None = Field(None, description="pkg/action/Type")
    action_name: str | None = Field(None, description="action name; may use {robot}")
    goal: dict[str, Any] = Field(default_factory=dict, description="goal field -> template")
    success: tuple[ResultCheck, ...] = ()
    timeout_s: float | None = Field(None, gt=0, description="default: the catalogue's")
    cancel_on_halt: bool = True
    feedback_phase: str | None = Field(None, description="feedback string field: the phase")
    feedback_progress: str | None = Field(None, description="feedback number field in [0, 1]")
    result_message: str | None = Field(
        None, description="result string field: the reason a failed goal gives (error_msg)"
    )
    local: Literal["sleep"] | None = Field(None, description="run in the adapter, no action")
    duration_s: Any = Field(None, description="seconds a local sleep takes (a template)")

    @field_validator("action_type")
    @classmethod
    def _action_type(cls, value: str | None) -> str | None:
        if value is not None and not ACTION_TYPE_RE.match(value):
            raise ValueError(
                f"'{value}' is not a ROS action type (expected pkg/action/Type, "
                "e.g. control_msgs/action/GripperCommand)"
            )
        return value

    @field_validator("action_name")
    @classmethod
    def _action_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not _ACTION_NAME_RE.match(value):
            raise ValueError(f"'{value}' is not a valid ROS action name")
        for match in _TOKEN_RE.finditer(value):
            if match.group(1) != "robot":
                raise ValueError(f"'{value}': an action name may only use {{robot}}")
        return value

    @field_validator("goal")
    @classmethod
    def _goal(cls, value: dict[str, Any]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for path, raw in value.items():
            if not isinstance(path, str):
                raise ValueError(f"goal field {path!r} is not a name")
            _check_path(path, what="goal field")
            try:
                parsed[path] = parse_template(raw)
            except ValueError as exc:
                raise ValueError(f"goal field '{path}': {exc}") from None
        paths = sorted(parsed)
        for first, second in itertools.pairwise(paths):
            if second.startswith(first + "."):
                raise ValueError(f"goal fields '{first}' and '{second}' overlap")
        return parsed

    @field_validator("success", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("feedback_phase", "feedback_progress", "result_message")
    @classmethod
    def _feedback_field(cls, value: str | None) -> str | None:
        if value is not None:
            _check_path(value)
        return value

    @field_validator("duration_s")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_template(value)

    @model_validator(mode="after")
    def _action_or_local(self) -> SkillBinding:
        if self.local is not None:
            extra = [
                name
                for name in (
                    "action_type",
                    "action_name",
                    "goal",
                    "success",
                    "feedback_phase",
                    "feedback_progress",
                    "result_message",
                )
                if name in self.model_fields_set
            ]
            if extra:
                raise ValueError(f"a local skill takes no {', '.join(extra)}")
            if self.duration_s is None:
                raise ValueError("local: sleep needs duration_s")
        else:
            missing = [n for n in ("action_type", "action_name") if getattr(self, n) is None]
            if missing:
                raise ValueError(f"missing {' and '.join(missing)} (or local: sleep)")
            if self.duration_s is not None:
                raise ValueError("duration_s only goes with local: sleep")
        return self

    def action_name_for(self, robot: str) -> str:
        """The action name with ``{robot}`` substituted."""
        assert self.action_name is not None
        return self.action_name.replace("{robot}", robot)


class Bindings(_Strict):
    """Every bound skill, keyed by catalogue skill name."""

    version: int = 1
    skills: dict[str, SkillBinding]
    _source: str = PrivateAttr(default="bindings")

    @field_validator("skills")
    @classmethod
    def _not_empty(cls, value: dict[str, SkillBinding]) -> dict[str, SkillBinding]:
        if not value:
            raise ValueError("no skills are bound")
        return value

    @property
    def source(self) -> str:
        """Where the bindings came from (the file), for error messages."""
        return self._source

    def with_source(self, source: str) -> Bindings:
        self._source = source
        return self


def _check_path(path: str, what: str = "field") -> None:
    if not all(_FIELD_RE.match(part) for part in path.split(".")):
        raise ValueError(f"'{path}' is not a {what} name (lower_snake_case, dotted for nesting)")


def load_bindings(path: str | Path) -> Bindings:
    """Load a bindings file; raise `BindingError` (one line naming file and key) on problems."""
    path = Path(path)
    try:
        bindings = load_yaml_model(path, Bindings, "bindings")
    except ConfigError as exc:
        raise BindingError(str(exc)) from None
    return bindings.with_source(str(path))


def bindings_path(name: str = "hardware_bindings_fake") -> Path:
    """A packaged bindings file by name (``hardware_bindings``, ``hardware_bindings_fake``)."""
    from robot_planner.resources import share_dir

    return share_dir() / "config" / f"{name}.yaml"


# --- compiling against the catalogue ------------------------------------------------


@dataclass(frozen=True)
class SkillRoute:
    """One bound skill, checked against the catalogue: what the adapter runs."""

    skill: str
    binding: SkillBinding
    timeout_s: float
    arg_types: Mapping[str, ArgSpec]
    kinds: Mapping[str, Kind]  # goal field -> kind of its template

    @property
    def is_local(self) -> bool:
        return self.binding.local is not None


def compile_bindings(
    bindings: Bindings, catalogue: Catalogue, scene: Scene
) -> dict[str, SkillRoute]:
    """Check the bindings against the catalogue and scene; raise `BindingError` on problems."""
    routes: dict[str, SkillRoute] = {}
    for skill, binding in bindings.skills.items():
        where = f"{bindings.source}: skill '{skill}'"
        spec = catalogue.skills.get(skill)
        if spec is None:
            raise BindingError(
                f"{where} is not in the catalogue (skills: {', '.join(catalogue.names)})"
            )
        arg_types = dict(spec.args)
        timeout = binding.timeout_s if binding.timeout_s is not None else spec.timeout_s
        if timeout > spec.timeout_s:
            raise BindingError(
                f"{where}: timeout_s {timeout:g} exceeds the catalogue's {spec.timeout_s:g} s "
                "(the behaviour tree would stop the skill first)"
            )
        templates = dict(binding.goal)
        if binding.duration_s is not None:
            templates["duration_s"] = binding.duration_s
        kinds: dict[str, Kind] = {}
        for field, template in templates.items():
            _check_names(template, skill, arg_types, scene, f"{where}: {field}")
            try:
                kinds[field] = kind_of(template, arg_types)
            except ValueError as exc:
                raise BindingError(f"{where}: {field}: {exc}") from None
        duration = kinds.pop("duration_s", None)
        if duration is not None and (
            duration.length is not None or duration.scalar in ("str", "pose")
        ):
            raise BindingError(f"{where}: duration_s must be a number, got {duration}")
        routes[skill] = SkillRoute(skill, binding, timeout, arg_types, kinds)
    _check_shared_names(routes, scene, bindings.source)
    return routes


def _check_names(
    template: Template, skill: str, arg_types: Mapping[str, ArgSpec], scene: Scene, where: str
) -> None:
    known = ", ".join([*arg_types, "robot"])
    for name in placeholders(template):
        if name != "robot" and name not in arg_types:
            raise BindingError(
                f"{where}: {describe_template(template)} uses '{name}', which is not an "
                f"argument of {skill} (names: {known})"
            )
    lookups = [template] if isinstance(template, Lookup) else []
    if isinstance(template, Items):
        lookups = [i for i in template.items if isinstance(i, Lookup)]
    for lookup in lookups:
        arg = arg_types.get(lookup.arg)
        if lookup.arg == "robot" or arg is None or not arg.is_name:
            raise BindingError(
                f"{where}: {lookup} needs an argument naming something in the scene; "
                f"'{lookup.arg}' is {arg.label if arg else 'the robot'}"
            )
        if lookup.what == "size" and any(n not in scene.objects for n in arg.names(scene)):
            raise BindingError(
                f"{where}: {lookup} needs an argument naming objects (places have no size); "
                f"'{lookup.arg}' is a {arg.label}"
            )
        if lookup.what == "pose":
            needed = 1 if lookup.bay == "robot" else int(lookup.bay) + 1
            for name in arg.names(scene):
                place = scene.places.get(name)
                count = len(place.bays) if place is not None else 0
                if count < needed:
                    raise BindingError(
                        f"{where}: {lookup} needs places with {needed} bay(s) (x, y, yaw where "
                        f"a mobile robot parks); '{lookup.arg}' can be {name}, which has "
                        f"{count}"
                    )


def _check_shared_names(routes: Mapping[str, SkillRoute], scene: Scene, source: str) -> None:
    """Two skills may share an action (a gripper server) only with the same type."""
    seen: dict[str, tuple[str, str]] = {}
    for route in routes.values():
        if route.is_local:
            continue
        for robot in scene.robots:
            name = route.binding.action_name_for(robot)
            type_string = route.binding.action_type or ""
            other = seen.setdefault(name, (route.skill, type_string))
            if other[1] != type_string:
                raise BindingError(
                    f"{source}: skills '{other[0]}' and '{route.skill}' bind {name} to "
                    f"different types ({other[1]} and {type_string})"
                )


# --- message types ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldType:
    """A message field's type, reduced to what the template checks need."""

    kind: Literal["bool", "int", "float", "str", "msg", "array"]
    text: str  # as rosidl spells it, for messages
    element: FieldType | None = None
    size: int | None = None  # fixed array size, or the bound of a bounded sequence
    fixed: bool = False
    message: type | None = None

    def _float_fields(self, names: str) -> bool:
        """A message whose fields are exactly these one-letter float fields."""
        if self.kind != "msg" or self.message is None:
            return False
        fields = self.message.get_fields_and_field_types()
        return set(fields) == set(names) and all(_basic_kind(fields[f]) == "float" for f in names)

    def is_point(self) -> bool:
        """A message with float x, y, z fields (geometry_msgs Point, Vector3, Point32)."""
        return self._float_fields("xyz")

    def is_quaternion(self) -> bool:
        """A message with float x, y, z, w fields (geometry_msgs Quaternion)."""
        return self._float_fields("xyzw")

    def is_pose(self) -> bool:
        """A geometry_msgs/Pose: a point `position` and a quaternion `orientation`."""
        if self.kind != "msg" or self.message is None:
            return False
        fields = self.message.get_fields_and_field_types()
        if set(fields) != {"position", "orientation"}:
            return False
        return (
            parse_field_type(fields["position"]).is_point()
            and parse_field_type(fields["orientation"]).is_quaternion()
        )


_INTS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
_INTS |= {"octet", "byte", "char"}


def _basic_kind(text: str) -> str | None:
    if text == "boolean":
        return "bool"
    if text in _INTS:
        return "int"
    if text in ("float", "double", "float32", "float64", "long double"):
        return "float"
    if text in ("string", "wstring") or text.startswith(("string<=", "wstring<=")):
        return "str"
    return None


def parse_field_type(text: str) -> FieldType:
    """Turn a rosidl field type string (``sequence<double, 3>``, ``geometry_msgs/Point``)
    into a `FieldType`, importing nested message classes."""
    text = text.strip()
    match = re.fullmatch(r"sequence<(.+?)(?:,\s*(\d+))?>", text)
    if match:
        bound = int(match.group(2)) if match.group(2) else None
        return FieldType("array", text, parse_field_type(match.group(1)), bound)
    match = re.fullmatch(r"(.+)\[(\d+)\]", text)
    if match:
        return FieldType(
            "array", text, parse_field_type(match.group(1)), int(match.group(2)), fixed=True
        )
    basic = _basic_kind(text)
    if basic is not None:
        return FieldType(basic, text)  # type: ignore[arg-type]
    match = re.fullmatch(r"([a-z][a-z0-9_]*)/(?:msg/)?([A-Z][A-Za-z0-9]*)", text)
    if match:
        return FieldType("msg", text, message=_import(match.group(1), "msg", match.group(2)))
    raise BindingError(f"unsupported message field type '{text}'")


def _import(package: str, sub: str, name: str) -> type:
    module_name = f"{package}.{sub}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BindingError(
            f"cannot import {module_name} ({exc}); is the ROS package {package} installed "
            "and sourced?"
        ) from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise BindingError(f"{module_name} has no type {name}")
    return cls


def field_type(message: type, path: str) -> FieldType:
    """The type of a dotted field path in a message class; `BindingError` if it has none."""
    current = message
    parts = path.split(".")
    result: FieldType | None = None
    for index, part in enumerate(parts):
        fields = current.get_fields_and_field_types()  # type: ignore[attr-defined]
        if part not in fields:
            prefix = ".".join(parts[:index]) or current.__name__
            raise BindingError(
                f"'{path}': {prefix} has no field '{part}' (fields: {', '.join(fields)})"
            )
        result = parse_field_type(fields[part])
        if index < len(parts) - 1:
            if result.kind != "msg" or result.message is None:
                raise BindingError(f"'{path}': '{part}' is {result.text}, not a message")
            current = result.message
    assert result is not None
    return result


def _accepts(ftype: FieldType, kind: Kind) -> bool:
    """Whether a value of `kind` can be written into a field of `ftype`."""
    if kind.scalar == "pose":
        return ftype.is_pose()
    if kind.length is None:
        if ftype.kind == "float":
            return kind.scalar in ("int", "float")
        return ftype.kind == kind.scalar
    if ftype.kind == "msg":
        numbers = kind.scalar in ("int", "float")
        return numbers and (
            (kind.length == 3 and ftype.is_point()) or (kind.length == 4 and ftype.is_quaternion())
        )
    if ftype.kind != "array" or ftype.element is None:
        return False
    if ftype.size is not None and (
        kind.length != ftype.size if ftype.fixed else kind.length > ftype.size
    ):
        return False
    return kind.scalar == "none" or _accepts(ftype.element, Kind(kind.scalar))


@dataclass(frozen=True)
class ResolvedAction:
    """A skill route with its action class imported and every field checked."""

    route: SkillRoute
    action: type
    goal_fields: Mapping[str, FieldType]

    @property
    def type_string(self) -> str:
        return self.route.binding.action_type or ""


def import_action(type_string: str) -> type:
    """Import ``pkg/action/Type`` (the ``pkg.action`` module's ``Type``)."""
    match = ACTION_TYPE_RE.match(type_string)
    if match is None:
        raise BindingError(f"'{type_string}' is not a ROS action type (expected pkg/action/Type)")
    action = _import(match.group(1), "action", match.group(2))
    if not all(hasattr(action, part) for part in ("Goal", "Result", "Feedback")):
        raise BindingError(f"{type_string} is not an action type (no Goal/Result/Feedback)")
    return action


def resolve_action(route: SkillRoute, source: str = "bindings") -> ResolvedAction:
    """Import the route's action type and check goal, result and feedback fields."""
    binding = route.binding
    type_string = binding.action_type or ""
    where = f"{source}: skill '{route.skill}' ({type_string})"
    try:
        action = import_action(type_string)
        goal_fields: dict[str, FieldType] = {}
        for path, template in binding.goal.items():
            ftype = field_type(action.Goal, path)
            kind = route.kinds[path]
            if not _accepts(ftype, kind):
                raise BindingError(
                    f"goal field '{path}' is {ftype.text} but {describe_template(template)} "
                    f"gives {kind}"
                )
            goal_fields[path] = ftype
        for check in binding.success:
            ftype = field_type(action.Result, check.field)
            _check_result_field(check, ftype)
        for path, want in ((binding.feedback_phase, "str"), (binding.feedback_progress, "float")):
            if path is not None:
                ftype = field_type(action.Feedback, path)
                if not _accepts(ftype, Kind(want)):  # type: ignore[arg-type]
                    raise BindingError(f"feedback field '{path}' is {ftype.text}, not {want}")
        if binding.result_message is not None:
            ftype = field_type(action.Result, binding.result_message)
            if ftype.kind != "str":
                raise BindingError(
                    f"result_message '{binding.result_message}' is {ftype.text}, not a string"
                )
    except BindingError as exc:
        raise BindingError(f"{where}: {exc}") from None
    return ResolvedAction(route, action, goal_fields)


def _check_result_field(check: ResultCheck, ftype: FieldType) -> None:
    if check.min_length is not None:
        if ftype.kind not in ("array", "str"):
            raise BindingError(
                f"result check on '{check.field}': min_length needs a list or string, "
                f"the field is {ftype.text}"
            )
        return
    value = Value(check.equals)  # type: ignore[arg-type]
    kind = Kind(_scalar_kind(value, {}))  # type: ignore[arg-type]
    if not _accepts(ftype, kind) and not (ftype.kind == "int" and kind.scalar == "float"):
        raise BindingError(
            f"result check on '{check.field}': the field is {ftype.text}, "
            f"it can never equal {check.equals!r}"
        )


# --- filling goals and judging results ------------------------------------------------


class GoalError(ValueError):
    """A goal that cannot be filled for this call (an unknown position, a value out of range)."""


def world_position(name: str, scene: Scene, facts: frozenset[Fact]) -> tuple[float, float, float]:
    """Where a place or an object is, in the scene frame, from the scene and the belief.

    Places: their centre on their surface (``surface_z``, else the table top). Objects: the
    centre of the object, above the centre of the place it is in/at, on top of the objects
    it is stacked on. The belief is symbolic, so an object's x/y is its place's centre; a
    pick server that localises the object itself should use the name, not this estimate.
    """
    if name in scene.places:
        spec = scene.places[name]
        x, y = spec.center
        return (x, y, scene.table.top_z if spec.surface_z is None else spec.surface_z)
    if name not in scene.objects:
        raise GoalError(f"'{name}' is not an object or a place of the scene")
    place = scene.location_of(name, facts)
    if place is None:
        raise GoalError(f"where {name} is is not known")
    if place in scene.robots:
        raise GoalError(f"{name} is held by {place}, so its position is not known")
    support_predicate = scene.domain.locations.support
    support = {f.args[0]: f.args[1] for f in facts if f.predicate == support_predicate}
    height = scene.objects[name].size / 2
    below = support.get(name)
    seen = {name}
    while below is not None and below in scene.objects and below not in seen:
        seen.add(below)
        height += scene.objects[below].size
        below = support.get(below)
    x, y, surface = world_position(place, scene, facts)
    return (x, y, surface + height)


@dataclass(frozen=True)
class PlanarPose:
    """A pose on the floor, in the scene frame: x, y in metres, yaw about +z in radians."""

    x: float
    y: float
    yaw: float

    def quaternion(self) -> tuple[float, float, float, float]:
        """The orientation as a quaternion (x, y, z, w): a rotation by yaw about +z."""
        return (0.0, 0.0, math.sin(self.yaw / 2.0), math.cos(self.yaw / 2.0))

    def part(self, name: str | None) -> Any:
        """The whole pose (None) or one of `POSE_PARTS`; the position is on the floor (z 0)."""
        if name is None:
            return self
        if name == "position":
            return [self.x, self.y, 0.0]
        if name == "orientation":
            return list(self.quaternion())
        return {"x": self.x, "y": self.y, "yaw": self.yaw}[name]


def bay_pose(place: str, robot: str, bay: int | str, scene: Scene) -> PlanarPose:
    """Where a mobile robot parks to serve `place`: one of its bays (``x, y, yaw``).

    ``bay: robot`` gives each robot its own bay of a place with several (the n-th robot of
    its kind in the scene takes bay n, modulo the number of bays; a kind with a parent kind
    counts with it: a fetcher is a base), so two bases sent to one dock do not drive to
    the same spot; a place with one bay serves one robot at a time (the domain says so,
    e.g. ``bay_free``).
    """
    spec = scene.places.get(place)
    if spec is None or not spec.bays:
        raise GoalError(f"'{place}' has no bays, so there is no pose to drive to")
    if bay == "robot":

        def family(name: str) -> str:  # the kind's topmost parent kind
            return scene.domain.ancestors(scene.robots[name].kind)[-2]

        kind = family(robot) if robot in scene.robots else None
        peers = [name for name in scene.robots if family(name) == kind]
        index = peers.index(robot) % len(spec.bays) if robot in peers else 0
    else:
        index = int(bay)
    if index >= len(spec.bays):
        raise GoalError(f"'{place}' has {len(spec.bays)} bay(s), not a bay {index}")
    x, y, yaw = spec.bays[index]
    return PlanarPose(float(x), float(y), float(yaw))


def evaluate(
    template: Template,
    robot: str,
    args: Mapping[str, Any],
    scene: Scene,
    facts: frozenset[Fact],
) -> Any:
    """The value of a template for one skill call."""
    names: dict[str, Any] = {**args, "robot": robot}
    if isinstance(template, Value):
        return template.value
    if isinstance(template, Placeholder):
        return _name(names, template.name)
    if isinstance(template, Text):
        return "".join(
            p if isinstance(p, str) else str(_name(names, p.name)) for p in template.parts
        )
    if isinstance(template, Lookup):
        target = str(_name(names, template.arg))
        if template.what == "pose":
            return bay_pose(target, robot, template.bay, scene).part(template.part)
        if template.what == "size":
            spec = scene.objects.get(target)
            if spec is None:
                raise GoalError(f"'{target}' is not a block, so it has no size")
            return spec.size
        position = world_position(target, scene, facts)
        return list(position) if template.axis is None else position[template.axis]
    return [evaluate(item, robot, args, scene, facts) for item in template.items]


def _name(names: Mapping[str, Any], name: str) -> Any:
    if name not in names:
        raise GoalError(f"the call has no argument '{name}'")
    return names[name]


def build_goal(
    resolved: ResolvedAction,
    robot: str,
    args: Mapping[str, Any],
    scene: Scene,
    facts: frozenset[Fact],
) -> Any:
    """A goal message for one skill call; `GoalError` names the field that cannot be filled."""
    goal = resolved.action.Goal()
    for path, template in resolved.route.binding.goal.items():
        value = evaluate(template, robot, args, scene, facts)
        set_field(goal, path, resolved.goal_fields[path], value)
    return goal


def set_field(message: Any, path: str, ftype: FieldType, value: Any) -> None:
    """Write `value` into a dotted field, converting numbers to what the field holds."""
    *parents, last = path.split(".")
    target = message
    for part in parents:
        target = getattr(target, part)
    try:
        if ftype.kind == "msg":
            _set_message(getattr(target, last), ftype, value)
        else:
            setattr(target, last, _convert(ftype, value))
    except (AssertionError, TypeError, ValueError, OverflowError) as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise GoalError(
            f"goal field '{path}' ({ftype.text}) cannot take {value!r}: {detail}"
        ) from None


def _set_message(message: Any, ftype: FieldType, value: Any) -> None:
    """Fill a Pose from a `PlanarPose`, a Quaternion from 4 numbers, a Point from 3."""
    if ftype.is_pose():
        if not isinstance(value, PlanarPose):
            raise TypeError(f"expected a pose, got {type(value).__name__}")
        position, orientation = message.position, message.orientation
        position.x, position.y, position.z = value.x, value.y, 0.0
        orientation.x, orientation.y, orientation.z, orientation.w = value.quaternion()
    elif ftype.is_quaternion():
        message.x, message.y, message.z, message.w = (float(v) for v in value)
    else:
        message.x, message.y, message.z = (float(v) for v in value)


#: Integer ranges, checked here because rosidl's setters only check them when
#: ROS_PYTHON_CHECK_FIELDS is set; unchecked, serialisation would wrap the value silently.
_INT_RANGES = {
    "int8": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "octet": (0, 2**8 - 1),
    "byte": (0, 2**8 - 1),
    "char": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_FLOAT32_MAX = 3.4028234663852886e38


def _convert(ftype: FieldType, value: Any) -> Any:
    """The value as the field holds it; `ValueError` when it does not fit."""
    if ftype.kind == "float":
        number = float(value)
        float32 = ftype.text in ("float", "float32")
        if float32 and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
            raise ValueError("out of the float32 range")
        return number
    if ftype.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {type(value).__name__}")
        low, high = _INT_RANGES.get(ftype.text, (-(2**63), 2**64 - 1))
        if not low <= value <= high:
            raise ValueError(f"out of the {ftype.text} range [{low}, {high}]")
        return value
    if ftype.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true/false, got {type(value).__name__}")
        return value
    if ftype.kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        bound = re.search(r"<=(\d+)$", ftype.text)
        if bound and len(value) > int(bound.group(1)):
            raise ValueError(f"longer than {bound.group(1)} characters")
        return value
    if ftype.kind == "array" and ftype.element is not None:
        items = list(value)
        if ftype.size is not None and (
            len(items) != ftype.size if ftype.fixed else len(items) > ftype.size
        ):
            raise ValueError(f"{len(items)} items do not fit {ftype.text}")
        return [_convert(ftype.element, v) for v in items]
    return value


def result_failure(resolved: ResolvedAction, result: Any) -> str | None:
    """Why a SUCCEEDED result fails the binding's checks, or None when it passes."""
    for check in resolved.route.binding.success:
        try:
            value = result
            for part in check.field.split("."):
                value = getattr(value, part)
        except AttributeError:
            return f"result check failed: the result has no field '{check.field}'"
        if check.min_length is not None:
            if len(value) < check.min_length:
                return (
                    f"result check failed: {check.field} has {len(value)} items, "
                    f"expected at least {check.min_length}"
                )
        elif value != check.equals:
            return f"result check failed: {check.field} is {value!r}, expected {check.equals!r}"
    return None


def result_reason(resolved: ResolvedAction, result: Any) -> str:
    """The reason a failed goal's result gives (the binding's `result_message`), or ""."""
    path = resolved.route.binding.result_message
    if path is None:
        return ""
    value = _get(result, path)
    return " ".join(value.split()) if isinstance(value, str) else ""


def feedback_values(resolved: ResolvedAction, feedback: Any) -> tuple[float | None, str | None]:
    """The (progress, phase) a feedback message reports, where the binding names them."""
    binding = resolved.route.binding
    progress = phase = None
    if binding.feedback_progress is not None:
        raw = _get(feedback, binding.feedback_progress)
        if isinstance(raw, int | float) and math.isfinite(raw):
            progress = min(1.0, max(0.0, float(raw)))
    if binding.feedback_phase is not None:
        raw = _get(feedback, binding.feedback_phase)
        phase = raw if isinstance(raw, str) else None
    return progress, phase


def _get(message: Any, path: str) -> Any:
    value = message
    for part in path.split("."):
        value = getattr(value, part, None)
    return value


def summarize(message: Any, limit: int = 160) -> str:
    """A short one-line rendering of a result message for failure reasons."""
    text = " ".join(repr(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
