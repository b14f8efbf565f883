"""Load untrusted YAML configuration into pydantic models with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from robot_planner.untrusted import shown

M = TypeVar("M", bound=BaseModel)

#: Configuration files are small; anything larger is a mistake or an attack.
MAX_CONFIG_BYTES = 1_000_000


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is one readable line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (plain
    YAML keeps the last one silently: a second skill of the same name would replace the
    first without a word)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {shown(key, 60)!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeyLoader.construct_mapping
)


def describe_validation_error(error: ValidationError, limit: int = 3) -> str:
    """Summarise a pydantic error as `loc: message; ...` on one line (field names come
    from the file: they are `shown`, not trusted)."""
    parts = []
    for item in error.errors()[:limit]:
        loc = ".".join(shown(p, 40) for p in item.get("loc", ()))
        message = shown(item.get("msg", "invalid"), 200).removeprefix("Value error, ")
        # A whole-file check (a model validator) already says where in its message.
        parts.append(f"{loc}: {message}" if loc else message)
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def load_yaml_model(path: Path, model: type[M], what: str, overrides: dict | None = None) -> M:
    """Read `path` as YAML and validate it as `model`; raise `ConfigError` on any problem.

    Validators see the file's directory as ``info.context["base"]`` (for relative paths).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} file {path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{what} file {path}{where}: {problem}") from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{what} file {path}: {shown(exc, 200)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file {path}: expected a mapping at the top level")
    data.update(overrides or {})
    try:
        return model.model_validate(data, context={"base": path.parent})
    except ValidationError as exc:
        raise ConfigError(f"{what} file {path}: {describe_validation_error(exc)}") from None
